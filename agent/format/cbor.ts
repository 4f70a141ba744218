/**
 * The one configured CBOR codec: RFC 8949 §4.2.1 deterministic encoding, strict decoding.
 *
 * Implements: `encodeCanonical` (sorted map keys, shortest integers/floats, definite lengths) and
 * `decodeCanonical` (well-formed, no tags, no undefined, no duplicate keys, no indefinite lengths,
 * and re-encoding gives the same bytes). Deliberately not here: any schema — callers check shapes.
 */
import { decode, encode, rfc8949EncodeOptions } from 'cborg';
import { CapsuleFormatError } from '../errors.ts';

const DECODE_OPTIONS = {
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

export function encodeCanonical(value: unknown): Uint8Array {
  return encode(value, rfc8949EncodeOptions);
}

/**
 * Decodes one deterministic CBOR item that fills `bytes` exactly.
 * `what` names the thing decoded in error messages ("header", "logic params").
 */
export function decodeCanonical(bytes: Uint8Array, what: string): unknown {
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
  const again = encodeCanonical(value);
  if (!bytesEqual(again, bytes)) {
    throw new CapsuleFormatError(
      'ERR_NON_CANONICAL_HEADER',
      `${what}: ${bytes.length} bytes of CBOR re-encode deterministically to ${again.length} different bytes (key order, float width or length encoding)`,
    );
  }
  return value;
}

/** Plain equality for public bytes (encodings), not secrets: see crypto/wipe.ts for MACs. */
function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
