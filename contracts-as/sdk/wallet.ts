/**
 * Wallet signing requests (ABI.md §4.2): `request()` decodes the context's "request" item into a
 * `WalletRequest` (sdk/wallet-request.ts) — every field of the five kinds (eth-tx, eth-typed-data,
 * eth-message, btc-psbt, raw-digest), absent fields as null or −1 — and checks it against the CDDL:
 * the fields each kind requires, exact byte lengths, u256 as 32 bytes, and the cross-field rules a
 * policy relies on (selector = the first 4 bytes of data, erc20.token = to, the fee fields of the
 * txType, chainId = domain.chainId, fee = Σ inputs − Σ outputs, digest = hash). `tryRequest()`
 * returns null (lastError() says why) where `request()` traps, the SDK's x()/tryX() convention. Also
 * the co-signer approval message and address text; re-exports the request classes and U256, so a
 * policy imports only this file.
 *
 * Keys the ABI may add later are ignored (ABI.md §4.2 "a guest MUST ignore keys it does not know");
 * a kind this SDK does not know is decoded with its common fields only, for policies to deny.
 *
 * Deliberately not here: any policy (contracts/wallet/rules), parsing of the EIP-712 document or of
 * call data beyond the host's decoding, Bitcoin address validation (addresses are the host's text),
 * and any verification of hashes (the host computes them; the guest cannot hash).
 */
import { CborReader, Kind } from "./cbor";
import { CborValue } from "./cbor-value";
import { tryContext, lastError as contextError } from "./capsule";
import { U256 } from "./u256";
import { bytesEqual, fail, hex, rangeEqual, utf8 } from "./util";
import {
  BtcInput, BtcOutput, Erc20Call, KIND_BTC_PSBT, KIND_ETH_MESSAGE, KIND_ETH_TX, KIND_ETH_TYPED_DATA, KIND_RAW_DIGEST,
  TypedDataDomain, WalletRequest,
} from "./wallet-request";

export { U256, lastU256Error } from "./u256";
export * from "./wallet-request";

// ---- decoding ----

const F_KIND = 1, F_WALLET = 1 << 1, F_PATH = 1 << 2, F_HASH = 1 << 3, F_CHAIN = 1 << 4, F_CHAIN_ID = 1 << 5,
  F_TX_TYPE = 1 << 6, F_FROM = 1 << 7, F_TO = 1 << 8, F_VALUE = 1 << 9, F_NONCE = 1 << 10, F_GAS_LIMIT = 1 << 11,
  F_GAS_PRICE = 1 << 12, F_MAX_FEE_PER_GAS = 1 << 13, F_MAX_PRIORITY = 1 << 14, F_MAX_FEE = 1 << 15,
  F_DATA = 1 << 16, F_SELECTOR = 1 << 17, F_ERC20 = 1 << 18, F_PRIMARY_TYPE = 1 << 19, F_DOMAIN = 1 << 20,
  F_DOMAIN_HASH = 1 << 21, F_STRUCT_HASH = 1 << 22, F_DOCUMENT = 1 << 23, F_MESSAGE = 1 << 24,
  F_NETWORK = 1 << 25, F_INPUTS = 1 << 26, F_OUTPUTS = 1 << 27, F_FEE = 1 << 28, F_DIGEST = 1 << 29;
const FIELD_NAMES = ["kind", "wallet", "path", "hash", "chain", "chainId", "txType", "from", "to", "value",
  "nonce", "gasLimit", "gasPrice", "maxFeePerGas", "maxPriorityFeePerGas", "maxFee", "data", "selector",
  "erc20", "primaryType", "domain", "domainHash", "structHash", "document", "message", "network", "inputs",
  "outputs", "fee", "digest"];
const COMMON = F_KIND | F_WALLET | F_PATH | F_HASH;

/** The field being read, for error messages ("value", "erc20.amount", "inputs" with fieldIndex 2, …). */
let field = "";
/** The index in an array field being read, or -1 (kept apart from `field`: building strings costs fuel). */
let fieldIndex = -1;

function bytesN(r: CborReader, n: i32): Uint8Array {
  const b = r.tryReadBytes();
  if (b === null) return new Uint8Array(0);
  if (b.length != n) r.setError("expected a " + n.toString() + "-byte string, found " + b.length.toString() + " bytes");
  return b;
}

function bytesOrNull(r: CborReader, n: i32): Uint8Array | null {
  if (r.isNull()) { r.tryReadNull(); return null; }
  return bytesN(r, n);
}

function textOrNull(r: CborReader): string | null {
  if (r.isNull()) { r.tryReadNull(); return null; }
  return r.tryReadText();
}

function u256(r: CborReader): U256 {
  const b = bytesN(r, 32);
  return r.ok ? U256.tryFromBytes(b)! : U256.zero();
}

function uint(r: CborReader): i64 {
  const v = r.tryReadUint();
  if (v > <u64>i64.MAX_VALUE) r.setError("integer above 2^63 - 1");
  return <i64>v;
}

function readErc20(r: CborReader): Erc20Call {
  const e = new Erc20Call();
  const n = r.tryReadMapHeader();
  let seen = 0;
  for (let i = 0; i < n && r.ok; i++) {
    if (!r.tryReadKey()) { r.trySkip(); r.trySkip(); continue; }
    if (r.keyIs("method")) { field = "erc20.method"; const t = r.tryReadText(); if (t !== null) e.method = t; seen |= 1; }
    else if (r.keyIs("token")) { field = "erc20.token"; e.token = bytesN(r, 20); seen |= 2; }
    else if (r.keyIs("owner")) { field = "erc20.owner"; e.owner = bytesN(r, 20); }
    else if (r.keyIs("recipient")) { field = "erc20.recipient"; e.recipient = bytesN(r, 20); seen |= 4; }
    else if (r.keyIs("amount")) { field = "erc20.amount"; e.amount = u256(r); seen |= 8; }
    else r.trySkip();
  }
  if (!r.ok) return e;
  field = "erc20";
  if (seen != 15) r.setError("needs method, token, recipient and amount");
  if (r.ok && e.method != "transfer" && e.method != "approve" && e.method != "transferFrom") {
    r.setError("method: expected transfer, approve or transferFrom");
  }
  if (r.ok && (e.method == "transferFrom") != (e.owner !== null)) r.setError("owner: present iff the method is transferFrom");
  return e;
}

function readDomain(r: CborReader): TypedDataDomain {
  const d = new TypedDataDomain();
  const n = r.tryReadMapHeader();
  for (let i = 0; i < n && r.ok; i++) {
    if (!r.tryReadKey()) { r.trySkip(); r.trySkip(); continue; }
    if (r.keyIs("name")) { field = "domain.name"; d.name = r.tryReadText(); }
    else if (r.keyIs("version")) { field = "domain.version"; d.version = r.tryReadText(); }
    else if (r.keyIs("chainId")) { field = "domain.chainId"; d.chainId = uint(r); }
    else if (r.keyIs("verifyingContract")) { field = "domain.verifyingContract"; d.verifyingContract = bytesN(r, 20); }
    else if (r.keyIs("salt")) { field = "domain.salt"; d.salt = bytesN(r, 32); }
    else r.trySkip();
  }
  return d;
}

function readInputs(r: CborReader): BtcInput[] {
  const out = new Array<BtcInput>();
  const n = r.tryReadArrayHeader();
  for (let i = 0; i < n && r.ok; i++) {
    const x = new BtcInput();
    field = "inputs";
    fieldIndex = i;
    const m = r.tryReadMapHeader();
    let seen = 0;
    for (let j = 0; j < m && r.ok; j++) {
      if (!r.tryReadKey()) { r.trySkip(); r.trySkip(); continue; }
      if (r.keyIs("txid")) { x.txid = bytesN(r, 32); seen |= 1; }
      else if (r.keyIs("vout")) { x.vout = uint(r); seen |= 2; }
      else if (r.keyIs("amount")) { x.amount = uint(r); seen |= 4; }
      else if (r.keyIs("address")) { x.address = textOrNull(r); seen |= 8; }
      else if (r.keyIs("ours")) { x.ours = r.tryReadBool(); seen |= 16; }
      else if (r.keyIs("path")) { x.path = r.tryReadText(); }
      else r.trySkip();
    }
    if (r.ok && seen != 31) r.setError("needs txid, vout, amount, address and ours");
    if (r.ok && x.ours != (x.path !== null)) r.setError("path: present iff ours");
    out.push(x);
  }
  return out;
}

function readOutputs(r: CborReader): BtcOutput[] {
  const out = new Array<BtcOutput>();
  const n = r.tryReadArrayHeader();
  for (let i = 0; i < n && r.ok; i++) {
    const x = new BtcOutput();
    field = "outputs";
    fieldIndex = i;
    const m = r.tryReadMapHeader();
    let seen = 0;
    for (let j = 0; j < m && r.ok; j++) {
      if (!r.tryReadKey()) { r.trySkip(); r.trySkip(); continue; }
      if (r.keyIs("address")) { x.address = textOrNull(r); seen |= 1; }
      else if (r.keyIs("script")) { const b = r.tryReadBytes(); if (b !== null) x.script = b; seen |= 2; }
      else if (r.keyIs("amount")) { x.amount = uint(r); seen |= 4; }
      else if (r.keyIs("change")) { x.change = r.tryReadBool(); seen |= 8; }
      else r.trySkip();
    }
    if (r.ok && seen != 15) r.setError("needs address, script, amount and change");
    out.push(x);
  }
  return out;
}

/** Reads the value of the key just read into `q`; returns its F_ bit (0 for a key not in §4.2). */
function readField(r: CborReader, q: WalletRequest): i32 {
  fieldIndex = -1;
  // Dispatch on the first letter, then compare whole keys: fuel is charged per comparison.
  switch (r.keyFirst()) {
    case 0x63: // c
      if (r.keyIs("chain")) { field = "chain"; const t = r.tryReadText(); if (t !== null) q.chain = t; return F_CHAIN; }
      if (r.keyIs("chainId")) { field = "chainId"; q.chainId = uint(r); return F_CHAIN_ID; }
      break;
    case 0x64: // d
      if (r.keyIs("data")) { field = "data"; const b = r.tryReadBytes(); if (b !== null) q.data = b; return F_DATA; }
      if (r.keyIs("domain")) { field = "domain"; q.domain = readDomain(r); return F_DOMAIN; }
      if (r.keyIs("domainHash")) { field = "domainHash"; q.domainHash = bytesN(r, 32); return F_DOMAIN_HASH; }
      if (r.keyIs("document")) { field = "document"; q.document = r.tryReadBytes(); return F_DOCUMENT; }
      if (r.keyIs("digest")) { field = "digest"; q.digest = bytesN(r, 32); return F_DIGEST; }
      break;
    case 0x65: // e
      if (r.keyIs("erc20")) { field = "erc20"; q.erc20 = readErc20(r); return F_ERC20; }
      break;
    case 0x66: // f
      if (r.keyIs("from")) {
        field = "from";
        if (r.peekKind() == Kind.Text) q.fromText = r.tryReadText();
        else q.from = r.tryReadBytes();
        return F_FROM;
      }
      if (r.keyIs("fee")) { field = "fee"; q.fee = uint(r); return F_FEE; }
      break;
    case 0x67: // g
      if (r.keyIs("gasLimit")) { field = "gasLimit"; q.gasLimit = uint(r); return F_GAS_LIMIT; }
      if (r.keyIs("gasPrice")) { field = "gasPrice"; q.gasPrice = u256(r); return F_GAS_PRICE; }
      break;
    case 0x68: // h
      if (r.keyIs("hash")) { field = "hash"; q.hash = bytesN(r, 32); return F_HASH; }
      break;
    case 0x69: // i
      if (r.keyIs("inputs")) { field = "inputs"; q.inputs = readInputs(r); return F_INPUTS; }
      break;
    case 0x6b: // k
      if (r.keyIs("kind")) { field = "kind"; const t = r.tryReadText(); if (t !== null) q.kind = t; return F_KIND; }
      break;
    case 0x6d: // m
      if (r.keyIs("maxFee")) { field = "maxFee"; q.maxFee = u256(r); return F_MAX_FEE; }
      if (r.keyIs("maxFeePerGas")) { field = "maxFeePerGas"; q.maxFeePerGas = u256(r); return F_MAX_FEE_PER_GAS; }
      if (r.keyIs("maxPriorityFeePerGas")) { field = "maxPriorityFeePerGas"; q.maxPriorityFeePerGas = u256(r); return F_MAX_PRIORITY; }
      if (r.keyIs("message")) { field = "message"; q.message = r.tryReadBytes(); return F_MESSAGE; }
      break;
    case 0x6e: // n
      if (r.keyIs("nonce")) { field = "nonce"; q.nonce = uint(r); return F_NONCE; }
      if (r.keyIs("network")) { field = "network"; q.network = r.tryReadText(); return F_NETWORK; }
      break;
    case 0x6f: // o
      if (r.keyIs("outputs")) { field = "outputs"; q.outputs = readOutputs(r); return F_OUTPUTS; }
      break;
    case 0x70: // p
      if (r.keyIs("path")) { field = "path"; const t = r.tryReadText(); if (t !== null) q.path = t; return F_PATH; }
      if (r.keyIs("primaryType")) { field = "primaryType"; q.primaryType = r.tryReadText(); return F_PRIMARY_TYPE; }
      break;
    case 0x73: // s
      if (r.keyIs("selector")) { field = "selector"; q.selector = bytesN(r, 4); return F_SELECTOR; }
      if (r.keyIs("structHash")) { field = "structHash"; q.structHash = bytesN(r, 32); return F_STRUCT_HASH; }
      break;
    case 0x74: // t
      if (r.keyIs("to")) { field = "to"; q.to = bytesOrNull(r, 20); return F_TO; }
      if (r.keyIs("txType")) { field = "txType"; q.txType = r.tryReadText(); return F_TX_TYPE; }
      break;
    case 0x76: // v
      if (r.keyIs("value")) { field = "value"; q.value = u256(r); return F_VALUE; }
      break;
    case 0x77: // w
      if (r.keyIs("wallet")) { field = "wallet"; const t = r.tryReadText(); if (t !== null) q.wallet = t; return F_WALLET; }
      break;
  }
  r.trySkip(); // a key added after this SDK: ignored
  return 0;
}

/** The first field of `mask` missing from `seen`, or null. */
function missing(seen: i32, mask: i32): string | null {
  const m = mask & ~seen;
  return m == 0 ? null : FIELD_NAMES[ctz(m)];
}

/** The CDDL rules of the request's kind; the first broken one, or null. */
function check(q: WalletRequest, seen: i32): string | null {
  let need = missing(seen, COMMON);
  if (need !== null) return need + ": required";
  const k = q.kind;
  const eth = k == KIND_ETH_TX || k == KIND_ETH_TYPED_DATA || k == KIND_ETH_MESSAGE;
  if (eth && q.chain != "ethereum") return "chain: expected \"ethereum\" for " + k;
  if (k == KIND_BTC_PSBT && q.chain != "bitcoin") return "chain: expected \"bitcoin\" for " + k;
  if (eth && q.from !== null && q.from!.length != 20) return "from: expected 20 bytes";
  if (k == KIND_ETH_TX) {
    need = missing(seen, F_CHAIN | F_CHAIN_ID | F_TX_TYPE | F_FROM | F_TO | F_VALUE | F_NONCE | F_GAS_LIMIT | F_MAX_FEE | F_DATA);
    if (need !== null) return need + ": required for eth-tx";
    if (q.from === null) return "from: expected 20 bytes";
    const t = q.txType!;
    if (t == "eip1559") need = missing(seen, F_MAX_FEE_PER_GAS | F_MAX_PRIORITY);
    else if (t == "legacy" || t == "eip2930") need = missing(seen, F_GAS_PRICE);
    else return "txType: expected legacy, eip2930 or eip1559";
    if (need !== null) return need + ": required for a " + t + " transaction";
    const data = q.data!;
    const sel = q.selector;
    if ((sel !== null) != (data.length >= 4)) return "selector: present iff data has 4 bytes or more";
    if (sel !== null && !rangeEqual(sel.dataStart, data.dataStart, 4)) return "selector: not the first 4 bytes of data";
    const e = q.erc20;
    if (e !== null && (q.to === null || !bytesEqual(e.token, q.to!))) return "erc20.token: not the transaction's to";
  } else if (k == KIND_ETH_TYPED_DATA) {
    need = missing(seen, F_CHAIN | F_FROM | F_PRIMARY_TYPE | F_DOMAIN | F_DOMAIN_HASH | F_STRUCT_HASH | F_DOCUMENT);
    if (need !== null) return need + ": required for eth-typed-data";
    if (q.from === null) return "from: expected 20 bytes";
    if (q.chainId != q.domain!.chainId) return "chainId: must be the domain's chainId (both absent or equal)";
  } else if (k == KIND_ETH_MESSAGE) {
    need = missing(seen, F_CHAIN | F_FROM | F_MESSAGE);
    if (need !== null) return need + ": required for eth-message";
    if (q.from === null) return "from: expected 20 bytes";
  } else if (k == KIND_BTC_PSBT) {
    need = missing(seen, F_CHAIN | F_NETWORK | F_INPUTS | F_OUTPUTS | F_FEE);
    if (need !== null) return need + ": required for btc-psbt";
    const net = q.network!;
    if (net != "mainnet" && net != "testnet" && net != "regtest") return "network: expected mainnet, testnet or regtest";
    let sumIn: i64 = 0, sumOut: i64 = 0;
    const ins = q.inputs!, outs = q.outputs!;
    for (let i = 0; i < ins.length; i++) {
      sumIn += ins[i].amount;
      if (sumIn < 0) return "inputs: amounts overflow";
    }
    for (let i = 0; i < outs.length; i++) {
      sumOut += outs[i].amount;
      if (sumOut < 0) return "outputs: amounts overflow";
    }
    if (sumIn - sumOut != q.fee) return "fee: " + q.fee.toString() + " is not Σ inputs − Σ outputs (" + (sumIn - sumOut).toString() + ")";
  } else if (k == KIND_RAW_DIGEST) {
    need = missing(seen, F_CHAIN | F_FROM | F_DIGEST);
    if (need !== null) return need + ": required for raw-digest";
    if (q.chain != "ethereum" && q.chain != "bitcoin") return "chain: expected ethereum or bitcoin";
    if (!bytesEqual(q.digest!, q.hash)) return "digest: not equal to hash";
  }
  return null;
}

let decoded: WalletRequest | null = null;
let error: string | null = null;

/** Why the last tryRequest() returned null. */
export function lastError(): string | null { return error; }

/** True iff this is a wallet signing decision (the context has a "request"); traps on a bad context. */
export function hasRequest(): bool {
  const c = tryContext();
  if (c === null) fail(contextError()!);
  return c!.request !== null;
}

/**
 * The decoded request, or null (see lastError) if the context has none (not a wallet signing
 * decision) or it breaks ABI.md §4.2.
 */
export function tryRequest(): WalletRequest | null {
  if (decoded !== null) return decoded;
  const c = tryContext();
  if (c === null) { error = contextError(); return null; }
  const item: CborValue | null = c.request;
  if (item === null) { error = "context: no \"request\" (not a wallet signing decision)"; return null; }
  const r = item.reader(); // validated with the whole context
  const q = new WalletRequest();
  let seen = 0;
  field = "";
  const n = r.tryReadMapHeader();
  for (let i = 0; i < n && r.ok; i++) {
    if (!r.tryReadKey()) { r.trySkip(); r.trySkip(); continue; } // not a text key: not ours
    seen |= readField(r, q);
  }
  if (!r.ok) {
    const at = fieldIndex < 0 ? "" : "[" + fieldIndex.toString() + "]";
    error = "context.request" + (field.length > 0 ? "." + field + at : "") + ": " + r.error!;
    return null;
  }
  const bad = check(q, seen);
  if (bad !== null) { error = "context.request." + bad; return null; }
  error = null;
  decoded = q;
  return q;
}

/** The decoded request; traps (reason: what is wrong) if absent or malformed. */
export function request(): WalletRequest {
  const q = tryRequest();
  if (q === null) fail(error!);
  return q!;
}

/** The exact message a co-signer signs to approve a request: "capsule/v1 approve-sign " ‖ hex(hash). */
export function approveSignMessage(hash: Uint8Array): Uint8Array {
  return utf8("capsule/v1 approve-sign " + hex(hash));
}

/** "0x" ‖ lowercase hex, for reasons (no EIP-55 checksum: the guest has no keccak). */
export function ethAddress(a: Uint8Array): string {
  return "0x" + hex(a);
}
