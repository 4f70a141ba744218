/**
 * `U256`: an unsigned 256-bit integer for Ethereum quantities (wei values, fees, ERC-20 amounts),
 * which the host passes as 32-byte big-endian byte strings (ABI.md §4.2) and params give as
 * decimal text (JSON numbers stop at 2^53 − 1). Provides: from/to the 32-byte form, from u64,
 * strict decimal parsing and printing, comparison, and add/subtract with overflow detection
 * (`tryAdd()` returns null on overflow, `add()` traps with a reason, the SDK's x()/tryX()
 * convention).
 *
 * Four u64 limbs, most significant first, and no loops in compare/add/sub: the fuel meter charges a
 * loop body per iteration (ABI.md §6), so the common operations are straight-line code.
 *
 * Deliberately not here: multiplication or division by another U256, signed values, hex text
 * (params carry amounts as decimal, byte strings as hex: contracts/README.md), and any unit
 * handling ("1.5 ether"): amounts are integers of the smallest unit (wei, token base units).
 */
import { fail } from "./util";

/** Carry out of the last limb operation (a global, so the helpers return one value). */
let carry: u64 = 0;

/** a + b + carry-in, setting `carry` to the carry out. */
// @ts-ignore: decorator
@inline function addLimb(a: u64, b: u64, c: u64): u64 {
  const s = a + b;
  const t = s + c;
  carry = (s < a ? 1 : 0) | (t < s ? 1 : 0);
  return t;
}

/** a − b − borrow-in, setting `carry` to the borrow out. */
// @ts-ignore: decorator
@inline function subLimb(a: u64, b: u64, c: u64): u64 {
  const d = a - b;
  const e = d - c;
  carry = (a < b ? 1 : 0) | (d < c ? 1 : 0);
  return e;
}

/** x × m + carry for m < 2^32, setting `carry` (< 2^32) to the high part. */
function mulLimb(x: u64, m: u64, c: u64): u64 {
  const lo = (x & 0xffffffff) * m + c;
  const hi = (x >> 32) * m + (lo >> 32);
  carry = hi >> 32;
  return (hi << 32) | (lo & 0xffffffff);
}

/** Remainder left by divLimb. */
let rem: u64 = 0;

/** (rem ‖ x) ÷ m for m < 2^32, x a 64-bit limb, as two 32-bit steps; updates `rem`. */
function divLimb(x: u64, m: u64): u64 {
  const a = (rem << 32) | (x >> 32);
  const qa = a / m;
  const b = ((a % m) << 32) | (x & 0xffffffff);
  rem = b % m;
  return (qa << 32) | (b / m);
}

function loadBe64(b: Uint8Array, at: i32): u64 {
  return bswap<u64>(load<u64>(b.dataStart + <usize>at));
}

function storeBe64(b: Uint8Array, at: i32, v: u64): void {
  store<u64>(b.dataStart + <usize>at, bswap<u64>(v));
}

let parseError: string | null = null;

/** Why the last U256.tryParse / tryFromBytes returned null. */
export function lastU256Error(): string | null { return parseError; }

export class U256 {
  /** Limbs, most significant first: the value is w3·2^192 + w2·2^128 + w1·2^64 + w0. */
  w3: u64;
  w2: u64;
  w1: u64;
  w0: u64;

  constructor(w3: u64, w2: u64, w1: u64, w0: u64) {
    this.w3 = w3;
    this.w2 = w2;
    this.w1 = w1;
    this.w0 = w0;
  }

  static zero(): U256 { return new U256(0, 0, 0, 0); }

  static fromU64(v: u64): U256 { return new U256(0, 0, 0, v); }

  /** The 32-byte big-endian form (ABI.md §4.2 u256), or null (lastU256Error) if not 32 bytes. */
  static tryFromBytes(b: Uint8Array): U256 | null {
    if (b.length != 32) { parseError = "expected 32 bytes, found " + b.length.toString(); return null; }
    return new U256(loadBe64(b, 0), loadBe64(b, 8), loadBe64(b, 16), loadBe64(b, 24));
  }

  /** As tryFromBytes, trapping with `what` and the error if `b` is not 32 bytes. */
  static fromBytes(b: Uint8Array, what: string): U256 {
    const v = U256.tryFromBytes(b);
    if (v === null) fail(what + ": " + parseError!);
    return v!;
  }

  /**
   * Strict decimal: digits only, no sign, no leading zero (except "0"), below 2^256. Null
   * (lastU256Error) otherwise.
   */
  static tryParse(s: string): U256 | null {
    const n = s.length;
    if (n == 0 || n > 78) { parseError = "expected 1 to 78 decimal digits"; return null; }
    if (n > 1 && s.charCodeAt(0) == 48) { parseError = "leading zero"; return null; }
    let v = U256.zero();
    let i = 0;
    while (i < n) {
      // Up to 9 digits per step: one multiply-add by 10^k instead of k.
      let chunk: u64 = 0, scale: u64 = 1;
      const end = i + 9 < n ? i + 9 : n;
      for (; i < end; i++) {
        const d = s.charCodeAt(i) - 48;
        if (d < 0 || d > 9) { parseError = "not a decimal digit at " + i.toString(); return null; }
        chunk = chunk * 10 + <u64>d;
        scale *= 10;
      }
      const next = v.tryMulAdd(scale, chunk);
      if (next === null) { parseError = "above 2^256 - 1"; return null; }
      v = next;
    }
    parseError = null;
    return v;
  }

  /** As tryParse, trapping with `what` and the error. */
  static parse(s: string, what: string): U256 {
    const v = U256.tryParse(s);
    if (v === null) fail(what + ": " + parseError! + " (an amount is decimal text of the smallest unit)");
    return v!;
  }

  /** this × m + a for m, a < 2^32, or null on overflow. */
  tryMulAdd(m: u64, a: u64): U256 | null {
    const w0 = mulLimb(this.w0, m, a);
    const w1 = mulLimb(this.w1, m, carry);
    const w2 = mulLimb(this.w2, m, carry);
    const w3 = mulLimb(this.w3, m, carry);
    return carry != 0 ? null : new U256(w3, w2, w1, w0);
  }

  /** The 32-byte big-endian form. */
  toBytes(): Uint8Array {
    const out = new Uint8Array(32);
    storeBe64(out, 0, this.w3);
    storeBe64(out, 8, this.w2);
    storeBe64(out, 16, this.w1);
    storeBe64(out, 24, this.w0);
    return out;
  }

  isZero(): bool { return (this.w3 | this.w2 | this.w1 | this.w0) == 0; }

  /** True iff the value fits in a u64 (then `w0` is it). */
  fitsU64(): bool { return (this.w3 | this.w2 | this.w1) == 0; }

  /** −1, 0 or 1 as this is less than, equal to or greater than `o`. */
  cmp(o: U256): i32 {
    if (this.w3 != o.w3) return this.w3 < o.w3 ? -1 : 1;
    if (this.w2 != o.w2) return this.w2 < o.w2 ? -1 : 1;
    if (this.w1 != o.w1) return this.w1 < o.w1 ? -1 : 1;
    if (this.w0 != o.w0) return this.w0 < o.w0 ? -1 : 1;
    return 0;
  }

  eq(o: U256): bool { return this.cmp(o) == 0; }
  lt(o: U256): bool { return this.cmp(o) < 0; }
  le(o: U256): bool { return this.cmp(o) <= 0; }
  gt(o: U256): bool { return this.cmp(o) > 0; }
  ge(o: U256): bool { return this.cmp(o) >= 0; }

  /** this + o, or null if the sum is 2^256 or more. */
  tryAdd(o: U256): U256 | null {
    const w0 = addLimb(this.w0, o.w0, 0);
    const w1 = addLimb(this.w1, o.w1, carry);
    const w2 = addLimb(this.w2, o.w2, carry);
    const w3 = addLimb(this.w3, o.w3, carry);
    return carry != 0 ? null : new U256(w3, w2, w1, w0);
  }

  /** this + o; traps ("<what>: uint256 overflow") if the sum does not fit. */
  add(o: U256, what: string): U256 {
    const v = this.tryAdd(o);
    if (v === null) fail(what + ": uint256 overflow");
    return v!;
  }

  /** this + o, or 2^256 − 1 if the sum does not fit (for totals that only need to compare). */
  addSaturating(o: U256): U256 {
    const v = this.tryAdd(o);
    return v === null ? new U256(u64.MAX_VALUE, u64.MAX_VALUE, u64.MAX_VALUE, u64.MAX_VALUE) : v;
  }

  /** this − o, or null if o > this. */
  trySub(o: U256): U256 | null {
    const w0 = subLimb(this.w0, o.w0, 0);
    const w1 = subLimb(this.w1, o.w1, carry);
    const w2 = subLimb(this.w2, o.w2, carry);
    const w3 = subLimb(this.w3, o.w3, carry);
    return carry != 0 ? null : new U256(w3, w2, w1, w0);
  }

  /** this − o; traps ("<what>: uint256 underflow") if o > this. */
  sub(o: U256, what: string): U256 {
    const v = this.trySub(o);
    if (v === null) fail(what + ": uint256 underflow");
    return v!;
  }

  /** Decimal text (no leading zeros; "0" for zero). */
  toString(): string {
    if (this.fitsU64()) return this.w0.toString();
    // Divide by 10^9 repeatedly; each step yields 9 digits, most significant step last.
    let w3 = this.w3, w2 = this.w2, w1 = this.w1, w0 = this.w0;
    let out = "";
    const B: u64 = 1000000000;
    while ((w3 | w2 | w1) != 0) {
      rem = 0;
      w3 = divLimb(w3, B);
      w2 = divLimb(w2, B);
      w1 = divLimb(w1, B);
      w0 = divLimb(w0, B);
      let part = rem.toString();
      while (part.length < 9) part = "0" + part;
      out = part + out;
    }
    return w0.toString() + out;
  }
}
