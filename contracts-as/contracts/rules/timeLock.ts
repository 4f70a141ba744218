/**
 * Time lock: params {"notBefore": time}; allows iff now ≥ notBefore (ms since the epoch, or
 * RFC 3339 UTC text). The deny reason says when it opens, in ms and as a date.
 *
 * Deliberately not here: an upper bound (see expiry.ts) or any state.
 */
import { CborValue } from "@capsule-engine/sdk";
import { Scope, Verdict, allowed, denied, onlyKeys, timeParam, when } from "./common";

export function timeLock(p: CborValue, s: Scope): Verdict {
  onlyKeys(p, "notBefore", s);
  const notBefore = timeParam(p, "notBefore", s);
  if (s.now < notBefore) return denied("opens at " + when(notBefore));
  return allowed("open since " + when(notBefore));
}
