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
 * Answers raw r ‖ s (S low) and the recovery id. Decided by the one decision pipeline (Decider.ts),
 * with "sign:<slot id hex>" as the state scope. Deliberately not here: the pipeline itself,
 * secp256k1 wallet keys (the KeyStore exposes P-256 slot keys here), HTTP (api.ts).
 */
import { p256 } from '@noble/curves/nist.js';
import { AgentError } from '../errors.ts';
import { sha256 } from '../crypto/kdf.ts';
import { normaliseLowS } from '../crypto/p256.ts';
import type { KeyStore } from '../keys/KeyStore.ts';
import type { EvidenceItem } from '../sandbox/inputs.ts';
import { Decider, type DeciderDeps, type DecisionAnswer, decisionAnswer } from './Decider.ts';

/** A slot's signing policy, from the agent's configuration (config.ts "signing"). */
export interface SigningPolicy {
  slot: number;
  /** SHA-256 (hex) of the policy module, which must be in the module store. */
  logic: string;
  /** Deterministic CBOR params, if any. */
  params?: Uint8Array;
}

/** A signing decision's answer: on allow, the signature (r ‖ s, S low) and its recovery id. */
export interface SignOutcome extends DecisionAnswer {
  signature?: Uint8Array;
  recoveryId?: number;
}

/** The capsule id a slot's policy sees (and its state is kept under): SHA-256("capsule/v1 sign slot N")[0..16]. */
export function slotCapsuleId(slot: number): Uint8Array {
  return sha256(new TextEncoder().encode(`capsule/v1 sign slot ${slot}`)).subarray(0, 16);
}

/** What signing needs besides the pipeline's parts: the key store holding the slot keys. */
export interface SigningDeps extends DeciderDeps {
  keyStore: KeyStore;
}

export class SigningService {
  readonly #policies: Map<number, SigningPolicy>;
  readonly #d: SigningDeps;
  readonly #decider: Decider;

  constructor(policies: SigningPolicy[], deps: SigningDeps) {
    this.#policies = new Map(policies.map((p) => [p.slot, p]));
    this.#d = deps;
    this.#decider = new Decider(deps);
  }

  /**
   * One decision at a time per slot (`serial`), so a policy's state (a signing count) cannot be over-spent.
   * @throws AgentError ERR_NOT_FOUND (404: no policy for the slot, or its module is not stored),
   *   ERR_UNAUTHENTICATED (401), ERR_AUDIT (503); SandboxError; KeyStoreError: Decider.decide
   */
  async sign(slot: number, digest: Uint8Array, requester: string, evidence: EvidenceItem[], authenticated = false): Promise<SignOutcome> {
    const policy = this.#policies.get(slot);
    if (!policy) {
      throw new AgentError('ERR_NOT_FOUND', `sign: no signing policy is registered for slot ${slot}, so it never signs`, {
        hint: 'register one in the agent configuration: "signing": [{"slot": N, "logic": "<sha256>", "params": {…}}]',
      });
    }
    const d = this.#d;
    const id = slotCapsuleId(slot);
    const o = await this.#decider.decide<{ signature: Uint8Array; recoveryId: number }>({
      op: 'sign',
      scope: `sign:${Buffer.from(id).toString('hex')}`,
      concurrency: 'serial',
      module: {
        hash: policy.logic,
        notFound: () =>
          new AgentError('ERR_NOT_FOUND', `sign: the policy module ${policy.logic} for slot ${slot} is not in the module store`, {
            hint: 'capsule logic push MODULE.wasm --guardian URL',
          }),
      },
      input: {
        requester,
        evidence,
        params: policy.params,
        capsule: { id, created: 0, owner: null, logic: Uint8Array.from(Buffer.from(policy.logic, 'hex')), size: 0, digest },
        authenticated,
      },
      fields: { slot, logic: policy.logic, requester, digest: Buffer.from(digest).toString('hex') },
      // Existing sign entries: an error entry does not name the digest, nor a verdict the policy did
      // not reach; a failing signature is answered without an entry (its module error, 503).
      errors: { fields: { slot, logic: policy.logic, requester }, uncoded: 'ERR_SANDBOX', omitNullVerdict: true, unauditedAct: true },
      act: async () => {
        const signature = normaliseLowS(await d.keyStore.sign(digest, slot));
        return { result: { signature, recoveryId: recovery(signature, digest, await d.keyStore.publicKey(slot)) } };
      },
    });
    return {
      ...decisionAnswer(o),
      signature: o.result?.signature,
      recoveryId: o.result?.recoveryId,
    };
  }
}

/** Which of the two candidate points the signature recovers to is the slot's key (0 or 1). */
function recovery(sig: Uint8Array, digest: Uint8Array, xy: Uint8Array): number {
  const want = Buffer.from(Uint8Array.of(4, ...xy));
  for (const bit of [0, 1]) {
    const point = p256.Signature.fromBytes(sig, 'compact').addRecoveryBit(bit).recoverPublicKey(digest);
    if (Buffer.from(point.toBytes(false)).equals(want)) return bit;
  }
  throw new AgentError('ERR_UNAVAILABLE', "sign: the module's signature does not recover to its own public key");
}
