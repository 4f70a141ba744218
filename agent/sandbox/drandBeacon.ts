/**
 * drand beacons as evidence (contracts-as/ABI.md §4.1): the beacon JSON drand serves
 * (`GET https://api.drand.sh/<chain hash>/public/<round>` → {"round", "randomness", "signature"}),
 * optionally with "chain" (the chain hash), validated field by field and turned into an evidence
 * item of kind "drand": scheme "bls-unchained-g1-rfc9380", signer = chain hash (32 bytes) or empty,
 * message = round as 8 bytes big-endian, signature = the 48-byte BLS signature. Also the check of
 * such an item when it arrives in the evidence shape (HTTP body, evidence files).
 *
 * What is checked here is what can be wrong with the bytes: a signature that is not a point of G1,
 * randomness that is not SHA-256(signature), a chained beacon. Whether the signature is valid for the
 * round under a chain's key is the logic's question (verify_drand_beacon), never decided here.
 *
 * Deliberately not here: fetching beacons (the guardian and the CLI are offline) and verification (drand.ts).
 */
import { createHash } from 'node:crypto';
import { bls12_381 } from '@noble/curves/bls12-381.js';
import { UsageError } from '../errors.ts';
import { DRAND_SCHEME, DRAND_SIGNATURE_BYTES } from './drand.ts';
import type { EvidenceItem } from './inputs.ts';

const HEX = /^(?:[0-9a-fA-F]{2})*$/;
const KNOWN = ['round', 'randomness', 'signature', 'chain', 'previous_signature'];
/** The hint of every beacon error: where a well-formed beacon comes from. */
export const DRAND_BEACON_HINT =
  'a beacon is the JSON drand serves for a round, e.g. curl https://api.drand.sh/52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971/public/ROUND (quicknet), optionally with "chain": the chain hash';

function bad(message: string): never {
  throw new UsageError('ERR_USAGE', message, { hint: DRAND_BEACON_HINT });
}

function hexBytes(v: unknown, at: string): Uint8Array {
  if (typeof v !== 'string' || !HEX.test(v))
    bad(`${at}: expected hex, got ${typeof v === 'string' ? JSON.stringify(v.slice(0, 20)) : v === null ? 'null' : typeof v}`);
  return Uint8Array.from(Buffer.from(v, 'hex'));
}

/**
 * A 48-byte signature that decodes as a point of G1's prime-order subgroup, other than the identity.
 * @throws UsageError ERR_USAGE naming `at`
 */
function signatureOf(sig: Uint8Array, at: string): Uint8Array {
  if (sig.length !== DRAND_SIGNATURE_BYTES) {
    bad(
      `${at}: a ${DRAND_SCHEME} signature is ${DRAND_SIGNATURE_BYTES} bytes, got ${sig.length}${sig.length === 96 ? " (96 bytes: a chain that signs on G2, e.g. drand's default chain, which is not supported)" : ''}`,
    );
  }
  try {
    if (bls12_381.shortSignatures.Signature.fromBytes(sig).is0()) bad(`${at}: the identity point is not a signature`);
  } catch (cause) {
    if (cause instanceof UsageError) throw cause;
    bad(`${at}: not a compressed point of BLS12-381 G1 (the beacon is corrupt)`);
  }
  return sig;
}

function u64be(round: bigint): Uint8Array {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(round);
  return new Uint8Array(b);
}

/** The evidence item of a beacon (round ≥ 1, 48-byte signature, chain hash or none). */
export function drandEvidence(round: bigint, signature: Uint8Array, chain: Uint8Array = new Uint8Array(0)): EvidenceItem {
  return { kind: 'drand', scheme: DRAND_SCHEME, signer: chain, message: u64be(round), signature };
}

/**
 * Beacons in drand's JSON (one object or an array), as evidence items.
 * @param json - parsed JSON: {"round": N, "signature": hex, "randomness"?: hex, "chain"?: hex}
 * @param at - what to call it in messages (a file name, or "--drand-beacon")
 * @throws UsageError ERR_USAGE naming the field: not an object, unknown key, round not an integer
 *   ≥ 1, signature not 48 bytes of a G1 point, randomness ≠ SHA-256(signature), chain not 32 bytes,
 *   a chained beacon (previous_signature), an empty array
 */
export function parseDrandBeacon(json: unknown, at: string): EvidenceItem[] {
  const list = Array.isArray(json) ? json : [json];
  if (list.length === 0) bad(`${at}: expected a drand beacon or an array of them, got an empty array`);
  return list.map((item, i) => {
    const where = Array.isArray(json) ? `${at}[${i}]` : at;
    if (typeof item !== 'object' || item === null || Array.isArray(item))
      bad(
        `${where}: expected a drand beacon object {"round": N, "signature": hex}, got ${item === null ? 'null' : Array.isArray(item) ? 'an array' : typeof item}`,
      );
    const o = item as Record<string, unknown>;
    for (const k of Object.keys(o)) if (!KNOWN.includes(k)) bad(`${where}.${k}: unknown key (expected round, signature, randomness, chain)`);
    if (o.previous_signature !== undefined && o.previous_signature !== '') {
      bad(`${where}.previous_signature: a chained beacon (pedersen-bls-chained); only ${DRAND_SCHEME} chains such as quicknet are supported`);
    }
    const r = o.round;
    if (typeof r !== 'number' || !Number.isSafeInteger(r) || r < 1) bad(`${where}.round: expected an integer ≥ 1, got ${JSON.stringify(r) ?? 'nothing'}`);
    if (o.signature === undefined) bad(`${where}.signature: required`);
    const signature = signatureOf(hexBytes(o.signature, `${where}.signature`), `${where}.signature`);
    if (o.randomness !== undefined) {
      const randomness = hexBytes(o.randomness, `${where}.randomness`);
      if (!createHash('sha256').update(signature).digest().equals(randomness))
        bad(`${where}.randomness: is not SHA-256 of the signature (the beacon was altered)`);
    }
    let chain: Uint8Array | undefined;
    if (o.chain !== undefined) {
      chain = hexBytes(o.chain, `${where}.chain`);
      if (chain.length !== 32) bad(`${where}.chain: a chain hash is 32 bytes, got ${chain.length}`);
    }
    return drandEvidence(BigInt(r as number), signature, chain);
  });
}

/**
 * Checks an evidence item of kind "drand" in the evidence shape (all fields hex, already decoded by
 * the caller): scheme, signer 0 or 32 bytes, message 8 bytes holding a round ≥ 1, signature 48 bytes.
 * @throws UsageError ERR_USAGE naming `where` and the field
 */
export function checkDrandEvidence(e: EvidenceItem, where: string): EvidenceItem {
  if (e.scheme !== DRAND_SCHEME) bad(`${where}.scheme: a "drand" item has scheme "${DRAND_SCHEME}", got ${JSON.stringify(e.scheme)}`);
  if (e.signer.length !== 0 && e.signer.length !== 32) bad(`${where}.signer: a drand chain hash is 32 bytes (or empty), got ${e.signer.length}`);
  if (e.message.length !== 8) bad(`${where}.message: a drand round is 8 bytes (u64 big-endian), got ${e.message.length}`);
  if (Buffer.from(e.message).readBigUInt64BE() < 1n) bad(`${where}.message: drand rounds start at 1, got 0`);
  if (e.signature.length !== DRAND_SIGNATURE_BYTES)
    bad(`${where}.signature: a ${DRAND_SCHEME} signature is ${DRAND_SIGNATURE_BYTES} bytes, got ${e.signature.length}`);
  return e;
}
