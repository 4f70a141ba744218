/**
 * Per-transaction cap: params {"value"?: AMOUNT (wei), "tokens"?: {TOKEN: AMOUNT}, "sats"?: SATS},
 * at least one. Every amount the request moves must be at most its cap (the cap itself allows):
 * an eth-tx's native value, its decoded ERC-20 amount (transfer, transferFrom and approve), a
 * btc-psbt's outflow (Σ our inputs − Σ change, fee included). An asset moved without a cap is
 * denied; an asset not moved needs none. Other kinds are denied.
 *
 * Deliberately not here: amounts over time (dailyLimit), Ethereum fees (maxFee is not counted),
 * amounts hidden in undecoded call data (pair with contractCalls), units per chain (pair with
 * chains: value is wei of whichever chain the request names).
 */
import { CborValue } from "@capsule-engine/sdk";
import { Scope, Verdict, allowed, denied, onlyKeys } from "../../rules/common";
import { amountsParam, describeWithin, moves, notWallet, overLimit, walletRequest, wrongKind } from "./common";

export function txCap(p: CborValue, s: Scope): Verdict {
  onlyKeys(p, "sats,tokens,value", s);
  const caps = amountsParam(p, s);
  const q = walletRequest();
  if (q === null) return notWallet();
  if (!q.isEthTx() && !q.isBtcPsbt()) return wrongKind(q, "eth-tx and btc-psbt");
  const ms = moves(q, caps);
  const over = overLimit(ms, "cap");
  if (over !== null) return denied(over);
  return allowed(describeWithin(ms, "cap"));
}
