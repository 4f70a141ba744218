/**
 * Rolling daily spend limit: params {"value"?: AMOUNT (wei), "tokens"?: {TOKEN: AMOUNT},
 * "sats"?: SATS, "windowMs"?: ms (default 86 400 000)}, at least one amount. For every amount the
 * request moves (the same amounts as txCap), what was spent in the window before now plus this
 * request must be at most the limit (the limit itself allows); an asset moved without a limit is
 * denied. Other kinds are denied.
 *
 * State, per asset: key "spent.value", "spent.sats" or "spent.<token hex>" ("<path>:spent.…" inside
 * a policy) holds up to 12 records of 40 bytes, [ms since the epoch: 8 bytes big-endian][amount:
 * 32 bytes big-endian], oldest first. A record counts while now − ms < windowMs. A spend is
 * recorded only if the whole decision allows — also when this rule denied and another branch of an
 * "any" allowed (a co-signed spend above the limit still counts towards it). With more than 12
 * spends in the window the two oldest records merge (their sum, at the later time): the limit can
 * then hold a spend back a little longer, never let more through.
 *
 * Deliberately not here: Ethereum fees (maxFee is not counted), calendar days (the window rolls with
 * the evaluation time), or amounts hidden in undecoded call data (pair with contractCalls).
 */
import { CborValue, stateGet } from "@capsule-engine/sdk";
import { fail } from "@capsule-engine/sdk";
import { U256 } from "@capsule-engine/sdk/wallet";
import { Scope, Verdict, allowed, denied, onAllowBytes, onlyKeys, optUintParam } from "../../rules/common";
import { amountsParam, moves, notWallet, walletRequest, wrongKind } from "./common";

const DAY_MS: i64 = 86400000;
const RECORD = 40;
const MAX_RECORDS = 12;

class Spend {
  at: i64;
  amount: U256;
  constructor(at: i64, amount: U256) { this.at = at; this.amount = amount; }
}

export function dailyLimit(p: CborValue, s: Scope): Verdict {
  onlyKeys(p, "sats,tokens,value,windowMs", s);
  const limits = amountsParam(p, s);
  let windowMs = optUintParam(p, "windowMs", s);
  if (windowMs == 0) fail(s.what("windowMs") + ": must be at least 1");
  if (windowMs < 0) windowMs = DAY_MS;
  const q = walletRequest();
  if (q === null) return notWallet();
  if (!q.isEthTx() && !q.isBtcPsbt()) return wrongKind(q, "eth-tx and btc-psbt");
  const ms = moves(q, limits);
  const span = windowMs % 3600000 == 0 ? (windowMs / 3600000).toString() + " h" : windowMs.toString() + " ms";
  let refusal: string | null = null;
  let summary = "";
  for (let i = 0; i < ms.length; i++) {
    const m = ms[i];
    const key = s.key("spent." + m.asset);
    const live = liveSpends(key, s.now, windowMs);
    let spent = U256.zero();
    for (let j = 0; j < live.length; j++) spent = spent.addSaturating(live[j].amount);
    const total = spent.addSaturating(m.amount);
    if (refusal === null) {
      if (m.limit === null) refusal = m.what + ": no daily limit for this asset";
      else if (total.gt(m.limit!)) {
        refusal = m.what + " would exceed the limit: " + m.show(spent) + " of " + m.show(m.limit!) + " already spent in the last " + span;
      }
    }
    if (m.limit !== null) summary += (i > 0 ? "; " : "") + m.what + ": " + m.show(total) + " of " + m.show(m.limit!) + " spent in the last " + span;
    live.push(new Spend(s.now, m.amount));
    onAllowBytes(key, encode(live));
  }
  if (refusal !== null) return denied(refusal!);
  return allowed(ms.length == 0 ? "moves no value" : summary);
}

/** The records under `key` still inside the window. */
function liveSpends(key: string, now: i64, windowMs: i64): Spend[] {
  const out = new Array<Spend>();
  const b = stateGet(key);
  if (b === null) return out;
  if (b.length % RECORD != 0) fail("state \"" + key + "\": expected 40-byte records, found " + b.length.toString() + " bytes");
  for (let at = 0; at < b.length; at += RECORD) {
    const t = <i64>bswap<u64>(load<u64>(b.dataStart + <usize>at));
    if (now - t < windowMs) out.push(new Spend(t, U256.fromBytes(b.subarray(at + 8, at + RECORD), key)));
  }
  return out;
}

/** The records as state bytes, the oldest merged while there are more than MAX_RECORDS. */
function encode(list: Spend[]): Uint8Array {
  while (list.length > MAX_RECORDS) {
    const a = list.shift();
    const b = list[0];
    list[0] = new Spend(a.at > b.at ? a.at : b.at, a.amount.addSaturating(b.amount));
  }
  const out = new Uint8Array(list.length * RECORD);
  for (let i = 0; i < list.length; i++) {
    store<u64>(out.dataStart + <usize>(i * RECORD), bswap<u64>(<u64>list[i].at));
    const amount = list[i].amount.toBytes();
    for (let j = 0; j < 32; j++) out[i * RECORD + 8 + j] = amount[j];
  }
  return out;
}
