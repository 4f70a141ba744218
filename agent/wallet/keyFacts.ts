/**
 * Public facts of the account keys, derived by the libraries and remembered: whether a 33-byte
 * key is a secp256k1 point, its Ethereum address, its P2WPKH script and its BIP86 Taproot output
 * key. Each costs a point decompression or a point multiplication (0.1–1 ms in pure JS) and an
 * account's keys are the same on every request, so they are computed once per key (a small
 * bounded memo of public data: nothing secret is kept).
 *
 * Deliberately not here: tweaks with a script tree's Merkle root (per request, not remembered).
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import * as btc from '@scure/btc-signer';
import { taprootTweakPubkey } from '@scure/btc-signer/utils.js';
import { addr } from 'micro-eth-signer';

interface Facts {
  valid?: boolean;
  eth?: Uint8Array;
  wpkh?: Uint8Array;
  tap?: Uint8Array;
}

const MAX = 256;
const memo = new Map<string, Facts>();

function factsOf(publicKey: Uint8Array): Facts {
  const id = Buffer.from(publicKey).toString('hex');
  let f = memo.get(id);
  if (!f) {
    if (memo.size >= MAX) memo.delete(memo.keys().next().value!);
    f = {};
    memo.set(id, f);
  }
  return f;
}

/** True when `publicKey` is a 33-byte compressed secp256k1 point. */
export function isPublicKey(publicKey: unknown): publicKey is Uint8Array {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 33) return false;
  const f = factsOf(publicKey);
  if (f.valid === undefined) {
    try {
      secp256k1.Point.fromBytes(publicKey);
      f.valid = true;
    } catch {
      f.valid = false;
    }
  }
  return f.valid;
}

/** The 20 bytes of the Ethereum address of a compressed public key (micro-eth-signer's derivation). */
export function ethereumAddress(publicKey: Uint8Array): Uint8Array {
  const f = factsOf(publicKey);
  f.eth ??= Uint8Array.from(Buffer.from(addr.fromPublicKey(publicKey).slice(2), 'hex'));
  return Uint8Array.from(f.eth);
}

/** The P2WPKH output script paying `publicKey` (network-independent). */
export function p2wpkhScript(publicKey: Uint8Array): Uint8Array {
  const f = factsOf(publicKey);
  f.wpkh ??= btc.p2wpkh(publicKey).script;
  return f.wpkh;
}

/** The BIP341 output key of `publicKey` as internal key, tweaked with `merkleRoot` (none: BIP86). */
export function taprootOutputKey(publicKey: Uint8Array, merkleRoot: Uint8Array | undefined): Uint8Array {
  if (merkleRoot && merkleRoot.length > 0) return taprootTweakPubkey(publicKey.subarray(1), merkleRoot)[0];
  const f = factsOf(publicKey);
  f.tap ??= taprootTweakPubkey(publicKey.subarray(1), new Uint8Array(0))[0];
  return f.tap;
}
