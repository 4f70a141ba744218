/**
 * What an audit entry records of a decision's evaluation input: the input itself (so that
 * `capsule audit verify --replay` can re-run the decision), or — when keeping it would let a stranger
 * write large entries at will — its digest and size only.
 *
 * The input is replaced by `inputDigest` (SHA-256 of its canonical JSON, hex) and `inputBytes` (that
 * JSON's length) when
 *   - its canonical JSON is longer than `max` bytes (an input refused as too large by the sandbox
 *     always is: its limit is on the CBOR, and the JSON carries bytes as hex), or
 *   - the decision failed before the logic could decide (the sandbox was busy or broken): such an
 *     entry could not be replayed anyway.
 * An entry without `input` is not replayed (audit verify skips it); its digest still commits the
 * guardian to what it saw. Deliberately not here: the entry's other fields (Releaser.ts,
 * SigningService.ts) and the log itself (AuditLog.ts).
 */
import { createHash } from 'node:crypto';
import { canonicalJson, type Json } from './AuditLog.ts';
import { inputToJson } from './evaluationJson.ts';
import type { EvaluationInput } from '../sandbox/inputs.ts';

/** Default longest input (canonical JSON bytes) kept whole in an audit entry (config maxAuditInputBytes). */
export const MAX_AUDIT_INPUT_BYTES = 32 * 1024;

/** Errors the logic itself produced: replaying the input reproduces them, so the input is kept. */
const LOGIC_ERRORS = new Set(['ERR_INVALID_MODULE', 'ERR_OUT_OF_FUEL', 'ERR_LIMIT', 'ERR_GUEST_MEMORY', 'ERR_TRAP', 'ERR_BAD_VERDICT', 'ERR_TIMEOUT']);

export type AuditedInput = { input: Json } | { inputDigest: string; inputBytes: number };

/**
 * @param input  the evaluation input
 * @param error  the decision's error code, if it failed
 * @param logicDecided  the logic returned a verdict before the failure (e.g. authentication failed after it)
 * @param max  the longest input kept whole (bytes of canonical JSON)
 */
export function auditInput(input: EvaluationInput, error: string | undefined, logicDecided: boolean, max = MAX_AUDIT_INPUT_BYTES): AuditedInput {
  const json = inputToJson(input);
  const text = canonicalJson(json);
  const bytes = Buffer.byteLength(text);
  const replayable = error === undefined || logicDecided || LOGIC_ERRORS.has(error);
  if (replayable && bytes <= max) return { input: json };
  return { inputDigest: createHash('sha256').update(text).digest('hex'), inputBytes: bytes };
}
