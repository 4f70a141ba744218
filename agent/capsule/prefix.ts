/**
 * A capsule's prefix: preamble ‖ header ‖ first sealed chunk, the part a guardian needs to decide
 * and to authenticate the header (SPEC.md §11.7). The release request sends it instead of the
 * whole capsule (client/capsulePrefix.ts), the agent parses it (daemon/present.ts), bounds
 * request bodies by its largest size (daemon/api.ts) and fetches only it before a capsule by CID
 * authenticates (daemon/CapsuleFetcher.ts).
 *
 * Deliberately not here: reading or parsing the bytes (CapsuleReader, present.ts).
 */
import { CHUNK_SIZE, MAX_HEADER_SIZE, PREAMBLE_SIZE, TAG_SIZE } from '../format/constants.ts';

/** The largest prefix: preamble + largest header + a full first sealed chunk (16 + 65536 + 65536 + 16 bytes). */
export const MAX_PREFIX_SIZE = PREAMBLE_SIZE + MAX_HEADER_SIZE + CHUNK_SIZE + TAG_SIZE;

/**
 * The prefix size of a capsule whose preamble ‖ header is `headerBytes` long with a payload of
 * `payloadSize` bytes: the first sealed chunk holds min(payloadSize, CHUNK_SIZE) bytes and a tag.
 * @param headerBytes - Length of preamble ‖ header (ParsedHeader.headerBytes.length).
 * @param payloadSize - The header's payload.size.
 * @returns The prefix's length in bytes.
 */
export function prefixSize(headerBytes: number, payloadSize: number): number {
  return headerBytes + firstChunkSize(payloadSize);
}

/**
 * The first sealed chunk's length for a payload of `payloadSize` bytes (an empty payload still has one, of a tag).
 * @param payloadSize - The header's payload.size.
 * @returns min(payloadSize, CHUNK_SIZE) + TAG_SIZE.
 */
export function firstChunkSize(payloadSize: number): number {
  return Math.min(payloadSize, CHUNK_SIZE) + TAG_SIZE;
}
