/**
 * Co-signers above a threshold: params {"threshold": M, "approvers": [{"scheme", "key"}, … N],
 * "above"?: {"value"?: AMOUNT, "tokens"?: {TOKEN: AMOUNT}, "sats"?: SATS}}. An approval is evidence
 * {kind "approval", scheme and signer = a listed approver} whose message is exactly
 * "capsule/v1 approve-sign " ‖ lowercase hex(request.hash) (ABI.md §4.2), with a valid Ed25519 or
 * EIP-191 signature; distinct approvers are counted (rules/approvers.ts).
 *
 * Without "above", every request needs M approvals. With it, an eth-tx or btc-psbt whose every
 * moved amount is at most its "above" amount (the same amounts as txCap) is allowed without
 * approvals; one that moves more, or moves an asset "above" does not name, needs M. Requests with
 * no amount (eth-typed-data, eth-message, raw-digest) always need M. Unknown kinds are denied.
 *
 * Deliberately not here: approvals for a capsule release (mOfN), expiry of approvals (the hash
 * names one request: an approval cannot be reused for another), or state.
 */
import { CborValue } from "@capsule-engine/sdk";
import { approveSignMessage } from "@capsule-engine/sdk/wallet";
import { countApprovals, parseApprovers } from "@capsule-engine/sdk";
import { Scope, Verdict, allowed, denied, onlyKeys } from "../../rules/common";
import { Amounts, amountsParam, describeWithin, knownKind, moves, notWallet, overLimit, walletRequest, wrongKind } from "./common";

export function coSigners(p: CborValue, s: Scope): Verdict {
  onlyKeys(p, "above,approvers,threshold", s);
  const a = parseApprovers(p, s);
  let above: Amounts | null = null;
  const av = p.get("above");
  if (av !== null) {
    const sa = s.sub("above");
    onlyKeys(av, "sats,tokens,value", sa);
    above = amountsParam(av, sa);
  }
  const q = walletRequest();
  if (q === null) return notWallet();
  if (!knownKind(q.kind)) return wrongKind(q, "eth-tx, eth-typed-data, eth-message, btc-psbt and raw-digest");
  let why = "";
  if (above !== null) {
    if (q.isEthTx() || q.isBtcPsbt()) {
      const ms = moves(q, above);
      const over = overLimit(ms, "co-signing threshold");
      if (over === null) return allowed(describeWithin(ms, "co-signing threshold") + ": no co-signers needed");
      why = over + ": ";
    } else {
      why = "kind " + q.kind + " has no amount: ";
    }
  }
  const count = countApprovals(a, approveSignMessage(q.hash), s.evidence);
  const tally = a.tally(count, "co-signers");
  return count >= a.threshold ? allowed(why + "approved by " + tally) : denied(why + "approved by only " + tally);
}
