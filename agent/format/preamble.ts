/**
 * The 16-byte preamble: magic, format version, reserved flags, header length (SPEC.md §3).
 *
 * Deliberately not here: reading the header itself (header.ts) or any I/O.
 */
import { CapsuleFormatError } from '../errors.ts';
import { FORMAT_VERSION, MAGIC, MAX_HEADER_SIZE, PREAMBLE_SIZE } from './constants.ts';

/** The preamble's fields (SPEC.md §3). */
export interface Preamble {
  /** Format version: 1. */
  version: number;
  /** Length of the CBOR header that follows, 1..65536. */
  headerLength: number;
}

/**
 * The 16-byte preamble: magic, format version, zero flags, header length.
 * @param headerLength - Length of the encoded header that follows.
 * @returns The 16 bytes.
 * @throws RangeError when `headerLength` is not an integer in 1..65536.
 * @example
 * ```js
 * const body = encodeHeader(header);
 * const head = Buffer.concat([encodePreamble(body.length), body]);
 * ```
 */
export function encodePreamble(headerLength: number): Uint8Array {
  if (!Number.isInteger(headerLength) || headerLength < 1 || headerLength > MAX_HEADER_SIZE) {
    throw new RangeError(`headerLength: expected an integer in 1..${MAX_HEADER_SIZE}, got ${headerLength}`);
  }
  const out = new Uint8Array(PREAMBLE_SIZE);
  out.set(MAGIC, 0);
  const view = new DataView(out.buffer);
  view.setUint16(8, FORMAT_VERSION);
  view.setUint16(10, 0);
  view.setUint32(12, headerLength);
  return out;
}

/**
 * Parses and checks the preamble.
 * @param bytes - At least the capsule's first 16 bytes (PREAMBLE_SIZE); more are ignored.
 * @returns Version and header length.
 * @throws CapsuleFormatError ERR_TRUNCATED (fewer than 16 bytes), ERR_BAD_MAGIC, ERR_UNSUPPORTED_VERSION,
 *   ERR_RESERVED_FLAGS, ERR_MALFORMED_HEADER (length 0), ERR_HEADER_TOO_LARGE.
 * @example
 * ```js
 * import { decodePreamble } from 'digital-capsule-engine/format';
 * const { headerLength } = decodePreamble(firstBytes);
 * ```
 */
export function decodePreamble(bytes: Uint8Array): Preamble {
  if (bytes.length < PREAMBLE_SIZE) {
    throw new CapsuleFormatError('ERR_TRUNCATED', `preamble: expected ${PREAMBLE_SIZE} bytes, got ${bytes.length}`);
  }
  for (let i = 0; i < MAGIC.length; i++) {
    if (bytes[i] !== MAGIC[i]) {
      throw new CapsuleFormatError('ERR_BAD_MAGIC', `preamble: expected magic 89434150 53554c45, got ${hex(bytes.subarray(0, 8))}`);
    }
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, PREAMBLE_SIZE);
  const version = view.getUint16(8);
  if (version !== FORMAT_VERSION) {
    throw new CapsuleFormatError('ERR_UNSUPPORTED_VERSION', `preamble: expected format version ${FORMAT_VERSION}, got ${version}`);
  }
  const flags = view.getUint16(10);
  if (flags !== 0) {
    throw new CapsuleFormatError('ERR_RESERVED_FLAGS', `preamble: reserved flags must be 0, got 0x${flags.toString(16).padStart(4, '0')}`);
  }
  const headerLength = view.getUint32(12);
  if (headerLength === 0) {
    throw new CapsuleFormatError('ERR_MALFORMED_HEADER', 'preamble: header length must be at least 1 byte, got 0');
  }
  if (headerLength > MAX_HEADER_SIZE) {
    throw new CapsuleFormatError('ERR_HEADER_TOO_LARGE', `preamble: header length must be at most ${MAX_HEADER_SIZE} bytes, got ${headerLength}`);
  }
  return { version, headerLength };
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}
