/**
 * Decrypting push parser: a CapsuleReader plus key unwrapping and STREAM decryption.
 *
 * `push()` waits, once, for the (possibly asynchronous) Unwrapper when the header is complete, and returns only plaintext whose chunk tag verified; `finish(digest)` checks the payload
 * commitment once the caller has hashed the plaintext with `payloadDigest()` (the caller hashes,
 * so that hashing can overlap with I/O or move to other threads). Single-use; errors are sticky; the file key and payload key
 * are wiped as soon as the stream cipher holds its own copy, and `dispose()` wipes what is left
 * when a stream ends early. Deliberately not here: I/O.
 */
import { deriveCommitmentSalt, derivePayloadKey } from '../crypto/kdf.ts';
import { wipe } from '../crypto/secrets.ts';
import { StreamOpener } from '../crypto/StreamCipher.ts';
import type { CapsuleHeader } from '../format/header.ts';
import { CapsuleFormatError } from '../errors.ts';
import { FILE_KEY_SIZE } from '../format/constants.ts';
import { CapsuleReader, type ParsedHeader } from './CapsuleReader.ts';
import { feedReader } from './feedReader.ts';
import { checkPayloadDigest, isSalted, PayloadDigest } from './PayloadDigest.ts';

/**
 * Produces the capsule's 32-byte file key from its header: the one unwrap contract of the library
 * (after typage's `unwrapFileKey(stanzas) → key | null`). It may be asynchronous (a security
 * module, a remote guardian, combining Shamir shares) and is called once, when the header is
 * complete, before any payload byte is decrypted. It returns null when none of the header's
 * stanzas is for it (the opener then throws ERR_NO_MATCHING_STANZA), or throws a typed error that
 * says more. The opener wipes the returned array, so return a copy of a key you keep.
 * @example
 * ```js
 * // A file key a guardian released (age-decrypted answer): open the capsule with it.
 * await decryptToFile({ path: 'secret.capsule' }, () => Uint8Array.from(fileKey), 'secret.pdf');
 * // A custodian that answers later (a security module):
 * await decryptToFile({ path: 'secret.capsule' }, (header) => guardian.unwrapFileKey(header), 'secret.pdf');
 * ```
 */
export type Unwrapper = (header: CapsuleHeader) => Uint8Array | null | Promise<Uint8Array | null>;

/**
 * Calls `unwrap` for `header` and turns "not for me" (null) into the typed error.
 * @param unwrap - The Unwrapper.
 * @param header - The checked header.
 * @returns The 32-byte file key (the caller wipes it).
 * @throws CapsuleFormatError ERR_NO_MATCHING_STANZA (null, or not 32 bytes); what `unwrap` throws.
 */
export async function unwrapKey(unwrap: Unwrapper, header: CapsuleHeader): Promise<Uint8Array> {
  const key = await unwrap(header);
  if (key === null || key === undefined) {
    const types = [...new Set(header.stanzas.map((s) => s.type))].join(', ');
    throw new CapsuleFormatError('ERR_NO_MATCHING_STANZA', `header.stanzas: none of ${header.stanzas.length} stanza(s) (${types}) opens with the given key`);
  }
  if (!(key instanceof Uint8Array) || key.length !== FILE_KEY_SIZE) {
    throw new TypeError(
      `unwrap: expected a ${FILE_KEY_SIZE}-byte file key (Uint8Array) or null, got ${key instanceof Uint8Array ? `${key.length} bytes` : typeof key}`,
    );
  }
  return key;
}

/**
 * Decrypting push parser for callers doing their own I/O (`openWithKey()` wraps it): `push()`
 * returns only plaintext whose chunk tag verified; hash it with `payloadDigest()` and give the
 * result to `finish()`, which also detects truncation. Single-use; errors are sticky; call
 * `dispose()` if you stop early (it wipes the keys).
 * @throws CapsuleFormatError from push() (ERR_NO_MATCHING_STANZA, ERR_CHUNK_AUTH, ERR_TRAILING_DATA,
 *   header errors…) and finish() (ERR_TRUNCATED, ERR_PAYLOAD_DIGEST).
 * @example
 * ```js
 * import { CapsuleOpener, identityUnwrapper } from 'digital-capsule-engine/capsule';
 * const opener = new CapsuleOpener(identityUnwrapper([identity]));
 * let hash;
 * const plain = [];
 * for await (const piece of source) {
 *   const out = await opener.push(piece);
 *   hash ??= opener.parsed && opener.payloadDigest();
 *   for (const p of out) { hash.update(p); plain.push(p); }
 * }
 * opener.finish(hash ? hash.digest() : new Uint8Array(32)); // throws unless all verified: only now use `plain`
 * ```
 */
export class CapsuleOpener {
  readonly #reader = new CapsuleReader();
  readonly #unwrap: Unwrapper;
  #stream: StreamOpener | undefined;
  #prefix: Uint8Array = new Uint8Array(0);
  #out: Buffer[] = [];
  /** Sealed chunks completed before the key was known (a tiny payload's last chunk may end with the header's step). */
  #pending: Array<{ sealed: Uint8Array; last: boolean }> = [];
  #error: unknown;
  #finished = false;

  /**
   * @param unwrap - Produces the file key once the header is read (identityUnwrapper, or your own).
   * @throws TypeError when `unwrap` is not a function.
   */
  constructor(unwrap: Unwrapper) {
    if (typeof unwrap !== 'function') throw new TypeError(`unwrap: expected a function, got ${typeof unwrap}`);
    this.#unwrap = unwrap;
  }

  /** The checked header once its bytes were pushed; undefined before. */
  get parsed(): ParsedHeader | undefined {
    return this.#reader.parsed;
  }

  /**
   * A fresh digest of the header's `digest_alg` (with its salt, derived from the file key, when
   * salted): feed it the plaintext and give its result to `finish()`.
   * @throws Error before the header has been read.
   */
  payloadDigest(): PayloadDigest {
    const p = this.#reader.parsed;
    if (!p || !this.#stream) throw new Error('CapsuleOpener: payloadDigest() before the header was read');
    return new PayloadDigest(p.header.payload.digestAlg, this.#prefix);
  }

  /**
   * Feeds capsule bytes; resolves to the verified plaintext chunks they completed (caller owns
   * them). Await each push before the next: the first one that completes the header waits for the
   * Unwrapper.
   * @param data - The next capsule bytes, in order, in pieces of any size.
   * @returns Verified plaintext chunks (possibly none).
   * @throws CapsuleFormatError for a bad header, no matching stanza, a chunk that fails its tag, trailing data; what the Unwrapper throws.
   */
  async push(data: Uint8Array): Promise<Buffer[]> {
    if (this.#error !== undefined) throw this.#error;
    try {
      this.#out = [];
      let off = 0;
      if (!this.#stream) {
        off = feedReader(this.#reader, data, () => !!this.#reader.parsed, this.#sink);
        if (!this.#reader.parsed) return [];
        await this.#start(this.#reader.parsed);
        for (const p of this.#pending.splice(0)) this.#out.push(this.#stream!.openChunk(p.sealed, p.last));
      }
      if (off < data.length) this.#reader.push(data.subarray(off), this.#sink);
      const out = this.#out;
      this.#out = [];
      return out;
    } catch (e) {
      this.#error = e; // sticky: a stream that failed never yields more
      throw e;
    }
  }

  readonly #sink = (sealed: Uint8Array, _index: number, last: boolean): void => {
    if (this.#stream) this.#out.push(this.#stream.openChunk(sealed, last));
    else this.#pending.push({ sealed: Uint8Array.from(sealed), last });
  };

  /**
   * Declares end of input and checks the caller's `payloadDigest()` result (constant time).
   * @param digest - The digest of every plaintext byte push() returned.
   * @throws CapsuleFormatError ERR_TRUNCATED (input ended early), ERR_PAYLOAD_DIGEST (mismatch).
   */
  finish(digest: Uint8Array): void {
    if (this.#finished) throw new Error('CapsuleOpener: finish() called twice (single-use object)');
    if (this.#error !== undefined) throw this.#error;
    this.#finished = true;
    try {
      this.#reader.end();
    } finally {
      this.dispose();
    }
    checkPayloadDigest(digest, this.#reader.parsed!.header.payload.digest);
  }

  /** Wipes the salt and the stream key; safe to call at any time and more than once. */
  dispose(): void {
    wipe(this.#prefix);
    this.#stream?.dispose();
  }

  async #start(p: ParsedHeader): Promise<void> {
    const fileKey = await unwrapKey(this.#unwrap, p.header);
    let payloadKey: Uint8Array | undefined;
    try {
      payloadKey = derivePayloadKey(fileKey, p.header.id);
      this.#stream = new StreamOpener(payloadKey, p.headerHash);
      if (isSalted(p.header.payload.digestAlg)) this.#prefix = deriveCommitmentSalt(fileKey, p.header.id);
    } finally {
      wipe(fileKey, payloadKey);
    }
  }
}
