/**
 * Payload layout arithmetic (SPEC.md §6): chunk count, chunk sizes and total capsule length.
 *
 * Pure functions of the header's plaintext size; both the reader and the offline verifier use them
 * so that "what the header says" and "what the file holds" are compared one way only.
 */
import { CHUNK_SIZE, PREAMBLE_SIZE, TAG_SIZE } from './constants.ts';

/**
 * Number of chunks of a payload: n = max(1, ceil(size / 65536)); an empty payload is one empty final chunk.
 * @param size - Plaintext length in bytes.
 * @returns The chunk count.
 * @example
 * ```js
 * chunkCount(0); // 1
 * chunkCount(65537); // 2
 * ```
 */
export function chunkCount(size: number): number {
  return Math.max(1, Math.ceil(size / CHUNK_SIZE));
}

/**
 * Plaintext length of chunk `index` of a payload of `size` bytes.
 * @param size - Plaintext length in bytes.
 * @param index - The chunk, 0-based (no range check).
 * @returns 65536 for every chunk but the last; the remainder for the last.
 * @example
 * ```js
 * plainChunkSize(65537, 1); // 1
 * ```
 */
export function plainChunkSize(size: number, index: number): number {
  const n = chunkCount(size);
  if (index < n - 1) return CHUNK_SIZE;
  return size - (n - 1) * CHUNK_SIZE;
}

/**
 * Exact length of a capsule: preamble ‖ header ‖ size + 16·n (one tag per chunk).
 * @param headerLength - The encoded header's length (without the preamble).
 * @param size - Plaintext length in bytes.
 * @returns The capsule's total length in bytes.
 * @example
 * ```js
 * capsuleLength(200, 0); // 16 + 200 + 0 + 16
 * ```
 */
export function capsuleLength(headerLength: number, size: number): number {
  return PREAMBLE_SIZE + headerLength + size + TAG_SIZE * chunkCount(size);
}
