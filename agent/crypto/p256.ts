/**
 * P-256 keys as the guardian uses them: compressed SEC1 public keys (33 bytes) and their Bech32
 * text forms, `capsule-ecdh1…` (a P-256 recipient, for the p256-ecdh stanza) and
 * `capsule-guardian1…` (a guardian's header-signing key); raw r ‖ s signatures normalised to low S;
 * and the scalar derivation from seed bytes (SPEC.md §8.2).
 *
 * Deliberately not here: the stanza (p256Stanza.ts) and the header signature (guardianSignature.ts).
 */
import { p256 } from '@noble/curves/nist.js';
import { bech32 } from '@scure/base';
import { KeyError } from '../errors.ts';
import { P256_PUBLIC_KEY_SIZE } from '../format/constants.ts';

export const ECDH_RECIPIENT_HRP = 'capsule-ecdh';
export const GUARDIAN_KEY_HRP = 'capsule-guardian';
const N = p256.Point.CURVE().n;
const HALF_N = N >> 1n;

/** Compressed form of a public key given as 64-byte X ‖ Y (the module's export), 65 or 33 bytes. */
export function compressP256(pub: Uint8Array): Uint8Array {
  const sec1 = pub.length === 64 ? Uint8Array.of(4, ...pub) : pub;
  return p256.Point.fromBytes(sec1).toBytes(true);
}

/** 64-byte X ‖ Y of a compressed key (what zkDoRawECDH takes as the peer). */
export function uncompressP256(pub: Uint8Array): Uint8Array {
  return p256.Point.fromBytes(pub).toBytes(false).subarray(1);
}

/** True for a 33-byte compressed SEC1 encoding of a point on the curve (never the identity). */
export function isP256Point(pub: Uint8Array): boolean {
  if (pub.length !== P256_PUBLIC_KEY_SIZE || (pub[0] !== 2 && pub[0] !== 3)) return false;
  try {
    p256.Point.fromBytes(pub).assertValidity();
    return true;
  } catch {
    return false;
  }
}

/** `d = (OS2IP(bytes) mod (n − 1)) + 1`, bytes at least 48 long so the bias is below 2^-128. */
export function scalarFromBytes(bytes: Uint8Array): Uint8Array {
  if (bytes.length < 48) throw new RangeError(`bytes: expected at least 48, got ${bytes.length}`);
  const d = (BigInt('0x' + Buffer.from(bytes).toString('hex')) % (N - 1n)) + 1n;
  return Uint8Array.from(Buffer.from(d.toString(16).padStart(64, '0'), 'hex'));
}

export function p256PublicKey(scalar: Uint8Array): Uint8Array {
  return p256.getPublicKey(scalar, true);
}

/** The 32-byte x-coordinate of `scalar · point` (what zkDoRawECDH returns). */
export function p256SharedX(scalar: Uint8Array, point: Uint8Array): Uint8Array {
  return p256.getSharedSecret(scalar, point, true).subarray(1);
}

/** Low-S form of a raw r ‖ s signature (s > n/2 becomes n − s); the module does not normalise. */
export function normaliseLowS(sig: Uint8Array): Uint8Array {
  if (sig.length !== 64) throw new TypeError(`signature: expected 64 bytes r ‖ s, got ${sig.length}`);
  const s = BigInt('0x' + Buffer.from(sig.subarray(32)).toString('hex'));
  // s ≥ n is no signature at all: left as is, so that verification rejects it (n − s would be negative).
  if (s <= HALF_N || s >= N) return Uint8Array.from(sig);
  const out = Uint8Array.from(sig);
  out.set(Buffer.from((N - s).toString(16).padStart(64, '0'), 'hex'), 32);
  return out;
}

/** ECDSA P-256 over a 32-byte digest (no hashing), low S required. */
export function verifyP256(sig: Uint8Array, digest: Uint8Array, pub: Uint8Array): boolean {
  try {
    return p256.verify(sig, digest, pub, { prehash: false, lowS: true, format: 'compact' } as never);
  } catch {
    return false;
  }
}

export function encodeP256Key(hrp: typeof ECDH_RECIPIENT_HRP | typeof GUARDIAN_KEY_HRP, pub: Uint8Array): string {
  return bech32.encode(hrp, bech32.toWords(pub), false);
}

/** Parses `capsule-ecdh1…` or `capsule-guardian1…` text into a validated compressed key. */
export function parseP256Key(hrp: typeof ECDH_RECIPIENT_HRP | typeof GUARDIAN_KEY_HRP, text: string, what: string): Uint8Array {
  if (typeof text !== 'string') throw new TypeError(`${what}: expected a string, got ${typeof text}`);
  const t = text.trim();
  let key: Uint8Array;
  let prefix: string;
  try {
    const d = bech32.decode(t as `${string}1${string}`, false);
    prefix = d.prefix;
    key = bech32.fromWords(d.words);
  } catch (cause) {
    throw new KeyError('ERR_BAD_RECIPIENT', `${what}: expected ${hrp}1…, got ${JSON.stringify(t.slice(0, 24))}${t.length > 24 ? '…' : ''}`, {
      cause,
      hint: "print the guardian's keys with `capsule guardian show`",
    });
  }
  if (prefix !== hrp)
    throw new KeyError('ERR_BAD_RECIPIENT', `${what}: expected the prefix "${hrp}1", got "${prefix}1"`, {
      hint: "print the guardian's keys with `capsule guardian show`",
    });
  const hint = 'copy the key again from `capsule guardian show`; it was damaged or is not a guardian key';
  if (t !== t.toLowerCase())
    throw new KeyError('ERR_BAD_RECIPIENT', `${what}: expected lowercase, got uppercase`, { hint: 'guardian keys are written in lowercase' });
  if (!isP256Point(key)) {
    throw new KeyError('ERR_BAD_RECIPIENT', `${what}: expected a 33-byte compressed P-256 point, got ${key.length} bytes that are not one`, { hint });
  }
  return key;
}
