/**
 * `capsule device luks-enroll`: binds a LUKS2 keyslot of the root disk (or an image file) to the
 * guardian's security module, or to its TPM 2.0 (the guardian's backend, from guardian.json, decides;
 * `backend` only confirms it). Run once, on the device, at provisioning.
 *
 * zymbit: the module locks the key with its this-device-only key → <data dir>/luks/<uuid>.lock. Its
 * library is CAPSULE_ZYMBIT_LIB or the default, as `luks-key` loads it at boot: never guardian.json's
 * `library` (that file is written by the agent's user; this runs as root).
 * tpm2: the TCTI is chosen first (luksTcti: a recorded one only of a kind that cannot run code), then
 * the guardian is opened through that very TCTI, which proves the TPM there is the guardian's (its
 * key store refuses another TPM) before anything is created, and closed; only then is the LUKS seal
 * store (luksTpm2.ts says why it is not the guardian's) opened or made on it, and it seals the key
 * under its authValue and, with `pcrs`, the current values of those PCRs →
 * <data dir>/luks/<uuid>.tpm2.lock. PCRs are
 * opt-in (default: the guardian store's default, which `guardian init` leaves empty): on a Pi nothing
 * measures the boot unless the operator arranges it, so a PCR policy there only adds lock-outs.
 *
 * Order (so that an interruption never strands the disk): the key is made and locked by the
 * hardware; the lock blob is written atomically (0600) to its path in <data dir>/luks/; cryptsetup
 * adds the keyslot (the key on a pipe, fd 3); the token is imported. A failure after the keyslot
 * was added removes it again (luksRemoveKey with the same key) and the blob; a kill -9 between the
 * two steps leaves a keyslot without a token (visible in luksDump; remove it with luksKillSlot) and
 * an orphan blob that the next enrolment replaces. The operator's passphrase slot is never touched.
 *
 * The new keyslot's PBKDF defaults to PBKDF2 with 1000 iterations (cryptsetup's minimum): a PBKDF
 * exists to slow the guessing of a low-entropy passphrase, and this key is 64 uniformly random bytes
 * (2^512 guesses) — no cost factor changes that, while argon2id's default costs seconds and up to
 * 1 GiB at every boot (more than a 512 MiB guardian has). `pbkdf` may ask for argon2id anyway.
 *
 * Other tools' TPM tokens (systemd-cryptenroll's systemd-tpm2, clevis) are reported through
 * `notice` and left alone: the disk then opens with either.
 *
 * Deliberately not here: formatting or re-encrypting disks, removing an enrolment (cryptsetup
 * token remove + luksKillSlot), and adding a second binding to an existing token (that needs the
 * key, i.e. unlocking through the first binding).
 */
import { mkdir, open, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { wipe } from '../crypto/secrets.ts';
import { DeviceError, hasCode, UsageError } from '../errors.ts';
import { Guardian } from '../guardian/Guardian.ts';
import { DEFAULT_ZYMBIT_LIB } from '../guardian/keyStoreFor.ts';
import { readGuardianFile, type GuardianRecord } from '../guardian/GuardianFile.ts';
import { AtomicFile } from '../io/AtomicFile.ts';
import type { KeyStore } from '../keys/KeyStore.ts';
import { Tpm2KeyStore } from '../keys/Tpm2KeyStore.ts';
import { DEFAULT_TCTI } from '../keys/tpm2/Tpm2.ts';
import { Cryptsetup, type SlotPbkdf } from './Cryptsetup.ts';
import { describeForeignToken, foreignTokens } from './luksInterop.ts';
import { frameLuksKey, makeLuksKey, sha256Hex } from './luksKey.ts';
import { luksTcti, openLuksTpm, pcrWords } from './luksTpm2.ts';
import { findCapsuleToken, lockPathFor, makeToken, TPM2_SEAL, ZYMBIT_LOCK, type BindingBackend, type KnownBinding } from './luksToken.ts';

/** LUKS2 has keyslots and tokens 0..31. */
const LUKS2_MAX = 32;
export const DEFAULT_PBKDF: SlotPbkdf = { kind: 'pbkdf2', iterations: 1000 };

export interface EnrollOptions {
  device: string;
  dataDir: string;
  /** The keyslot to use (default: the lowest free one). */
  slot?: number;
  /** A key file that opens an existing keyslot; undefined: cryptsetup prompts on the terminal. */
  keyFile?: string;
  pbkdf?: SlotPbkdf;
  env?: NodeJS.ProcessEnv;
  /** Must be the guardian's backend when given (the guardian's record decides; this confirms it). */
  backend?: BindingBackend;
  /** tpm2: the PCRs (SHA-256 bank) to seal to; default: the guardian key store's default (none). */
  pcrs?: number[];
  /** Told about other tools' TPM tokens on the device (one line each, no prefix). */
  notice?: (line: string) => void;
}

export interface Enrolment {
  uuid: string;
  slot: number;
  tokenId: number;
  /** Absolute path of the lock blob. */
  lockFile: string;
  backend: BindingBackend;
  model: string;
  serial: string;
  /** tpm2: the PCRs sealed to (empty: authValue only) and the TCTI used. */
  pcrs?: number[];
  tcti?: string;
}

/** What locks the key, whichever hardware it is. */
interface Binder {
  ks: KeyStore;
  kind: typeof ZYMBIT_LOCK | typeof TPM2_SEAL;
  lock(plaintext: Uint8Array): Promise<Uint8Array>;
  /** The binding's fields beyond kind/path/sha256/model/serial/created. */
  extra: Record<string, unknown>;
  close(): Promise<void>;
}

/**
 * Enrols a new keyslot bound to the guardian's module or TPM (see the header).
 * @throws DeviceError ERR_LUKS (not LUKS2, slot taken, cryptsetup refused), ERR_LUKS_ENROLLED (a capsule
 *   token exists), ERR_NO_MODULE (soft backend, no module or TPM), ERR_WRONG_MODULE (the TPM at the
 *   TCTI is not the guardian's, or the LUKS seal store belongs to another TPM), ERR_UNSAFE_TCTI (the
 *   recorded TCTI may run code), ERR_LUKS_TOKEN (the seal store's files cannot be used); GuardianError
 *   ERR_NO_GUARDIAN / ERR_GUARDIAN_MISMATCH; KeyStoreError ERR_MODULE_ABSENT wrapped as ERR_NO_MODULE,
 *   ERR_KEYSTORE_FILE (the guardian's own key files), ERR_TPM_*; UsageError ERR_USAGE (`backend` is
 *   not the guardian's, `pcrs` without tpm2); RangeError (`pcrs` out of range).
 */
export async function enrollLuks(o: EnrollOptions): Promise<Enrolment> {
  const env = o.env ?? process.env;
  const pbkdf = o.pbkdf ?? DEFAULT_PBKDF;
  if (o.backend !== undefined && o.backend !== 'zymbit' && o.backend !== 'tpm2')
    throw new TypeError(`backend: expected "zymbit" or "tpm2", got ${JSON.stringify(o.backend)}`);
  if (
    o.pcrs !== undefined &&
    (!Array.isArray(o.pcrs) || o.pcrs.some((p) => !Number.isInteger(p) || p < 0 || p > 23) || new Set(o.pcrs).size !== o.pcrs.length)
  ) {
    throw new RangeError(`pcrs: expected distinct PCR numbers 0..23 (SHA-256 bank), got ${JSON.stringify(o.pcrs)}`);
  }
  const cs = new Cryptsetup(env);
  const uuid = await cs.uuid(o.device);
  const meta = await cs.metadata(o.device);
  const existing = findCapsuleToken(meta.tokens);
  if (existing) {
    throw new DeviceError('ERR_LUKS_ENROLLED', `${o.device} is already bound to a module (token ${existing.id})`, {
      hint: `to re-enrol, remove the old binding first: cryptsetup token remove --token-id ${existing.id} ${o.device}, then cryptsetup luksKillSlot on its keyslot`,
    });
  }
  const slot = pickSlot(Object.keys(meta.keyslots), o.slot, o.device);
  const tokenId = firstFree(Object.keys(meta.tokens));
  if (tokenId === undefined)
    throw new DeviceError('ERR_LUKS', `${o.device}: all ${LUKS2_MAX} LUKS2 token ids are taken`, {
      hint: 'remove an unused token with cryptsetup token remove',
    });
  for (const f of foreignTokens(meta.tokens)) o.notice?.(`${o.device} also has ${describeForeignToken(f)}: left as it is (either opens the disk)`);

  const binder = await openBinder(o, env);
  const relPath = lockPathFor(uuid, binder.kind);
  const lockFile = join(o.dataDir, relPath);
  let key: Uint8Array | undefined;
  let plaintext: Uint8Array | undefined;
  let wroteBlob = false;
  let addedSlot = false;
  try {
    const ks = binder.ks;
    key = await makeLuksKey(ks);
    plaintext = frameLuksKey(uuid, key);
    const blob = await binder.lock(plaintext);
    const c = ks.capabilities;
    const binding = {
      kind: binder.kind,
      path: relPath,
      sha256: sha256Hex(blob),
      model: c.model,
      serial: c.serial,
      ...binder.extra,
      created: new Date().toISOString(),
    } as KnownBinding;
    await writeBlob(lockFile, blob);
    wroteBlob = true;
    await cs.addKey(o.device, key, slot, pbkdf, o.keyFile);
    addedSlot = true;
    await cs.importToken(o.device, tokenId, JSON.stringify(makeToken(slot, binding)));
    const tpm = binding.kind === TPM2_SEAL ? { pcrs: binding.pcrs, tcti: binding.tcti } : {};
    return { uuid, slot, tokenId, lockFile, backend: binding.kind === TPM2_SEAL ? 'tpm2' : 'zymbit', model: binding.model, serial: binding.serial, ...tpm };
  } catch (e) {
    // Undo in reverse, best effort: the first error is the one the operator needs to see.
    if (addedSlot && key) await cs.removeKey(o.device, key).catch(() => {});
    if (wroteBlob) await rm(lockFile, { force: true }).catch(() => {});
    throw e;
  } finally {
    wipe(key, plaintext);
    await binder.close();
  }
}

/** The module (the guardian's key store) or the TPM (the LUKS seal store on the guardian's TPM). */
async function openBinder(o: EnrollOptions, env: NodeJS.ProcessEnv): Promise<Binder> {
  // The TCTI is checked before anything (the guardian's key store included) reaches the TPM through
  // it. The guardian is then opened with the library and TCTI given explicitly, so that what it reads
  // from guardian.json (written by the agent's user, maybe changed since) cannot name code for root
  // to load: the module's library as luks-key takes it at boot (never from the record).
  const record = await readGuardianFile(o.dataDir);
  const tcti = record.backend === 'tpm2' ? await luksTcti(env, o.dataDir, record.tcti) : undefined;
  const explicit = {
    ...env,
    CAPSULE_ZYMBIT_LIB: env.CAPSULE_ZYMBIT_LIB || DEFAULT_ZYMBIT_LIB,
    CAPSULE_TPM_TCTI: tcti ?? (env.CAPSULE_TPM_TCTI || DEFAULT_TCTI),
  };
  const g = await openGuardian(o.dataDir, explicit, record, tcti);
  const backend = record.backend as BindingBackend;
  if (o.backend !== undefined && o.backend !== backend) {
    await g.close();
    throw new UsageError('ERR_USAGE', `--backend ${o.backend}: the guardian in ${o.dataDir} uses the ${backend} backend`, {
      hint: `omit --backend (the guardian's backend is used), or pass --backend ${backend}`,
    });
  }
  if (backend === 'zymbit') {
    if (o.pcrs !== undefined) {
      await g.close();
      throw new UsageError('ERR_USAGE', `--pcrs: the guardian in ${o.dataDir} uses the zymbit backend; PCRs apply to --backend tpm2 only`, {
        hint: 'omit --pcrs: the module binds the key to this device by itself',
      });
    }
    return { ks: g.keyStore, kind: ZYMBIT_LOCK, lock: (p) => g.keyStore.lock(p), extra: {}, close: () => g.close() };
  }
  // tpm2: the guardian's store, opened through `tcti`, proved the TPM there is the guardian's; the
  // LUKS seal store (luksTpm2.ts) does the sealing, and checks the TPM again on its own connection.
  const pcrs = [...(o.pcrs ?? (g.keyStore instanceof Tpm2KeyStore ? g.keyStore.pcrs : []))].sort((a, b) => a - b);
  const serial = g.keyStore.capabilities.serial;
  await g.close(); // one connection at a time: swtpm and /dev/tpm0 serve one client
  const ks = await openLuksTpm(o.dataDir, tcti!, { create: true, expect: serial });
  return {
    ks,
    kind: TPM2_SEAL,
    lock: (p) => ks.lock(p, { pcrs }),
    extra: { backend: 'tpm2', pcrs, pcrBank: 'sha256', tcti },
    close: () => ks.close(),
  };
}

/** "PCR 7 (sha256 bank)", or "no PCRs (authValue only)": for the CLI's report. */
export function describePcrs(pcrs: readonly number[]): string {
  return pcrs.length ? `${pcrWords(pcrs)} (sha256 bank)` : 'no PCRs (authValue only)';
}

/** The guardian, its key store opened (tpm2: through `tcti`, which `env` carries). */
async function openGuardian(dataDir: string, env: NodeJS.ProcessEnv, record: GuardianRecord, tcti: string | undefined): Promise<Guardian> {
  if (record.backend !== 'zymbit' && record.backend !== 'tpm2') {
    throw new DeviceError(
      'ERR_NO_MODULE',
      `the guardian in ${dataDir} uses the ${record.backend} backend: the root disk binds only to a security module or a TPM`,
      {
        hint: 'provision the guardian with --backend zymbit (the default) or --backend tpm2 on the device',
      },
    );
  }
  let g: Guardian;
  try {
    g = await Guardian.open(dataDir, { env });
  } catch (cause) {
    // The guardian's keys were made by another TPM than the one at `tcti` (its key store checks).
    if (tcti !== undefined && (hasCode(cause, 'ERR_LOCK_INTEGRITY') || hasCode(cause, 'ERR_GUARDIAN_MISMATCH'))) {
      throw new DeviceError('ERR_WRONG_MODULE', `the TPM at ${tcti} is not the guardian's TPM ${record.serial}: nothing was enrolled`, {
        cause,
        hint: "set CAPSULE_TPM_TCTI to the guardian's TPM (or unset it to use the one in guardian.json)",
      });
    }
    if (!hasCode(cause, 'ERR_MODULE_ABSENT')) throw cause;
    const tpm = record.backend === 'tpm2';
    throw new DeviceError(
      'ERR_NO_MODULE',
      tpm
        ? `no TPM answered (${(cause as Error).message}): the LUKS key must be made and sealed by the TPM`
        : 'no security module answered: the LUKS key must be made and locked by the module',
      {
        cause,
        hint: (cause as DeviceError).hint ?? (tpm ? 'check the TPM is enabled and CAPSULE_TPM_TCTI' : 'check the module is seated and zkifc is running'),
      },
    );
  }
  return g;
}

function firstFree(used: string[]): number | undefined {
  for (let i = 0; i < LUKS2_MAX; i++) if (!used.includes(String(i))) return i;
  return undefined;
}

function pickSlot(used: string[], wanted: number | undefined, device: string): number {
  if (wanted === undefined) {
    const s = firstFree(used);
    if (s === undefined)
      throw new DeviceError('ERR_LUKS', `${device}: all ${LUKS2_MAX} LUKS2 keyslots are in use`, {
        hint: 'remove an unused keyslot with cryptsetup luksKillSlot',
      });
    return s;
  }
  if (!Number.isInteger(wanted) || wanted < 0 || wanted >= LUKS2_MAX) {
    throw new UsageError('ERR_USAGE', `--slot: expected a keyslot number 0..${LUKS2_MAX - 1}, got ${wanted}`, {
      hint: 'omit --slot to use the lowest free keyslot',
    });
  }
  if (used.includes(String(wanted))) {
    throw new DeviceError('ERR_LUKS', `${device}: keyslot ${wanted} is in use`, {
      hint: `free keyslots are the numbers 0..${LUKS2_MAX - 1} not listed by cryptsetup luksDump; omit --slot to take the lowest`,
    });
  }
  return wanted;
}

/** The blob appears whole (AtomicFile: temp, fsync, rename) and the rename is made durable. */
async function writeBlob(path: string, blob: Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const f = await AtomicFile.create(path, 0o600);
  try {
    await f.write(blob);
    await f.commit();
  } catch (e) {
    await f.abort();
    throw e;
  }
  const dir = await open(dirname(path), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
