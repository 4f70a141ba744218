/**
 * Expiry: params {"notAfter"?: time, "maxOpens"?: uint}, at least one. Denies once now > notAfter
 * (notAfter itself still opens); with maxOpens, counts allows in state key "opens" (8-byte
 * big-endian; "<path>:opens" inside a policy) and denies once the count reaches maxOpens. The count
 * is incremented only if the final verdict of the whole evaluation is an allow.
 *
 * Deliberately not here: a lower bound (time-lock.ts) or per-requester counts.
 */
import { CborValue, stateGetI64 } from "@capsule-engine/sdk";
import { fail } from "@capsule-engine/sdk";
import { Scope, Verdict, allowed, denied, onAllow, onlyKeys, optTimeParam, optUintParam, when } from "./common";

export function expiry(p: CborValue, s: Scope): Verdict {
  onlyKeys(p, "maxOpens,notAfter", s);
  const notAfter = optTimeParam(p, "notAfter", s);
  const maxOpens = optUintParam(p, "maxOpens", s);
  if (notAfter < 0 && maxOpens < 0) fail(s.name + ": give notAfter, maxOpens or both");
  if (notAfter >= 0 && s.now > notAfter) return denied("expired at " + when(notAfter));
  let why = notAfter >= 0 ? "open until " + when(notAfter) : "";
  if (maxOpens >= 0) {
    const key = s.key("opens");
    const opens = stateGetI64(key, 0);
    if (opens >= maxOpens) return denied("opened " + opens.toString() + " of " + maxOpens.toString() + " times");
    onAllow(key, opens + 1);
    why += (why.length > 0 ? "; " : "") + "open " + (opens + 1).toString() + " of " + maxOpens.toString();
  }
  return allowed(why);
}
