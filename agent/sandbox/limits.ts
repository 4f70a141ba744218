/**
 * Sandbox limits (contracts-as/ABI.md §5): every one an option with a documented default, checked
 * at the boundary with a message naming the option.
 */
export interface Limits {
  fuel: number;
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
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  fuel: 50_000_000,
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
});

export function resolveLimits(partial: Partial<Limits> = {}): Limits {
  const out = { ...DEFAULT_LIMITS, ...partial };
  for (const [k, v] of Object.entries(out)) {
    if (!(k in DEFAULT_LIMITS)) throw new TypeError(`limits.${k}: unknown limit (known: ${Object.keys(DEFAULT_LIMITS).join(', ')})`);
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`limits.${k}: expected a non-negative integer, got ${v}`);
  }
  if (out.maxMemoryPages > 65536) throw new RangeError(`limits.maxMemoryPages: expected at most 65536, got ${out.maxMemoryPages}`);
  return out;
}
