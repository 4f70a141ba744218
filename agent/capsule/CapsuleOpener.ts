/**
 * Decrypting push parser: a CapsuleReader plus key unwrapping and STREAM decryption.
 *
 * `push()` returns only plaintext whose chunk tag verified; `finish(digest)` checks the payload
 * commitment once the caller has hashed the plaintext with `payloadDigest()` (the caller hashes,
 * so that hashing can overlap with I/O or move to other threads). Single-use; errors are sticky; the file key and payload key
 * are wiped as soon as the stream cipher holds its own copy, and `dispose()` wipes what is left
 * when a stream ends early. Deliberately not here: I/O.
 */
import { deriveCommitmentSalt, derivePayloadKey } from '../crypto/kdf.ts';
import { wipe } from '../crypto/secrets.ts';
import { StreamOpener } from '../crypto/StreamCipher.ts';
import type { CapsuleHeader } from '../format/header.ts';
import { CapsuleReader, type ParsedHeader } from './CapsuleReader.ts';
import { checkPayloadDigest, isSalted, PayloadDigest } from './PayloadDigest.ts';

/**
 * Produces the capsule's 32-byte file key from its header, or throws (CapsuleFormatError
 * ERR_NO_MATCHING_STANZA, …). Called once, synchronously, when the header is complete; the opener
 * wipes the returned array, so return a copy of a key you keep.
 * @example
 * ```js
 * // A file key a guardian released (age-decrypted answer): open the capsule with it.
 * const unwrap = () => Uint8Array.from(fileKey);
 * await decryptToFile({ path: 'secret.capsule' }, unwrap, 'secret.pdf');
 * ```
 */
export type Unwrapper = (header: CapsuleHeader) => Uint8Array;

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
 *   const out = opener.push(piece);
 *   hash ??= opener.parsed && opener.payloadDigest();
 *   for (const p of out) { hash.update(p); plain.push(p); }
 * }
 * opener.finish(hash ? hash.digest() : new Uint8Array(32)); // throws unless all verified: only now use `plain`
 * ```
 */
export class CapsuleOpener {
  readonly #reader: CapsuleReader;
  readonly #unwrap: Unwrapper;
  #stream: StreamOpener | undefined;
  #prefix: Uint8Array = new Uint8Array(0);
  #out: Buffer[] = [];
  #finished = false;

  /**
   * @param unwrap - Produces the file key once the header is read (identityUnwrapper, or your own).
   * @throws TypeError when `unwrap` is not a function.
   */
  constructor(unwrap: Unwrapper) {
    if (typeof unwrap !== 'function') throw new TypeError(`unwrap: expected a function, got ${typeof unwrap}`);
    this.#unwrap = unwrap;
    this.#reader = new CapsuleReader((p) => this.#start(p));
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
   * Feeds capsule bytes; returns the verified plaintext chunks they completed (caller owns them).
   * @param data - The next capsule bytes, in order, in pieces of any size.
   * @returns Verified plaintext chunks (possibly none).
   * @throws CapsuleFormatError for a bad header, no matching stanza, a chunk that fails its tag, trailing data.
   */
  push(data: Uint8Array): Buffer[] {
    this.#out = [];
    this.#reader.push(data, (sealed, _index, last) => {
      this.#out.push(this.#stream!.openChunk(sealed, last));
    });
    const out = this.#out;
    this.#out = [];
    return out;
  }

  /**
   * Declares end of input and checks the caller's `payloadDigest()` result (constant time).
   * @param digest - The digest of every plaintext byte push() returned.
   * @throws CapsuleFormatError ERR_TRUNCATED (input ended early), ERR_PAYLOAD_DIGEST (mismatch).
   */
  finish(digest: Uint8Array): void {
    if (this.#finished) throw new Error('CapsuleOpener: finish() called twice (single-use object)');
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

  #start(p: ParsedHeader): void {
    const fileKey = this.#unwrap(p.header);
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
