/**
 * The friendly guest API over `capsule_v1` (ABI.md), convention as in near-sdk-as / graph-ts:
 * `x()` traps on failure (after setting the failure as the reason, so an error is never an allow),
 * `tryX()` returns null (and `lastError()` says why) instead. Provides: the evaluation time, the
 * context, params and evidence inputs (decoded with sdk/cbor.ts), reason and logs, per-capsule
 * state (bytes, strings, i64 as 8-byte big-endian), Ed25519 / EIP-191 verification, and
 * `allow()` / `deny()` for the verdict.
 *
 * Deliberately not here: policy rules (contracts/rules), and any caching of state (every state call
 * goes to the host, which keeps the working copy). Inputs are read once and kept for the run.
 */
import * as env from "./env";
import { CborReader } from "./cbor";
import { CborValue, lastParseError } from "./cbor-value";
import { bytesToI64, fail, i64ToBytes, setReason, str, truncateUtf8, utf8 } from "./util";

export { CborReader, Kind } from "./cbor";
export { CborValue } from "./cbor-value";

let error: string | null = null;

/** Why the last tryX() returned null. */
export function lastError(): string | null { return error; }

/** The evaluation time, ms since the epoch (an input; not a clock). */
export function now(): i64 {
  return env.now_ms();
}

// ---- inputs ----

/** The raw bytes of input `which` (env.INPUT_*), or null if absent. */
export function readInput(which: i32): Uint8Array | null {
  const size = env.input_size(which);
  if (size < 0) return null;
  const buf = new Uint8Array(size);
  env.input_read(which, buf.dataStart, <usize>size);
  return buf;
}

export class Capsule {
  id: Uint8Array = new Uint8Array(0);
  /** Creation time in seconds since the epoch, as in the header. */
  created: i64 = 0;
  /** The owner's Ed25519 public key, if the capsule is signed. */
  owner: Uint8Array | null = null;
  /** SHA-256 of the logic module. */
  logic: Uint8Array = new Uint8Array(0);
  size: i64 = 0;
  digest: Uint8Array = new Uint8Array(0);
}

export class Context {
  now: i64 = 0;
  /** The requester's age recipient (age1…). */
  requester: string = "";
  capsule: Capsule = new Capsule();
  /**
   * The requester proved possession of its identity (ABI.md §4.1 "authenticated"); false when the
   * context has no such key (offline runs, older records).
   */
  authenticated: bool = false;
  /**
   * The context's "request" item of a wallet signing decision (ABI.md §4.2), not yet decoded; null
   * for every other decision. Decode it with sdk/wallet.ts `request()`.
   */
  request: CborValue | null = null;
}

let ctx: Context | null = null;

/** A byte string of exactly `len` bytes at `r` (error recorded in `r` otherwise). */
function fixedBytes(r: CborReader, len: i32): Uint8Array {
  const b = r.tryReadBytes();
  if (b === null) return new Uint8Array(0);
  if (b.length != len) r.setError("expected a " + len.toString() + "-byte string, found " + b.length.toString() + " bytes");
  return b;
}

/** Reads the context's "capsule" map in one pass; false (error in `r`) if a field is missing. */
function readCapsule(r: CborReader, cap: Capsule): bool {
  const n = r.tryReadMapHeader();
  let seen = 0;
  for (let i = 0; i < n; i++) {
    if (!r.tryReadKey()) return false;
    if (r.keyIs("id")) { cap.id = fixedBytes(r, 16); seen |= 1; }
    else if (r.keyIs("created")) { cap.created = <i64>r.tryReadUint(); seen |= 2; }
    else if (r.keyIs("owner")) {
      if (r.isNull()) r.tryReadNull();
      else cap.owner = fixedBytes(r, 32);
      seen |= 4;
    }
    else if (r.keyIs("logic")) { cap.logic = fixedBytes(r, 32); seen |= 8; }
    else if (r.keyIs("size")) { cap.size = <i64>r.tryReadUint(); seen |= 16; }
    else if (r.keyIs("digest")) { cap.digest = fixedBytes(r, 32); seen |= 32; }
    else r.trySkip();
  }
  if (seen != 63) r.setError("capsule needs id, created, owner, logic, size and digest");
  return r.ok;
}

/** The decoded context input, or null (see lastError) if it is absent or malformed. */
export function tryContext(): Context | null {
  if (ctx !== null) return ctx;
  const raw = readInput(env.INPUT_CONTEXT);
  if (raw === null) { error = "context: absent"; return null; }
  if (CborValue.tryParse(raw) === null) { error = "context: " + lastParseError()!; return null; }
  const c = new Context();
  const r = new CborReader(raw, 0, -1, false); // validated above: one pass, no re-checks
  const n = r.tryReadMapHeader();
  let seen = 0;
  for (let i = 0; i < n; i++) {
    if (!r.tryReadKey()) break;
    if (r.keyIs("now")) { c.now = <i64>r.tryReadUint(); seen |= 1; }
    else if (r.keyIs("requester")) {
      const t = r.tryReadText();
      if (t !== null) c.requester = t;
      seen |= 2;
    }
    else if (r.keyIs("capsule")) { readCapsule(r, c.capsule); seen |= 4; }
    else if (r.keyIs("authenticated")) c.authenticated = r.tryReadBool();
    else if (r.keyIs("request")) { c.request = new CborValue(raw, r.pos); r.trySkip(); }
    else r.trySkip();
  }
  if (r.ok && seen != 7) r.setError("needs now, requester and capsule");
  if (!r.ok) { error = "context: " + r.error!; return null; }
  error = null;
  ctx = c;
  return c;
}

/** The decoded context; traps if malformed. */
export function context(): Context {
  const c = tryContext();
  if (c === null) fail(error!);
  return c!;
}

/** Shorthand for context().authenticated: the requester proved possession of its identity. */
export function authenticated(): bool {
  return context().authenticated;
}

/** Shorthand for context().requester. */
export function requester(): string {
  return context().requester;
}

let paramsRead = false;
let paramsValue: CborValue | null = null;

/** The params item (null if the capsule has none); traps if it is malformed. */
export function params(): CborValue | null {
  if (!paramsRead) {
    const raw = readInput(env.INPUT_PARAMS);
    paramsValue = raw === null ? null : CborValue.parse(raw, "params");
    paramsRead = true;
  }
  return paramsValue;
}

/** The params item, or null if absent or malformed (lastError() is set only if malformed). */
export function tryParams(): CborValue | null {
  if (paramsRead) return paramsValue;
  error = null;
  const raw = readInput(env.INPUT_PARAMS);
  let v: CborValue | null = null;
  if (raw !== null) {
    v = CborValue.tryParse(raw);
    if (v === null) { error = "params: " + lastParseError()!; return null; }
  }
  paramsRead = true; // absent or valid: remember it
  paramsValue = v;
  return v;
}

export class Evidence {
  /** "approval" or "checkin" (other values are passed through). */
  kind: string = "";
  /** "ed25519" or "eip191". */
  scheme: string = "";
  /** 32-byte Ed25519 key or 20-byte address, as claimed (verify before relying on it). */
  signer: Uint8Array = new Uint8Array(0);
  message: Uint8Array = new Uint8Array(0);
  signature: Uint8Array = new Uint8Array(0);
}

let evidenceList: Evidence[] | null = null;

/** The evidence items, or null (see lastError) if the input is malformed. */
export function tryEvidence(): Evidence[] | null {
  if (evidenceList !== null) return evidenceList;
  const raw = readInput(env.INPUT_EVIDENCE);
  const out = new Array<Evidence>();
  if (raw === null) { evidenceList = out; return out; }
  if (CborValue.tryParse(raw) === null) { error = "evidence: " + lastParseError()!; return null; }
  const r = new CborReader(raw, 0, -1, false);
  const n = r.tryReadArrayHeader();
  for (let i = 0; i < n && r.ok; i++) {
    const e = new Evidence();
    const m = r.tryReadMapHeader();
    let seen = 0;
    for (let j = 0; j < m && r.ok; j++) {
      if (!r.tryReadKey()) break;
      if (r.keyIs("kind")) { const t = r.tryReadText(); if (t !== null) e.kind = t; seen |= 1; }
      else if (r.keyIs("scheme")) { const t = r.tryReadText(); if (t !== null) e.scheme = t; seen |= 2; }
      else if (r.keyIs("signer")) { const b = r.tryReadBytes(); if (b !== null) e.signer = b; seen |= 4; }
      else if (r.keyIs("message")) { const b = r.tryReadBytes(); if (b !== null) e.message = b; seen |= 8; }
      else if (r.keyIs("signature")) { const b = r.tryReadBytes(); if (b !== null) e.signature = b; seen |= 16; }
      else r.trySkip();
    }
    if (r.ok && seen != 31) r.setError("evidence[" + i.toString() + "] needs kind, scheme (text) and signer, message, signature (bytes)");
    out.push(e);
  }
  if (r.ok && n < 0) r.setError("not an array");
  if (!r.ok) { error = "evidence: " + r.error!; return null; }
  evidenceList = out;
  return out;
}

/** The evidence items (empty if none); traps if the input is malformed. */
export function evidence(): Evidence[] {
  const v = tryEvidence();
  if (v === null) fail(error!);
  return v!;
}

// ---- reason, logs, verdict ----

/** Sets the reason for the verdict (cut to 256 bytes); the last call wins. */
export function reason(s: string): void {
  setReason(s);
}

/** Host default limits for logs (ABI.md §5); lines past them are dropped rather than failing. */
const MAX_LOG_LINES: i32 = 64;
const MAX_LOG_BYTES: i32 = 4096;
let logLines: i32 = 0;
let logBytes: i32 = 0;

/** Appends a log line; silently drops lines beyond the default log limits. */
export function log(s: string): void {
  if (logLines >= MAX_LOG_LINES) return;
  const b = truncateUtf8(utf8(s), MAX_LOG_BYTES - logBytes);
  if (b.length == 0 && s.length > 0) return;
  logLines++;
  logBytes += b.length;
  env.log(b.dataStart, <usize>b.length);
}

/** Sets the reason and returns 1, for `return allow("…")` from decide(). */
export function allow(why: string = "allowed"): i32 {
  setReason(why);
  return 1;
}

/** Sets the reason and returns 0, for `return deny("…")` from decide(). */
export function deny(why: string): i32 {
  setReason(why);
  return 0;
}

// ---- state ----

/** The host's default maxStateKeyBytes. */
export const MAX_STATE_KEY_BYTES: i32 = 64;

function keyBytes(key: string): Uint8Array {
  const k = utf8(key);
  if (k.length > MAX_STATE_KEY_BYTES) fail("state key \"" + key + "\" is longer than 64 bytes");
  return k;
}

/** The value stored under `key`, or null. */
export function stateGet(key: string): Uint8Array | null {
  const k = keyBytes(key);
  const size = env.state_get(k.dataStart, <usize>k.length, 0, 0);
  if (size < 0) return null;
  const buf = new Uint8Array(size);
  env.state_get(k.dataStart, <usize>k.length, buf.dataStart, <usize>size);
  return buf;
}

/** Stores `value` under `key` (kept only if the evaluation ends with a verdict). */
export function stateSet(key: string, value: Uint8Array): void {
  const k = keyBytes(key);
  env.state_set(k.dataStart, <usize>k.length, value.dataStart, <usize>value.length);
}

export function stateDelete(key: string): void {
  const k = keyBytes(key);
  env.state_delete(k.dataStart, <usize>k.length);
}

/** An i64 stored with stateSetI64, or `fallback` if absent; traps if the value is not 8 bytes. */
export function stateGetI64(key: string, fallback: i64): i64 {
  const v = stateGet(key);
  if (v === null) return fallback;
  if (v.length != 8) fail("state \"" + key + "\": expected 8 bytes, found " + v.length.toString());
  return bytesToI64(v);
}

/** As stateGetI64, but returns `fallback` for a value that is not 8 bytes too. */
export function tryStateGetI64(key: string, fallback: i64): i64 {
  const v = stateGet(key);
  return v === null || v.length != 8 ? fallback : bytesToI64(v);
}

/** Stores `v` as 8 bytes, big-endian. */
export function stateSetI64(key: string, v: i64): void {
  stateSet(key, i64ToBytes(v));
}

export function stateGetString(key: string): string | null {
  const v = stateGet(key);
  return v === null ? null : str(v);
}

export function stateSetString(key: string, v: string): void {
  stateSet(key, utf8(v));
}

// ---- signatures ----

/** True iff `sig` is a valid Ed25519 signature of `msg` by `key` (false for wrong lengths). */
export function verifyEd25519(msg: Uint8Array, sig: Uint8Array, key: Uint8Array): bool {
  return env.verify_ed25519(msg.dataStart, <usize>msg.length, sig.dataStart, <usize>sig.length,
    key.dataStart, <usize>key.length) == 1;
}

/** True iff `sig` (65 bytes r ‖ s ‖ v) is an EIP-191 personal_sign of `msg` by the 20-byte `addr`. */
export function verifyEip191(msg: Uint8Array, sig: Uint8Array, addr: Uint8Array): bool {
  return env.verify_eip191(msg.dataStart, <usize>msg.length, sig.dataStart, <usize>sig.length,
    addr.dataStart, <usize>addr.length) == 1;
}
