/**
 * Approvals and check-ins, the signed evidence the standard contracts and authors' policies count:
 * the texts that are signed (contracts/README.md: "capsule-approval:v1:<capsule id hex>:<requester>",
 * "capsule-checkin:v1:<capsule id hex>:<ms>"), and approvers — the {"threshold": M, "approvers":
 * [{"scheme", "key"}, … N]} params (1 ≤ M ≤ N, schemes "ed25519" (32-byte key) or "eip191" (20-byte
 * address), no approver listed twice) with the count of distinct approvers who signed one exact
 * message: evidence {kind "approval", scheme and signer = a listed approver, message = the expected
 * bytes} with a valid signature (Ed25519, or EIP-191 personal_sign).
 *
 * Deliberately not here: which message a rule expects (mOfN binds the capsule and requester, the
 * wallet's coSigners the request hash), reading a check-in's time (contracts/rules/deadMan.ts), and
 * any state.
 */
import { CborValue, Evidence, verifyEd25519, verifyEip191 } from "./capsule";
import { Scope, bytesValue, onlyKeys, paramsScope, tryBytesValue, uintParam } from "./params";
import { bytesEqual, fail, hex, utf8 } from "./util";

/** "capsule-checkin:v1:" ‖ hex(capsule id) ‖ ":" — a check-in message is this ‖ decimal(ms). */
export function checkinPrefix(id: Uint8Array): Uint8Array {
  return utf8("capsule-checkin:v1:" + hex(id) + ":");
}

/** "capsule-approval:v1:" ‖ hex(capsule id) ‖ ":" ‖ requester: what an approver signs. */
export function approvalMessage(id: Uint8Array, requester: string): Uint8Array {
  return utf8("capsule-approval:v1:" + hex(id) + ":" + requester);
}

/** Approvers read from params: M of these N keys must approve. */
export class Approvers {
  /** M: approvals needed. */
  threshold: i64;
  schemes: string[];
  keys: Uint8Array[];
  constructor(threshold: i64, schemes: string[], keys: Uint8Array[]) {
    this.threshold = threshold;
    this.schemes = schemes;
    this.keys = keys;
  }

  /** "<count> of <N> approvers (threshold <M>)" for reasons. */
  tally(count: i64, noun: string): string {
    return count.toString() + " of " + this.keys.length.toString() + " " + noun + " (threshold " + this.threshold.toString() + ")";
  }
}

/** Reads p.threshold and p.approvers (the caller checks p's other keys); traps on a bad value. */
export function parseApprovers(p: CborValue, s: Scope = paramsScope()): Approvers {
  const threshold = uintParam(p, "threshold", s);
  const list = p.get("approvers");
  if (list === null || !list.isArray()) fail(s.what("approvers") + ": required, an array of {scheme, key}");
  const items = list!.items();
  const n = items.length;
  if (threshold < 1 || threshold > <i64>n) fail(s.what("threshold") + ": must be 1.." + n.toString() + " (the number of approvers)");
  const schemes = new Array<string>(n);
  const keys = new Array<Uint8Array>(n);
  const list_ = s.sub("approvers");
  for (let i = 0; i < n; i++) {
    const a = list_.item(i); // "params.approvers[i]", built only for a message
    onlyKeys(items[i], "key,scheme", a);
    const sv = items[i].get("scheme");
    const kv = items[i].get("key");
    if (sv === null || kv === null) fail(a.name + ": needs scheme and key");
    const scheme = sv!.tryAsString();
    if (scheme === null) sv!.asString(a.what("scheme"));
    if (scheme != "ed25519" && scheme != "eip191") fail(a.what("scheme") + ": expected \"ed25519\" or \"eip191\"");
    schemes[i] = scheme!;
    const len = scheme == "ed25519" ? 32 : 20;
    const key = tryBytesValue(kv!, len);
    keys[i] = key !== null ? key : bytesValue(kv!, len, a.what("key"));
    for (let j = 0; j < i; j++) {
      if (schemes[j] == scheme && bytesEqual(keys[j], keys[i])) fail(a.name + ": same approver as approvers[" + j.toString() + "]");
    }
  }
  return new Approvers(threshold, schemes, keys);
}

/**
 * The number of distinct listed approvers with a valid approval of exactly `message` (stops
 * verifying once the threshold is reached: signature checks are the expensive part).
 */
export function countApprovals(a: Approvers, message: Uint8Array, evidence: Evidence[]): i64 {
  const n = a.keys.length;
  const approved = new StaticArray<bool>(n);
  let count: i64 = 0;
  for (let e = 0; e < evidence.length && count < a.threshold; e++) {
    const ev = evidence[e];
    if (ev.kind != "approval" || !bytesEqual(ev.message, message)) continue;
    for (let i = 0; i < n; i++) {
      if (approved[i] || a.schemes[i] != ev.scheme || !bytesEqual(a.keys[i], ev.signer)) continue;
      const ok = ev.scheme == "ed25519" ? verifyEd25519(message, ev.signature, a.keys[i]) : verifyEip191(message, ev.signature, a.keys[i]);
      if (ok) { approved[i] = true; count++; }
      break;
    }
  }
  return count;
}
