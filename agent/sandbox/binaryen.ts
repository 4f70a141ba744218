/**
 * The one place that touches Binaryen (binaryen.js, the same build assemblyscript ships): loading a
 * module for inspection or rewriting, with its validator's diagnostics captured instead of printed.
 *
 * Deliberately not here: policy (validate.ts decides what is allowed, meter.ts what to rewrite).
 */
import binaryen from 'binaryen';

export { binaryen };

/**
 * Features a capsule_v1 module may use (contracts-as/ABI.md §1). Bulk memory is not among them:
 * memory.fill/copy/init do work proportional to a run-time size that static fuel cannot price.
 */
export const ALLOWED_FEATURES =
  binaryen.Features.MVP | binaryen.Features.MutableGlobals | binaryen.Features.SignExt | binaryen.Features.Multivalue | binaryen.Features.NontrappingFPToInt;

/**
 * Runs `fn` with process stdout/stderr writes captured: Binaryen's validator reports problems by
 * printing, and the agent's output must stay clean. Returns fn's result and what was printed.
 */
export function quietly<T>(fn: () => T): { value: T; printed: string } {
  const out = process.stdout.write;
  const err = process.stderr.write;
  let printed = '';
  const capture = ((chunk: string | Uint8Array) => {
    printed += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    return true;
  }) as typeof process.stdout.write;
  process.stdout.write = capture;
  process.stderr.write = capture;
  try {
    return { value: fn(), printed };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
}

/**
 * Reads a binary (already accepted by V8) into a Binaryen module with `features` enabled. Passes
 * honour the feature set (e.g. `denan` adds SIMD helpers if SIMD is on), so rewriting uses
 * ALLOWED_FEATURES; validation reads with All and then checks against ALLOWED_FEATURES.
 */
export function readModule(bytes: Uint8Array, features: number = binaryen.Features.All): binaryen.Module {
  const m = quietly(() => binaryen.readBinary(withoutCustomSections(bytes))).value;
  m.setFeatures(features);
  return m;
}

/**
 * The binary without its custom sections (id 0: names, producers, DWARF, anything). They carry no
 * semantics (the Wasm spec makes their errors non-fatal, and V8 ignores a malformed one), so
 * validation and metering do not need them, and Binaryen's parsers for them never see hostile
 * bytes: a garbage `name` section made binaryen.readBinary abort and leak its heap (issue 18 D10).
 * Input that is not a well-formed section sequence is returned unchanged (V8 has refused it before
 * this runs).
 */
export function withoutCustomSections(bytes: Uint8Array): Uint8Array {
  if (bytes.length < 8) return bytes;
  const keep: Array<[number, number]> = [[0, 8]];
  let dropped = false;
  let at = 8;
  while (at < bytes.length) {
    const start = at;
    const id = bytes[at++]!;
    let size = 0;
    for (let shift = 0; ; shift += 7) {
      if (at >= bytes.length || shift > 28) return bytes;
      const b = bytes[at++]!;
      size += (b & 0x7f) * 2 ** shift;
      if (!(b & 0x80)) break;
    }
    const end = at + size;
    if (end > bytes.length) return bytes;
    if (id === 0) dropped = true;
    else keep.push([start, end]);
    at = end;
  }
  if (!dropped) return bytes;
  const out = new Uint8Array(keep.reduce((n, [a, b]) => n + b - a, 0));
  let o = 0;
  for (const [a, b] of keep) {
    out.set(bytes.subarray(a, b), o);
    o += b - a;
  }
  return out;
}
