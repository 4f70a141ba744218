/**
 * drand beacons in unlock logic (ABI.md §4.3): `tryVerifyDrandBeacon()` returns the host's result
 * (the round's time, or a negative code), `verifyDrandBeacon()` returns valid / not valid and traps
 * on malformed input (wrong lengths, a key that is not a G2 point, numbers out of range), and the
 * round arithmetic: `drandRoundAt()` (the round current at a time, as drand clients compute it),
 * `drandFirstRoundAtOrAfter()` (the first round a beacon of which proves a time has passed) and
 * `drandRoundTime()`. Also `DrandBeacon`, a beacon read from an evidence item of kind "drand".
 *
 * Chain parameters are drand's: genesis and period in **seconds** (chain info "genesis_time",
 * "period"); times here are ms since the epoch, as everywhere in the SDK.
 *
 * Deliberately not here: any policy (contracts/rules/drandTimeLock.ts) or chain defaults: a chain is
 * what the capsule's params name.
 */
import * as env from "./env";
import { Evidence } from "./capsule";
import { bytesToI64, fail } from "./util";

/** The scheme this host verifies (drand chain info "schemeID", evidence "scheme"). */
export const DRAND_SCHEME: string = "bls-unchained-g1-rfc9380";
/** Result codes of verify_drand_beacon (a valid beacon gives its round's time, ≥ 0). */
export const DRAND_INVALID: i64 = -1;
export const DRAND_BAD_LENGTH: i64 = -2;
export const DRAND_BAD_KEY: i64 = -3;
export const DRAND_BAD_RANGE: i64 = -4;

/** A drand chain: its 96-byte G2 public key, genesis and period (seconds). */
export class DrandChain {
  publicKey: Uint8Array;
  genesis: i64;
  period: i64;
  constructor(publicKey: Uint8Array, genesis: i64, period: i64) {
    this.publicKey = publicKey;
    this.genesis = genesis;
    this.period = period;
  }
}

/** A beacon as evidence carries it: round, signature, and the chain hash the requester named (or empty). */
export class DrandBeacon {
  round: i64 = 0;
  signature: Uint8Array = new Uint8Array(0);
  chain: Uint8Array = new Uint8Array(0);

  /** The beacon of an evidence item of kind "drand" and scheme DRAND_SCHEME; null for any other item or a round that is not 8 bytes. */
  static of(e: Evidence): DrandBeacon | null {
    if (e.kind != "drand" || e.scheme != DRAND_SCHEME || e.message.length != 8) return null;
    const b = new DrandBeacon();
    b.round = bytesToI64(e.message);
    b.signature = e.signature;
    b.chain = e.signer;
    return b;
  }
}

/**
 * The host's verification of (round, signature) under `chain`: the round's publication time in ms
 * (≥ 0) if the signature is valid, else DRAND_INVALID, DRAND_BAD_LENGTH, DRAND_BAD_KEY or
 * DRAND_BAD_RANGE. Costs 25 000 000 fuel when it verifies (ABI.md §6): half the default limit.
 */
export function tryVerifyDrandBeacon(chain: DrandChain, round: i64, signature: Uint8Array): i64 {
  return env.verify_drand_beacon(chain.publicKey.dataStart, <usize>chain.publicKey.length, chain.genesis, chain.period,
    round, signature.dataStart, <usize>signature.length);
}

/**
 * True iff `signature` is the chain's valid signature of `round`; false if it is not (forged, another
 * round, another chain). Traps (reason set) on malformed input: a key or signature of the wrong
 * length, a key that is not a G2 point, round < 1, genesis < 0, period < 1.
 */
export function verifyDrandBeacon(chain: DrandChain, round: i64, signature: Uint8Array): bool {
  const r = tryVerifyDrandBeacon(chain, round, signature);
  if (r >= 0) return true;
  if (r == DRAND_INVALID) return false;
  if (r == DRAND_BAD_LENGTH) fail("drand: the public key must be 96 bytes and the signature 48, got " + chain.publicKey.length.toString() + " and " + signature.length.toString());
  else if (r == DRAND_BAD_KEY) fail("drand: the chain's public key is not a point of BLS12-381 G2");
  else fail("drand: round " + round.toString() + ", genesis " + chain.genesis.toString() + " s, period " + chain.period.toString() + " s are out of range");
  return false;
}

/** When `round` was published, ms since the epoch: (genesis + (round − 1) × period) × 1000; -1 if round < 1. */
export function drandRoundTime(round: i64, genesis: i64, period: i64): i64 {
  if (round < 1) return -1;
  return (genesis + (round - 1) * period) * 1000;
}

/**
 * The round current at `timeMs` (the latest published at or before it), as drand clients compute it:
 * ⌊(time − genesis) / period⌋ + 1; 0 before genesis. Traps if period < 1.
 */
export function drandRoundAt(timeMs: i64, genesis: i64, period: i64): i64 {
  if (period < 1) fail("drand: period must be at least 1 second, got " + period.toString());
  const since = timeMs - genesis * 1000;
  if (since < 0) return 0;
  return since / (period * 1000) + 1;
}

/**
 * The first round published at or after `timeMs`: a valid beacon of this round or a later one proves
 * that `timeMs` has passed (R(T) in contracts/README.md). 1 for a time at or before genesis. Traps if period < 1.
 */
export function drandFirstRoundAtOrAfter(timeMs: i64, genesis: i64, period: i64): i64 {
  const r = drandRoundAt(timeMs, genesis, period);
  if (r == 0) return 1;
  return drandRoundTime(r, genesis, period) == timeMs ? r : r + 1;
}
