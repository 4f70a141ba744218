/**
 * Allowlist: params {"requesters": [age1… …]}; allows iff the requester is listed (compared
 * case-insensitively, as age recipients are bech32).
 *
 * Deliberately not here: proof that the requester holds the identity — the guardian wraps the key
 * to the requester's recipient, so only its holder can use an allow.
 */
import { CborValue } from "@capsule-engine/sdk";
import { Scope, Verdict, allowed, denied, onlyKeys, sameRecipient, textListParam } from "./common";

export function allowlist(p: CborValue, s: Scope): Verdict {
  onlyKeys(p, "requesters", s);
  const list = textListParam(p, "requesters", s);
  for (let i = 0; i < list.length; i++) {
    if (sameRecipient(list[i], s.ctx.requester)) return allowed("requester is on the allowlist");
  }
  return denied("requester is not on the allowlist");
}
