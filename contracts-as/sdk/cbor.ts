/**
 * A small, strict CBOR reader (RFC 8949) for the deterministic items the host passes in
 * (ABI.md §4.1): unsigned and negative integers (full 64-bit heads; `readInt` needs them to fit
 * i64), byte and text strings (UTF-8 checked), arrays, maps (any key type; text and integer keys can
 * be looked up), false/true/null, and half/single/double floats (decoded to f64).
 *
 * Strict: definite lengths only, shortest-form heads, no tags, no `undefined` or other simple values,
 * map keys in deterministic (bytewise) order and so without duplicates, valid UTF-8, nesting ≤ 32.
 *
 * Two APIs, one convention: `tryX()` never traps; on malformed or unexpected input it records the
 * first error (sticky: every later try-call returns a neutral value; `ok` / `error` tell) and returns
 * null / 0 / false / -1. `x()` does the same read and traps with the error as the reason.
 * `CborValue` (sdk/cbor-value.ts) is a view of one validated item, for lookups by key or index.
 *
 * Written for the fuel meter (ABI.md §6 charges a function's or loop's whole body per entry): hot
 * paths record errors as small codes (the message is built only when read) and match keys in place.
 *
 * Deliberately not here: encoding, shortest-form checks of floats, bignums or other tags, and
 * lengths beyond i32 (inputs are at most 64 KiB).
 */
import { validUtf8 } from "./text";
import { fail, str } from "./util";

export enum Kind { Uint, Nint, Bytes, Text, Array, Map, False, True, Null, Float, Invalid }

const KIND_NAMES = ["unsigned integer", "negative integer", "byte string", "text string", "array",
  "map", "false", "true", "null", "float", "invalid item"];

export function kindName(k: Kind): string {
  return KIND_NAMES[<i32>k];
}

const MAX_DEPTH = 32;

// Error codes (0 = none); messages in CborReader#error.
const E_END = 1, E_INDEFINITE = 2, E_RESERVED = 3, E_TRUNCATED = 4, E_TAG = 5, E_SIMPLE = 6,
  E_NOT_SHORTEST = 7, E_LENGTH = 8, E_UTF8 = 9, E_KEY_ORDER = 10, E_DEPTH = 11, E_RANGE = 12,
  E_TYPE = 13, E_TRAILING = 14, E_CUSTOM = 15;
const MESSAGES = ["", "unexpected end of input", "indefinite length is not allowed",
  "reserved additional information", "truncated item head", "tags are not allowed",
  "simple values other than false, true and null are not allowed", "integer or length not in shortest form",
  "length runs past the end of the input", "text string is not valid UTF-8",
  "map keys not in deterministic order (or duplicated)", "nesting deeper than 32", "integer out of i64 range",
  "", "trailing bytes after the item", ""];

export class CborReader {
  data: Uint8Array;
  pos: i32;
  end: i32;
  /** Check UTF-8 and map key order (false only for items already validated, e.g. in a CborValue). */
  validate: bool;
  private code: i32 = 0;
  private errPos: i32 = 0;
  private expected: Kind = Kind.Invalid;
  private found: Kind = Kind.Invalid;
  private custom: string = "";
  private major: i32 = 0;
  private info: i32 = 0;
  private arg: u64 = 0;
  private keyStart: i32 = 0;
  private keyLen: i32 = -1;

  constructor(data: Uint8Array, pos: i32 = 0, end: i32 = -1, validate: bool = true) {
    this.data = data;
    this.pos = pos;
    this.end = end < 0 ? data.length : end;
    this.validate = validate;
  }

  /** Points the reader at `data[pos..]`, trusting it (validate off) and clearing any error. */
  reset(data: Uint8Array, pos: i32): CborReader {
    this.data = data;
    this.pos = pos;
    this.end = data.length;
    this.validate = false;
    this.code = 0;
    return this;
  }

  get ok(): bool { return this.code == 0; }
  atEnd(): bool { return this.pos >= this.end; }

  /** The first error met ("CBOR at byte N: …"), or null. */
  get error(): string | null {
    const c = this.code;
    if (c == 0) return null;
    const msg = c == E_CUSTOM ? this.custom
      : c == E_TYPE ? "expected " + (this.expected == Kind.False ? "bool" : kindName(this.expected)) + ", found " + kindName(this.found)
      : MESSAGES[c];
    return "CBOR at byte " + this.errPos.toString() + ": " + msg;
  }

  private fault(code: i32): bool {
    if (this.code == 0) { this.code = code; this.errPos = this.pos; }
    return false;
  }

  /** Records `msg` as the error unless one is already recorded. */
  setError(msg: string): void {
    if (this.code == 0) { this.custom = msg; this.fault(E_CUSTOM); }
  }

  /** Traps with the recorded error, if any. */
  check(): void {
    if (this.code != 0) fail(this.error!);
  }

  /**
   * Reads an item head into major/info/arg and moves past it; false (error set) if malformed. The
   * common case (major 0-5, argument < 256) is a small body; the rest is in headSlow.
   */
  private head(): bool {
    const pos = this.pos;
    if (this.code != 0 || pos + 1 >= this.end) return this.headSlow(); // two call sites: not inlined
    const p = this.data.dataStart + <usize>pos;
    const ib = <u32>load<u8>(p);
    const info = ib & 31;
    if (ib < 0xc0 && info <= 24) {
      const arg = info < 24 ? info : <u32>load<u8>(p, 1);
      if (arg >= 24 || info < 24) {
        this.pos = pos + (info < 24 ? 1 : 2);
        this.major = <i32>(ib >> 5);
        this.info = <i32>info;
        this.arg = <u64>arg;
        return true;
      }
    }
    return this.headSlow();
  }

  /** head() for everything but the common case: long arguments, simple values, errors. */
  private headSlow(): bool {
    if (this.code != 0) return false;
    let err = E_END;
    if (this.pos < this.end) {
      const p = this.data.dataStart + <usize>this.pos;
      const ib = <i32>load<u8>(p);
      const major = ib >> 5;
      const info = ib & 31;
      const n = info < 24 ? 0 : info > 27 ? -1 : 1 << (info - 24);
      err = n < 0 ? (info == 31 ? E_INDEFINITE : E_RESERVED) : this.end - this.pos - 1 < n ? E_TRUNCATED : 0;
      if (err == 0) {
        let arg: u64 = info < 24 ? <u64>info : 0;
        if (n != 0) for (let i = 1; i <= n; i++) arg = (arg << 8) | <u64>load<u8>(p + <usize>i);
        // Shortest form: 1, 2, 4, 8 argument bytes need at least 24, 2^8, 2^16, 2^32.
        const min: u64 = n == 0 ? 0 : n == 1 ? 24 : <u64>1 << (<u64>n << 2);
        err = major == 6 ? E_TAG
          : major == 7 ? (info == 24 || (info < 24 && (info < 20 || info > 22)) ? E_SIMPLE : 0)
          : arg < min ? E_NOT_SHORTEST : 0;
        if (err == 0) {
          this.pos += 1 + n;
          this.major = major;
          this.info = info;
          this.arg = arg;
          return true;
        }
      }
    }
    return this.fault(err);
  }

  private kindOfHead(): Kind {
    if (this.major < 6) return <Kind>this.major;
    if (this.info == 20) return Kind.False;
    if (this.info == 21) return Kind.True;
    if (this.info == 22) return Kind.Null;
    return Kind.Float;
  }

  /** Kind of the next item without consuming it (Invalid, error set, if malformed or at the end). */
  peekKind(): Kind {
    const save = this.pos;
    if (!this.head()) return Kind.Invalid;
    this.pos = save;
    return this.kindOfHead();
  }

  private typeError(save: i32, expected: Kind): bool {
    this.pos = save;
    this.expected = expected;
    this.found = this.kindOfHead();
    return this.fault(E_TYPE);
  }

  /** Reads a head of `major` type; on mismatch restores the cursor and records an error. */
  private expect(major: i32, kind: Kind): bool {
    const save = this.pos;
    if (!this.head()) return false;
    return this.major == major ? true : this.typeError(save, kind);
  }

  /** Length argument of the last head, checked against the bytes left (`unit` bytes per element). */
  private length(unit: u64): i32 {
    if (this.arg > <u64>(this.end - this.pos) / unit) { this.fault(E_LENGTH); return -1; }
    return <i32>this.arg;
  }

  tryReadUint(): u64 {
    return this.expect(0, Kind.Uint) ? this.arg : 0;
  }

  tryReadInt(): i64 {
    const save = this.pos;
    if (!this.head()) return 0;
    if (this.major > 1) { this.typeError(save, Kind.Uint); return 0; }
    if (this.arg > <u64>i64.MAX_VALUE) { this.pos = save; this.fault(E_RANGE); return 0; }
    return this.major == 0 ? <i64>this.arg : -1 - <i64>this.arg;
  }

  /** Start of a string's content after its head, or -1 (error set). */
  private stringBody(major: i32, kind: Kind): i32 {
    return this.expect(major, kind) ? this.afterStringHead() : -1;
  }

  /** After a string head: checks the length (and UTF-8 of text), moves past the content. */
  private afterStringHead(): i32 {
    const n = this.length(1);
    if (n < 0) return -1;
    const at = this.pos;
    if (this.major == 3 && this.validate && !validUtf8(this.data, at, at + n)) { this.fault(E_UTF8); return -1; }
    this.pos += n;
    return at;
  }

  /** The bytes of a byte string, as a view into the input (no copy). */
  tryReadBytes(): Uint8Array | null {
    const at = this.stringBody(2, Kind.Bytes);
    return at < 0 ? null : this.data.subarray(at, this.pos);
  }

  /** The raw UTF-8 of a text string, as a view into the input. */
  tryReadTextBytes(): Uint8Array | null {
    const at = this.stringBody(3, Kind.Text);
    return at < 0 ? null : this.data.subarray(at, this.pos);
  }

  tryReadText(): string | null {
    const b = this.tryReadTextBytes();
    return b === null ? null : str(b);
  }

  /**
   * Reads a text string as a map key without copying it; false if the next item is not text
   * (nothing consumed, no error). Compare it with `keyIs`.
   */
  tryReadKey(): bool {
    this.keyLen = -1;
    if (this.code != 0) return false;
    const save = this.pos;
    if (!this.head()) return false;
    if (this.major != 3) { this.pos = save; return false; }
    const at = this.afterStringHead();
    if (at < 0) return false;
    this.keyStart = at;
    this.keyLen = this.pos - at;
    return true;
  }

  /** True iff the key read last by tryReadKey is `s` (ASCII compared in place). */
  keyIs(s: string): bool {
    const n = s.length;
    if (this.keyLen < n) return false;
    const q = changetype<usize>(s);
    const p = this.data.dataStart + <usize>this.keyStart;
    let i = 0;
    while (i < n && <u32>load<u16>(q + (<usize>i << 1)) == <u32>load<u8>(p + <usize>i)) i++;
    if (i == n) return this.keyLen == n;
    if (load<u16>(q + (<usize>i << 1)) < 0x80) return false;
    return str(this.data.subarray(this.keyStart, this.keyStart + this.keyLen)) == s; // non-ASCII key
  }

  /**
   * The first byte of the key read last by tryReadKey, or -1 (none, or empty): lets a reader with
   * many keys dispatch on it before comparing whole keys with keyIs.
   */
  keyFirst(): i32 {
    return this.keyLen > 0 ? <i32>load<u8>(this.data.dataStart + <usize>this.keyStart) : -1;
  }

  /** Number of items of an array (-1 on error). */
  tryReadArrayHeader(): i32 {
    return this.expect(4, Kind.Array) ? this.length(1) : -1;
  }

  /** Number of key/value pairs of a map (-1 on error). */
  tryReadMapHeader(): i32 {
    return this.expect(5, Kind.Map) ? this.length(2) : -1;
  }

  tryReadBool(): bool {
    const save = this.pos;
    if (!this.head()) return false;
    if (this.major == 7 && (this.info == 20 || this.info == 21)) return this.info == 21;
    return this.typeError(save, Kind.False);
  }

  /** Consumes a null; false (error set) if the next item is not null. */
  tryReadNull(): bool {
    const save = this.pos;
    if (!this.head()) return false;
    return this.major == 7 && this.info == 22 ? true : this.typeError(save, Kind.Null);
  }

  /** True iff the next item is null (nothing consumed). */
  isNull(): bool {
    return this.peekKind() == Kind.Null;
  }

  /** A float as f64; integers are accepted and converted. */
  tryReadFloat(): f64 {
    const save = this.pos;
    if (!this.head()) return 0;
    if (this.major == 0) return <f64>this.arg;
    if (this.major == 1) return -1.0 - <f64>this.arg;
    if (this.major == 7 && this.info >= 25) {
      if (this.info == 27) return reinterpret<f64>(this.arg);
      if (this.info == 26) return <f64>reinterpret<f32>(<u32>this.arg);
      return halfToF64(<u32>this.arg);
    }
    this.typeError(save, Kind.Float);
    return 0;
  }

  /** Skips one whole item, checking it (this is the validator); false on error. */
  trySkip(): bool {
    return this.skipAt(0);
  }

  private skipAt(depth: i32): bool {
    if (!this.head()) return false;
    const major = this.major;
    if (major < 2 || major == 7) return true;
    if (major == 4) return this.skipItems(depth, false);
    if (major == 5) return this.skipItems(depth, true);
    const n = this.length(1);
    if (n < 0) return false;
    if (major == 3 && this.validate && !validUtf8(this.data, this.pos, this.pos + n)) return this.fault(E_UTF8);
    this.pos += n;
    return true;
  }

  /** The items of an array or map whose head was just read; map keys checked for order. */
  private skipItems(depth: i32, map: bool): bool {
    if (depth >= MAX_DEPTH) return this.fault(E_DEPTH);
    const n = this.length(map ? 2 : 1);
    if (n < 0) return false;
    let prevStart = -1, prevEnd = -1;
    for (let i = 0; i < n; i++) {
      const keyStart = this.pos;
      if (!this.skipAt(depth + 1)) return false;
      if (map) {
        if (this.validate && prevStart >= 0 && compareRanges(this.data, prevStart, prevEnd, keyStart, this.pos) >= 0) {
          this.pos = keyStart;
          return this.fault(E_KEY_ORDER);
        }
        prevStart = keyStart;
        prevEnd = this.pos;
        if (!this.skipAt(depth + 1)) return false;
      }
    }
    return true;
  }

  /**
   * At a map: moves the cursor to the value under text key `key` and returns true; if absent,
   * moves past the map and returns false. False with an error if this is not a well-formed map.
   */
  tryFindKey(key: string): bool {
    const n = this.tryReadMapHeader();
    for (let i = 0; i < n; i++) {
      if (this.tryReadKey()) {
        if (this.keyIs(key)) return true;
      } else if (!this.trySkip()) return false;
      if (!this.trySkip()) return false;
    }
    return false;
  }

  /** As tryFindKey, for an integer key. */
  tryFindIntKey(key: i64): bool {
    const n = this.tryReadMapHeader();
    for (let i = 0; i < n; i++) {
      const kind = this.peekKind();
      const save = this.pos;
      if ((kind == Kind.Uint || kind == Kind.Nint) && this.head() && this.arg <= <u64>i64.MAX_VALUE &&
          (this.major == 0 ? <i64>this.arg : -1 - <i64>this.arg) == key) return true;
      this.pos = save;
      if (!this.trySkip() || !this.trySkip()) return false;
    }
    return false;
  }

  // ---- plain API: the same reads, trapping (with the error as the reason) on failure ----

  readUint(): u64 { const v = this.tryReadUint(); this.check(); return v; }
  readInt(): i64 { const v = this.tryReadInt(); this.check(); return v; }
  readBytes(): Uint8Array { const v = this.tryReadBytes(); this.check(); return v!; }
  readText(): string { const v = this.tryReadText(); this.check(); return v!; }
  readArrayHeader(): i32 { const v = this.tryReadArrayHeader(); this.check(); return v; }
  readMapHeader(): i32 { const v = this.tryReadMapHeader(); this.check(); return v; }
  readBool(): bool { const v = this.tryReadBool(); this.check(); return v; }
  readNull(): void { this.tryReadNull(); this.check(); }
  readFloat(): f64 { const v = this.tryReadFloat(); this.check(); return v; }
  skip(): void { this.trySkip(); this.check(); }
  findKey(key: string): bool { const v = this.tryFindKey(key); this.check(); return v; }
  findIntKey(key: i64): bool { const v = this.tryFindIntKey(key); this.check(); return v; }
}

/** Checks that `data` is exactly one strict item; the error message, or null if it is. */
export function validateItem(data: Uint8Array): string | null {
  const r = new CborReader(data);
  if (r.trySkip() && !r.atEnd()) r.setError(MESSAGES[E_TRAILING]);
  return r.error;
}

/** Bytewise comparison of data[a0, a1) and data[b0, b1) (RFC 8949 §4.2.1 key order). */
function compareRanges(d: Uint8Array, a0: i32, a1: i32, b0: i32, b1: i32): i32 {
  const la = a1 - a0, lb = b1 - b0;
  const n = la < lb ? la : lb;
  const p = d.dataStart;
  let i = 0;
  while (i < n && load<u8>(p + <usize>(a0 + i)) == load<u8>(p + <usize>(b0 + i))) i++;
  if (i < n) return <i32>load<u8>(p + <usize>(a0 + i)) - <i32>load<u8>(p + <usize>(b0 + i));
  return la - lb;
}

function halfToF64(h: u32): f64 {
  const exp = (h >> 10) & 0x1f;
  const mant = <f64>(h & 0x3ff);
  let v: f64;
  if (exp == 0) v = mant * Math.pow(2, -24);
  else if (exp == 31) v = mant == 0 ? Infinity : NaN;
  else v = (mant + 1024) * Math.pow(2, <f64>exp - 25);
  return (h & 0x8000) ? -v : v;
}
