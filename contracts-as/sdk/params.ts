/**
 * Reading params strictly, shared by the standard contracts and authors' policies: the `Scope` a
 * params check runs in (its params path for messages, e.g. "params.all[1].expiry", and the state-key
 * prefix of a rule inside a combined policy), `paramsMap`, `onlyKeys` (unknown keys refused: a typo
 * must not drop a condition), required/optional unsigned integers, times in both forms (uint
 * **milliseconds** since the epoch, as `now()` returns, or RFC 3339 UTC text "2030-01-01T00:00:00Z"),
 * durations in both forms (uint ms or ISO 8601 text, "P1D"), byte strings as CBOR bytes or hex text
 * (either case, optional "0x", so JSON `--params` can carry them), text lists, and `when` for
 * readable times in reasons. A params error traps with a reason naming the param (e.g.
 * "params.notBefore: expected unsigned integer, found text string"): misconfigured logic is an
 * error, never an allow.
 *
 * Every helper takes the Scope last and defaults it to the root ("params"), so a policy of one rule
 * writes `timeParam(p, "notBefore")`.
 *
 * Deliberately not here: verdict plumbing and deferred state writes (contracts/rules/common.ts),
 * any rule's logic, and signed-message formats (approvals.ts).
 */
import { CborValue, Context, Evidence, Kind, context, evidence, now, params } from "./capsule";
import { durationMs } from "./calendar";
import { equalsIgnoreAsciiCase, fail, formatTime, parseTime, str, unhexBytes } from "./util";

/**
 * Where a rule runs: inputs, the params path for messages, and its state-key prefix. The context and
 * evidence are decoded on first use (and once), so a rule that needs neither pays no fuel for them.
 * Names and paths are built on first use too: string concatenation costs fuel (about 1 200 units
 * each, ABI.md §6 charges the copy loops), and most evaluations never print a params path.
 */
export class Scope {
  /** The evaluation time, milliseconds since the epoch (as `now()`). */
  now: i64;
  private up: Scope | null = null;
  /** sub(): the appended name; item(): "". */
  private seg: string = "";
  /** item(): the index; sub(): -1. */
  private index: i32 = -1;
  private nameText: string | null = null;
  private pathText: string | null = null;

  constructor(now: i64, name: string, path: string) {
    this.now = now;
    this.nameText = name;
    this.pathText = path;
  }

  private static child(parent: Scope, seg: string, index: i32): Scope {
    const c = new Scope(parent.now, "", "");
    c.nameText = null;
    c.pathText = null;
    c.up = parent;
    c.seg = seg;
    c.index = index;
    return c;
  }

  /** Params path for error messages: "params" or e.g. "params.all[1].expiry". */
  get name(): string {
    if (this.nameText === null) {
      const up = this.up!;
      this.nameText = this.index < 0 ? up.name + "." + this.seg : up.name + "[" + this.index.toString() + "]";
    }
    return this.nameText!;
  }

  /** Index path inside a policy ("" at the root, "1", "1.0", …). */
  get path(): string {
    if (this.pathText === null) {
      const up = this.up!;
      const p = up.path;
      this.pathText = this.index < 0 ? p : p.length == 0 ? this.index.toString() : p + "." + this.index.toString();
    }
    return this.pathText!;
  }

  get ctx(): Context { return context(); }
  get evidence(): Evidence[] { return evidence(); }

  /** A state key private to this rule: `name` at the root, "<path>:<name>" inside a policy. */
  key(name: string): string {
    const p = this.path;
    return p.length == 0 ? name : p + ":" + name;
  }

  /** The scope of a sub-rule: `name` appended to the params path. */
  sub(name: string): Scope {
    return Scope.child(this, name, -1);
  }

  /** The scope of item `i` of an all/any list. */
  item(i: i32): Scope {
    return Scope.child(this, "", i);
  }

  what(key: string): string { return this.name + "." + key; }
}

/** The scope of a standalone contract (state keys unprefixed). */
export function rootScope(): Scope {
  return new Scope(now(), "params", "");
}

let root: Scope | null = null;

/** The root scope, made once: the default Scope of every helper here. */
export function paramsScope(): Scope {
  if (root === null) root = rootScope();
  return root!;
}


// ---- params ----

/**
 * The params, which must be a map; traps otherwise ("<name>: this logic needs params<help>" when the
 * capsule has none).
 */
export function paramsMap(name: string = "policy", help: string = ""): CborValue {
  const p = params();
  if (p === null) fail(name + ": this logic needs params" + help);
  if (!p!.isMap()) fail("params: expected a map, found " + kindOf(p!));
  return p!;
}

/** "unsigned integer", "text string", "map", … for messages. */
export function kindOf(v: CborValue): string {
  const k = v.kind;
  return k == Kind.Uint ? "unsigned integer" : k == Kind.Nint ? "negative integer" : k == Kind.Bytes ? "byte string" :
    k == Kind.Text ? "text string" : k == Kind.Array ? "array" : k == Kind.Map ? "map" : k == Kind.Null ? "null" :
    k == Kind.Float ? "float" : "bool";
}

/** Traps unless `v` is a map whose keys are all text and listed in `known` (comma-separated). */
export function onlyKeys(v: CborValue, known: string, s: Scope = paramsScope()): void {
  if (!v.isMap()) fail(s.name + ": expected a map, found " + kindOf(v));
  const r = v.reader();
  const n = r.tryReadMapHeader();
  for (let i = 0; i < n; i++) {
    const k = r.tryReadTextBytes(); // keys compared in place: no strings, no split (fuel)
    if (k === null) fail(s.name + ": keys must be text strings");
    if (!listed(known, k!)) fail(s.what(str(k!)) + ": unknown parameter (expected " + known.replaceAll(",", ", ") + ")");
    r.trySkip();
  }
}

/** True iff the UTF-8 bytes `k` are one of the comma-separated ASCII names in `known`. */
function listed(known: string, k: Uint8Array): bool {
  const n = known.length;
  const q = changetype<usize>(known);
  let start = 0;
  while (start < n) {
    let end = start;
    while (end < n && load<u16>(q + (<usize>end << 1)) != 44) end++; // ','
    if (end - start == k.length) {
      let j = 0;
      while (j < k.length && <u32>load<u16>(q + (<usize>(start + j) << 1)) == <u32>k[j]) j++;
      if (j == k.length) return true;
    }
    start = end + 1;
  }
  return false;
}

/** p[key]; traps with "<path>.<key>: required" if absent. */
export function required(p: CborValue, key: string, s: Scope = paramsScope()): CborValue {
  const v = p.get(key);
  if (v === null) fail(s.what(key) + ": required");
  return v!;
}

/** A required unsigned integer (≤ 2^53 - 1). */
export function uintParam(p: CborValue, key: string, s: Scope = paramsScope()): i64 {
  const v = required(p, key, s);
  const n = v.tryAsUint();
  if (n < 0) v.asUint(s.what(key)); // traps naming the param (built only then: fuel)
  return n;
}

/** An optional unsigned integer; -1 if absent. */
export function optUintParam(p: CborValue, key: string, s: Scope = paramsScope()): i64 {
  return p.has(key) ? uintParam(p, key, s) : -1;
}

/** A required time: uint milliseconds since the epoch (as `now()` returns), or RFC 3339 UTC text. */
export function timeParam(p: CborValue, key: string, s: Scope = paramsScope()): i64 {
  const v = required(p, key, s);
  if (v.kind == Kind.Text) {
    const t = parseTime(v.tryAsString()!);
    if (t < 0) fail(s.what(key) + ": expected ms since the epoch or \"YYYY-MM-DDTHH:MM:SS[.sss]Z\"");
    return t;
  }
  const n = v.tryAsUint();
  if (n < 0) v.asUint(s.what(key));
  return n;
}

/** An optional time; -1 if absent. */
export function optTimeParam(p: CborValue, key: string, s: Scope = paramsScope()): i64 {
  return p.has(key) ? timeParam(p, key, s) : -1;
}

/**
 * A required duration in milliseconds: uint ms, or ISO 8601 text with a fixed length ("P1D",
 * "PT12H", "P2W"; not years or months, which have none — see calendar.ts).
 */
export function durationParam(p: CborValue, key: string, s: Scope = paramsScope()): i64 {
  const v = required(p, key, s);
  if (v.kind == Kind.Text) return durationMs(v.tryAsString()!, s.what(key));
  const n = v.tryAsUint();
  if (n < 0) v.asUint(s.what(key));
  return n;
}

/** An optional duration (as durationParam); -1 if absent. */
export function optDurationParam(p: CborValue, key: string, s: Scope = paramsScope()): i64 {
  return p.has(key) ? durationParam(p, key, s) : -1;
}

/** `len` bytes given as a byte string or hex text (either case, optional "0x"), or null. */
export function tryBytesValue(v: CborValue, len: i32): Uint8Array | null {
  let b: Uint8Array | null = null;
  const k = v.kind;
  if (k == Kind.Text) b = unhexBytes(v.tryAsTextBytes()!);
  else if (k == Kind.Bytes) b = v.tryAsBytes();
  return b !== null && b.length == len ? b : null;
}

/** `len` bytes, given as a byte string or hex text (either case, optional "0x"); traps naming `what`. */
export function bytesValue(v: CborValue, len: i32, what: string): Uint8Array {
  const b = tryBytesValue(v, len);
  if (b === null) fail(what + ": expected " + len.toString() + " bytes (byte string or hex text)");
  return b!;
}

/** A text item of a list, trapping with "<s>.<key>[<i>]: …" (built only then) if it is not text. */
export function listText(v: CborValue, key: string, i: i32, s: Scope = paramsScope()): string {
  const t = v.tryAsString();
  if (t === null) v.asString(s.what(key) + "[" + i.toString() + "]");
  return t!;
}

/** A required non-empty array of text strings. */
export function textListParam(p: CborValue, key: string, s: Scope = paramsScope()): string[] {
  const v = required(p, key, s);
  if (!v.isArray()) fail(s.what(key) + ": expected an array of text strings, found " + kindOf(v));
  const items = v.items();
  if (items.length == 0) fail(s.what(key) + ": must not be empty");
  const out = new Array<string>(items.length);
  for (let i = 0; i < items.length; i++) out[i] = listText(items[i], key, i, s);
  return out;
}

// ---- readable values ----

/** Age recipients are bech32: compared case-insensitively. */
export function sameRecipient(a: string, b: string): bool {
  return equalsIgnoreAsciiCase(a, b);
}

/** "<ms> (<RFC 3339>)" for reasons, e.g. "1893456000000 (2030-01-01T00:00:00Z)"; `ms` is milliseconds since the epoch. */
export function when(ms: i64): string {
  return ms.toString() + " (" + formatTime(ms) + ")";
}
