/**
 * M-of-N approvals: params {"threshold": M, "approvers": [{"scheme": "ed25519" | "eip191", "key":
 * 32-byte Ed25519 key | 20-byte address}, … N]}, 1 ≤ M ≤ N, no approver listed twice (parsed and
 * counted by approvers.ts). An approval is evidence {kind "approval", scheme and signer = a listed
 * approver} whose message is exactly "capsule-approval:v1:" ‖ hex(capsule id) ‖ ":" ‖ requester,
 * with a valid signature (Ed25519, or EIP-191 personal_sign). Allows iff at least M distinct
 * approvers approved.
 *
 * Deliberately not here: approvals for another requester or capsule (the message binds both),
 * expiry of approvals (combine with expiry/timeLock in a policy), or state.
 */
import { CborValue } from "@capsule-engine/sdk";
import { countApprovals, parseApprovers } from "@capsule-engine/sdk";
import { Scope, Verdict, allowed, approvalMessage, denied, onlyKeys } from "./common";

export function mOfN(p: CborValue, s: Scope): Verdict {
  onlyKeys(p, "approvers,threshold", s);
  const a = parseApprovers(p, s);
  const count = countApprovals(a, approvalMessage(s.ctx.capsule.id, s.ctx.requester), s.evidence);
  const tally = a.tally(count, "approvers");
  return count >= a.threshold ? allowed("approved by " + tally) : denied("approved by only " + tally);
}
