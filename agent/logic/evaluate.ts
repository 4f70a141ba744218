/**
 * One offline decision for a capsule, built exactly as the guardian builds it: the module must be
 * the one the header names (its SHA-256), and the evaluation input carries the header's params and
 * capsule facts with the time, requester, evidence and state given. Shared by `capsule logic run`
 * (one decision) and `capsule logic explain` (many, across time and requesters), so both see the
 * same inputs, the same sandbox and the same fuel as the guardian.
 *
 * Deliberately not here: reading files or flags (the CLI commands), the sandbox itself
 * (sandbox/Sandbox.ts), and the guardian's release path (the agent).
 */
import type { CapsuleHeader } from '../format/header.ts';
import { sha256 } from '../crypto/kdf.ts';
import { constantTimeEqual } from '../crypto/secrets.ts';
import { CapsuleFormatError, UsageError } from '../errors.ts';
import type { CapsuleFacts, EvaluationInput, EvidenceItem } from '../sandbox/inputs.ts';

/**
 * Refuses a module that is not the capsule's unlock logic: its SHA-256 must equal the header's
 * logic hash, or a dry run would answer for logic the guardian will never run.
 * @param module - The module's bytes.
 * @param header - The capsule's header.
 * @param name - How the module is named in the message (its file name).
 * @throws CapsuleFormatError ERR_LOGIC_HASH_MISMATCH naming both hashes
 */
export function checkLogicHash(module: Uint8Array, header: CapsuleHeader, name: string): void {
  const got = sha256(module);
  if (!constantTimeEqual(got, header.logic.hash)) {
    throw new CapsuleFormatError('ERR_LOGIC_HASH_MISMATCH', `${name}: SHA-256 ${hex(got)} is not the capsule's logic ${hex(header.logic.hash)}`);
  }
}

/** What varies between decisions for one capsule. */
export interface DecisionInputs {
  /** Evaluation time, ms since the epoch. */
  now: number;
  /** The requester's age recipient. */
  requester: string;
  evidence?: EvidenceItem[];
  state?: Map<string, Uint8Array>;
}

/**
 * The sandbox input the guardian would give the capsule's logic: the header's params and facts
 * (id, created, owner, logic hash, payload size and digest) with the decision's own inputs.
 */
export function decisionInput(header: CapsuleHeader, d: DecisionInputs): EvaluationInput {
  return factsInput(
    {
      id: header.id,
      created: header.created,
      owner: header.owner ?? null,
      logic: header.logic.hash,
      size: header.payload.size,
      digest: header.payload.digest,
    },
    header.logic.params,
    d,
  );
}

/**
 * decisionInput for a capsule given by its facts and params instead of a header: the scenario
 * runner's synthetic capsules (scenarios.ts). `authenticated` is put in the context only when
 * given, as the guardian does (a release always gives it; `capsule logic run` never does).
 */
export function factsInput(capsule: CapsuleFacts, params: Uint8Array | undefined, d: DecisionInputs & { authenticated?: boolean }): EvaluationInput {
  return {
    now: d.now,
    requester: d.requester,
    evidence: d.evidence ?? [],
    state: d.state ?? new Map<string, Uint8Array>(),
    params,
    capsule,
    ...(d.authenticated === undefined ? {} : { authenticated: d.authenticated }),
  };
}

/**
 * A time argument: RFC 3339 (2030-01-01T00:00:00Z) or milliseconds since the epoch.
 * @param text - The argument as given.
 * @param flag - The option it came from (`--at`), for the message.
 * @returns Milliseconds since the epoch.
 * @throws UsageError ERR_USAGE for anything else (or a time before 1970)
 */
export function parseTimeArg(text: string, flag: string): number {
  const ms = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
  if (!Number.isSafeInteger(ms) || ms < 0) {
    throw new UsageError(
      'ERR_USAGE',
      `${flag}: expected an RFC 3339 time (2030-01-01T00:00:00Z) or milliseconds since the epoch, got ${JSON.stringify(text)}`,
      {
        hint: 'the evaluation time is an input: pass the moment you want to test',
      },
    );
  }
  return ms;
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}
