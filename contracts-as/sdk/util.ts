/**
 * Small guest-side helpers the SDK and contracts share (re-exporting sdk/text.ts): the trap-with-reason
 * convention (`fail`), hex, byte comparison, strict decimal parsing, 8-byte big-endian i64 for
 * state values, and RFC 3339 UTC timestamps <-> ms since the epoch (for readable reasons and for
 * params written as dates).
 *
 * Deliberately not here: host calls other than set_reason (sdk/capsule.ts), CBOR (sdk/cbor.ts), time
 * zones or leap seconds (timestamps are UTC "Z" only, like the evaluation time itself), and any
 * allocation strategy (the stub runtime never frees; a policy runs once and is discarded).
 */
import { set_reason } from "./env";
import { str, truncateUtf8, utf8 } from "./text";

export * from "./text";

/** The host's default maxReasonBytes (ABI.md §5): longer reasons are cut to fit. */
export const MAX_REASON_BYTES: i32 = 256;

/** Sets the verdict reason, cut to MAX_REASON_BYTES so a long reason cannot end the evaluation. */
export function setReason(s: string): void {
  const b = truncateUtf8(utf8(s), MAX_REASON_BYTES);
  set_reason(b.dataStart, <usize>b.length);
}

/**
 * Ends the evaluation with an error: sets `msg` as the reason, then traps. The host reports a
 * trap as ERR_TRAP and never as an allow. Callers write `fail(…); return <anything>;`.
 */
export function fail(msg: string): void {
  setReason(msg);
  unreachable();
}

const HEX = "0123456789abcdef";

/** Lowercase hex of `b`. */
export function hex(b: Uint8Array): string {
  const n = b.length;
  const out = changetype<string>(__new(<usize>n << 2, idof<string>()));
  const q = changetype<usize>(out);
  const h = changetype<usize>(HEX);
  const p = b.dataStart;
  for (let i = 0; i < n; i++) {
    const x = <usize>load<u8>(p + <usize>i);
    store<u32>(q + (<usize>i << 2), <u32>load<u16>(h + ((x >> 4) << 1)) | (<u32>load<u16>(h + ((x & 15) << 1)) << 16));
  }
  return out;
}

/** Value of a hex digit (either case), or a value ≥ 16 if `c` is not one. */
// @ts-ignore: decorator
@inline function nibble(c: u32): u32 {
  const d = c - 48; // '0'..'9' → 0..9
  const l = (c | 32) - 97; // 'a'..'f' / 'A'..'F' → 0..5
  return d < 10 ? d : l < 6 ? l + 10 : 16;
}

/** Bytes of hex text (either case, optional "0x") given as UTF-8 bytes, or null if not hex. */
export function unhexBytes(b: Uint8Array): Uint8Array | null {
  const p = b.dataStart;
  let start = 0;
  if (b.length >= 2 && load<u8>(p) == 48 && (load<u8>(p, 1) | 32) == 120) start = 2;
  const n = b.length - start;
  if (n & 1) return null;
  const out = new Uint8Array(n >> 1);
  const o = out.dataStart;
  let bad: u32 = 0;
  for (let i = 0; i < n >> 1; i++) {
    const q = p + <usize>(start + (i << 1));
    const hi = nibble(<u32>load<u8>(q));
    const lo = nibble(<u32>load<u8>(q, 1));
    bad |= hi | lo;
    store<u8>(o + <usize>i, <u8>((hi << 4) | lo));
  }
  return bad < 16 ? out : null;
}

/** Bytes of a hex string (either case, optional "0x"), or null if it is not hex. */
export function unhex(s: string): Uint8Array | null {
  return unhexBytes(utf8(s));
}

/** Largest integer JSON (and so a --params number) carries exactly: 2^53 - 1. */
export const MAX_SAFE_INTEGER: i64 = 9007199254740991;

/**
 * Strict decimal in b[start, end): digits only, no sign, no leading zero (except "0" itself), at
 * most MAX_SAFE_INTEGER. Returns -1 if not.
 */
export function parseDecimal(b: Uint8Array, start: i32, end: i32): i64 {
  if (start >= end || end > b.length || end - start > 16) return -1;
  if (b[start] == 48 && end - start > 1) return -1;
  let v: i64 = 0;
  for (let i = start; i < end; i++) {
    const d = <i32>b[i] - 48;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v <= MAX_SAFE_INTEGER ? v : -1;
}

/** 8-byte big-endian encoding of `v` (how the SDK stores integers in state). */
export function i64ToBytes(v: i64): Uint8Array {
  const out = new Uint8Array(8);
  for (let i = 7; i >= 0; i--) {
    out[i] = <u8>(v & 0xff);
    v >>= 8;
  }
  return out;
}

/** Inverse of i64ToBytes; the caller checks the length is 8. */
export function bytesToI64(b: Uint8Array): i64 {
  let v: i64 = 0;
  for (let i = 0; i < 8; i++) v = (v << 8) | <i64>b[i];
  return v;
}

// ---- RFC 3339 UTC timestamps (proleptic Gregorian, H. Hinnant's civil-date algorithms) ----

function daysFromCivil(y: i64, m: i64, d: i64): i64 {
  y -= m <= 2 ? 1 : 0;
  const era = (y >= 0 ? y : y - 399) / 400;
  const yoe = y - era * 400;
  const doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

function pad(v: i64, width: i32): string {
  let s = v.toString();
  while (s.length < width) s = "0" + s;
  return s;
}

/** `ms` (≥ 0) as "YYYY-MM-DDTHH:MM:SSZ", with ".mmm" when not a whole second. */
export function formatTime(ms: i64): string {
  const days = ms / 86400000;
  const rest = ms % 86400000;
  const z = days + 719468;
  const era = z / 146097;
  const doe = z - era * 146097;
  const yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const mp = (5 * doy + 2) / 153;
  const d = doy - (153 * mp + 2) / 5 + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  let s = pad(y, 4) + "-" + pad(m, 2) + "-" + pad(d, 2) + "T" + pad(rest / 3600000, 2) + ":" +
    pad((rest / 60000) % 60, 2) + ":" + pad((rest / 1000) % 60, 2);
  if (rest % 1000 != 0) s += "." + pad(rest % 1000, 3);
  return s + "Z";
}

function digits(s: string, at: i32, n: i32): i64 {
  let v: i64 = 0;
  for (let i = at; i < at + n; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

/**
 * "YYYY-MM-DDTHH:MM:SS[.sss]Z" (UTC only, year 1970..9999, "T" and "Z" in either case) to ms since
 * the epoch; -1 if it is not exactly that shape or not a real date.
 */
export function parseTime(s: string): i64 {
  const n = s.length;
  if (n != 20 && n != 24) return -1;
  if (s.charCodeAt(4) != 45 || s.charCodeAt(7) != 45 || (s.charCodeAt(10) | 32) != 116 ||
      s.charCodeAt(13) != 58 || s.charCodeAt(16) != 58 || (s.charCodeAt(n - 1) | 32) != 122) return -1;
  const y = digits(s, 0, 4), mo = digits(s, 5, 2), d = digits(s, 8, 2);
  const h = digits(s, 11, 2), mi = digits(s, 14, 2), sec = digits(s, 17, 2);
  let frac: i64 = 0;
  if (n == 24) {
    if (s.charCodeAt(19) != 46) return -1;
    frac = digits(s, 20, 3);
  }
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59 || frac < 0) return -1;
  const leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  const dim: i64 = mo == 2 ? (leap ? 29 : 28) : (mo == 4 || mo == 6 || mo == 9 || mo == 11) ? 30 : 31;
  if (d > dim) return -1;
  return ((daysFromCivil(y, mo, d) * 24 + h) * 60 + mi) * 60000 + sec * 1000 + frac;
}
