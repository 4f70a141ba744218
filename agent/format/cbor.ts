/**
 * The one configured CBOR codec: RFC 8949 §4.2.1 deterministic encoding, strict decoding.
 *
 * Implements: `encodeCanonical` (sorted map keys, shortest integers/floats, definite lengths) and
 * `decodeCanonical` (well-formed, no tags, no undefined, no duplicate keys, no indefinite lengths,
 * and re-encoding gives the same bytes). Deliberately not here: any schema — callers check shapes.
 */
import { decode, encode, rfc8949EncodeOptions } from 'cborg';
import { CapsuleFormatError } from '../errors.ts';

/** cborg's options for the strict decoder every CBOR input goes through (the header, params, requests). */
export const DECODE_OPTIONS = {
  strict: true,
  useMaps: true,
  rejectDuplicateMapKeys: true,
  allowIndefinite: false,
  allowUndefined: false,
  allowNaN: false,
  allowInfinity: false,
  allowBigInt: false,
  // No tag decoders: any tag is refused by cborg.
  tags: [],
} as const;

/** Deepest nesting of arrays and maps a header (or params item) may use (SPEC.md §4.1): 16. */
export const MAX_DEPTH = 16;

/**
 * RFC 8949 deterministic CBOR: sorted map keys, shortest integers and floats, definite lengths.
 * Plain objects encode as maps with text keys, Map as maps, Uint8Array as byte strings.
 * @param value - What to encode (no undefined, no bigint beyond 64 bits).
 * @returns The encoding.
 * @throws Error from cborg for a value it cannot encode.
 * @example
 * ```js
 * import { encodeCanonical } from 'digital-capsule-engine/format';
 * const params = encodeCanonical({ notBefore: '2030-01-01T00:00:00Z' }); // a capsule's logic.params
 * ```
 */
export function encodeCanonical(value: unknown): Uint8Array {
  return encode(value, rfc8949EncodeOptions);
}

/**
 * Decodes one deterministic CBOR item that fills `bytes` exactly, strictly: no tags, no undefined,
 * no duplicate keys, no indefinite lengths, nesting at most MAX_DEPTH, and re-encoding must give
 * the same bytes. Maps decode as Map, byte strings as Uint8Array.
 * @param bytes - The encoding.
 * @param what - Names the thing decoded in error messages ("header", "logic params").
 * @returns The decoded value.
 * @throws CapsuleFormatError ERR_MALFORMED_HEADER (not well-formed, forbidden item, too deep) or
 *   ERR_NON_CANONICAL_HEADER (valid CBOR, but not deterministic).
 * @example
 * ```js
 * decodeCanonical(header.logic.params, 'logic params'); // Map { 'notBefore' => '2030-01-01T00:00:00Z' }
 * ```
 */
export function decodeCanonical(bytes: Uint8Array, what: string): unknown {
  checkDepth(bytes, what);
  let value: unknown;
  try {
    value = decode(bytes, DECODE_OPTIONS as never);
  } catch (cause) {
    const nonMinimal = cause instanceof Error && /more bytes than necessary|indefinite/.test(cause.message);
    throw new CapsuleFormatError(
      nonMinimal ? 'ERR_NON_CANONICAL_HEADER' : 'ERR_MALFORMED_HEADER',
      nonMinimal
        ? `${what}: not deterministic CBOR (non-shortest or indefinite-length encoding)`
        : `${what}: not a single well-formed CBOR item without tags, undefined or duplicate keys`,
      { cause },
    );
  }
  checkValues(value, what);
  let again: Uint8Array;
  try {
    again = encodeCanonical(value);
  } catch (cause) {
    throw new CapsuleFormatError('ERR_MALFORMED_HEADER', `${what}: cannot be re-encoded deterministically (map keys must be integers or text strings)`, {
      cause,
    });
  }
  if (!bytesEqual(again, bytes)) {
    throw new CapsuleFormatError(
      'ERR_NON_CANONICAL_HEADER',
      `${what}: ${bytes.length} bytes of CBOR re-encode deterministically to ${again.length} different bytes (key order, float width or length encoding)`,
    );
  }
  return value;
}

/**
 * Refuses nesting deeper than MAX_DEPTH before any recursive decoder sees the bytes: iterative, so
 * hostile depth cannot exhaust the stack (whose size varies, which would make outcomes vary).
 * Only the structure is walked; anything malformed is left for the decoder to report.
 */
function checkDepth(bytes: Uint8Array, what: string): void {
  const pending: number[] = []; // items still expected at each open level
  let i = 0;
  let items = 1;
  while (i < bytes.length && (items > 0 || pending.length > 0)) {
    if (items === 0) {
      items = pending.pop()!;
      continue;
    }
    items--;
    const b = bytes[i++]!;
    const major = b >> 5;
    const info = b & 31;
    let arg = info;
    if (info >= 24 && info <= 27) {
      const n = 1 << (info - 24);
      arg = 0;
      for (let k = 0; k < n && k < 4; k++) arg = arg * 256 + (bytes[i + k + (n > 4 ? n - 4 : 0)] ?? 0);
      if (n > 4) for (let k = 0; k < n - 4; k++) if (bytes[i + k]) arg = Number.MAX_SAFE_INTEGER;
      i += n;
    } else if (info > 27) return; // indefinite or reserved: the decoder reports it
    if (major === 2 || major === 3) i += arg;
    else if (major === 4 || major === 5 || major === 6) {
      const children = major === 4 ? arg : major === 5 ? arg * 2 : 1;
      if (major !== 6) {
        pending.push(items);
        if (pending.length > MAX_DEPTH) {
          throw new CapsuleFormatError('ERR_MALFORMED_HEADER', `${what}: nested deeper than ${MAX_DEPTH} levels`);
        }
      }
      items = major === 6 ? items + 1 : children;
    }
  }
}

/** Values cborg accepts but the data model (SPEC.md §4.1) forbids: integral floats beyond 2^53. */
function checkValues(value: unknown, what: string): void {
  const stack: unknown[] = [value];
  while (stack.length) {
    const v = stack.pop();
    if (typeof v === 'number' && Number.isInteger(v) && !Number.isSafeInteger(v)) {
      throw new CapsuleFormatError('ERR_MALFORMED_HEADER', `${what}: a float with an integral value beyond 2^53 (${v}) is not allowed`);
    }
    if (Array.isArray(v)) stack.push(...v);
    else if (v instanceof Map) for (const [k, x] of v) stack.push(k, x);
  }
}

/** Plain equality for public bytes (encodings), not secrets: see crypto/secrets.ts for MACs. */
function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
