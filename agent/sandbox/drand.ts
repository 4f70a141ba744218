/**
 * Offline verification of drand beacons of the "bls-unchained-g1-rfc9380" scheme (the League of
 * Entropy's quicknet): BLS12-381 signatures on G1 (48 bytes compressed), the chain's public key on
 * G2 (96 bytes compressed), message = SHA-256(round as u64 big-endian), hashed to G1 with RFC 9380
 * and the DST below. This is what `verify_drand_beacon` (contracts-as/ABI.md §4.3) runs, and what
 * the CLI uses to refuse a beacon file that cannot be right before asking a guardian.
 *
 * Library: @noble/curves (audited, pure JS, already a dependency); no network, no drand client. The
 * drand npm client (drand-client) verifies with the same noble code but fetches over HTTP.
 *
 * Deliberately not here: chained schemes (pedersen-bls-chained: the previous signature is part of the
 * message), G2-signature chains and BN254 chains; where beacons come from (drandBeacon.ts); fuel.
 */
import { createHash } from 'node:crypto';
import { bls12_381 } from '@noble/curves/bls12-381.js';

/** The drand scheme this module verifies (drand chain info "schemeID"), also the evidence "scheme". */
export const DRAND_SCHEME = 'bls-unchained-g1-rfc9380';
/** Hash-to-G1 domain separation tag of the scheme (RFC 9380, drand's "rfc9380" schemes). */
export const DRAND_DST = 'BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_';
/** Compressed G1 signature length. */
export const DRAND_SIGNATURE_BYTES = 48;
/** Compressed G2 public key length. */
export const DRAND_PUBLIC_KEY_BYTES = 96;

/** The quicknet chain (https://api.drand.sh/52db9ba7…c84e971/info), for docs, examples and tests. */
export const QUICKNET = Object.freeze({
  hash: '52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971',
  publicKey:
    '83cf0f2896adee7eb8b5f01fcad3912212c437e0073e911fb90022d3e760183c8c4b450b6a0a6c3ac6a5776a2d1064510d1fec758c921cc22b0e17e63aaf4bcb5ed66304de9cf809bd274ca73bab4af5a6e9c76a4bc09e76eae8991ef5ece45a',
  genesis: 1692803367,
  period: 3,
});

/**
 * Result codes of verification, as `verify_drand_beacon` returns them (ABI.md §4.3): a valid beacon
 * gives its round's publication time instead (≥ 0).
 */
export const DRAND_INVALID = -1n;
export const DRAND_BAD_LENGTH = -2n;
export const DRAND_BAD_KEY = -3n;
export const DRAND_BAD_RANGE = -4n;

const I64_MAX = (1n << 63n) - 1n;
const shortSigs = bls12_381.shortSignatures;

/**
 * When round `round` of a chain with `genesis` and `period` (both seconds, as in drand's chain info)
 * was published, in ms since the epoch: (genesis + (round − 1) × period) × 1000; undefined when
 * round < 1, genesis < 0, period < 1 or the time does not fit an i64.
 */
export function drandRoundTime(round: bigint, genesis: bigint, period: bigint): bigint | undefined {
  if (round < 1n || genesis < 0n || period < 1n) return undefined;
  const ms = (genesis + (round - 1n) * period) * 1000n;
  return ms <= I64_MAX ? ms : undefined;
}

/**
 * The first round published at or after `timeMs` (ms since the epoch): the smallest r ≥ 1 with
 * drandRoundTime(r) ≥ timeMs. A beacon of this round or later proves that `timeMs` has passed.
 * @throws RangeError when genesis < 0 or period < 1
 */
export function drandFirstRoundAtOrAfter(timeMs: bigint, genesis: bigint, period: bigint): bigint {
  if (genesis < 0n || period < 1n) throw new RangeError(`drand chain: expected genesis ≥ 0 and period ≥ 1 (seconds), got ${genesis} and ${period}`);
  const since = timeMs - genesis * 1000n;
  if (since <= 0n) return 1n;
  const step = period * 1000n;
  return (since + step - 1n) / step + 1n;
}

/** SHA-256 of the round as a u64, big-endian: the message drand's unchained schemes sign. */
export function drandMessage(round: bigint): Uint8Array {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(round);
  return createHash('sha256').update(b).digest();
}

/**
 * Verifies a beacon (round, signature) of an unchained G1 chain with public key `publicKey`, genesis
 * and period in seconds. Pure and offline; about 25 ms of CPU here (bench/drand.ts).
 * @returns the round's publication time in ms (≥ 0) if the signature is valid; DRAND_INVALID if it
 *   is not (including a signature that is not a point of G1's prime-order subgroup, or is the
 *   identity); DRAND_BAD_LENGTH if the key is not 96 or the signature not 48 bytes; DRAND_BAD_KEY if
 *   the key is not a G2 point of the prime-order subgroup (or is the identity); DRAND_BAD_RANGE if
 *   round < 1, genesis < 0, period < 1 or the round's time does not fit an i64.
 */
export function verifyDrandBeacon(publicKey: Uint8Array, genesis: bigint, period: bigint, round: bigint, signature: Uint8Array): bigint {
  if (publicKey.length !== DRAND_PUBLIC_KEY_BYTES || signature.length !== DRAND_SIGNATURE_BYTES) return DRAND_BAD_LENGTH;
  const time = drandRoundTime(round, genesis, period);
  if (time === undefined) return DRAND_BAD_RANGE;
  let pk;
  try {
    pk = bls12_381.G2.Point.fromBytes(publicKey); // checks the encoding, the curve and the subgroup
    if (pk.is0()) return DRAND_BAD_KEY;
  } catch {
    return DRAND_BAD_KEY;
  }
  let sig;
  try {
    sig = shortSigs.Signature.fromBytes(signature); // likewise for G1
    if (sig.is0()) return DRAND_INVALID;
  } catch {
    return DRAND_INVALID;
  }
  return shortSigs.verify(sig, shortSigs.hash(drandMessage(round), DRAND_DST), pk) ? time : DRAND_INVALID;
}
