/**
 * What the wallet rules share (ABI.md §4.2 requests): getting the request (a decision that is not
 * a wallet signing decision is denied, a malformed request is an error), the denial for a kind a
 * rule does not judge, params for address lists and amounts ({"value": AMOUNT, "tokens": {ADDR:
 * AMOUNT, …}, "sats": SATS}, where AMOUNT is a uint or decimal text of the smallest unit), and the
 * amounts a request moves: an eth-tx's native value and decoded ERC-20 amount, a btc-psbt's net
 * outflow (fee included).
 *
 * Deliberately not here: any one rule's logic, and amounts of calls the host did not decode
 * (an undecoded contract call moves only its value as far as a rule can see: pair amount rules
 * with contractCalls or recipients; contracts/README.md).
 */
import { CborValue, Kind } from "@capsule-engine/sdk";
import { bytesEqual, equalsIgnoreAsciiCase, fail, hex, unhexBytes, utf8 } from "@capsule-engine/sdk";
import {
  KIND_BTC_PSBT, KIND_ETH_MESSAGE, KIND_ETH_TX, KIND_ETH_TYPED_DATA, KIND_RAW_DIGEST, U256, WalletRequest, ethAddress,
  hasRequest, lastError, tryRequest,
} from "@capsule-engine/sdk/wallet";
import { Scope, Verdict, bytesValue, denied, kindOf, listText, tryBytesValue } from "../../rules/common";

/** The request of a wallet signing decision, or null if this is another decision; traps if malformed. */
export function walletRequest(): WalletRequest | null {
  const q = tryRequest();
  if (q === null && hasRequest()) fail(lastError()!);
  return q;
}

/** The verdict of a wallet rule asked about a decision that has no request (e.g. a capsule release). */
export function notWallet(): Verdict {
  return denied("not a wallet signing request");
}

/** The verdict of a rule asked about a kind it does not judge: always a deny. */
export function wrongKind(q: WalletRequest, judges: string): Verdict {
  return denied("cannot judge kind " + q.kind + " (judges " + judges + ")");
}

/** True iff `kind` is one of the five kinds of ABI.md §4.2. */
export function knownKind(kind: string): bool {
  return kind == KIND_ETH_TX || kind == KIND_BTC_PSBT || kind == KIND_ETH_TYPED_DATA || kind == KIND_ETH_MESSAGE ||
    kind == KIND_RAW_DIGEST;
}

// ---- address lists ----

/** An optional non-empty array of 20-byte addresses (bytes or hex text); null if absent. */
export function addressListParam(p: CborValue, key: string, s: Scope): Uint8Array[] | null {
  const v = p.get(key);
  if (v === null) return null;
  if (!v.isArray()) fail(s.what(key) + ": expected an array of addresses, found " + kindOf(v));
  const items = v.items();
  if (items.length == 0) fail(s.what(key) + ": must not be empty (omit it instead)");
  const out = new Array<Uint8Array>(items.length);
  for (let i = 0; i < items.length; i++) {
    const a = tryBytesValue(items[i], 20);
    out[i] = a !== null ? a : bytesValue(items[i], 20, s.what(key) + "[" + i.toString() + "]"); // message built only to fail
  }
  return out;
}

export function containsAddress(list: Uint8Array[] | null, a: Uint8Array): bool {
  if (list === null) return false;
  for (let i = 0; i < list.length; i++) if (bytesEqual(list[i], a)) return true;
  return false;
}

/** An optional non-empty array of text; null if absent. */
export function optTextListParam(p: CborValue, key: string, s: Scope): string[] | null {
  const v = p.get(key);
  if (v === null) return null;
  if (!v.isArray()) fail(s.what(key) + ": expected an array of text strings, found " + kindOf(v));
  const items = v.items();
  if (items.length == 0) fail(s.what(key) + ": must not be empty (omit it instead)");
  const out = new Array<string>(items.length);
  for (let i = 0; i < items.length; i++) out[i] = listText(items[i], key, i, s);
  return out;
}

/**
 * Bitcoin addresses are equal if identical, or, for bech32/bech32m (bc1…, tb1…, bcrt1…), equal
 * ignoring ASCII case (BIP173: QR codes carry them in upper case). Base58 is case-sensitive.
 */
export function sameBtcAddress(a: string, b: string): bool {
  if (a == b) return true;
  return isBech32(a) && equalsIgnoreAsciiCase(a, b);
}

/** True iff `a` starts with a bech32 human-readable part of Bitcoin: bc1, tb1 or bcrt1 (any case). */
function isBech32(a: string): bool {
  const n = a.length;
  if (n < 4) return false;
  const c0 = a.charCodeAt(0) | 32, c1 = a.charCodeAt(1) | 32, c2 = a.charCodeAt(2);
  if (c2 == 49 && ((c0 == 98 && c1 == 99) || (c0 == 116 && c1 == 98))) return true; // "bc1", "tb1"
  return n > 5 && c0 == 98 && c1 == 99 && (c2 | 32) == 114 && (a.charCodeAt(3) | 32) == 116 && a.charCodeAt(4) == 49; // "bcrt1"
}

export function containsBtcAddress(list: string[] | null, a: string): bool {
  if (list === null) return false;
  for (let i = 0; i < list.length; i++) if (sameBtcAddress(list[i], a)) return true;
  return false;
}

// ---- amounts ----

/** An amount: a uint, or decimal text of the smallest unit (wei, token base units) up to 2^256 − 1; `what` names it. */
export function amountValue(v: CborValue, what: string): U256 {
  const a = tryAmountValue(v);
  if (a !== null) return a;
  if (v.kind == Kind.Text) U256.parse(v.asString(what), what); // traps saying what is wrong with the text
  fail(what + ": expected an amount (unsigned integer or decimal text), found " + kindOf(v));
  return U256.zero();
}

/** As amountValue, or null if `v` is not an amount (no message built: fuel). */
export function tryAmountValue(v: CborValue): U256 | null {
  const k = v.kind;
  if (k == Kind.Uint) { const n = v.tryAsUint(); return n < 0 ? null : U256.fromU64(<u64>n); }
  if (k == Kind.Text) return U256.tryParse(v.tryAsString()!);
  return null;
}

/** Amounts per asset: the native coin of an Ethereum chain, ERC-20 tokens, bitcoin. */
export class Amounts {
  /** Wei; null if not given. */
  value: U256 | null = null;
  tokens: Uint8Array[] = [];
  tokenAmounts: U256[] = [];
  /** Satoshi; −1 if not given. */
  sats: i64 = -1;

  /** The amount for `token`, or null if it has none. */
  token(token: Uint8Array): U256 | null {
    for (let i = 0; i < this.tokens.length; i++) if (bytesEqual(this.tokens[i], token)) return this.tokenAmounts[i];
    return null;
  }
}

/** Reads "value", "tokens" and "sats" of `p` (at least one; the caller checks p's other keys). */
export function amountsParam(p: CborValue, s: Scope): Amounts {
  const a = new Amounts();
  const v = p.get("value");
  if (v !== null) { a.value = tryAmountValue(v); if (a.value === null) amountValue(v, s.what("value")); }
  const t = p.get("tokens");
  if (t !== null) {
    if (!t.isMap()) fail(s.what("tokens") + ": expected a map {token address: amount}, found " + kindOf(t));
    const keys = t.keys();
    if (keys.length != t.length) fail(s.what("tokens") + ": keys must be token addresses as hex text");
    for (let i = 0; i < keys.length; i++) {
      const addr = unhexBytes(utf8(keys[i]));
      if (addr === null || addr.length != 20) fail(tokenWhat(s, keys[i]) + ": a token address is 20 bytes as hex text");
      if (a.token(addr!) !== null) fail(tokenWhat(s, keys[i]) + ": token listed twice");
      const tv = t.get(keys[i])!;
      let amount = tryAmountValue(tv);
      if (amount === null) amount = amountValue(tv, tokenWhat(s, keys[i]));
      a.tokens.push(addr!);
      a.tokenAmounts.push(amount!);
    }
  }
  const sv = p.get("sats");
  if (sv !== null) { a.sats = sv.tryAsUint(); if (a.sats < 0) sv.asUint(s.what("sats")); }
  if (v === null && t === null && sv === null) fail(s.name + ": give value, tokens, sats or several");
  return a;
}

/** 'params.tokens["0x…"]' for messages. */
function tokenWhat(s: Scope, key: string): string {
  return s.what("tokens") + "[\"" + key + "\"]";
}

// ---- what a request moves ----

/** One asset a request moves, with its state-key suffix, its amount and the configured limit. */
export class Move {
  /** "value", "sats" or the token's 40 hex digits. */
  asset: string;
  /** "wei", "" (token base units) or "sat". */
  unit: string;
  amount: U256;
  /** The configured amount for this asset, or null. */
  limit: U256 | null;
  /** How reasons name the amount: "value 5 wei", "ERC-20 transfer of 5 (token 0x…)", … */
  what: string;
  constructor(asset: string, unit: string, amount: U256, limit: U256 | null, what: string) {
    this.asset = asset;
    this.unit = unit;
    this.amount = amount;
    this.limit = limit;
    this.what = what;
  }

  /** `v` with this asset's unit: "5 wei" / "5" / "5 sat". */
  show(v: U256): string {
    return v.toString() + (this.unit.length > 0 ? " " + this.unit : "");
  }
}

/**
 * The non-zero amounts an eth-tx or btc-psbt moves, each with its amount in `limits`: the native
 * value, the decoded ERC-20 amount (approve too: the spender can move it without another
 * signature), the bitcoin outflow. The caller has checked the kind.
 */
export function moves(q: WalletRequest, limits: Amounts): Move[] {
  const out = new Array<Move>();
  if (q.isBtcPsbt()) {
    const sats = q.btcOutflow();
    if (sats > 0) {
      out.push(new Move("sats", "sat", U256.fromU64(<u64>sats), limits.sats < 0 ? null : U256.fromU64(<u64>limits.sats),
        "outflow of " + sats.toString() + " sat (fee included)"));
    }
    return out;
  }
  const value = q.value!;
  if (!value.isZero()) out.push(new Move("value", "wei", value, limits.value, "value " + value.toString() + " wei"));
  const e = q.erc20;
  if (e !== null && !e.amount.isZero()) {
    out.push(new Move(hex(e.token), "", e.amount, limits.token(e.token),
      "ERC-20 " + e.method + " of " + e.amount.toString() + " (token " + ethAddress(e.token) + ")"));
  }
  return out;
}

/** The first move above its limit (or with none), described with `noun` ("cap"); null if none is. */
export function overLimit(ms: Move[], noun: string): string | null {
  for (let i = 0; i < ms.length; i++) {
    const m = ms[i];
    if (m.limit === null) return m.what + ": no " + noun + " for this asset";
    if (m.amount.gt(m.limit!)) return m.what + " is above the " + noun + " of " + m.show(m.limit!);
  }
  return null;
}

/** "value 5 wei within the cap of 10 wei; …" for allow reasons ("moves no value" if empty). */
export function describeWithin(ms: Move[], noun: string): string {
  if (ms.length == 0) return "moves no value";
  let out = "";
  for (let i = 0; i < ms.length; i++) {
    const m = ms[i];
    out += (i > 0 ? "; " : "") + m.what + " within the " + noun + " of " + m.show(m.limit!);
  }
  return out;
}
