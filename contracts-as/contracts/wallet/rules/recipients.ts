/**
 * Recipient allowlist: params {"ethereum"?: [ADDR…], "tokens"?: [ADDR…], "bitcoin"?: [ADDRESS…]},
 * ethereum or bitcoin or both. Every party a request pays must be listed:
 * - eth-tx without a decoded ERC-20 call: `to` ∈ ethereum (a contract creation has no recipient:
 *   denied);
 * - eth-tx with a decoded ERC-20 call: the token contract (`to`) ∈ tokens, the ERC-20 recipient
 *   (approve: the spender) ∈ ethereum, and if native value is sent too, `to` ∈ ethereum;
 * - btc-psbt: every output that is not our change pays a listed address; an output without an
 *   address form may only carry 0 sat (OP_RETURN data).
 * Other kinds are denied (they pay nobody this rule can see).
 *
 * Deliberately not here: amounts (txCap, dailyLimit), which contract code runs (contractCalls),
 * recipients inside typed data or undecoded call data.
 */
import { CborValue } from "@capsule-engine/sdk";
import { fail } from "@capsule-engine/sdk";
import { WalletRequest, ethAddress } from "@capsule-engine/sdk/wallet";
import { Scope, Verdict, allowed, denied, onlyKeys } from "../../rules/common";
import {
  addressListParam, containsAddress, containsBtcAddress, notWallet, optTextListParam, walletRequest, wrongKind,
} from "./common";

export function recipients(p: CborValue, s: Scope): Verdict {
  onlyKeys(p, "bitcoin,ethereum,tokens", s);
  const eth = addressListParam(p, "ethereum", s);
  const tokens = addressListParam(p, "tokens", s);
  const btc = optTextListParam(p, "bitcoin", s);
  if (eth === null && btc === null) fail(s.name + ": give ethereum, bitcoin or both");
  if (tokens !== null && eth === null) fail(s.what("tokens") + ": needs ethereum (who may receive the tokens)");
  const q = walletRequest();
  if (q === null) return notWallet();
  if (q.isEthTx()) return ethRecipients(q, eth, tokens);
  if (q.isBtcPsbt()) return btcRecipients(q, btc);
  return wrongKind(q, "eth-tx and btc-psbt");
}

function ethRecipients(q: WalletRequest, eth: Uint8Array[] | null, tokens: Uint8Array[] | null): Verdict {
  if (q.to === null) return denied("a contract creation has no recipient");
  const to = q.to!;
  const e = q.erc20;
  if (e === null) {
    if (!containsAddress(eth, to)) return denied("recipient " + ethAddress(to) + " is not on the allowlist");
    return allowed("recipient " + ethAddress(to) + " is on the allowlist");
  }
  const role = e.method == "approve" ? "spender " : "recipient ";
  if (!containsAddress(tokens, to)) return denied("token " + ethAddress(to) + " is not on the tokens list");
  if (!containsAddress(eth, e.recipient)) return denied("ERC-20 " + e.method + " " + role + ethAddress(e.recipient) + " is not on the allowlist");
  if (!q.value!.isZero() && !containsAddress(eth, to)) {
    return denied("value sent to token " + ethAddress(to) + ", which is not on the allowlist");
  }
  return allowed("ERC-20 " + e.method + " " + role + ethAddress(e.recipient) + " and token " + ethAddress(to) + " are listed");
}

function btcRecipients(q: WalletRequest, btc: string[] | null): Verdict {
  const outs = q.outputs!;
  let paid = 0;
  for (let i = 0; i < outs.length; i++) {
    const o = outs[i];
    if (o.change) continue;
    const at = "output #" + i.toString();
    if (o.address === null) {
      if (o.amount == 0) continue;
      return denied(at + " pays " + o.amount.toString() + " sat to a script with no address");
    }
    if (!containsBtcAddress(btc, o.address!)) return denied(at + " pays " + o.address! + ", which is not on the allowlist");
    paid++;
  }
  return allowed(paid.toString() + " output(s) pay listed addresses; the others are our change or carry no value");
}
