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
  binaryen.Features.MVP | binaryen.Features.MutableGlobals | binaryen.Features.SignExt |
  binaryen.Features.Multivalue | binaryen.Features.NontrappingFPToInt;

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
  const m = quietly(() => binaryen.readBinary(bytes)).value;
  m.setFeatures(features);
  return m;
}
