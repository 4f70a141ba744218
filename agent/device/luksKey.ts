/**
 * The root disk's LUKS key: how it is made, how it is framed before the module locks it (or the
 * TPM seals it), and how the boot path gets it back (`capsule device luks-key`).
 *
 *   key       = HKDF-SHA512(hardware random(64) ‖ OS random(64), salt "", "capsule/v1 luks key", 64)
 *               — either source alone is enough (as the guardian seed, seedChild.ts);
 *   plaintext = "capsule/v1 luks key" 0x00 ‖ LUKS UUID (36 ASCII) 0x00 ‖ key (64)
 *   blob      = zkLockDataB2B(plaintext, this-device-only key)   → <data dir>/luks/<uuid>.lock
 *            or Tpm2KeyStore.lock(plaintext, { pcrs })           → <data dir>/luks/<uuid>.tpm2.lock
 *
 * The framing binds the blob to its purpose and to one disk: the LUKS2 header (and so its token)
 * is not authenticated, and without it an edited header could make `luks-key` unlock and print some
 * other module-locked secret (the guardian's seed) or another disk's key.
 *
 * Deliberately not here: cryptsetup (Cryptsetup.ts), the token's shape (luksToken.ts), the TPM's
 * seal store and its errors (luksTpm2.ts), enrolment (luksEnroll.ts), and writing the key anywhere
 * but to the caller (the CLI writes it to a pipe).
 */
import { createHash, hkdfSync, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { constantTimeEqual, wipe } from '../crypto/secrets.ts';
import { DeviceError, KeyStoreError, hasCode } from '../errors.ts';
import type { KeyStore } from '../keys/KeyStore.ts';
import { ZymbitKeyStore } from '../keys/ZymbitKeyStore.ts';
import { Cryptsetup } from './Cryptsetup.ts';
import { describeForeignToken, foreignTokens } from './luksInterop.ts';
import { luksTcti, openLuksTpm, unsealLuksBlob } from './luksTpm2.ts';
import {
  findCapsuleToken,
  parseToken,
  TPM2_SEAL,
  usableBinding,
  type BindingBackend,
  type CapsuleToken,
  type KnownBinding,
  type ZymbitLockBinding,
} from './luksToken.ts';

export const LUKS_KEY_BYTES = 64;
const LABEL = 'capsule/v1 luks key';

/** A fresh 64-byte key from the module's (or TPM's) RNG mixed with the OS's. The caller wipes it. */
export async function makeLuksKey(ks: KeyStore): Promise<Uint8Array> {
  const fromModule = await ks.randomBytes(LUKS_KEY_BYTES);
  const fromOs = randomBytes(LUKS_KEY_BYTES);
  const both = Buffer.concat([fromModule, fromOs]);
  try {
    return new Uint8Array(hkdfSync('sha512', both, new Uint8Array(0), LABEL, LUKS_KEY_BYTES));
  } finally {
    wipe(fromModule, fromOs, both);
  }
}

/** The plaintext the module locks (see the header). The caller wipes it. */
export function frameLuksKey(uuid: string, key: Uint8Array): Uint8Array {
  if (key.length !== LUKS_KEY_BYTES) throw new RangeError(`key: expected ${LUKS_KEY_BYTES} bytes, got ${key.length}`);
  const head = Buffer.from(`${LABEL}\0${uuid}\0`, 'ascii');
  const out = new Uint8Array(head.length + key.length);
  out.set(head, 0);
  out.set(key, head.length);
  return out;
}

/**
 * The key inside an unlocked plaintext, checked to be a LUKS key for `uuid` (a copy; the caller
 * wipes both). `who` names what unlocked it in the message.
 * @throws DeviceError ERR_LOCK_INTEGRITY when it is not.
 */
export function unframeLuksKey(plaintext: Uint8Array, uuid: string, where: string, who = 'the module unlocked'): Uint8Array {
  const head = Buffer.from(`${LABEL}\0${uuid}\0`, 'ascii');
  if (plaintext.length !== head.length + LUKS_KEY_BYTES || !constantTimeEqual(plaintext.subarray(0, head.length), head)) {
    throw new DeviceError('ERR_LOCK_INTEGRITY', `${where}: ${who} the blob, but it is not the LUKS key of this device (UUID ${uuid})`, {
      hint: 'the lock file or the LUKS2 token was swapped: unlock with the passphrase and re-enrol (`capsule device luks-enroll`)',
    });
  }
  return plaintext.slice(head.length);
}

export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export interface LuksKeyOptions {
  /** The LUKS2 device or image file. */
  device: string;
  /** The guardian's data directory (the token's lock path is relative to it). */
  dataDir: string;
  env?: NodeJS.ProcessEnv;
  /** Use this backend's binding (default: the first binding this build knows, in token order). */
  backend?: BindingBackend;
  /** Replaces the module (or the TPM seal store) the binding names (tests, embedding); not closed here. */
  keyStore?: KeyStore;
}

/**
 * Whether a failure of unlockLuksKey is one a retry cannot change, and may make worse: the TPM
 * refused the seal's authValue (each refusal is a dictionary-attack strike, and a lockout blocks
 * every use of the TPM, the guardian's included) or is in lockout, the sealed PCRs changed, or the
 * blob was locked by another module or sealed by another TPM. The boot path asks for the passphrase
 * at once on these (`luks-key` exits 3) instead of asking the hardware again. Everything else (no
 * module or TPM yet, a missing file, a failed call) may change by the next attempt.
 */
export function retryCannotHelp(e: unknown): boolean {
  return (
    (e instanceof KeyStoreError && (e.code === 'ERR_TPM_AUTH' || e.code === 'ERR_TPM_LOCKOUT')) ||
    (e instanceof DeviceError && (e.code === 'ERR_PCR_MISMATCH' || e.code === 'ERR_WRONG_MODULE'))
  );
}

export interface UnlockedLuksKey {
  /** The 64-byte key: the caller wipes it. */
  key: Uint8Array;
  slot: number;
  token: CapsuleToken;
}

/**
 * Reads the device's capsule token, checks the lock blob against it, and unlocks it with the module
 * (zymbit-lock) or unseals it with the TPM (tpm2-seal).
 * @throws DeviceError ERR_LUKS (not LUKS2, cryptsetup missing), ERR_LUKS_TOKEN (none, malformed, no usable
 *   binding, blob or TPM seal store missing), ERR_LUKS_TOKEN_VERSION, ERR_LOCK_INTEGRITY (hash mismatch,
 *   MAC or TPM refusal, wrong framing), ERR_WRONG_MODULE (locked by another module or sealed by another
 *   TPM), ERR_PCR_MISMATCH (the sealed PCRs changed), ERR_NO_MODULE, ERR_UNSAFE_TCTI (guardian.json
 *   names a TCTI that may run code); KeyStoreError ERR_MODULE_CALL, ERR_TPM_AUTH, ERR_TPM_LOCKOUT.
 *   retryCannotHelp tells which of these a retry cannot change.
 */
export async function unlockLuksKey(o: LuksKeyOptions): Promise<UnlockedLuksKey> {
  if (o.backend !== undefined && o.backend !== 'zymbit' && o.backend !== 'tpm2')
    throw new TypeError(`backend: expected "zymbit" or "tpm2", got ${JSON.stringify(o.backend)}`);
  const env = o.env ?? process.env;
  const cs = new Cryptsetup(env);
  const uuid = await cs.uuid(o.device);
  const meta = await cs.metadata(o.device);
  const found = findCapsuleToken(meta.tokens);
  if (!found) {
    const other = foreignTokens(meta.tokens)[0];
    throw new DeviceError('ERR_LUKS_TOKEN', `${o.device}: no capsule token in the LUKS2 header: this disk is not bound to the module`, {
      hint: other
        ? `it has ${describeForeignToken(other)}: unlock it with that tool, or enrol it with \`capsule device luks-enroll\``
        : 'enrol it with `capsule device luks-enroll`; until then unlock it with its passphrase',
    });
  }
  const where = `${o.device} token ${found.id}`;
  const token = parseToken(found.json, uuid, where);
  const binding = usableBinding(token, where, o.backend);
  const blob = await readBlob(join(o.dataDir, binding.path), binding, where);
  const slot = Number(token.keyslots[0]);
  if (binding.kind === TPM2_SEAL) {
    const ks = o.keyStore ?? (await openLuksTpm(o.dataDir, await luksTcti(env, o.dataDir), { sealedBy: binding.serial, where }));
    let plaintext: Uint8Array | undefined;
    try {
      plaintext = await unsealLuksBlob(ks, blob, binding, { device: o.device, tokenId: found.id, slot, where });
      return { key: unframeLuksKey(plaintext, uuid, where, 'the TPM unsealed'), slot, token };
    } finally {
      wipe(plaintext);
      if (!o.keyStore) await ks.close();
    }
  }
  const ks = o.keyStore ?? openModule(env);
  let plaintext: Uint8Array | undefined;
  try {
    plaintext = await unlockBlob(ks, blob, binding, where);
    return { key: unframeLuksKey(plaintext, uuid, where), slot, token };
  } finally {
    wipe(plaintext);
    if (!o.keyStore) await ks.close();
  }
}

async function readBlob(path: string, binding: KnownBinding, where: string): Promise<Uint8Array> {
  let blob: Uint8Array;
  try {
    blob = new Uint8Array(await readFile(path));
  } catch (cause) {
    throw new DeviceError('ERR_LUKS_TOKEN', `${where}: the lock blob ${path} cannot be read (${(cause as NodeJS.ErrnoException).code})`, {
      cause,
      hint: "pass the guardian's --data-dir (at boot: the initramfs must carry its luks/ directory: update-initramfs -u)",
    });
  }
  if (sha256Hex(blob) !== binding.sha256) {
    throw new DeviceError(
      'ERR_LOCK_INTEGRITY',
      `${where}: the lock blob ${path} does not match the token's SHA-256 (tampered, damaged, or from another enrolment)`,
      {
        hint: 'restore the lock file from a backup, or unlock with the passphrase and re-enrol',
      },
    );
  }
  return blob;
}

/** As guardian/keyStoreFor.ts, without loading the soft backend into the initramfs' boot path. */
const DEFAULT_ZYMBIT_LIB = '/usr/lib/libzk_app_utils.so';

function openModule(env: NodeJS.ProcessEnv): KeyStore {
  const library = env.CAPSULE_ZYMBIT_LIB || DEFAULT_ZYMBIT_LIB;
  try {
    return ZymbitKeyStore.open(library);
  } catch (cause) {
    if (!hasCode(cause, 'ERR_MODULE_ABSENT')) throw cause;
    throw new DeviceError('ERR_NO_MODULE', `no security module answered through ${library}: the LUKS key cannot be unlocked`, {
      cause,
      hint: (cause as KeyStoreError).hint ?? 'check the module is seated and zkifc is running; meanwhile unlock with the passphrase',
    });
  }
}

async function unlockBlob(ks: KeyStore, blob: Uint8Array, binding: ZymbitLockBinding, where: string): Promise<Uint8Array> {
  try {
    return await ks.unlock(blob);
  } catch (cause) {
    if (!hasCode(cause, 'ERR_LOCK_INTEGRITY')) throw cause;
    const serial = ks.capabilities.serial;
    if (serial !== binding.serial) {
      throw new DeviceError(
        'ERR_WRONG_MODULE',
        `${where}: the module refused the lock blob: it was locked by module ${binding.serial}, this is module ${serial}`,
        {
          cause,
          hint: 'a this-device-only blob opens only on the module that locked it: unlock with the passphrase and re-enrol on this module',
        },
      );
    }
    throw new DeviceError('ERR_LOCK_INTEGRITY', `${where}: the module refused the lock blob (its MAC does not verify)`, {
      cause,
      hint: 'the blob and the token were altered together: unlock with the passphrase and re-enrol',
    });
  }
}
