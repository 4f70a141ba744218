/**
 * The payload commitment of SPEC.md §6.4, computed incrementally over plaintext pieces of any size.
 *
 * Four algorithms: `sha256` and `salted-sha256` hash the plaintext as one stream (salt first);
 * `chunked-sha256` and `salted-chunked-sha256` hash each 64 KiB STREAM chunk on its own and then
 * hash the list of those chunk digests, so that several threads can hash disjoint ranges of a
 * payload and `combineChunkDigests()` joins their results: the seal's first pass and the whole of
 * a decrypt then use both cores (bulkWorker.ts). Deliberately not here: which algorithm a new
 * capsule uses (CapsuleSealer), threads and I/O.
 */
import { createHash, type Hash } from 'node:crypto';
import { constantTimeEqual } from '../crypto/secrets.ts';
import { CapsuleFormatError } from '../errors.ts';
import {
  CHUNK_SIZE,
  DIGEST_CHUNKED_SHA256,
  DIGEST_SALTED_CHUNKED_SHA256,
  DIGEST_SALTED_SHA256,
  DIGEST_SHA256,
  LABEL_CHUNKED_DIGEST,
} from '../format/constants.ts';
import type { DigestAlg } from '../format/header.ts';
import { chunkCount } from '../format/layout.ts';

/** The names the API and `inspect` use for `payload.digest_alg`. */
export type DigestName = 'sha256' | 'salted-sha256' | 'chunked-sha256' | 'salted-chunked-sha256';

const NAMES: Record<DigestAlg, DigestName> = {
  [DIGEST_SHA256]: 'sha256',
  [DIGEST_SALTED_SHA256]: 'salted-sha256',
  [DIGEST_CHUNKED_SHA256]: 'chunked-sha256',
  [DIGEST_SALTED_CHUNKED_SHA256]: 'salted-chunked-sha256',
};

/** Name of a digest algorithm id. */
export function digestName(alg: DigestAlg): DigestName {
  return NAMES[alg];
}

/** Algorithm id of a name; undefined for anything else. */
export function digestAlgOf(name: string): DigestAlg | undefined {
  for (const [alg, n] of Object.entries(NAMES)) if (n === name) return Number(alg) as DigestAlg;
  return undefined;
}

/** True for the two algorithms whose commitment needs the salt derived from the file key. */
export function isSalted(alg: DigestAlg): boolean {
  return alg === DIGEST_SALTED_SHA256 || alg === DIGEST_SALTED_CHUNKED_SHA256;
}

/** True for the two algorithms that hash chunk by chunk (parallel-friendly). */
export function isChunked(alg: DigestAlg): boolean {
  return alg === DIGEST_CHUNKED_SHA256 || alg === DIGEST_SALTED_CHUNKED_SHA256;
}

/**
 * Root of a chunked digest: SHA-256(label ‖ salt ‖ uint64be(size) ‖ d_0 ‖ … ‖ d_{n-1}), where
 * `salt` is empty for `chunked-sha256` and d_i = SHA-256(chunk i's plaintext).
 * @throws RangeError if the digests are not 32 bytes each or not one per chunk of `size`.
 */
export function combineChunkDigests(salt: Uint8Array, size: number, chunkDigests: Uint8Array): Uint8Array {
  if (chunkDigests.length !== chunkCount(size) * 32) {
    throw new RangeError(`chunkDigests: expected ${chunkCount(size)} digests of 32 bytes for ${size} bytes, got ${chunkDigests.length} bytes`);
  }
  const head = Buffer.alloc(8);
  head.writeBigUInt64BE(BigInt(size));
  return new Uint8Array(createHash('sha256').update(LABEL_CHUNKED_DIGEST).update(salt).update(head).update(chunkDigests).digest());
}

/**
 * The reader's final check (SPEC.md §6.4), in constant time.
 * @throws CapsuleFormatError ERR_PAYLOAD_DIGEST when `computed` is not `expected`.
 */
export function checkPayloadDigest(computed: Uint8Array, expected: Uint8Array): void {
  if (!constantTimeEqual(computed, expected)) {
    throw new CapsuleFormatError('ERR_PAYLOAD_DIGEST', 'payload: every chunk authenticated, but the plaintext does not match header.payload.digest');
  }
}

/**
 * Incremental payload digest. `update()` takes the plaintext in order, in pieces of any size;
 * `digest()` ends it. Single-use. The salt (empty for unsalted algorithms) is copied, and wiped by
 * `digest()`/`dispose()`. Obtained from `CapsuleSealer.payloadDigest()` or
 * `CapsuleOpener.payloadDigest()`, which know the algorithm and salt.
 * @example
 * ```js
 * const h = sealer.payloadDigest();
 * for (const piece of pieces) h.update(piece);
 * const digest = h.digest(); // what sealer.begin(size, digest) wants
 * ```
 */
export class PayloadDigest {
  readonly #salt: Uint8Array;
  #stream: Hash | undefined; // sha256 / salted-sha256
  #chunk: Hash | undefined; // chunked: the chunk being hashed
  #inChunk = 0;
  #digests: Buffer[] = [];
  #size = 0;
  #done = false;

  /** @throws TypeError if a salted algorithm comes without a 32-byte salt, or an unsalted one with one. */
  constructor(alg: DigestAlg, salt: Uint8Array = new Uint8Array(0)) {
    if (NAMES[alg] === undefined) throw new RangeError(`alg: expected a digest_alg of SPEC.md §6.4 (1..4), got ${alg}`);
    if (salt.length !== (isSalted(alg) ? 32 : 0)) {
      throw new TypeError(`salt: expected ${isSalted(alg) ? 32 : 0} bytes for ${NAMES[alg]}, got ${salt.length}`);
    }
    this.#salt = Uint8Array.from(salt);
    if (!isChunked(alg)) this.#stream = createHash('sha256').update(this.#salt);
  }

  /** Adds the next plaintext bytes. */
  update(piece: Uint8Array): this {
    if (this.#done) throw new Error('PayloadDigest: already finished (single-use object)');
    this.#size += piece.length;
    if (this.#stream) {
      this.#stream.update(piece);
      return this;
    }
    let at = 0;
    while (at < piece.length) {
      const take = Math.min(CHUNK_SIZE - this.#inChunk, piece.length - at);
      if (take === CHUNK_SIZE) {
        // A whole chunk in one piece (the usual case): hash it without keeping a Hash object.
        this.#digests.push(
          createHash('sha256')
            .update(piece.subarray(at, at + take))
            .digest(),
        );
      } else {
        (this.#chunk ??= createHash('sha256')).update(piece.subarray(at, at + take));
        this.#inChunk += take;
        if (this.#inChunk === CHUNK_SIZE) this.#closeChunk();
      }
      at += take;
    }
    return this;
  }

  /** The commitment to compare with `payload.digest` (or to put there). */
  digest(): Uint8Array {
    if (this.#done) throw new Error('PayloadDigest: already finished (single-use object)');
    this.#done = true;
    try {
      if (this.#stream) return new Uint8Array(this.#stream.digest());
      // The last, partial chunk — or the single empty chunk of an empty payload.
      if (this.#inChunk > 0 || this.#size === 0) this.#closeChunk();
      return combineChunkDigests(this.#salt, this.#size, Buffer.concat(this.#digests));
    } finally {
      this.#salt.fill(0);
    }
  }

  /** Wipes the salt; for a digest abandoned before `digest()`. */
  dispose(): void {
    this.#done = true;
    this.#salt.fill(0);
  }

  #closeChunk(): void {
    this.#digests.push((this.#chunk ?? createHash('sha256')).digest());
    this.#chunk = undefined;
    this.#inChunk = 0;
  }
}
