/**
 * UTF-8 and byte helpers shaped for the fuel meter (ABI.md §6 charges a loop body per iteration, so
 * the ASCII paths move 4 or 8 characters per step): string <-> UTF-8 with ASCII fast paths, strict
 * RFC 3629 validation, byte and case-insensitive comparisons, and cutting UTF-8 to a byte budget.
 *
 * Deliberately not here: Unicode case folding or normalisation (only ASCII case is folded), and any
 * host call.
 */

/** The UTF-8 bytes of `s` (fast path when `s` is ASCII). */
export function utf8(s: string): Uint8Array {
  const n = s.length;
  const q = changetype<usize>(s);
  let i = 0;
  while (i + 4 <= n && (load<u64>(q + (<usize>i << 1)) & 0xff80ff80ff80ff80) == 0) i += 4;
  while (i < n && load<u16>(q + (<usize>i << 1)) < 0x80) i++;
  if (i < n) return Uint8Array.wrap(String.UTF8.encode(s));
  const out = new Uint8Array(n);
  const p = out.dataStart;
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    const x = load<u64>(q + (<usize>j << 1)); // 4 × u16 → 4 × u8
    store<u32>(p + <usize>j, <u32>((x & 0xff) | ((x >> 8) & 0xff00) | ((x >> 16) & 0xff0000) | ((x >> 24) & 0xff000000)));
  }
  for (; j < n; j++) store<u8>(p + <usize>j, <u8>load<u16>(q + (<usize>j << 1)));
  return out;
}

/** Decodes UTF-8 bytes (callers validate first where it matters; see cbor.ts); ASCII fast path. */
export function str(b: Uint8Array): string {
  const n = b.length;
  const p = b.dataStart;
  if (asciiPrefix(p, n) < n) return String.UTF8.decodeUnsafe(p, <usize>n);
  const out = changetype<string>(__new(<usize>n << 1, idof<string>()));
  const q = changetype<usize>(out);
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    const x = <u64>load<u32>(p + <usize>j); // 4 × u8 → 4 × u16
    store<u64>(q + (<usize>j << 1), (x & 0xff) | ((x & 0xff00) << 8) | ((x & 0xff0000) << 16) | ((x & 0xff000000) << 24));
  }
  for (; j < n; j++) store<u16>(q + (<usize>j << 1), load<u8>(p + <usize>j));
  return out;
}

/** True iff the UTF-8 bytes `b` spell `s` (no allocation when `s` is ASCII). */
export function bytesEqualString(b: Uint8Array, s: string): bool {
  const n = s.length;
  if (b.length < n) return false;
  const q = changetype<usize>(s);
  const p = b.dataStart;
  let i = 0;
  while (i < n && <u32>load<u16>(q + (<usize>i << 1)) == <u32>load<u8>(p + <usize>i)) i++;
  if (i == n) return b.length == n;
  if (load<u16>(q + (<usize>i << 1)) < 0x80) return false; // an ASCII mismatch
  return bytesEqual(b, utf8(s));
}

/** `b` cut to at most `max` bytes on a UTF-8 character boundary, with "…" when cut. */
export function truncateUtf8(b: Uint8Array, max: i32): Uint8Array {
  if (b.length <= max) return b;
  if (max < 3) return new Uint8Array(0);
  let n = max - 3;
  while (n > 0 && (b[n] & 0xc0) == 0x80) n--; // do not split a multi-byte character
  const out = new Uint8Array(n + 3);
  memory.copy(out.dataStart, b.dataStart, <usize>n);
  out[n] = 0xe2; out[n + 1] = 0x80; out[n + 2] = 0xa6; // U+2026
  return out;
}

/** Byte equality (public data: not constant-time); compares 8 bytes per step. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): bool {
  return a.length == b.length && rangeEqual(a.dataStart, b.dataStart, a.length);
}

/** True iff the `n` bytes at `p` and `q` are equal. */
export function rangeEqual(p: usize, q: usize, n: i32): bool {
  let i = 0;
  while (i + 8 <= n && load<u64>(p + <usize>i) == load<u64>(q + <usize>i)) i += 8;
  while (i < n && load<u8>(p + <usize>i) == load<u8>(q + <usize>i)) i++;
  return i == n;
}

/** Index of the first non-ASCII byte in [p, p + n), or n; 8 bytes per step. */
export function asciiPrefix(p: usize, n: i32): i32 {
  let i = 0;
  while (i + 8 <= n && (load<u64>(p + <usize>i) & 0x8080808080808080) == 0) i += 8;
  while (i < n && load<u8>(p + <usize>i) < 0x80) i++;
  return i;
}

/** True iff `b` starts with `prefix`. */
export function startsWith(b: Uint8Array, prefix: Uint8Array): bool {
  return b.length >= prefix.length && rangeEqual(b.dataStart, prefix.dataStart, prefix.length);
}

/** ASCII-lowercased copy of `s`. */
export function asciiLower(s: string): string {
  const b = utf8(s);
  for (let i = 0; i < b.length; i++) {
    const c = b[i];
    if (c >= 65 && c <= 90) b[i] = c + 32;
  }
  return str(b);
}

/** True iff `a` and `b` are equal ignoring ASCII case (e.g. age recipients, which are bech32). */
export function equalsIgnoreAsciiCase(a: string, b: string): bool {
  const n = a.length;
  if (n != b.length) return false;
  const p = changetype<usize>(a), q = changetype<usize>(b);
  let i = 0;
  while (i < n) {
    while (i + 4 <= n && load<u64>(p + (<usize>i << 1)) == load<u64>(q + (<usize>i << 1))) i += 4;
    if (i >= n) break;
    let x = <u32>load<u16>(p + (<usize>i << 1)), y = <u32>load<u16>(q + (<usize>i << 1));
    if (x - 65 < 26) x += 32;
    if (y - 65 < 26) y += 32;
    if (x != y) return false;
    i++;
  }
  return true;
}

/** RFC 3629 UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF. */
export function validUtf8(d: Uint8Array, from: i32, to: i32): bool {
  const i = from + asciiPrefix(d.dataStart + <usize>from, to - from); // ASCII: 8 bytes per step
  return i == to || validUtf8Tail(d, i, to);
}

function validUtf8Tail(d: Uint8Array, from: i32, to: i32): bool {
  let i = from;
  while (i < to) {
    const c = <i32>d[i];
    if (c < 0x80) { i++; continue; }
    let n = 0, min = 0, cp = 0;
    if ((c & 0xe0) == 0xc0) { n = 1; min = 0x80; cp = c & 0x1f; }
    else if ((c & 0xf0) == 0xe0) { n = 2; min = 0x800; cp = c & 0x0f; }
    else if ((c & 0xf8) == 0xf0) { n = 3; min = 0x10000; cp = c & 0x07; }
    else return false;
    if (i + n >= to) return false; // truncated sequence
    for (let j = 1; j <= n; j++) {
      const cc = <i32>d[i + j];
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += n + 1;
  }
  return true;
}
