/**
 * The `tpm2` KeyStore: a TPM 2.0 (through tpm2-tss ESYS, Tpm2.ts) doing for a TPM what `zymbit`
 * does for the module. Under the storage root key (re-created from the owner hierarchy's template,
 * never stored) it keeps two keys, stored TPM-wrapped in `tpm2-keystore.json` in the data
 * directory: an RSA-2048 decryption key (OAEP/SHA-256; the `tpm2-rsa` stanza, SPEC.md §5.4) and a
 * P-256 signing key (slot 0: header and audit signatures). Both need the store's authValue, 32
 * random bytes in `tpm2-auth` (0600) or the file CAPSULE_TPM_AUTH_FILE names, so another user of
 * the TPM cannot use them, and each wrong try counts toward the TPM's dictionary-attack lockout.
 *
 * lock/unlock seal data to this TPM under a policy: the authValue and, when PCRs are chosen (the
 * store's default, or per call), their values at sealing time. A TPM seals at most 128 bytes, so a
 * lock blob seals a fresh 32-byte key and carries the data AES-256-GCM-encrypted under it:
 *
 *   blob = "CTPM" ‖ 01 ‖ n ‖ pcr[n] ‖ TPM2B_PUBLIC ‖ TPM2B_PRIVATE ‖ nonce(12) ‖ AES-GCM(data)
 *
 * with everything before the nonce as the GCM associated data. A blob from another TPM (or altered)
 * is ERR_LOCK_INTEGRITY; changed PCRs are ERR_TPM_POLICY.
 *
 * Calls go through a ModuleGuard, as the module's do: one at a time on the one ESYS context, each
 * bounded by `timeoutMs` (a TPM that stops answering gives ERR_MODULE_CALL, not a request that
 * never ends), health for /v1/status, probing with a capability read until the TPM answers again.
 *
 * Deliberately not here: ECDH (the TPM could, but the guardian's P-256 recipient is derived from the
 * seed; capabilities.ecdh is false), wallets (no secp256k1 BIP32 in a TPM), and the key hierarchy.
 */
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import { access, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KeyStoreError } from '../errors.ts';
import { wipe } from '../crypto/secrets.ts';
import { AtomicFile } from '../io/AtomicFile.ts';
import type { Capabilities, KeyStore } from './KeyStore.ts';
import { ModuleGuard, type ModuleHealth } from './ModuleGuard.ts';
import { DEFAULT_TCTI, Tpm2, type TpmBlob } from './tpm2/Tpm2.ts';
import { p256SignTemplate, publicUnique, Reader, rsaDecryptTemplate, sealTemplate, sensitiveCreate, Writer } from './tpm2/tpmWire.ts';

export const TPM2_KEYSTORE_FILE = 'tpm2-keystore.json';
/** The default bound on one TPM operation (RSA key creation on a slow TPM takes seconds). */
export const DEFAULT_TPM_TIMEOUT_MS = 10_000;
export const TPM2_AUTH_FILE = 'tpm2-auth';
const FORMAT = 'capsule-tpm2-keystore/v1';
const BLOB_MAGIC = Uint8Array.from(Buffer.from('CTPM'));
const BLOB_VERSION = 1;
const AUTH_SIZE = 32;
/** PCRs 0..23 of the SHA-256 bank. */
const MAX_PCR = 23;

interface KeyFile {
  format: typeof FORMAT;
  /** Fingerprint of the SRK this store's keys were made under: a different TPM shows at open. */
  srk: string;
  /** PCRs lock() seals to unless told otherwise. */
  pcrs: number[];
  rsa: { public: string; private: string };
  p256: { public: string; private: string };
}

export interface Tpm2KeyStoreOptions {
  /** tpm2-tss TCTI (default device:/dev/tpmrm0; tests: swtpm:host=127.0.0.1,port=N). */
  tcti?: string;
  /** A TPM call not answered within this fails with ERR_MODULE_CALL (default 10 000 ms). */
  timeoutMs?: number;
  /** The authValue file (default <dataDir>/tpm2-auth). */
  authFile?: string;
}

/** `pcrs` as given by an operator ("7", "0,2,7"), checked. */
export function parsePcrList(text: string): number[] {
  if (typeof text !== 'string') throw new TypeError(`pcrs: expected a comma-separated list of PCR numbers, got ${typeof text}`);
  if (text.trim() === '') return [];
  const out = text.split(',').map((p) => (/^\s*\d{1,2}\s*$/.test(p) ? Number(p) : NaN));
  checkPcrs(out, `pcrs ${JSON.stringify(text)}`);
  return out.sort((a, b) => a - b); // a set: 7,0 and 0,7 are the same policy
}

function checkPcrs(pcrs: readonly number[], what = 'pcrs'): void {
  if (!Array.isArray(pcrs) || pcrs.some((p) => !Number.isInteger(p) || p < 0 || p > MAX_PCR) || new Set(pcrs).size !== pcrs.length) {
    throw new RangeError(`${what}: expected distinct PCR numbers 0..${MAX_PCR} (SHA-256 bank), got ${JSON.stringify(pcrs)}`);
  }
}

export class Tpm2KeyStore implements KeyStore {
  readonly capabilities: Capabilities;
  readonly tpm: Tpm2;
  readonly #guard: ModuleGuard;
  readonly #keys: KeyFile;
  readonly #auth: Uint8Array;
  readonly #rsaModulus: Uint8Array;
  readonly #p256Public: Uint8Array;

  private constructor(tpm: Tpm2, keys: KeyFile, auth: Uint8Array, timeoutMs = DEFAULT_TPM_TIMEOUT_MS) {
    this.tpm = tpm;
    this.#guard = new ModuleGuard({
      timeoutMs,
      name: 'tpm2',
      // A TPM in lockout answers capability reads but refuses every authorised use: health says so.
      probe: async () => {
        if (await tpm.inLockout()) throw lockoutError();
      },
      stuckHint: `the TPM (TCTI ${tpm.tcti}) is not responding; the agent retries by itself and recovers when it answers`,
    });
    this.#keys = keys;
    this.#auth = auth;
    this.#rsaModulus = publicUnique(b64(keys.rsa.public)).rsaModulus!;
    this.#p256Public = publicUnique(b64(keys.p256.public)).ecc!;
    const simulated = /SW\s*TPM/i.test(tpm.info.vendor);
    this.capabilities = {
      backend: 'tpm2',
      model: `TPM 2.0 ${tpm.info.manufacturer} ${tpm.info.vendor}${simulated ? ' (simulated)' : ''}`.replace(/\s+/g, ' '),
      hardware: !simulated,
      ecdh: false,
      serial: keys.srk,
      manufacturer: tpm.info.manufacturer,
      firmware: tpm.info.firmware,
    };
  }

  /**
   * Makes the store's keys in the TPM and writes `tpm2-keystore.json` (and `tpm2-auth` when no
   * auth file is named and none exists); refuses to replace a key file unless `replace`.
   * @throws KeyStoreError ERR_MODULE_ABSENT (no TPM), ERR_MODULE_CALL (the file exists or cannot be
   *   written), ERR_KEYSTORE_FILE (an auth file that cannot be read).
   */
  static async create(dataDir: string, options: Tpm2KeyStoreOptions & { pcrs?: number[]; replace?: boolean } = {}): Promise<Tpm2KeyStore> {
    const file = join(dataDir, TPM2_KEYSTORE_FILE);
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    if (!options.replace && (await exists(file))) {
      throw new KeyStoreError('ERR_MODULE_CALL', `tpm2: ${file} already exists: refusing to replace the TPM keys`, {
        hint: 'its keys may still open capsules; move it away first if it is really unused',
      });
    }
    const pcrs = [...(options.pcrs ?? [])].sort((a, b) => a - b);
    checkPcrs(pcrs);
    const tpm = await Tpm2.open(options.tcti ?? DEFAULT_TCTI);
    let auth: Uint8Array | undefined;
    try {
      auth = await readOrMakeAuth(tpm, options.authFile ?? join(dataDir, TPM2_AUTH_FILE));
      const srk = fingerprint((await tpm.srk()).public);
      const make = async (template: Uint8Array) => {
        const sensitive = sensitiveCreate(auth!);
        try {
          return await tpm.create(template, sensitive);
        } finally {
          sensitive.fill(0);
        }
      };
      const rsa = await make(rsaDecryptTemplate());
      const p256 = await make(p256SignTemplate());
      const keys: KeyFile = { format: FORMAT, srk, pcrs, rsa: enc(rsa), p256: enc(p256) };
      await writeNew(file, keys);
      return new Tpm2KeyStore(tpm, keys, auth, options.timeoutMs);
    } catch (e) {
      wipe(auth);
      await tpm.close();
      throw e;
    }
  }

  /**
   * Opens the store in `dataDir` on the TPM behind `tcti`.
   * @throws KeyStoreError ERR_MODULE_ABSENT (no TPM), ERR_KEYSTORE_FILE (the key or auth file is
   *   missing, unreadable or damaged), ERR_LOCK_INTEGRITY (the keys
   *   were made by another TPM: its owner hierarchy differs).
   */
  static async open(dataDir: string, options: Tpm2KeyStoreOptions = {}): Promise<Tpm2KeyStore> {
    const path = join(dataDir, TPM2_KEYSTORE_FILE);
    const keys = await readKeyFile(path);
    const tpm = await Tpm2.open(options.tcti ?? DEFAULT_TCTI);
    try {
      const here = fingerprint((await tpm.srk()).public);
      if (here !== keys.srk) {
        throw new KeyStoreError(
          'ERR_LOCK_INTEGRITY',
          `tpm2: ${path} holds keys of TPM ${keys.srk}, but this TPM is ${here} (another TPM, or this one was cleared)`,
          {
            hint: 'tpm2 keys open only on the TPM that made them; on a new TPM restore the guardian from its paper backup: capsule guardian init --backend tpm2 --restore --force',
          },
        );
      }
      return new Tpm2KeyStore(tpm, keys, await readAuth(options.authFile ?? join(dataDir, TPM2_AUTH_FILE)), options.timeoutMs);
    } catch (e) {
      await tpm.close();
      throw e;
    }
  }

  /** The PCRs lock() seals to by default. */
  get pcrs(): readonly number[] {
    return this.#keys.pcrs;
  }

  randomBytes(size: number): Promise<Uint8Array> {
    return this.#guard.run('GetRandom', () => this.tpm.getRandom(size));
  }

  /**
   * Seals `data` to this TPM under authValue + `pcrs` (default: the store's).
   * @throws KeyStoreError ERR_TPM_AUTH, ERR_TPM_LOCKOUT, ERR_MODULE_CALL.
   */
  lock(data: Uint8Array, options: { pcrs?: readonly number[] } = {}): Promise<Uint8Array> {
    if (!(data instanceof Uint8Array)) throw new TypeError(`data: expected a Uint8Array, got ${typeof data}`);
    const pcrs = options.pcrs ?? this.#keys.pcrs;
    checkPcrs(pcrs as number[]);
    return this.#guard.run('Create (seal)', async () => {
      const key = await mixedRandom(this.tpm, 32);
      try {
        const policy = await this.tpm.policyDigest(pcrs);
        const sensitive = sensitiveCreate(this.#auth, key);
        let sealed: TpmBlob;
        try {
          sealed = await this.tpm.create(sealTemplate(policy), sensitive);
        } finally {
          sensitive.fill(0);
        }
        const head = new Writer()
          .bytes(BLOB_MAGIC)
          .u8(BLOB_VERSION)
          .u8(pcrs.length)
          .bytes(Uint8Array.from(pcrs))
          .bytes(sealed.public)
          .bytes(sealed.private)
          .done();
        const nonce = randomBytes(12);
        const c = createCipheriv('aes-256-gcm', key, nonce);
        c.setAAD(head);
        return new Uint8Array(Buffer.concat([head, nonce, c.update(data), c.final(), c.getAuthTag()]));
      } finally {
        wipe(key);
      }
    });
  }

  /**
   * Reverses lock().
   * @throws KeyStoreError ERR_LOCK_INTEGRITY (another TPM's blob, or altered), ERR_TPM_POLICY
   *   (PCRs changed), ERR_TPM_AUTH, ERR_TPM_LOCKOUT, ERR_MODULE_CALL.
   */
  unlock(blob: Uint8Array): Promise<Uint8Array> {
    const parsed = parseBlob(blob);
    return this.#guard.run('Unseal', async () => {
      const key = await this.tpm.withLoaded(parsed.sealed, this.#auth, (h) => this.tpm.unseal(h, parsed.pcrs));
      try {
        if (key.length !== 32) throw integrity('the sealed key is not 32 bytes');
        const d = createDecipheriv('aes-256-gcm', key, parsed.nonce);
        d.setAAD(parsed.head);
        d.setAuthTag(parsed.tag);
        try {
          // One output buffer, so a plaintext that fails its tag is wiped, not left to the GC.
          const out = new Uint8Array(parsed.body.length);
          const first = d.update(parsed.body);
          out.set(first);
          first.fill(0);
          try {
            d.final();
          } catch (e) {
            out.fill(0);
            throw e;
          }
          return out;
        } catch (cause) {
          throw integrity('its data does not authenticate', cause);
        }
      } finally {
        wipe(key);
      }
    });
  }

  /** The P-256 signing key (slot 0 only): X ‖ Y. */
  async publicKey(slot: number): Promise<Uint8Array> {
    checkSlot(slot);
    return Uint8Array.from(this.#p256Public);
  }

  sign(digest: Uint8Array, slot: number): Promise<Uint8Array> {
    checkSlot(slot);
    if (!(digest instanceof Uint8Array) || digest.length !== 32)
      throw new TypeError(`digest: expected 32 bytes, got ${digest instanceof Uint8Array ? digest.length : typeof digest}`);
    return this.#guard.run('Sign', () => this.tpm.withLoaded(dec(this.#keys.p256), this.#auth, (h) => this.tpm.sign(h, digest)));
  }

  async ecdh(): Promise<Uint8Array> {
    throw new KeyStoreError('ERR_UNSUPPORTED_BY_MODEL', 'tpm2: this key store offers no ECDH slot key', {
      hint: 'a TPM guardian opens x25519 and tpm2-rsa stanzas; seal to its capsule-tpm1… recipient for a TPM-only capsule',
    });
  }

  /** The RSA-2048 decryption key: its modulus (the `capsule-tpm1…` recipient) and decryption in the TPM. */
  get tpm2Rsa(): NonNullable<KeyStore['tpm2Rsa']> {
    return {
      modulus: Uint8Array.from(this.#rsaModulus),
      decrypt: async (ciphertext, label) => (await this.#decryptFirst([{ ciphertext, label }]))?.plaintext,
      decryptFirst: (items, size) => this.#decryptFirst(items, size),
    };
  }

  /** ok, or failing with the last TPM error's code and message (for /v1/status). */
  health(): ModuleHealth {
    return this.#guard.health;
  }

  /** Closes the context once it is free; a TPM that does not answer is left to process exit. */
  /**
   * Tries `items` in order with the RSA key loaded once; the first plaintext (of `size` bytes, when
   * given) wins, and the ones tried before it are wiped.
   */
  #decryptFirst(
    items: ReadonlyArray<{ ciphertext: Uint8Array; label: Uint8Array }>,
    size?: number,
  ): Promise<{ index: number; plaintext: Uint8Array } | undefined> {
    return this.#guard.run('RSA_Decrypt', () =>
      this.tpm.withLoaded(dec(this.#keys.rsa), this.#auth, async (h) => {
        for (const [index, { ciphertext, label }] of items.entries()) {
          const plaintext = await this.tpm.rsaDecrypt(h, ciphertext, label);
          if (plaintext && (size === undefined || plaintext.length === size)) return { index, plaintext };
          wipe(plaintext);
        }
        return undefined;
      }),
    );
  }

  async close(): Promise<void> {
    this.#guard.close();
    await this.#guard.run('close', () => this.tpm.close()).catch(() => {});
    wipe(this.#auth);
  }
}

function checkSlot(slot: number): void {
  if (slot !== 0) throw new KeyStoreError('ERR_MODULE_CALL', `tpm2: no key in slot ${slot} (this key store has one signing key, slot 0)`);
}

function parseBlob(blob: Uint8Array): { head: Uint8Array; pcrs: number[]; sealed: TpmBlob; nonce: Uint8Array; body: Uint8Array; tag: Uint8Array } {
  if (!(blob instanceof Uint8Array)) throw new TypeError(`blob: expected a Uint8Array, got ${typeof blob}`);
  try {
    const r = new Reader(blob);
    if (!Buffer.from(r.bytes(4)).equals(BLOB_MAGIC)) throw integrity('it is not a tpm2 lock blob (no CTPM magic)');
    const v = r.u8();
    if (v !== BLOB_VERSION) throw integrity(`version ${v} is not ${BLOB_VERSION}`);
    const pcrs = Array.from(r.bytes(r.u8()));
    checkPcrs(pcrs);
    const pubBody = r.b();
    const privBody = r.b();
    const headLength = 4 + 1 + 1 + pcrs.length + 2 + pubBody.length + 2 + privBody.length;
    const nonce = r.bytes(12);
    const rest = blob.subarray(headLength + 12);
    if (rest.length < 16) throw integrity('it is truncated');
    return {
      head: blob.slice(0, headLength),
      pcrs,
      nonce,
      sealed: { public: new Writer().b(pubBody).done(), private: new Writer().b(privBody).done() },
      body: rest.subarray(0, rest.length - 16),
      tag: rest.subarray(rest.length - 16),
    };
  } catch (e) {
    if (e instanceof KeyStoreError) throw e;
    throw integrity('it is malformed', e);
  }
}

function integrity(why: string, cause?: unknown): KeyStoreError {
  return new KeyStoreError('ERR_LOCK_INTEGRITY', `tpm2: the lock blob fails its integrity check: ${why}`, {
    cause,
    hint: 'a tpm2 lock blob opens only on the TPM that sealed it, unaltered',
  });
}

function lockoutError(): KeyStoreError {
  return new KeyStoreError('ERR_TPM_LOCKOUT', 'tpm2: the TPM is in dictionary-attack lockout; it refuses authorised use until the lockout recovers', {
    hint: 'do not retry: wait for the recovery interval, or reset it with the lockout authorisation (tpm2_dictionarylockout --clear-lockout)',
  });
}

/**
 * Secret bytes from both generators (HKDF-SHA256 over TPM ‖ OS random): either alone suffices
 * (DESIGN.md), and the TPM's share crosses its bus in clear (GetRandom has no session), so it
 * must never be the secret on its own.
 */
async function mixedRandom(tpm: Tpm2, size: number): Promise<Uint8Array> {
  const ikm = new Uint8Array(64);
  const fromTpm = await tpm.getRandom(32);
  ikm.set(fromTpm, 0);
  ikm.set(randomBytes(32), 32);
  try {
    return new Uint8Array(hkdfSync('sha256', ikm, new Uint8Array(0), 'capsule/v1 tpm2 secret', size));
  } finally {
    wipe(ikm, fromTpm);
  }
}

function fingerprint(srkPublic: Uint8Array): string {
  return `tpm2-${createHash('sha256').update(srkPublic).digest('hex').slice(0, 16)}`;
}

const b64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'));
const enc = (b: TpmBlob) => ({ public: Buffer.from(b.public).toString('base64'), private: Buffer.from(b.private).toString('base64') });
const dec = (b: { public: string; private: string }): TpmBlob => ({ public: b64(b.public), private: b64(b.private) });

async function readKeyFile(path: string): Promise<KeyFile> {
  let k: Partial<KeyFile>;
  try {
    k = JSON.parse(await readFile(path, 'utf8'));
  } catch (cause) {
    throw new KeyStoreError('ERR_KEYSTORE_FILE', `tpm2: cannot read ${path} (${(cause as NodeJS.ErrnoException).code ?? 'not JSON'})`, {
      cause,
      hint: 'provision the guardian with `capsule guardian init --backend tpm2`',
    });
  }
  const ok =
    k.format === FORMAT &&
    typeof k.srk === 'string' &&
    Array.isArray(k.pcrs) &&
    [k.rsa, k.p256].every((b) => typeof b?.public === 'string' && typeof b.private === 'string');
  if (!ok || !publicAreasOk(k as KeyFile))
    throw new KeyStoreError('ERR_KEYSTORE_FILE', `tpm2: ${path} is not a ${FORMAT} file (or its key entries are damaged)`, {
      hint: 'restore it from a backup, or re-provision with `capsule guardian init --backend tpm2 --restore --force`',
    });
  return k as KeyFile;
}

/** The rsa entry holds a 2048-bit RSA public area and the p256 entry a P-256 point (not swapped, not cut). */
function publicAreasOk(k: KeyFile): boolean {
  try {
    return (
      publicUnique(b64(k.rsa.public)).rsaModulus?.length === 256 &&
      publicUnique(b64(k.p256.public)).ecc?.length === 64 &&
      k.pcrs.every((p) => Number.isInteger(p) && p >= 0 && p <= MAX_PCR)
    );
  } catch {
    return false;
  }
}

async function writeNew(path: string, keys: KeyFile): Promise<void> {
  const f = await AtomicFile.create(path, 0o600, path);
  try {
    await f.write(new TextEncoder().encode(JSON.stringify(keys, null, 2) + '\n'));
    await f.commit();
  } catch (cause) {
    await f.abort();
    throw new KeyStoreError('ERR_MODULE_CALL', `tpm2: cannot write ${path} (${(cause as NodeJS.ErrnoException).code})`, { cause });
  }
}

async function readAuth(path: string): Promise<Uint8Array> {
  let a: Buffer;
  try {
    a = await readFile(path);
  } catch (cause) {
    throw new KeyStoreError('ERR_KEYSTORE_FILE', `tpm2: cannot read the auth file ${path} (${(cause as NodeJS.ErrnoException).code})`, {
      cause,
      hint: 'it was made at provisioning (tpm2-auth in the data directory) or is named by CAPSULE_TPM_AUTH_FILE; without it the TPM keys cannot be used',
    });
  }
  if (a.length !== AUTH_SIZE) {
    a.fill(0);
    throw new KeyStoreError('ERR_KEYSTORE_FILE', `tpm2: the auth file ${path} holds ${a.length} bytes, not ${AUTH_SIZE}`, {
      hint: 'restore it from the backup made at provisioning',
    });
  }
  return new Uint8Array(a);
}

async function readOrMakeAuth(tpm: Tpm2, path: string): Promise<Uint8Array> {
  try {
    return await readAuth(path);
  } catch (e) {
    if ((e as KeyStoreError).cause && ((e as KeyStoreError).cause as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    if (!(e as KeyStoreError).cause) throw e;
  }
  const auth = await mixedRandom(tpm, AUTH_SIZE);
  const f = await AtomicFile.create(path, 0o600, path);
  try {
    await f.write(auth);
    await f.commit();
  } catch (cause) {
    await f.abort();
    wipe(auth);
    throw new KeyStoreError('ERR_MODULE_CALL', `tpm2: cannot write the auth file ${path} (${(cause as NodeJS.ErrnoException).code})`, { cause });
  }
  return auth;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}
