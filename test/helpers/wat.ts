/**
 * Compiles WebAssembly text for tests with Binaryen's parser (all features on, so hostile fixtures
 * can use anything; the sandbox decides what is allowed).
 */
import { binaryen, quietly } from '../../agent/sandbox/binaryen.ts';

/** `names`: keep the name section (internal names of functions and globals), as toolchains do. */
export function wat(text: string, options: { names?: boolean } = {}): Uint8Array {
  const m = quietly(() => binaryen.parseText(text)).value;
  const debug = binaryen.getDebugInfo();
  try {
    m.setFeatures(binaryen.Features.All);
    binaryen.setDebugInfo(options.names === true);
    return m.emitBinary();
  } finally {
    binaryen.setDebugInfo(debug);
    m.dispose();
  }
}

/** A well-behaved policy: allow iff now_ms ≥ 1000, with a reason, a log line and a state write. */
export const GOOD_POLICY = `
(module
  (import "capsule_v1" "now_ms" (func $now (result i64)))
  (import "capsule_v1" "set_reason" (func $reason (param i32 i32)))
  (import "capsule_v1" "log" (func $log (param i32 i32)))
  (import "capsule_v1" "state_set" (func $set (param i32 i32 i32 i32)))
  (memory (export "memory") 1 1)
  (data (i32.const 0) "too early")
  (data (i32.const 16) "key")
  (func (export "decide") (result i32)
    (call $log (i32.const 0) (i32.const 3))
    (call $set (i32.const 16) (i32.const 3) (i32.const 0) (i32.const 3))
    (if (result i32) (i64.ge_u (call $now) (i64.const 1000))
      (then (i32.const 1))
      (else (call $reason (i32.const 0) (i32.const 9)) (i32.const 0)))))`;
