/**
 * The in-process sandbox: validate → meter → compile (cached by module SHA-256 and fuel table
 * version) → instantiate with a fresh Host → `decide()` → a decision record, all synchronous. It is
 * MeteredSandbox with the validator and meter (validate.ts, Binaryen) loaded with it, for the places
 * that evaluate modules nobody has metered yet: `capsule logic run`, `audit verify --replay`, the
 * tests and benches. They meter with the same function (checkAndMeter) as the agent's module
 * checker, so verdict and fuel are the same on every path.
 *
 * Deliberately not here: evaluation itself (MeteredSandbox.ts); the agent's sandbox workers use
 * MeteredSandbox directly and so never load Binaryen when they are given metered bytes.
 */
import type { Limits } from './limits.ts';
import { MeteredSandbox } from './MeteredSandbox.ts';
import { checkAndMeter } from './validate.ts';

export type { DecisionRecord, Prepared } from './MeteredSandbox.ts';

export class Sandbox extends MeteredSandbox {
  /** @throws TypeError, RangeError for a limit that is unknown or out of range (limits.ts) */
  constructor(limits: Partial<Limits> = {}) {
    super(limits);
    this.meter = checkAndMeter;
  }
}
