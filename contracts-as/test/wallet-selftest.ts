/**
 * Wallet SDK self-test module (not a contract): logs every field sdk/wallet.ts decodes from the
 * request, one "name=value" line each ("-" when absent; bytes as hex, u256 in decimal), plus the
 * Bitcoin sums, so test/wallet-contracts.test.ts can compare them with the request Map it built;
 * and checks the U256 helpers against fixed vectors. Allows iff every U256 check passes; otherwise
 * denies naming the first failing check.
 *
 * Deliberately not here: anything a contract should copy; this is test scaffolding.
 */
import { allow, deny, log } from "@capsule-engine/sdk";
import { hex, str } from "@capsule-engine/sdk";
import { U256, WalletRequest, lastU256Error, request } from "@capsule-engine/sdk/wallet";

let failed: string | null = null;

function check(ok: bool, what: string): void {
  if (!ok && failed === null) failed = what;
}

function b(v: Uint8Array | null): string { return v === null ? "-" : hex(v); }
function t(v: string | null): string { return v === null ? "-" : v; }
function n(v: i64): string { return v < 0 ? "-" : v.toString(); }
function u(v: U256 | null): string { return v === null ? "-" : v.toString(); }

function logRequest(q: WalletRequest): void {
  log("kind=" + q.kind);
  log("wallet=" + q.wallet);
  log("path=" + q.path);
  log("hash=" + hex(q.hash));
  log("chain=" + q.chain);
  log("chainId=" + n(q.chainId));
  log("txType=" + t(q.txType));
  log("from=" + (q.fromText !== null ? q.fromText! : b(q.from)));
  log("to=" + b(q.to));
  log("value=" + u(q.value));
  log("nonce=" + n(q.nonce));
  log("gasLimit=" + n(q.gasLimit));
  log("gasPrice=" + u(q.gasPrice));
  log("maxFeePerGas=" + u(q.maxFeePerGas));
  log("maxPriorityFeePerGas=" + u(q.maxPriorityFeePerGas));
  log("maxFee=" + u(q.maxFee));
  log("data=" + b(q.data));
  log("selector=" + b(q.selector));
  const e = q.erc20;
  log("erc20=" + (e === null ? "-" : e.method + " " + hex(e.token) + " " + b(e.owner) + " " + hex(e.recipient) + " " + e.amount.toString()));
  log("primaryType=" + t(q.primaryType));
  const d = q.domain;
  log("domain=" + (d === null ? "-" : t(d.name) + " " + t(d.version) + " " + n(d.chainId) + " " + b(d.verifyingContract) + " " + b(d.salt)));
  log("domainHash=" + b(q.domainHash));
  log("structHash=" + b(q.structHash));
  log("document=" + (q.document === null ? "-" : str(q.document!)));
  log("message=" + b(q.message));
  log("network=" + t(q.network));
  log("fee=" + n(q.fee));
  log("digest=" + b(q.digest));
  log("contractCall=" + (q.isContractCall() ? "yes" : "no"));
  const ins = q.inputs;
  if (ins !== null) {
    for (let i = 0; i < ins.length; i++) {
      const x = ins[i];
      log("input=" + hex(x.txid) + " " + x.vout.toString() + " " + x.amount.toString() + " " + t(x.address) + " " +
        (x.ours ? "ours" : "theirs") + " " + t(x.path));
    }
  }
  const outs = q.outputs;
  if (outs !== null) {
    for (let i = 0; i < outs.length; i++) {
      const o = outs[i];
      log("output=" + t(o.address) + " " + hex(o.script) + " " + o.amount.toString() + " " + (o.change ? "change" : "external"));
    }
    log("sums=" + q.btcOursIn().toString() + " " + q.btcChangeOut().toString() + " " + q.btcExternalOut().toString() + " " +
      q.btcOutflow().toString());
  }
}

const MAX = "115792089237316195423570985008687907853269984665640564039457584007913129639935"; // 2^256 - 1

function u256Checks(): void {
  const max = U256.tryParse(MAX);
  check(max !== null && max.toString() == MAX, "2^256-1 round trip");
  check(U256.tryParse("115792089237316195423570985008687907853269984665640564039457584007913129639936") === null, "2^256 refused");
  check(lastU256Error() == "above 2^256 - 1", "overflow message");
  check(U256.tryParse("0") !== null && U256.tryParse("0")!.isZero(), "zero");
  check(U256.tryParse("01") === null && U256.tryParse("") === null && U256.tryParse("12a") === null && U256.tryParse("-1") === null, "bad decimals refused");
  const u64max = U256.fromU64(u64.MAX_VALUE);
  check(u64max.toString() == "18446744073709551615", "u64 max");
  const two64 = u64max.tryAdd(U256.fromU64(1));
  check(two64 !== null && two64.toString() == "18446744073709551616" && !two64.fitsU64(), "carry into limb 1");
  check(max!.tryAdd(U256.fromU64(1)) === null, "add overflow detected");
  check(max!.addSaturating(max!).eq(max!), "saturating add");
  check(U256.fromU64(1).trySub(U256.fromU64(2)) === null, "sub underflow detected");
  check(two64!.trySub(U256.fromU64(1))!.eq(u64max), "borrow across limbs");
  const a = U256.tryParse("340282366920938463463374607431768211457")!; // 2^128 + 1
  const bytes = a.toBytes();
  check(bytes.length == 32 && bytes[15] == 1 && bytes[31] == 1 && U256.tryFromBytes(bytes)!.eq(a), "bytes round trip");
  check(U256.tryFromBytes(new Uint8Array(31)) === null && lastU256Error() == "expected 32 bytes, found 31", "31 bytes refused");
  check(a.gt(u64max) && u64max.lt(a) && a.ge(a) && a.le(a) && a.cmp(two64!) > 0 && two64!.cmp(a) < 0, "compare");
  check(U256.tryParse("1000000000000000000000000")!.toString() == "1000000000000000000000000", "10^24 round trip");
}

export function decide(): i32 {
  logRequest(request());
  u256Checks();
  return failed === null ? allow("wallet self-test passed") : deny("failed: " + failed!);
}
