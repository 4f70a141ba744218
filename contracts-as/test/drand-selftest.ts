/**
 * drand SDK self-test module (not a contract): runs sdk/drand.ts on the params test/drand.test.ts
 * passes — {"key": bytes, "sig": bytes, "round": int, "genesis": int, "period": int, "at": uint ms} —
 * and reports in the reason: `verifyDrandBeacon()` (traps on malformed input, so a bad length, key or
 * range ends the evaluation with the SDK's reason), `tryVerifyDrandBeacon()`'s raw result, and
 * `drandRoundAt()` / `drandFirstRoundAtOrAfter()` / `drandRoundTime()` at "at". Allows iff the beacon verifies.
 *
 * Deliberately not here: anything a contract should copy; this is test scaffolding.
 */
import { allow, deny, params } from "@capsule-engine/sdk";
import { DrandChain, drandFirstRoundAtOrAfter, drandRoundAt, drandRoundTime, tryVerifyDrandBeacon, verifyDrandBeacon } from "@capsule-engine/sdk/drand";

export function decide(): i32 {
  const p = params()!;
  const chain = new DrandChain(p.get("key")!.asBytes("key"), p.get("genesis")!.asInt("genesis"), p.get("period")!.asInt("period"));
  const round = p.get("round")!.asInt("round");
  const sig = p.get("sig")!.asBytes("sig");
  const at = p.get("at")!.asUint("at");
  const raw = tryVerifyDrandBeacon(chain, round, sig);
  const ok = verifyDrandBeacon(chain, round, sig);
  const first = drandFirstRoundAtOrAfter(at, chain.genesis, chain.period);
  const why = "raw " + raw.toString() + "; roundAt " + drandRoundAt(at, chain.genesis, chain.period).toString() + "; first " + first.toString()
    + "; firstTime " + drandRoundTime(first, chain.genesis, chain.period).toString();
  return ok ? allow(why) : deny(why);
}
