/**
 * Chain allowlist: params {"chainIds"?: [uint…], "networks"?: ["mainnet" | "testnet" | "regtest"…]},
 * at least one. An eth-tx's chainId, or an eth-typed-data domain's chainId, must be in chainIds
 * (typed data whose domain names no chain is denied); a btc-psbt's network must be in networks.
 * eth-message and raw-digest name no chain: denied.
 *
 * Deliberately not here: anything about the account's own address (the host signs only with the
 * account the request names) or the chain's native unit (txCap, dailyLimit).
 */
import { CborValue } from "@capsule-engine/sdk";
import { fail } from "@capsule-engine/sdk";
import { Scope, Verdict, allowed, denied, kindOf, onlyKeys } from "../../rules/common";
import { notWallet, optTextListParam, walletRequest, wrongKind } from "./common";

export function chains(p: CborValue, s: Scope): Verdict {
  onlyKeys(p, "chainIds,networks", s);
  const ids = chainIdsParam(p, s);
  const networks = optTextListParam(p, "networks", s);
  if (networks !== null) {
    for (let i = 0; i < networks.length; i++) {
      const n = networks[i];
      if (n != "mainnet" && n != "testnet" && n != "regtest") fail(s.what("networks") + "[" + i.toString() + "]: expected mainnet, testnet or regtest");
    }
  }
  if (ids === null && networks === null) fail(s.name + ": give chainIds, networks or both");
  const q = walletRequest();
  if (q === null) return notWallet();
  if (q.isBtcPsbt()) {
    const net = q.network!;
    if (networks === null || !networks.includes(net)) return denied("bitcoin network " + net + " is not on the allowlist");
    return allowed("bitcoin network " + net + " is on the allowlist");
  }
  if (!q.isEthTx() && q.kind != "eth-typed-data") return wrongKind(q, "eth-tx, eth-typed-data and btc-psbt");
  if (q.chainId < 0) return denied("the typed data's domain names no chain id");
  const id = q.chainId;
  if (ids === null || !ids.includes(id)) return denied("chain id " + id.toString() + " is not on the allowlist");
  return allowed("chain id " + id.toString() + " is on the allowlist");
}

function chainIdsParam(p: CborValue, s: Scope): i64[] | null {
  const v = p.get("chainIds");
  if (v === null) return null;
  if (!v.isArray()) fail(s.what("chainIds") + ": expected an array of chain ids, found " + kindOf(v));
  const items = v.items();
  if (items.length == 0) fail(s.what("chainIds") + ": must not be empty (omit it instead)");
  const out = new Array<i64>(items.length);
  for (let i = 0; i < items.length; i++) {
    out[i] = items[i].tryAsUint();
    if (out[i] < 0) items[i].asUint(s.what("chainIds") + "[" + i.toString() + "]"); // traps naming the item
  }
  return out;
}
