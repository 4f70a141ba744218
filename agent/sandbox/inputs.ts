/**
 * Evaluation inputs (contracts-as/ABI.md §4.1) and their canonical CBOR encodings: what the guest
 * reads through `input_read`, and what a decision record's `inputsSha256` commits to so that a
 * decision can be replayed offline. Deliberately not here: where inputs come from (CLI, agent).
 */
import { createHash } from 'node:crypto';
import { encodeCanonical } from '../format/cbor.ts';
import { writeContext, writeDigestItems, writeEvidence, writeState, Writer } from './inputCodec.ts';

/**
 * One evidence item (ABI.md §4.1). Approvals and check-ins are signed messages; a drand beacon
 * (kind "drand", scheme "bls-unchained-g1-rfc9380") has the same five fields: `signer` the chain's
 * 32-byte hash or empty, `message` the round as 8 bytes big-endian, `signature` the 48-byte BLS
 * signature (drandBeacon.ts makes them).
 */
export interface EvidenceItem {
  kind: 'approval' | 'checkin' | 'drand';
  scheme: 'ed25519' | 'eip191' | 'bls-unchained-g1-rfc9380';
  /** 32-byte Ed25519 public key, 20-byte Ethereum address, or a drand chain hash (32 bytes) or nothing. */
  signer: Uint8Array;
  message: Uint8Array;
  signature: Uint8Array;
}

export interface CapsuleFacts {
  id: Uint8Array;
  created: number;
  owner: Uint8Array | null;
  logic: Uint8Array;
  size: number;
  digest: Uint8Array;
}

export interface EvaluationInput {
  /** Evaluation time, ms since the epoch: an input, never the wall clock inside the sandbox. */
  now: number;
  /** The requester's age recipient (age1…). */
  requester: string;
  capsule: CapsuleFacts;
  /** The header's logic.params (one deterministic CBOR item), if any. */
  params?: Uint8Array;
  evidence?: EvidenceItem[];
  /** The capsule's persistent logic state: hex(key) → value. */
  state?: Map<string, Uint8Array>;
  /**
   * The requester proved possession of its identity (docs/API.md "Requester authentication").
   * Encoded in the context as "authenticated" only when defined (the agent always defines it for
   * releases and signing); absent reads as false, so older audit records replay unchanged.
   */
  authenticated?: boolean;
  /**
   * A wallet signing decision's decoded request (contracts-as/ABI.md §4.2), encoded in the context
   * as "request" only when defined, so every other decision's context bytes are unchanged.
   */
  request?: Map<string, unknown>;
}

export const INPUT_CONTEXT = 0;
export const INPUT_PARAMS = 1;
export const INPUT_EVIDENCE = 2;

export interface EncodedInputs {
  blobs: (Uint8Array | undefined)[];
  /** SHA-256 over context ‖ params ‖ evidence ‖ state, each length-prefixed in one CBOR array. */
  digest: string;
}

/**
 * The inputs' encodings and digest: the bytes of encodeInputsGeneric, written directly for the
 * usual shapes (inputCodec.ts), and by it for any other.
 * @throws RangeError, TypeError for a `now` or `requester` of the wrong type
 */
export function encodeInputs(input: EvaluationInput): EncodedInputs {
  check(input);
  const w = Writer.take();
  try {
    // Views of the writer's buffer, valid until its next use: the blobs kept are copies of them.
    const fastContext = writeContext(w, input);
    const fastEvidence = writeEvidence(w, input.evidence ?? []);
    const context = fastContext ?? contextGeneric(input);
    const evidence = fastEvidence ?? evidenceGeneric(input);
    const state = writeState(w, input.state ?? new Map()) ?? stateGeneric(input);
    const items = writeDigestItems(w, context, input.params ?? null, evidence, state) ?? encodeCanonical([context, input.params ?? null, evidence, state]);
    return {
      blobs: [fastContext ? fastContext.slice() : context, input.params, fastEvidence ? fastEvidence.slice() : evidence],
      digest: createHash('sha256').update(items).digest('hex'),
    };
  } finally {
    w.give();
  }
}

/**
 * The definition of the inputs' encodings (ABI.md §4.1) through the general canonical encoder:
 * encodeInputs gives the same bytes faster (the tests compare the two).
 * @throws RangeError, TypeError as encodeInputs
 */
export function encodeInputsGeneric(input: EvaluationInput): EncodedInputs {
  check(input);
  const context = contextGeneric(input);
  const evidence = evidenceGeneric(input);
  const state = stateGeneric(input);
  const digest = createHash('sha256')
    .update(encodeCanonical([context, input.params ?? null, evidence, state]))
    .digest('hex');
  return { blobs: [context, input.params, evidence], digest };
}

function check(input: EvaluationInput): void {
  if (!Number.isSafeInteger(input.now) || input.now < 0) throw new RangeError(`input.now: expected ms since the epoch, got ${input.now}`);
  if (typeof input.requester !== 'string') throw new TypeError('input.requester: expected an age1… string');
}

function contextGeneric(input: EvaluationInput): Uint8Array {
  const c = input.capsule;
  return encodeCanonical(
    new Map<string, unknown>([
      ['now', input.now],
      ['requester', input.requester],
      [
        'capsule',
        new Map<string, unknown>([
          ['id', c.id],
          ['created', c.created],
          ['owner', c.owner ?? null],
          ['logic', c.logic],
          ['size', c.size],
          ['digest', c.digest],
        ]),
      ],
      ...(input.authenticated === undefined ? [] : [['authenticated', input.authenticated === true] as [string, unknown]]),
      ...(input.request === undefined ? [] : [['request', input.request] as [string, unknown]]),
    ]),
  );
}

function evidenceGeneric(input: EvaluationInput): Uint8Array {
  return encodeCanonical(
    (input.evidence ?? []).map(
      (e) =>
        new Map<string, unknown>([
          ['kind', e.kind],
          ['scheme', e.scheme],
          ['signer', e.signer],
          ['message', e.message],
          ['signature', e.signature],
        ]),
    ),
  );
}

function stateGeneric(input: EvaluationInput): Uint8Array {
  return encodeCanonical(new Map([...(input.state ?? new Map()).entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));
}
