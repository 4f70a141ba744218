/**
 * The guardian's capsule decisions: release a capsule's key, record a check-in, register a header.
 *
 * Release and check-in go through the one decision pipeline (Decider.ts), with the capsule's
 * header hash as the state scope: below the disk's reserve, no decision for a stranger or on a new
 * capsule → load the logic by hash (the module store, else IPFS) → evaluate it with the guardian's
 * clock → only on allow (or when the logic changed its state) unwrap the file key and authenticate
 * the first chunk with it, which proves the header was written by a holder of the key (SPEC.md
 * §11.7) → append the signed audit entry (fsync'ed; if it fails, nothing is answered) → commit state
 * and register the capsule, recording the entry's seq (a failed commit gets a `void` entry:
 * docs/AUDIT.md, auditedCommit.ts) → answer with the file key encrypted to the requester with age.
 * A denial that changes nothing computes no key.
 *
 * Deliberately not here: the pipeline itself (Decider.ts), parsing presented bytes (present.ts),
 * HTTP (api.ts), signing digests (SigningService.ts), fetching by CID (IpfsService.ts), proving a
 * header outside a decision (CapsuleRegistry.ts).
 */
import { Encrypter } from 'age-encryption';
import { AgentError } from '../errors.ts';
import { wipe } from '../crypto/secrets.ts';
import type { Guardian } from '../guardian/Guardian.ts';
import type { EvidenceItem } from '../sandbox/inputs.ts';
import { authenticateHeader } from './authenticateHeader.ts';
import type { CapsuleRegistry } from './CapsuleRegistry.ts';
import { Decider, type DeciderDeps, type DecisionAnswer, decisionAnswer } from './Decider.ts';
import type { DiskReserve } from './DiskSpace.ts';
import { present, type Presented } from './present.ts';
import { requireCanonicalRecipient } from './requireCanonicalRecipient.ts';

/** What release needs besides the pipeline's parts. */
export interface ReleaseDeps extends DeciderDeps {
  guardian: Guardian;
  /** Fetches a module missing from the store by CID (IPFS) and adds it; undefined if none is configured. */
  fetchModule?: (hash: Uint8Array, cid: Uint8Array | undefined) => Promise<Uint8Array>;
  /** The data directory's free-space reserve: no decision for a stranger or on a new capsule below it (D3). */
  reserve?: DiskReserve;
  /** Proves and records headers outside a decision (approvals, capsules fetched by CID). */
  registry: Pick<CapsuleRegistry, 'register'>;
}

/** A release's or check-in's answer. */
export interface Outcome extends DecisionAnswer {
  /** State keys the logic changed (a recorded check-in, a counted open). */
  changed: string[];
  /** On allow: the file key (or this guardian's share) as an age file to the requester (binary). */
  answer?: Uint8Array;
  /** On allow for a capsule with a guardian set: `answer` holds this guardian's share, at this index of the set. */
  share?: { index: number };
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

export class Releaser {
  readonly #d: ReleaseDeps;
  readonly #decider: Decider;

  constructor(deps: ReleaseDeps) {
    this.#d = deps;
    this.#decider = new Decider(deps);
  }

  /**
   * The presented capsule, or a registered one: by `header` hash, or by bare `id` when exactly one
   * registered capsule has it. A capsule is its header (D2): another authenticated header with the
   * same id is another capsule with its own state, so presenting one is never a mismatch.
   * @throws AgentError ERR_NOT_FOUND (404), ERR_AMBIGUOUS_ID (409: several headers carry this id)
   */
  capsuleOf(bytes: Uint8Array | undefined, id: string | undefined, header?: string): Presented {
    if (bytes) return present(bytes);
    if (header !== undefined) {
      const known = this.#d.store.capsule(header);
      if (!known || (id !== undefined && known.id !== id)) {
        throw new AgentError('ERR_NOT_FOUND', `capsule with header hash ${header}${id !== undefined ? ` and id ${id}` : ''}: unknown to this guardian`, {
          hint: 'send the capsule bytes once (capsule open does); the guardian then knows it',
        });
      }
      return present(known.prefix);
    }
    const known = id ? this.#d.store.capsulesWithId(id, 2) : [];
    if (known.length === 0)
      throw new AgentError('ERR_NOT_FOUND', `capsule ${id}: unknown to this guardian`, {
        hint: 'send the capsule bytes once (capsule open does); the guardian then knows it by id',
      });
    if (known.length > 1) {
      throw new AgentError(
        'ERR_AMBIGUOUS_ID',
        `capsule ${id}: several capsules with this id are registered here (different headers; one may be a copy made to squat the id)`,
        {
          hint: 'name the capsule by its bytes (capsule open FILE does) or by its header hash (body.header; capsule inspect shows it)',
        },
      );
    }
    return present(known[0]!.prefix);
  }

  /**
   * `authenticated`: the requester proved possession of its identity (RequestAuthenticator). The
   * logic sees it; a decision that would change state without it is refused (ERR_UNAUTHENTICATED).
   * @throws AgentError (ERR_BAD_REQUEST, ERR_NOT_FOUND, ERR_UNAUTHENTICATED, ERR_UNAVAILABLE,
   *   ERR_AUDIT, ERR_DISK_FULL), SandboxError, CapsuleFormatError, KeyStoreError, StoreError: Decider.decide
   */
  async release(p: Presented, requester: string, evidence: EvidenceItem[], authenticated = false): Promise<Outcome> {
    requireCanonicalRecipient(requester, 'requester');
    // Check-ins go through /v1/checkin (fresh, signed, never replayed): not as release evidence.
    // drand beacons are public and replayable by design (a later beacon proves as much): they pass.
    const approvals = evidence.filter((e) => e.kind === 'approval' || e.kind === 'drand');
    const evidence_ = [...approvals, ...this.#d.store.approvals(p.stateKey, requester)];
    // Optimistic: most decisions change no state (a time lock) and run concurrently; one that does
    // commits under the capsule's lock only if the state it read is still current, else it is
    // evaluated again on the new state (so a counter is never over-spent).
    return this.#decide('release', p, requester, evidence_, 'optimistic', authenticated);
  }

  /**
   * A check-in (signature and freshness checked by the caller): refused if this signer's message
   * was seen before; remembered only once the decision is recorded, so a failed attempt can retry.
   * @throws AgentError ERR_REPLAYED (409); as release()
   */
  async checkin(p: Presented, item: EvidenceItem, replayKey: string, expires: number): Promise<Outcome> {
    return this.#decider.lock(p.stateKey, async () => {
      if (this.#d.store.seen(replayKey, await this.#d.clock.now())) {
        throw new AgentError('ERR_REPLAYED', 'checkin: this check-in was already received (a replay)', {
          hint: 'sign a new check-in: capsule checkin makes one with the current time',
        });
      }
      const o = await this.#decide('checkin', p, this.#d.guardian.record.recipients.x25519, [item], 'held');
      this.#d.store.remember(replayKey, expires, await this.#d.clock.now());
      return o;
    });
  }

  /**
   * Proves a presented header is the sealer's and registers it (CapsuleRegistry.register). For
   * calls that store something under a capsule id (approvals) before any release has registered it.
   * @throws as CapsuleRegistry.register
   */
  async register(p: Presented): Promise<void> {
    return this.#d.registry.register(p);
  }

  /** Runs `fn` alone for this capsule (by header hash): read state → evaluate → commit is never interleaved. */
  lock<T>(stateKey: string, fn: () => Promise<T>): Promise<T> {
    return this.#decider.lock(stateKey, fn);
  }

  /**
   * One decision on a capsule (its state scope: the header hash). A check-in is `held` (the caller
   * holds the capsule's lock), never acts (`mayAllow` false) and carries no `authenticated` (it is
   * signed by its author), so its state change is never refused for it.
   */
  async #decide(
    kind: 'release' | 'checkin',
    p: Presented,
    requester: string,
    evidence: EvidenceItem[],
    concurrency: 'optimistic' | 'held',
    authenticated?: boolean,
  ): Promise<Outcome> {
    const d = this.#d;
    const h = p.parsed.header;
    const logic = hex(h.logic.hash);
    let fileKey: Uint8Array | undefined;
    let shareIndex: number | undefined; // with a guardian set (SPEC.md §5.6): what this guardian releases is its share
    try {
      const o = await this.#decider.decide<Uint8Array>({
        op: kind,
        scope: p.stateKey,
        concurrency,
        subject: `capsule ${p.id}`,
        // Every decision writes an audit entry, and one on a capsule not yet registered may register it
        // (up to ~128 KiB): below the disk's reserve, neither a requester who has not proved its identity
        // nor a new capsule gets a decision (nothing is written), so strangers cannot fill the disk (D3).
        admit: async () => {
          if (authenticated === false) await d.reserve?.require(`capsule ${p.id}: a decision for an unauthenticated requester`);
          else if (!d.store.capsule(p.headerHash)) await d.reserve?.require(`capsule ${p.id}: a decision that would register it`, p.prefix.length);
        },
        module: {
          hash: logic,
          fetch: d.fetchModule ? () => d.fetchModule!(h.logic.hash, h.logic.cid) : undefined,
          notFound: (tried) =>
            new AgentError('ERR_NOT_FOUND', `logic module ${logic} is not in this guardian's module store${tried ? ', nor found on IPFS' : ''}`, {
              cause: tried,
              hint: 'upload it once (capsule logic push MODULE.wasm --guardian URL), or publish it from a peer this guardian knows (capsule publish --logic)',
            }),
        },
        input: {
          requester,
          evidence,
          params: h.logic.params,
          capsule: { id: h.id, created: h.created, owner: h.owner ?? null, logic: h.logic.hash, size: h.payload.size, digest: h.payload.digest },
          ...(authenticated === undefined ? {} : { authenticated }),
        },
        fields: { capsule: p.id, header: p.headerHash, logic, requester },
        mayAllow: kind === 'release',
        // A header that fails authentication is a decision too (never an allow): audited as an error.
        verify: async () => {
          fileKey ??= await d.guardian.unwrapFileKey(h);
          shareIndex = authenticateHeader(p, fileKey);
        },
        act: async () => {
          const e = new Encrypter();
          e.addRecipient(requester);
          return { result: await e.encrypt(fileKey!) };
        },
        alsoCommit: (now) => d.store.putCapsule({ id: p.id, headerHash: p.headerHash, logic, prefix: p.prefix }, now),
      });
      return {
        ...decisionAnswer(o),
        changed: o.changed,
        answer: o.result,
        ...(o.result !== undefined && shareIndex !== undefined ? { share: { index: shareIndex } } : {}),
      };
    } finally {
      wipe(fileKey);
    }
  }
}
