/**
 * `CborValue`: a view of one item inside a CBOR buffer validated as a whole by the strict reader
 * (sdk/cbor.ts), for lookups by text or integer key, by index, and typed access. Lookups return null
 * when absent or of another kind; `asX(what)` traps with a reason naming `what` on the wrong kind,
 * `tryAsX()` returns null / -1 instead. Methods share one scratch reader (no allocation per call).
 *
 * Deliberately not here: parsing rules (cbor.ts) or any schema (callers check shapes).
 */
import { CborReader, Kind, kindName, validateItem } from "./cbor";
import { fail } from "./util";

const scratch = new CborReader(new Uint8Array(0), 0, -1, false);

/** The error of the last failed CborValue.tryParse. */
let parseError: string | null = null;
export function lastParseError(): string | null { return parseError; }

/**
 * A view of one item inside a validated CBOR buffer. Lookups return null when absent or of
 * another kind; `asX()` traps on the wrong kind (reason: `what` + the mismatch), `tryAsX()` does not.
 */
export class CborValue {
  data: Uint8Array;
  start: i32;

  constructor(data: Uint8Array, start: i32) {
    this.data = data;
    this.start = start;
  }

  /** Validates that `data` is exactly one strict item; null (see lastParseError) if not. */
  static tryParse(data: Uint8Array): CborValue | null {
    parseError = validateItem(data);
    return parseError === null ? new CborValue(data, 0) : null;
  }

  /** As tryParse, trapping with `what` and the error if malformed. */
  static parse(data: Uint8Array, what: string): CborValue {
    const v = CborValue.tryParse(data);
    if (v === null) fail(what + ": " + parseError!);
    return v!;
  }

  /** A new reader at this item (no re-validation: the buffer was validated as a whole). */
  reader(): CborReader { return new CborReader(this.data, this.start, -1, false); }

  /** The shared reader the methods below use (none holds it across a call to another). */
  private scan(): CborReader { return scratch.reset(this.data, this.start); }

  get kind(): Kind { return this.scan().peekKind(); }
  isNull(): bool { return this.kind == Kind.Null; }
  isMap(): bool { return this.kind == Kind.Map; }
  isArray(): bool { return this.kind == Kind.Array; }

  /** Items of an array or pairs of a map; -1 for other kinds. */
  get length(): i32 {
    const k = this.kind;
    const r = this.scan();
    if (k == Kind.Array) return r.tryReadArrayHeader();
    if (k == Kind.Map) return r.tryReadMapHeader();
    return -1;
  }

  /** The value under text key `key` of a map, or null. */
  get(key: string): CborValue | null {
    const r = this.scan();
    return r.tryFindKey(key) ? new CborValue(this.data, r.pos) : null;
  }

  has(key: string): bool { return this.scan().tryFindKey(key); }

  /** The value under integer key `key` of a map, or null. */
  getInt(key: i64): CborValue | null {
    const r = this.scan();
    return r.tryFindIntKey(key) ? new CborValue(this.data, r.pos) : null;
  }

  /** Item `i` of an array, or null. */
  at(i: i32): CborValue | null {
    const r = this.scan();
    const n = r.tryReadArrayHeader();
    if (i < 0 || i >= n) return null;
    for (let j = 0; j < i; j++) r.trySkip();
    return new CborValue(this.data, r.pos);
  }

  /** The items of an array (empty for other kinds). */
  items(): CborValue[] {
    const r = this.scan();
    const n = r.tryReadArrayHeader();
    const out = new Array<CborValue>(n < 0 ? 0 : n);
    for (let j = 0; j < n; j++) {
      out[j] = new CborValue(this.data, r.pos);
      r.trySkip();
    }
    return out;
  }

  /** The keys of a map that are text strings, in order. */
  keys(): string[] {
    const out = new Array<string>();
    const r = this.scan();
    const n = r.tryReadMapHeader();
    for (let j = 0; j < n; j++) {
      if (r.peekKind() == Kind.Text) out.push(r.tryReadText()!);
      else r.trySkip();
      r.trySkip();
    }
    return out;
  }

  tryAsUint(): i64 { const r = this.scan(); const v = r.tryReadUint(); return r.ok && v <= <u64>i64.MAX_VALUE ? <i64>v : -1; }
  tryAsString(): string | null { return this.scan().tryReadText(); }
  tryAsBytes(): Uint8Array | null { return this.scan().tryReadBytes(); }
  /** The UTF-8 bytes of a text string (a view), without decoding. */
  tryAsTextBytes(): Uint8Array | null { return this.scan().tryReadTextBytes(); }

  private mismatch(what: string, expected: string): void {
    fail(what + ": expected " + expected + ", found " + kindName(this.kind));
  }

  /** An unsigned integer up to i64 max; traps naming `what` otherwise. */
  asUint(what: string): i64 { const v = this.tryAsUint(); if (v < 0) this.mismatch(what, "unsigned integer"); return v; }
  asInt(what: string): i64 { const r = this.scan(); const v = r.tryReadInt(); if (!r.ok) this.mismatch(what, "integer"); return v; }
  asString(what: string): string { const v = this.tryAsString(); if (v === null) this.mismatch(what, "text string"); return v!; }
  asBytes(what: string): Uint8Array { const v = this.tryAsBytes(); if (v === null) this.mismatch(what, "byte string"); return v!; }
  asBool(what: string): bool { const r = this.scan(); const v = r.tryReadBool(); if (!r.ok) this.mismatch(what, "bool"); return v; }
  asFloat(what: string): f64 { const r = this.scan(); const v = r.tryReadFloat(); if (!r.ok) this.mismatch(what, "number"); return v; }
}
