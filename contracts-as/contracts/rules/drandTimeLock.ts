/**
 * drand time lock: params {"notBefore": time, "publicKey": 96-byte G2 key, "genesis": uint s,
 * "period": uint s, "chainHash"?: 32 bytes}. Allows iff the guardian's clock says now ≥ notBefore
 * AND the evidence holds a drand beacon (kind "drand") of a round ≥ R(notBefore), the first round
 * published at or after notBefore, that verifies under the chain's key (verify_drand_beacon). So a
 * guardian whose clock runs ahead still cannot open early: the time must also have been signed by
 * the drand network.
 *
 * Only the first beacon whose round is ≥ R(notBefore) is verified (beacons for another chain, when
 * both it and "chainHash" are given, and earlier rounds are skipped without verifying): a
 * verification costs 25 000 000 fuel, half the default limit, so a request cannot make the guardian
 * verify many. The clock is checked first, so a request before notBefore costs no verification.
 *
 * Deliberately not here: fetching beacons (the requester brings one), chained drand schemes, state.
 */
import { CborValue } from "@capsule-engine/sdk";
import {
  DRAND_BAD_KEY, DRAND_BAD_LENGTH, DRAND_SCHEME, DrandBeacon, DrandChain, drandFirstRoundAtOrAfter, tryVerifyDrandBeacon,
} from "@capsule-engine/sdk/drand";
import { bytesEqual, fail, formatTime } from "@capsule-engine/sdk";
import { Scope, Verdict, allowed, bytesValue, denied, onlyKeys, timeParam, uintParam, when } from "./common";

export function drandTimeLock(p: CborValue, s: Scope): Verdict {
  onlyKeys(p, "chainHash,genesis,notBefore,period,publicKey", s);
  const notBefore = timeParam(p, "notBefore", s);
  const keyParam = p.get("publicKey");
  if (keyParam === null) fail(s.what("publicKey") + ": required");
  const chain = new DrandChain(bytesValue(keyParam!, 96, s.what("publicKey")), uintParam(p, "genesis", s), uintParam(p, "period", s));
  if (chain.period < 1) fail(s.what("period") + ": must be at least 1 (seconds)");
  const hashParam = p.get("chainHash");
  const chainHash: Uint8Array | null = hashParam === null ? null : bytesValue(hashParam, 32, s.what("chainHash"));
  const first = drandFirstRoundAtOrAfter(notBefore, chain.genesis, chain.period);

  if (s.now < notBefore) return denied("opens at " + when(notBefore) + " with a drand beacon of round " + first.toString() + " or later");
  const ev = s.evidence;
  let latestEarly: i64 = 0;
  for (let i = 0; i < ev.length; i++) {
    if (ev[i].kind != "drand") continue;
    const b = DrandBeacon.of(ev[i]);
    if (b === null) continue; // another scheme, or a round that is not 8 bytes: not this chain's beacon
    if (chainHash !== null && b!.chain.length != 0 && !bytesEqual(b!.chain, chainHash!)) continue;
    if (b!.round < first) {
      if (b!.round > latestEarly) latestEarly = b!.round;
      continue;
    }
    const r = tryVerifyDrandBeacon(chain, b!.round, b!.signature);
    if (r >= 0) return allowed("open since " + when(notBefore) + "; drand round " + b!.round.toString() + " (" + formatTime(r) + ") verified");
    if (r == DRAND_BAD_KEY) fail(s.what("publicKey") + ": not a point of BLS12-381 G2");
    if (r == DRAND_BAD_LENGTH) return denied("drand beacon for round " + b!.round.toString() + ": signature is " + b!.signature.length.toString() + " bytes, not 48");
    if (r == -1) return denied("drand beacon for round " + b!.round.toString() + " does not verify under the chain's public key");
    return denied("drand beacon for round " + b!.round.toString() + ": round out of range");
  }
  if (latestEarly > 0) {
    return denied("drand beacon of round " + latestEarly.toString() + " is before round " + first.toString() + ", the first at or after " + when(notBefore));
  }
  return denied("needs a drand beacon (" + DRAND_SCHEME + ") of round " + first.toString() + " or later: the clock says " + when(notBefore) + " has passed");
}
