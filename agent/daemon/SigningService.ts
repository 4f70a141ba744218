/**
 * Policy-gated signing (the guardian as a hot wallet): a 32-byte digest is signed with a module
 * slot key only if the signing policy registered for that slot (a logic module + params, from the
 * agent's configuration) allows. The policy sees the request as a capsule whose `id` names the slot
 * (the first 16 bytes of SHA-256("capsule/v1 sign slot " ‖ decimal slot)), whose `digest` is the
 * digest to sign, `size` 0 and `created` 0; its state persists per slot (e.g. an expiry count).
 *
 * The requester of a sign request is authenticated only if the request carries an `auth` field
 * (docs/API.md "Requester authentication"); the policy sees `authenticated`, and a decision that
 * would change the policy's state (a spent limit) without it is refused (ERR_UNAUTHENTICATED).
 * Answers raw r ‖ s (S low) and the recovery id. Deliberately not here: secp256k1 slots (the KeyStore
 * exposes P-256 slot keys), HTTP (api.ts).
 */
import { p256 } from '@noble/curves/nist.js';
import { AgentError } from '../errors.ts';
import { sha256 } from '../crypto/kdf.ts';
import { normaliseLowS } from '../crypto/p256.ts';
import type { KeyStore } from '../keys/KeyStore.ts';
import type { EvaluationInput, EvidenceItem } from '../sandbox/inputs.ts';
import type { AuditLog } from './AuditLog.ts';
import type { Clock } from './Clock.ts';
import { auditInput } from './auditInput.ts';
import { auditedCommit, auditedFailure } from './auditedCommit.ts';
import type { Receipt } from './Receipt.ts';
import type { ModuleStore } from './ModuleStore.ts';
import { KeyedLock, unauthenticatedChange, type Evaluator } from './Releaser.ts';
import type { Store } from './Store.ts';

export interface SigningPolicy {
  slot: number;
  /** SHA-256 (hex) of the policy module, which must be in the module store. */
  logic: string;
  /** Deterministic CBOR params, if any. */
  params?: Uint8Array;
}

export interface SignOutcome {
  verdict: 'allow' | 'deny';
  reason: string;
  fuel: number;
  audit: number;
  /** The signed receipt of the decision's audit entry (docs/AUDIT.md "Receipts"). */
  receipt: Receipt;
  signature?: Uint8Array;
  recoveryId?: number;
}

export function slotCapsuleId(slot: number): Uint8Array {
  return sha256(new TextEncoder().encode(`capsule/v1 sign slot ${slot}`)).subarray(0, 16);
}

export class SigningService {
  readonly #policies: Map<number, SigningPolicy>;
  readonly #d: { keyStore: KeyStore; store: Store; modules: ModuleStore; audit: AuditLog; sandbox: Evaluator; clock: Clock; fuelLimit: number };

  constructor(policies: SigningPolicy[], deps: { keyStore: KeyStore; store: Store; modules: ModuleStore; audit: AuditLog; sandbox: Evaluator; clock: Clock; fuelLimit: number }) {
    this.#policies = new Map(policies.map((p) => [p.slot, p]));
    this.#d = deps;
  }

  readonly #locks = new KeyedLock();

  /** One decision at a time per slot, so a policy's state (a signing count) cannot be over-spent. */
  sign(slot: number, digest: Uint8Array, requester: string, evidence: EvidenceItem[], authenticated = false): Promise<SignOutcome> {
    return this.#locks.run(String(slot), () => this.#sign(slot, digest, requester, evidence, authenticated));
  }

  async #sign(slot: number, digest: Uint8Array, requester: string, evidence: EvidenceItem[], authenticated: boolean): Promise<SignOutcome> {
    const policy = this.#policies.get(slot);
    if (!policy) {
      throw new AgentError('ERR_NOT_FOUND', `sign: no signing policy is registered for slot ${slot}, so it never signs`, {
        status: 404, hint: 'register one in the agent configuration: "signing": [{"slot": N, "logic": "<sha256>", "params": {…}}]',
      });
    }
    const d = this.#d;
    const module = await d.modules.get(policy.logic);
    if (!module) throw new AgentError('ERR_NOT_FOUND', `sign: the policy module ${policy.logic} for slot ${slot} is not in the module store`, { status: 404, hint: 'capsule logic push MODULE.wasm --guardian URL' });
    const id = Buffer.from(slotCapsuleId(slot)).toString('hex');
    const now = await d.clock.now();
    const input: EvaluationInput = {
      now, requester, evidence, state: d.store.state(`sign:${id}`), params: policy.params,
      capsule: { id: slotCapsuleId(slot), created: 0, owner: null, logic: Uint8Array.from(Buffer.from(policy.logic, 'hex')), size: 0, digest },
      authenticated,
    };
    let r;
    try {
      r = await d.sandbox.evaluate(module, input);
    } catch (e) {
      return auditedFailure(d, 'sign', now, { slot, logic: policy.logic, requester, verdict: 'error', fuelLimit: d.fuelLimit, error: (e as { code?: string }).code ?? 'ERR_SANDBOX', ...auditInput(input, (e as { code?: string }).code ?? 'ERR_SANDBOX', false) }, e);
    }
    if (r.changed.length && !authenticated) {
      // A spent limit needs a requester who proved its identity; nothing is signed or committed.
      const e = unauthenticatedChange(r.changed, 'sign');
      return auditedFailure(d, 'sign', now, { slot, logic: policy.logic, requester, verdict: 'error', logicVerdict: r.verdict, fuelLimit: d.fuelLimit, error: e.code, ...auditInput(input, e.code, true) }, e);
    }
    let signature: Uint8Array | undefined;
    let recoveryId: number | undefined;
    if (r.verdict === 'allow') {
      signature = normaliseLowS(await d.keyStore.sign(digest, slot));
      recoveryId = recovery(signature, digest, await d.keyStore.publicKey(slot));
    }
    // D4: the entry is the intent; the commit records its seq; a failed commit is voided (auditedCommit.ts).
    const { entry, receipt } = await auditedCommit(d, 'sign', now, {
      slot, logic: policy.logic, requester, digest: Buffer.from(digest).toString('hex'), verdict: r.verdict, reason: r.reason, fuel: r.fuel,
      inputs: r.inputsSha256, changed: r.changed, fuelLimit: r.fuelLimit, ...auditInput(input, undefined, true),
    }, r.verdict === 'allow' || r.changed.length ? () => d.store.putState(`sign:${id}`, r.state, r.changed) : undefined);
    return { verdict: r.verdict, reason: r.reason, fuel: r.fuel, audit: entry.seq, receipt, signature, recoveryId };
  }
}

/** Which of the two candidate points the signature recovers to is the slot's key (0 or 1). */
function recovery(sig: Uint8Array, digest: Uint8Array, xy: Uint8Array): number {
  const want = Buffer.from(Uint8Array.of(4, ...xy));
  for (const bit of [0, 1]) {
    const point = p256.Signature.fromBytes(sig, 'compact').addRecoveryBit(bit).recoverPublicKey(digest);
    if (Buffer.from(point.toBytes(false)).equals(want)) return bit;
  }
  throw new AgentError('ERR_UNAVAILABLE', 'sign: the module\'s signature does not recover to its own public key', { status: 503 });
}
