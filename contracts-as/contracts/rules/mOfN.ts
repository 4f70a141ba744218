/**
 * M-of-N approvals: params {"threshold": M, "approvers": [{"scheme": "ed25519" | "eip191", "key":
 * 32-byte Ed25519 key | 20-byte address}, … N]}, 1 ≤ M ≤ N, no approver listed twice. An approval
 * is evidence {kind "approval", scheme and signer = a listed approver} whose message is exactly
 * "capsule-approval:v1:" ‖ hex(capsule id) ‖ ":" ‖ requester, with a valid signature (Ed25519, or
 * EIP-191 personal_sign). Allows iff at least M distinct approvers approved.
 *
 * Deliberately not here: approvals for another requester or capsule (the message binds both),
 * expiry of approvals (combine with expiry/timeLock in a policy), or state.
 */
import { CborValue, verifyEd25519, verifyEip191 } from "../../sdk/capsule";
import { bytesEqual, fail } from "../../sdk/util";
import { Scope, Verdict, allowed, approvalMessage, bytesValue, denied, onlyKeys, uintParam } from "./common";

export function mOfN(p: CborValue, s: Scope): Verdict {
  onlyKeys(p, "approvers,threshold", s);
  const threshold = uintParam(p, "threshold", s);
  const list = p.get("approvers");
  if (list === null || !list.isArray()) fail(s.what("approvers") + ": required, an array of {scheme, key}");
  const items = list!.items();
  const n = items.length;
  if (threshold < 1 || threshold > <i64>n) fail(s.what("threshold") + ": must be 1.." + n.toString() + " (the number of approvers)");
  const schemes = new Array<string>(n);
  const keys = new Array<Uint8Array>(n);
  for (let i = 0; i < n; i++) {
    const a = s.sub("approvers[" + i.toString() + "]");
    onlyKeys(items[i], "key,scheme", a);
    const sv = items[i].get("scheme");
    const kv = items[i].get("key");
    if (sv === null || kv === null) fail(a.name + ": needs scheme and key");
    const scheme = sv!.asString(a.what("scheme"));
    if (scheme != "ed25519" && scheme != "eip191") fail(a.what("scheme") + ": expected \"ed25519\" or \"eip191\"");
    schemes[i] = scheme;
    keys[i] = bytesValue(kv!, scheme == "ed25519" ? 32 : 20, a.what("key"));
    for (let j = 0; j < i; j++) {
      if (schemes[j] == scheme && bytesEqual(keys[j], keys[i])) fail(a.name + ": same approver as approvers[" + j.toString() + "]");
    }
  }

  const expected = approvalMessage(s.ctx.capsule.id, s.ctx.requester);
  const approved = new StaticArray<bool>(n);
  let count: i64 = 0;
  const evidence = s.evidence;
  for (let e = 0; e < evidence.length && count < threshold; e++) {
    const ev = evidence[e];
    if (ev.kind != "approval" || !bytesEqual(ev.message, expected)) continue;
    for (let i = 0; i < n; i++) {
      if (approved[i] || schemes[i] != ev.scheme || !bytesEqual(keys[i], ev.signer)) continue;
      const ok = ev.scheme == "ed25519" ? verifyEd25519(expected, ev.signature, keys[i]) : verifyEip191(expected, ev.signature, keys[i]);
      if (ok) { approved[i] = true; count++; }
      break;
    }
  }
  const tally = count.toString() + " of " + n.toString() + " approvers (threshold " + threshold.toString() + ")";
  return count >= threshold ? allowed("approved by " + tally) : denied("approved by only " + tally);
}
