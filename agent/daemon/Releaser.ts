/**
 * The guardian's decisions: release a capsule's key, record a check-in, store an approval.
 *
 * Release: read the presented header (and first chunk) → refuse a header that differs from the one
 * registered for its id → load the logic by hash → evaluate it with the guardian's clock → only on
 * allow (or when the logic changed its state) unwrap the file key and authenticate the first chunk
 * with it, which proves the header was written by a holder of the key (SPEC.md §11.7) → append
 * the signed audit entry (fsync'ed; if it fails, nothing is answered) → commit state recording the
 * entry's seq (a failed commit gets a `void` entry: docs/AUDIT.md, auditedCommit.ts) → answer with
 * the file key encrypted to the requester with age. A denial that changes nothing computes no key.
 *
 * Deliberately not here: HTTP (api.ts), signing digests (SigningService.ts), fetching by CID (CapsuleFetcher.ts).
 */
import { createHash } from 'node:crypto';
import { Encrypter } from 'age-encryption';
import { AgentError, CapsuleFormatError, ContentError, KeyStoreError } from '../errors.ts';
import { CapsuleReader, type ParsedHeader } from '../capsule/CapsuleReader.ts';
import { encodeRecipient, parseRecipient } from '../crypto/identity.ts';
import { derivePayloadKey } from '../crypto/kdf.ts';
import { wipe } from '../crypto/secrets.ts';
import { StreamOpener } from '../crypto/StreamCipher.ts';
import { CHUNK_SIZE, TAG_SIZE } from '../format/constants.ts';
import { chunkCount } from '../format/layout.ts';
import type { Guardian } from '../guardian/Guardian.ts';
import type { EvaluationInput, EvidenceItem } from '../sandbox/inputs.ts';
import type { DecisionRecord } from '../sandbox/Sandbox.ts';
import type { AuditLog } from './AuditLog.ts';
import type { Clock } from './Clock.ts';
import { auditInput } from './auditInput.ts';
import { auditedCommit, auditedFailure } from './auditedCommit.ts';
import type { Receipt } from './Receipt.ts';
import type { DiskReserve } from './DiskSpace.ts';
import type { ModuleStore } from './ModuleStore.ts';
import type { Store } from './Store.ts';

export interface Evaluator {
  evaluate(module: Uint8Array, input: EvaluationInput): Promise<DecisionRecord> | DecisionRecord;
}

export interface ReleaseDeps {
  guardian: Guardian;
  store: Store;
  modules: ModuleStore;
  audit: AuditLog;
  sandbox: Evaluator;
  clock: Clock;
  /** The sandbox's fuel limit, recorded in every audit entry so that a replay uses the same one. */
  fuelLimit: number;
  /** Fetches a module missing from the store by CID (IPFS) and adds it; undefined if none is configured. */
  fetchModule?: (hash: Uint8Array, cid: Uint8Array | undefined) => Promise<Uint8Array>;
  /** The data directory's free-space reserve: new registrations are refused below it (D3). */
  reserve?: DiskReserve;
}

export interface Presented {
  parsed: ParsedHeader;
  /** preamble ‖ header ‖ first sealed chunk */
  prefix: Uint8Array;
  firstChunk: Uint8Array;
  id: string;
  headerHash: string;
}

export interface Outcome {
  verdict: 'allow' | 'deny';
  reason: string;
  fuel: number;
  audit: number;
  /** The signed receipt of the decision's audit entry (docs/AUDIT.md "Receipts"). */
  receipt: Receipt;
  /** State keys the logic changed (a recorded check-in, a counted open). */
  changed: string[];
  /** On allow: the file key as an age file to the requester (binary). */
  answer?: Uint8Array;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** Parses preamble ‖ header ‖ first chunk (more bytes, e.g. a whole capsule, are ignored). */
export function present(bytes: Uint8Array): Presented {
  const reader = new CapsuleReader();
  let first: Uint8Array | undefined;
  let off = 0;
  while (off < bytes.length && !first) {
    const step = Math.min(bytes.length - off, 4096);
    reader.push(bytes.subarray(off, off + step), (sealed, index) => { if (index === 0) first = Uint8Array.from(sealed); });
    off += step;
  }
  const parsed = reader.parsed;
  if (!parsed || !first) {
    throw new CapsuleFormatError('ERR_TRUNCATED', `capsule: ${bytes.length} bytes given; a release needs the preamble, the header and the first chunk`, {
      hint: 'send the capsule (capsule open does), or at least its first 16 + header + 65552 bytes',
    });
  }
  const size = parsed.headerBytes.length + first.length; // headerBytes is preamble ‖ header
  return { parsed, prefix: Uint8Array.from(bytes.subarray(0, size)), firstChunk: first, id: hex(parsed.header.id), headerHash: hex(parsed.headerHash) };
}

export class Releaser {
  readonly #d: ReleaseDeps;
  readonly #locks = new KeyedLock();

  constructor(deps: ReleaseDeps) {
    this.#d = deps;
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
        throw new AgentError('ERR_NOT_FOUND', `capsule with header hash ${header}${id !== undefined ? ` and id ${id}` : ''}: unknown to this guardian`, { status: 404, hint: 'send the capsule bytes once (capsule open does); the guardian then knows it' });
      }
      return present(known.prefix);
    }
    const known = id ? this.#d.store.capsulesWithId(id, 2) : [];
    if (known.length === 0) throw new AgentError('ERR_NOT_FOUND', `capsule ${id}: unknown to this guardian`, { status: 404, hint: 'send the capsule bytes once (capsule open does); the guardian then knows it by id' });
    if (known.length > 1) {
      throw new AgentError('ERR_AMBIGUOUS_ID', `capsule ${id}: several capsules with this id are registered here (different headers; one may be a copy made to squat the id)`, {
        status: 409, hint: 'name the capsule by its bytes (capsule open FILE does) or by its header hash (body.header; capsule inspect shows it)',
      });
    }
    return present(known[0]!.prefix);
  }

  /**
   * `authenticated`: the requester proved possession of its identity (RequestAuthenticator). The
   * logic sees it; a decision that would change state without it is refused (ERR_UNAUTHENTICATED).
   */
  async release(p: Presented, requester: string, evidence: EvidenceItem[], authenticated = false): Promise<Outcome> {
    requireCanonicalRecipient(requester, 'requester');
    // Check-ins go through /v1/checkin (fresh, signed, never replayed): not as release evidence.
    const approvals = evidence.filter((e) => e.kind === 'approval');
    const evidence_ = [...approvals, ...this.#d.store.approvals(p.headerHash, requester)];
    // Optimistic: most decisions change no state (a time lock) and run concurrently; one that does
    // commits under the capsule's lock only if the state it read is still current, else it is
    // evaluated again on the new state (so a counter is never over-spent).
    for (let attempt = 1; ; attempt++) {
      const o = await this.#decide('release', p, requester, evidence_, true, false, authenticated);
      if (o !== STALE) return o;
      if (attempt >= 8) {
        throw new AgentError('ERR_UNAVAILABLE', `capsule ${p.id}: its state kept changing under concurrent requests; try again`, { status: 503 });
      }
    }
  }

  /**
   * A check-in (signature and freshness checked by the caller): refused if this signer's message
   * was seen before; remembered only once the decision is recorded, so a failed attempt can retry.
   */
  async checkin(p: Presented, item: EvidenceItem, replayKey: string, expires: number): Promise<Outcome> {
    return this.#locks.run(p.headerHash, async () => {
      if (this.#d.store.seen(replayKey, await this.#d.clock.now())) {
        throw new AgentError('ERR_REPLAYED', 'checkin: this check-in was already received (a replay)', { status: 409, hint: 'sign a new check-in: capsule checkin makes one with the current time' });
      }
      const o = await this.#decide('checkin', p, this.#d.guardian.record.recipients.x25519, [item], false, true);
      if (o === STALE) throw new Error('unreachable: a locked decision cannot be stale');
      this.#d.store.remember(replayKey, expires, await this.#d.clock.now());
      return o;
    });
  }

  /**
   * Proves a presented header is the sealer's (unwraps the key, opens the first chunk, wipes the
   * key) and registers it. For calls that store something under a capsule id (approvals) before
   * any release has registered it.
   */
  async register(p: Presented): Promise<void> {
    if (this.#d.store.capsule(p.headerHash)) return;
    // A registration is a write anyone can cause (seal a capsule to the guardian): not below the reserve.
    await this.#d.reserve?.require(`capsule ${p.id}`, p.prefix.length);
    const key = await this.#d.guardian.unwrapFileKey(p.parsed.header);
    try {
      authenticate(p, key);
    } finally {
      wipe(key);
    }
    const now = await this.#d.clock.now(); // the guardian's time, as for every other record
    this.#d.store.transaction(() => this.#d.store.putCapsule({ id: p.id, headerHash: p.headerHash, logic: hex(p.parsed.header.logic.hash), prefix: p.prefix }, now));
  }

  /** Runs `fn` alone for this capsule (by header hash): read state → evaluate → commit is never interleaved. */
  lock<T>(headerHash: string, fn: () => Promise<T>): Promise<T> {
    return this.#locks.run(headerHash, fn);
  }

  /**
   * One decision. `locked`: the caller holds the capsule's lock (check-ins). Otherwise a decision
   * that changes state re-checks, under the lock, that the state it read is unchanged, and
   * returns STALE if not (nothing is audited, committed or answered then).
   */
  async #decide(kind: 'release' | 'checkin', p: Presented, requester: string, evidence: EvidenceItem[], mayRelease: boolean, locked: boolean, authenticated?: boolean): Promise<Outcome | typeof STALE> {
    const d = this.#d;
    // Every decision writes an audit entry, and one on a capsule not yet registered may register it
    // (up to ~128 KiB): below the disk's reserve, neither a requester who has not proved its identity
    // nor a new capsule gets a decision (nothing is written), so strangers cannot fill the disk (D3).
    if (authenticated === false) await d.reserve?.require(`capsule ${p.id}: a decision for an unauthenticated requester`);
    else if (!d.store.capsule(p.headerHash)) await d.reserve?.require(`capsule ${p.id}: a decision that would register it`, p.prefix.length);
    const h = p.parsed.header;
    const logic = hex(h.logic.hash);
    let module = await d.modules.get(logic);
    let tried: unknown;
    if (!module && d.fetchModule) {
      try {
        module = await d.fetchModule(h.logic.hash, h.logic.cid);
      } catch (e) {
        if (!(e instanceof ContentError && e.code === 'ERR_CONTENT_UNAVAILABLE')) throw e;
        tried = e;
      }
    }
    if (!module) {
      throw new AgentError('ERR_NOT_FOUND', `logic module ${logic} is not in this guardian's module store${tried ? ', nor found on IPFS' : ''}`, {
        status: 404, cause: tried, hint: 'upload it once (capsule logic push MODULE.wasm --guardian URL), or publish it from a peer this guardian knows (capsule publish --logic)',
      });
    }
    const now = await d.clock.now();
    const state = d.store.state(p.headerHash);
    const version = stateVersion(state);
    const input: EvaluationInput = {
      now, requester, evidence, state, params: h.logic.params,
      capsule: { id: h.id, created: h.created, owner: h.owner ?? null, logic: h.logic.hash, size: h.payload.size, digest: h.payload.digest },
      ...(authenticated === undefined ? {} : { authenticated }),
    };
    const failed = async (e: unknown, verdict?: string): Promise<never> => {
      // A trap, exhausted fuel, or a header that fails authentication is a decision too (never an
      // allow): logged with its code, then reported.
      return auditedFailure(d, kind, now, {
        capsule: p.id, header: p.headerHash, logic, requester, verdict: 'error', logicVerdict: verdict ?? null, fuelLimit: d.fuelLimit,
        error: (e as { code?: string }).code ?? 'ERR_INTERNAL', ...auditInput(input, (e as { code?: string }).code ?? 'ERR_INTERNAL', verdict !== undefined),
      }, e);
    };
    let r: DecisionRecord;
    try {
      r = await d.sandbox.evaluate(module, input);
    } catch (e) {
      return failed(e);
    }
    if (r.changed.length && !locked) {
      return this.#locks.run(p.headerHash, async () => (stateVersion(d.store.state(p.headerHash)) !== version ? STALE : this.#conclude(kind, p, requester, input, r, mayRelease, failed)));
    }
    return this.#conclude(kind, p, requester, input, r, mayRelease, failed);
  }

  /** After the logic: authenticate and answer (allow), audit, commit. */
  async #conclude(kind: string, p: Presented, requester: string, input: EvaluationInput, r: DecisionRecord, mayRelease: boolean, failed: (e: unknown, verdict?: string) => Promise<never>): Promise<Outcome> {
    const d = this.#d;
    const h = p.parsed.header;
    const logic = hex(h.logic.hash);
    const now = input.now;
    const allow = r.verdict === 'allow' && mayRelease;
    // A release that would change state (count an open) needs a requester who proved its identity:
    // otherwise anyone knowing a recipient could spend opens (docs/API.md "Requester authentication").
    if (kind === 'release' && r.changed.length && input.authenticated !== true) return failed(unauthenticatedChange(r.changed, 'release'), r.verdict);
    let fileKey: Uint8Array | undefined;
    try {
      let answer: Uint8Array | undefined;
      if (allow || r.changed.length) {
        try {
          fileKey = await d.guardian.unwrapFileKey(h);
          authenticate(p, fileKey);
          if (allow) {
            const e = new Encrypter();
            e.addRecipient(requester);
            answer = await e.encrypt(fileKey);
          }
        } catch (e) {
          return await failed(e, r.verdict);
        }
      }
      // D4: the entry is the intent; the commit records its seq; a failed commit is voided (auditedCommit.ts).
      const { entry, receipt } = await auditedCommit(d, kind, now, {
        capsule: p.id, header: p.headerHash, logic, requester, verdict: r.verdict, reason: r.reason, fuel: r.fuel,
        inputs: r.inputsSha256, changed: r.changed, fuelLimit: r.fuelLimit, ...auditInput(input, undefined, true),
      }, allow || r.changed.length ? () => {
        if (fileKey) d.store.putCapsule({ id: p.id, headerHash: p.headerHash, logic, prefix: p.prefix }, now);
        d.store.putState(p.headerHash, r.state, r.changed);
      } : undefined);
      return { verdict: allow ? 'allow' : 'deny', reason: r.reason, fuel: r.fuel, audit: entry.seq, receipt, changed: r.changed, answer };
    } finally {
      wipe(fileKey);
    }
  }
}

const STALE = Symbol('stale');

/** Refusal of a state-changing decision for an unauthenticated requester (nothing is committed). */
export function unauthenticatedChange(changed: string[], what: string): AgentError {
  return new AgentError('ERR_UNAUTHENTICATED', `${what}: this decision would change the logic's state (${changed.length} key(s), e.g. a counted open) and the requester is not authenticated`, {
    status: 401, hint: 'send the request with an auth field made with the requester\'s identity (docs/API.md "Requester authentication"); capsule open does this with --identity',
  });
}

/** A digest of a capsule's whole logic state, to detect a concurrent change. */
function stateVersion(state: Map<string, Uint8Array>): string {
  const h = createHash('sha256');
  for (const [k, v] of [...state].sort(([a], [b]) => (a < b ? -1 : 1))) h.update(`${k}:${v.length}:`).update(v);
  return h.digest('hex');
}

/** One async critical section per key (a capsule id, a signing slot). */
export class KeyedLock {
  readonly #tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#tails.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => {});
    this.#tails.set(key, tail);
    void tail.then(() => { if (this.#tails.get(key) === tail) this.#tails.delete(key); });
    return next;
  }
}

/** An age recipient exactly as encoded (lowercase, no spaces): what is audited is what is used. */
export function requireCanonicalRecipient(text: string, at: string): void {
  const key = parseRecipient(text);
  if (encodeRecipient(key) !== text) {
    throw new AgentError('ERR_BAD_REQUEST', `${at}: expected the recipient exactly as encoded (age1…, lowercase, no spaces)`, { status: 400 });
  }
}

/** Fail closed: a decision whose record cannot be written is not answered. */
export async function audited<T>(append: Promise<T>): Promise<T> {
  try {
    return await append;
  } catch (cause) {
    // The module could not sign the entry (failing or hung): answer with the module's own error
    // (503 ERR_MODULE_CALL); nothing was written, nothing is released, nothing committed.
    if (cause instanceof KeyStoreError) throw cause;
    throw new AgentError('ERR_AUDIT', 'audit log: the decision could not be recorded, so it is not answered', {
      cause, status: 503, hint: 'check the data directory (disk full? read-only?); the agent refuses every decision until it can log',
    });
  }
}

/** The first chunk must open with the key the stanzas gave: then the whole header is the sealer's. */
function authenticate(p: Presented, fileKey: Uint8Array): void {
  const h = p.parsed.header;
  const payloadKey = derivePayloadKey(fileKey, h.id);
  const opener = new StreamOpener(payloadKey, p.parsed.headerHash);
  try {
    const expected = Math.min(h.payload.size, CHUNK_SIZE) + TAG_SIZE;
    if (p.firstChunk.length !== expected) throw new CapsuleFormatError('ERR_TRUNCATED', `capsule: first chunk is ${p.firstChunk.length} bytes, expected ${expected}`);
    opener.openChunk(p.firstChunk, chunkCount(h.payload.size) === 1).fill(0);
  } finally {
    opener.dispose();
    wipe(payloadKey);
  }
}
