/**
 * The `soft` key store: a device secret and three P-256 slot keys kept in a file encrypted under a
 * passphrase (scrypt N=2^17, r=8, p=1 → AES-256-GCM). FOR DEVELOPMENT ONLY — keys live in process
 * memory and on disk under a passphrase, not in hardware; `capabilities.hardware` is false and
 * callers are expected to say so loudly. Lock blobs use their own authenticated format.
 *
 * Its `wallet` (SoftWallet.ts) keeps each wallet's BIP39 seed in the same file, only as a lock blob
 * of this store (`wallets`: name and sealed seed), rewritten atomically when a wallet is added.
 *
 * Deliberately not here: passphrase prompting (the CLI's job) and key rotation.
 */
import { createCipheriv, createDecipheriv, createECDH, randomBytes, scrypt } from 'node:crypto';
import { p256 } from '@noble/curves/nist.js';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { KeyStoreError } from '../errors.ts';
import { wipe } from '../crypto/secrets.ts';
import type { Capabilities, KeyStore } from './KeyStore.ts';
import { SoftWallet, type SealedWallet } from './SoftWallet.ts';

const scryptAsync = promisify(scrypt) as (pw: string, salt: Uint8Array, len: number, opts: object) => Promise<Buffer>;
const FILE_MAGIC = 'capsule-soft-keystore/v1';
const BLOB_MAGIC = Buffer.from('SOFTLCK1');
const SCRYPT = { N: 2 ** 17, r: 8, p: 1, maxmem: 256 * 1024 * 1024 };
const SLOTS = 3;

interface Secrets {
  device: Buffer;
  slots: Buffer[]; // P-256 private scalars
}

export class SoftKeyStore implements KeyStore {
  readonly capabilities: Capabilities;
  /** BIP32 wallets, their seeds locked by this store in its file (development only). */
  readonly wallet: SoftWallet;
  readonly #path: string;
  #s: Secrets | undefined;

  private constructor(s: Secrets, serial: string, path: string) {
    this.#s = s;
    this.#path = path;
    this.capabilities = { backend: 'soft', model: 'soft (NOT FOR PRODUCTION)', hardware: false, ecdh: true, serial };
    this.wallet = new SoftWallet({
      lock: (data) => this.lock(data),
      unlock: (blob) => this.unlock(blob),
      load: () => this.#loadWallets(),
      save: (wallets) => this.#saveWallets(wallets),
    });
  }

  /** Creates a new store file (refuses to overwrite) and opens it. */
  static async create(path: string, passphrase: string): Promise<SoftKeyStore> {
    checkPassphrase(passphrase);
    const s: Secrets = { device: randomBytes(32), slots: Array.from({ length: SLOTS }, () => newScalar()) };
    const salt = randomBytes(16);
    const key = await scryptAsync(passphrase, salt, 32, SCRYPT);
    const nonce = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', key, nonce);
    c.setAAD(Buffer.from(FILE_MAGIC));
    const body = Buffer.concat([c.update(Buffer.concat([s.device, ...s.slots])), c.final(), c.getAuthTag()]);
    wipe(key);
    const file = {
      format: FILE_MAGIC,
      kdf: { name: 'scrypt', ...SCRYPT, salt: salt.toString('base64') },
      nonce: nonce.toString('base64'),
      sealed: body.toString('base64'),
    };
    try {
      await writeFile(path, JSON.stringify(file, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
    } catch (cause) {
      throw new KeyStoreError('ERR_MODULE_CALL', `soft key store: cannot create ${path} (${(cause as NodeJS.ErrnoException).code})`, { cause });
    }
    return new SoftKeyStore(s, serialOf(s.device), path);
  }

  static async open(path: string, passphrase: string): Promise<SoftKeyStore> {
    let file: { format?: string; kdf?: { salt?: string }; nonce?: string; sealed?: string };
    try {
      file = JSON.parse(await readFile(path, 'utf8'));
    } catch (cause) {
      throw new KeyStoreError('ERR_MODULE_ABSENT', `soft key store: cannot read ${path}`, { cause, hint: 'create one with the guardian set-up' });
    }
    if (file.format !== FILE_MAGIC || !file.kdf?.salt || !file.nonce || !file.sealed) {
      throw new KeyStoreError('ERR_MODULE_ABSENT', `soft key store: ${path} is not a ${FILE_MAGIC} file`);
    }
    const key = await scryptAsync(passphrase, Buffer.from(file.kdf.salt, 'base64'), 32, SCRYPT);
    const sealed = Buffer.from(file.sealed, 'base64');
    let plain: Buffer;
    try {
      const d = createDecipheriv('aes-256-gcm', key, Buffer.from(file.nonce, 'base64'));
      d.setAAD(Buffer.from(FILE_MAGIC));
      d.setAuthTag(sealed.subarray(sealed.length - 16));
      plain = Buffer.concat([d.update(sealed.subarray(0, sealed.length - 16)), d.final()]);
    } catch (cause) {
      throw new KeyStoreError('ERR_LOCK_INTEGRITY', `soft key store: wrong passphrase for ${path}, or the file was modified`, { cause });
    } finally {
      wipe(key);
    }
    const s: Secrets = { device: plain.subarray(0, 32), slots: Array.from({ length: SLOTS }, (_, i) => plain.subarray(32 + 32 * i, 64 + 32 * i)) };
    return new SoftKeyStore(s, serialOf(s.device), path);
  }

  async randomBytes(size: number): Promise<Uint8Array> {
    if (!Number.isInteger(size) || size < 1 || size > 65536) throw new RangeError(`size: expected 1..65536, got ${size}`);
    this.#live();
    return new Uint8Array(randomBytes(size));
  }

  async lock(data: Uint8Array): Promise<Uint8Array> {
    const nonce = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.#live().device, nonce);
    c.setAAD(BLOB_MAGIC);
    return new Uint8Array(Buffer.concat([BLOB_MAGIC, nonce, c.update(data), c.final(), c.getAuthTag()]));
  }

  async unlock(blob: Uint8Array): Promise<Uint8Array> {
    const b = Buffer.from(blob.buffer, blob.byteOffset, blob.length);
    if (b.length < 8 + 12 + 16 || !b.subarray(0, 8).equals(BLOB_MAGIC)) {
      throw new KeyStoreError('ERR_LOCK_INTEGRITY', 'soft key store: not a soft lock blob (wrong magic or too short)');
    }
    try {
      const d = createDecipheriv('aes-256-gcm', this.#live().device, b.subarray(8, 20));
      d.setAAD(BLOB_MAGIC);
      d.setAuthTag(b.subarray(b.length - 16));
      return new Uint8Array(Buffer.concat([d.update(b.subarray(20, b.length - 16)), d.final()]));
    } catch (cause) {
      throw new KeyStoreError('ERR_LOCK_INTEGRITY', 'soft key store: locked blob failed its integrity check (tampered, or locked by another store)', { cause });
    }
  }

  async publicKey(slot: number): Promise<Uint8Array> {
    const ecdh = createECDH('prime256v1');
    ecdh.setPrivateKey(this.#slot(slot));
    return new Uint8Array(ecdh.getPublicKey().subarray(1));
  }

  async sign(digest: Uint8Array, slot: number): Promise<Uint8Array> {
    if (!(digest instanceof Uint8Array) || digest.length !== 32)
      throw new TypeError(`digest: expected 32 bytes, got ${digest instanceof Uint8Array ? digest.length : typeof digest}`);
    // The digest is signed as given (no hashing), like zkGenECDSASigFromDigest; node:crypto would
    // hash it again, so this uses @noble/curves (RFC 6979 nonces), raw r ‖ s, S not normalised.
    return p256.sign(digest, this.#slot(slot), { prehash: false, lowS: false, format: 'compact' } as never) as Uint8Array;
  }

  async ecdh(slot: number, peer: Uint8Array): Promise<Uint8Array> {
    if (peer.length !== 64) throw new TypeError(`peer: expected a 64-byte X ‖ Y public key, got ${peer.length} bytes`);
    const ecdh = createECDH('prime256v1');
    ecdh.setPrivateKey(this.#slot(slot));
    try {
      return new Uint8Array(ecdh.computeSecret(Buffer.concat([Buffer.of(4), peer])));
    } catch (cause) {
      throw new KeyStoreError('ERR_MODULE_CALL', 'soft key store: peer key is not a P-256 point', { cause });
    }
  }

  async close(): Promise<void> {
    if (this.#s) wipe(this.#s.device, ...this.#s.slots);
    this.#s = undefined;
  }

  async #readFile(): Promise<Record<string, unknown>> {
    try {
      return JSON.parse(await readFile(this.#path, 'utf8'));
    } catch (cause) {
      throw new KeyStoreError('ERR_MODULE_CALL', `soft key store: cannot read ${this.#path}`, { cause });
    }
  }

  async #loadWallets(): Promise<SealedWallet[]> {
    this.#live();
    const wallets = (await this.#readFile()).wallets ?? [];
    const ok = Array.isArray(wallets) && wallets.every((w) => typeof w?.name === 'string' && typeof w?.sealed === 'string');
    if (!ok) throw new KeyStoreError('ERR_LOCK_INTEGRITY', `soft key store: the wallets in ${this.#path} are malformed (the file was edited)`);
    return wallets as SealedWallet[];
  }

  /** Rewrites the file with `wallets` (a temporary file renamed over it: never half-written). */
  async #saveWallets(wallets: SealedWallet[]): Promise<void> {
    this.#live();
    const file = { ...(await this.#readFile()), wallets };
    const tmp = `${this.#path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    try {
      await writeFile(tmp, JSON.stringify(file, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
      await rename(tmp, this.#path);
    } catch (cause) {
      await rm(tmp, { force: true });
      throw new KeyStoreError('ERR_MODULE_CALL', `soft key store: cannot write ${this.#path} (${(cause as NodeJS.ErrnoException).code})`, { cause });
    }
  }

  #live(): Secrets {
    if (!this.#s) throw new KeyStoreError('ERR_MODULE_CALL', 'soft key store: closed');
    return this.#s;
  }

  #slot(slot: number): Buffer {
    const s = this.#live().slots[slot];
    if (!Number.isInteger(slot) || !s) throw new KeyStoreError('ERR_MODULE_CALL', `soft key store: no key in slot ${slot} (slots 0..${SLOTS - 1})`);
    return s;
  }
}

/** A P-256 private scalar as exactly 32 bytes: getPrivateKey() drops leading zero bytes (1 in 256 keys). */
function newScalar(): Buffer {
  const e = createECDH('prime256v1');
  e.generateKeys();
  const k = e.getPrivateKey();
  return k.length === 32 ? k : Buffer.concat([Buffer.alloc(32 - k.length), k]);
}

function serialOf(device: Uint8Array): string {
  return `SOFT-${Buffer.from(device.subarray(0, 4)).toString('hex')}`;
}

function checkPassphrase(p: string): void {
  if (typeof p !== 'string' || p.length < 8) throw new TypeError('passphrase: expected at least 8 characters');
}
