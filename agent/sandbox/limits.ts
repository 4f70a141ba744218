/**
 * Sandbox limits (contracts-as/ABI.md §5): every one an option with a documented default, checked
 * at the boundary with a message naming the option.
 */
export interface Limits {
  fuel: number;
  /**
   * Guest call stack budget in frame units (ABI.md §5): each running guest function holds its
   * frame weight, 1 + ⌈(3·params + locals + operand stack height) / 4⌉; one unit stands for at
   * most ~55 bytes of V8 stack. The default (≈ 280 KB at worst) stays well inside the smallest
   * native stack any path runs on (the CLI's main thread, ~984 KB), so recursion ends with
   * ERR_LIMIT at the same depth everywhere and never with V8's stack overflow.
   */
  maxCallDepth: number;
  maxMemoryPages: number;
  maxModuleBytes: number;
  maxTableElements: number;
  maxInputBytes: number;
  maxReasonBytes: number;
  maxLogBytes: number;
  maxLogLines: number;
  maxStateKeyBytes: number;
  maxStateValueBytes: number;
  maxStateBytes: number;
  maxStateKeys: number;
  timeoutMs: number;
  /**
   * Wall-clock limit on preparing a module (validate, meter, compile; worker mode), timed apart
   * from timeoutMs: done once per module and worker, it grows with the module's size, not with
   * what the logic does.
   */
  prepareTimeoutMs: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  fuel: 50_000_000,
  maxCallDepth: 5000,
  maxMemoryPages: 16,
  maxModuleBytes: 1024 * 1024,
  maxTableElements: 1024,
  maxInputBytes: 64 * 1024,
  maxReasonBytes: 256,
  maxLogBytes: 4096,
  maxLogLines: 64,
  maxStateKeyBytes: 64,
  maxStateValueBytes: 1024,
  maxStateBytes: 8192,
  maxStateKeys: 32,
  timeoutMs: 1000,
  prepareTimeoutMs: 15_000,
});

export function resolveLimits(partial: Partial<Limits> = {}): Limits {
  const out = { ...DEFAULT_LIMITS, ...partial };
  for (const [k, v] of Object.entries(out)) {
    if (!(k in DEFAULT_LIMITS)) throw new TypeError(`limits.${k}: unknown limit (known: ${Object.keys(DEFAULT_LIMITS).join(', ')})`);
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`limits.${k}: expected a non-negative integer, got ${v}`);
  }
  if (out.maxCallDepth > 2 ** 31 - 1) throw new RangeError(`limits.maxCallDepth: expected at most 2147483647 (an i32 counter), got ${out.maxCallDepth}`);
  if (out.maxMemoryPages > 65536) throw new RangeError(`limits.maxMemoryPages: expected at most 65536, got ${out.maxMemoryPages}`);
  return out;
}
