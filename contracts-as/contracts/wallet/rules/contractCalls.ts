/**
 * Deny unknown contract calls: params {"contracts": [{"address": ADDR, "selectors"?: [SEL…]}…]}
 * (may be empty: no contract calls at all). An eth-tx with empty data is not a contract call and is
 * allowed; one with data must call a listed contract and, if that contract lists selectors, start
 * with one of them (4 bytes, bytes or hex text). A contract creation is denied. Other kinds are
 * denied.
 *
 * Deliberately not here: arguments of the call (recipients and txCap judge decoded ERC-20 calls),
 * whether an address with empty data is a contract (the guest cannot know; its fallback may run).
 */
import { CborValue } from "@capsule-engine/sdk";
import { bytesEqual, fail, hex, rangeEqual } from "@capsule-engine/sdk";
import { ethAddress } from "@capsule-engine/sdk/wallet";
import { Scope, Verdict, allowed, bytesValue, denied, kindOf, onlyKeys, tryBytesValue } from "../../rules/common";
import { notWallet, walletRequest, wrongKind } from "./common";

class Allowed {
  address: Uint8Array;
  /** Null: any selector. */
  selectors: Uint8Array[] | null;
  constructor(address: Uint8Array, selectors: Uint8Array[] | null) {
    this.address = address;
    this.selectors = selectors;
  }
}

export function contractCalls(p: CborValue, s: Scope): Verdict {
  onlyKeys(p, "contracts", s);
  const list = contractsParam(p, s);
  const q = walletRequest();
  if (q === null) return notWallet();
  if (!q.isEthTx()) return wrongKind(q, "eth-tx");
  if (q.to === null) return denied("contract creation is not allowed");
  const to = q.to!;
  const data = q.data!;
  if (data.length == 0) return allowed("not a contract call (no call data)");
  let c: Allowed | null = null;
  for (let i = 0; i < list.length; i++) if (bytesEqual(list[i].address, to)) { c = list[i]; break; }
  if (c === null) return denied("call to unknown contract " + ethAddress(to));
  const sels = c.selectors;
  if (sels === null) return allowed("call to allowed contract " + ethAddress(to));
  if (data.length < 4) return denied("call data to " + ethAddress(to) + " is shorter than a selector");
  for (let i = 0; i < sels.length; i++) {
    if (rangeEqual(sels[i].dataStart, data.dataStart, 4)) return allowed("call to allowed contract " + ethAddress(to) + ", selector 0x" + hex(sels[i]));
  }
  return denied("selector 0x" + hex(data.subarray(0, 4)) + " is not allowed on " + ethAddress(to));
}

function contractsParam(p: CborValue, s: Scope): Allowed[] {
  const v = p.get("contracts");
  if (v === null) fail(s.what("contracts") + ": required (an empty array allows no contract call)");
  if (!v!.isArray()) fail(s.what("contracts") + ": expected an array of {address, selectors?}, found " + kindOf(v!));
  const items = v!.items();
  const out = new Array<Allowed>(items.length);
  const cs = s.sub("contracts");
  for (let i = 0; i < items.length; i++) {
    const c = cs.item(i); // "params.contracts[i]", built only for a message
    onlyKeys(items[i], "address,selectors", c);
    const av = items[i].get("address");
    if (av === null) fail(c.what("address") + ": required");
    let address = tryBytesValue(av!, 20);
    if (address === null) address = bytesValue(av!, 20, c.what("address"));
    for (let j = 0; j < i; j++) if (bytesEqual(out[j].address, address!)) fail(c.what("address") + ": listed twice (contracts[" + j.toString() + "])");
    let selectors: Uint8Array[] | null = null;
    const sv = items[i].get("selectors");
    if (sv !== null) {
      if (!sv.isArray()) fail(c.what("selectors") + ": expected an array of 4-byte selectors, found " + kindOf(sv));
      const ss = sv.items();
      if (ss.length == 0) fail(c.what("selectors") + ": must not be empty (omit it to allow any)");
      const sels = new Array<Uint8Array>(ss.length);
      for (let j = 0; j < ss.length; j++) {
        const b = tryBytesValue(ss[j], 4);
        sels[j] = b !== null ? b : bytesValue(ss[j], 4, c.what("selectors") + "[" + j.toString() + "]");
      }
      selectors = sels;
    }
    out[i] = new Allowed(address!, selectors);
  }
  return out;
}
