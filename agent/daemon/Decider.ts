/**
 * The guardian's one decision pipeline, shared by every operation that lets unlock logic decide
 * (release and check-in: Releaser.ts; digest signing: SigningService.ts; wallet signing):
 *
 *   load the module (the store, else the caller's fetch) → read the scope's state and the time →
 *   evaluate (through the DecisionScheduler) → on a failure: an `error` entry, then the error →
 *   refuse a state change for a requester the input says is unauthenticated (ERR_UNAUTHENTICATED,
 *   audited) → when anything would happen (allow, or the logic changed its state): the caller's
 *   `verify`, then on allow only its `act` (a failure of either: an `error` entry) → the decision's
 *   entry, recording the act's fields (issue 18 D4: the entry is the intent, the commit records its
 *   seq, a failed commit is voided: auditedCommit.ts) → the state commit → the outcome.
 *
 * A caller names the operation (the entry's kind), the state scope (Store key, and the lock's), the
 * module, the input, the fields naming the decision in its entry, and its verify/act/commit steps.
 * Concurrency per scope: `serial` (one decision at a time), `optimistic` (decisions that change no
 * state run concurrently; one that does commits under the lock only if the state it read is still
 * current, else is evaluated again), or `held` (the caller holds the scope's lock: Decider.lock).
 *
 * Deliberately not here: what an operation is (its input, its entry's naming fields, what it
 * answers), HTTP (api.ts), and the entry/commit order itself (auditedCommit.ts).
 */
import { createHash } from 'node:crypto';
import { AgentError, ContentError } from '../errors.ts';
import type { EvaluationInput } from '../sandbox/inputs.ts';
import type { DecisionRecord } from '../sandbox/Sandbox.ts';
import type { AuditLog, Json } from './AuditLog.ts';
import type { Clock } from './Clock.ts';
import { auditInput } from './auditInput.ts';
import { auditedCommit, auditedFailure } from './auditedCommit.ts';
import { KeyedLock } from './KeyedLock.ts';
import type { ModuleStore } from './ModuleStore.ts';
import type { Receipt } from './Receipt.ts';
import type { Store } from './Store.ts';

/** What evaluates a module on an input: a Sandbox, a WorkerSandbox, or the DecisionScheduler. */
export interface Evaluator {
  evaluate(module: Uint8Array, input: EvaluationInput): Promise<DecisionRecord> | DecisionRecord;
}

export interface DeciderDeps {
  store: Store;
  modules: ModuleStore;
  audit: AuditLog;
  sandbox: Evaluator;
  clock: Clock;
  /** The sandbox's fuel limit, recorded in every error entry so that a replay uses the same one. */
  fuelLimit: number;
}

type Fields = { [k: string]: Json };

/** What an act step gives: its result for the caller, and what the decision's entry records of it. */
export interface Acted<R> {
  result: R;
  /** Entry fields (e.g. the signature, the signed transaction); none may repeat the entry's own. */
  audit?: Fields;
}

/** One decision, as its operation describes it. */
export interface Decision<R> {
  /** The audit entry's kind ('release', 'checkin', 'sign', …); refusals name it too. */
  op: string;
  /** The logic state's key in the Store, and the lock's: a header hash, "sign:<slot id>", … */
  scope: string;
  concurrency: 'serial' | 'optimistic' | 'held';
  /** How messages name what is decided on (e.g. "capsule <id>"): optimistic's 503 after retries. */
  subject?: string;
  module: {
    /** SHA-256 (hex) of the logic module. */
    hash: string;
    /** Fetches a module the store lacks; a ContentError ERR_CONTENT_UNAVAILABLE means "not there either". */
    fetch?: () => Promise<Uint8Array>;
    /** The error for a module found nowhere (`cause`: the fetch's error, if one was tried). */
    notFound(cause: unknown): Error;
  };
  /** The evaluation input; the Decider adds `now` and `state` (of `scope`). `authenticated: false`
   * forbids a state change; leaving it out (a check-in, signed by its author) does not. */
  input: Omit<EvaluationInput, 'now' | 'state'>;
  /** Fields naming the decision, first in its entry (e.g. capsule, header, logic, requester). */
  fields: Fields;
  /** Runs at the start of each attempt, before the module is loaded (e.g. a disk-space check). */
  admit?: () => Promise<void>;
  /** false: the logic's allow is recorded but not acted on (a check-in); the outcome is then deny. */
  mayAllow?: boolean;
  /** Before anything happens (allow, or a state change): proves the request genuine. A throw is audited. */
  verify?: () => Promise<void>;
  /** On allow only, after verify: does what was allowed (releases, signs). A throw is audited. */
  act?: () => Promise<Acted<R>>;
  /** Written with the state, in its transaction (e.g. registering the capsule); `now`: the decision's time. */
  alsoCommit?: (now: number) => void;
  /**
   * The layout of error entries where existing logs fix another than the default (a new operation
   * leaves this out): `fields` naming the decision (default: `fields`); `uncoded`: the code recorded
   * for an error without one (default ERR_INTERNAL); `omitNullVerdict`: no `logicVerdict` when the
   * logic did not decide (default `logicVerdict: null`); `unauditedAct`: a failing act is thrown
   * without an entry (default: audited like any failure).
   */
  errors?: { fields?: Fields; uncoded?: string; omitNullVerdict?: boolean; unauditedAct?: boolean };
}

/** What every decision's answer says (its HTTP body's common part). */
export interface DecisionAnswer {
  verdict: 'allow' | 'deny';
  reason: string;
  fuel: number;
  /** The seq of the decision's audit entry. */
  audit: number;
  /** The signed receipt of that entry (docs/AUDIT.md "Receipts"). */
  receipt: Receipt;
}

/** The members of `o` every decision's answer carries (releases, signing, the wallet: one shape). */
export function decisionAnswer(o: DecisionAnswer): DecisionAnswer {
  return { verdict: o.verdict, reason: o.reason, fuel: o.fuel, audit: o.audit, receipt: o.receipt };
}

/** What a decision came to (an error is thrown instead, with its entry's receipt attached). */
export interface Decided<R> extends DecisionAnswer {
  /** State keys the logic changed (committed). */
  changed: string[];
  /** The act's result (on allow only). */
  result?: R;
}

/** Evaluations of an optimistic decision before it gives up on a scope whose state keeps changing. */
export const MAX_ATTEMPTS = 8;

const STALE = Symbol('stale');
/** Fields every decided entry has: an act may not write over them. */
const OWN = new Set(['verdict', 'reason', 'fuel', 'inputs', 'changed', 'fuelLimit', 'input', 'inputDigest', 'inputBytes', 'commit']);

export class Decider {
  readonly #d: DeciderDeps;
  readonly #locks = new KeyedLock();

  constructor(deps: DeciderDeps) {
    this.#d = deps;
  }

  /** Runs `fn` alone for this scope: no decision on it reads, evaluates or commits meanwhile (unless `held`). */
  lock<T>(scope: string, fn: () => Promise<T>): Promise<T> {
    return this.#locks.run(scope, fn);
  }

  /**
   * Decides once (and, optimistic, again while the state it read changed under it).
   * @throws the module's not-found error; the clock's AgentError ERR_UNAVAILABLE; an evaluation,
   *   verify or act error after its `error` entry (receipt attached); AgentError ERR_UNAUTHENTICATED
   *   (401, audited); AgentError ERR_UNAVAILABLE (503) when an optimistic decision found its state
   *   changed MAX_ATTEMPTS times; AgentError ERR_AUDIT / KeyStoreError (503) when the entry cannot
   *   be written; the commit's StoreError (503) after its `void` entry
   */
  async decide<R>(x: Decision<R>): Promise<Decided<R>> {
    if (typeof x.scope !== 'string' || x.scope === '') throw new TypeError(`decision.scope: expected a non-empty string, got ${JSON.stringify(x.scope)}`);
    if (x.concurrency === 'serial') return this.#locks.run(x.scope, async () => (await this.#attempt(x, true)) as Decided<R>);
    if (x.concurrency === 'held') return (await this.#attempt(x, true)) as Decided<R>;
    if (x.concurrency !== 'optimistic')
      throw new TypeError(`decision.concurrency: expected "serial", "optimistic" or "held", got ${JSON.stringify(x.concurrency)}`);
    for (let attempt = 1; ; attempt++) {
      const o = await this.#attempt(x, false);
      if (o !== STALE) return o;
      if (attempt >= MAX_ATTEMPTS) {
        throw new AgentError('ERR_UNAVAILABLE', `${x.subject ?? `${x.op} ${x.scope}`}: its state kept changing under concurrent requests; try again`);
      }
    }
  }

  /** One evaluation. `locked`: no other decision on the scope runs (else STALE when its state moved). */
  async #attempt<R>(x: Decision<R>, locked: boolean): Promise<Decided<R> | typeof STALE> {
    const d = this.#d;
    await x.admit?.();
    const module = await this.#module(x.module);
    const now = await d.clock.now();
    const state = d.store.state(x.scope);
    const version = locked ? '' : stateVersion(state);
    const input: EvaluationInput = { ...x.input, now, state };
    let r: DecisionRecord;
    try {
      r = await d.sandbox.evaluate(module, input);
    } catch (e) {
      return this.#failed(x, input, e);
    }
    if (r.changed.length && !locked) {
      return this.#locks.run(x.scope, async () => (stateVersion(d.store.state(x.scope)) !== version ? STALE : this.#conclude(x, input, r)));
    }
    return this.#conclude(x, input, r);
  }

  /** The store's module, else the fetched one, else the caller's not-found error. */
  async #module(m: Decision<unknown>['module']): Promise<Uint8Array> {
    let module = await this.#d.modules.get(m.hash);
    let tried: unknown;
    if (!module && m.fetch) {
      try {
        module = await m.fetch();
      } catch (e) {
        if (!(e instanceof ContentError && e.code === 'ERR_CONTENT_UNAVAILABLE')) throw e;
        tried = e;
      }
    }
    if (!module) throw m.notFound(tried);
    return module;
  }

  /** After the logic: refuse, verify and act, audit, commit. */
  async #conclude<R>(x: Decision<R>, input: EvaluationInput, r: DecisionRecord): Promise<Decided<R>> {
    const d = this.#d;
    const allow = r.verdict === 'allow' && x.mayAllow !== false;
    // A state change (a counted open, a spent limit) needs a requester who proved its identity:
    // otherwise anyone knowing a recipient could spend it (docs/API.md "Requester authentication").
    if (r.changed.length && input.authenticated === false) return this.#failed(x, input, unauthenticatedChange(r.changed, x.op), r.verdict);
    let acted: Acted<R> | undefined;
    if (allow || r.changed.length) {
      try {
        await x.verify?.();
      } catch (e) {
        return this.#failed(x, input, e, r.verdict);
      }
      if (allow && x.act) {
        try {
          acted = await x.act();
        } catch (e) {
          if (x.errors?.unauditedAct) throw e;
          return this.#failed(x, input, e, r.verdict);
        }
        const clash = Object.keys(acted.audit ?? {}).find((k) => OWN.has(k) || k in x.fields);
        if (clash !== undefined) throw new TypeError(`act: its audit field "${clash}" would replace one the entry already has`);
      }
    }
    // D4: the entry is the intent; the commit records its seq; a failed commit is voided (auditedCommit.ts).
    const { entry, receipt } = await auditedCommit(
      d,
      x.op,
      input.now,
      {
        ...x.fields,
        verdict: r.verdict,
        reason: r.reason,
        fuel: r.fuel,
        inputs: r.inputsSha256,
        changed: r.changed,
        fuelLimit: r.fuelLimit,
        ...acted?.audit,
        ...auditInput(input, undefined, true),
      },
      allow || r.changed.length
        ? () => {
            x.alsoCommit?.(input.now);
            d.store.putState(x.scope, r.state, r.changed);
          }
        : undefined,
    );
    return { verdict: allow ? 'allow' : 'deny', reason: r.reason, fuel: r.fuel, audit: entry.seq, receipt, changed: r.changed, result: acted?.result };
  }

  /**
   * A trap, exhausted fuel, a refused state change, a request that fails verification: a decision
   * too (never an allow), logged with its code and (if it decided) the logic's verdict, then thrown.
   */
  #failed(x: Decision<unknown>, input: EvaluationInput, e: unknown, logicVerdict?: string): Promise<never> {
    const code = (e as { code?: string }).code ?? x.errors?.uncoded ?? 'ERR_INTERNAL';
    const verdict: Fields = logicVerdict === undefined && x.errors?.omitNullVerdict ? {} : { logicVerdict: logicVerdict ?? null };
    return auditedFailure(
      this.#d,
      x.op,
      input.now,
      {
        ...(x.errors?.fields ?? x.fields),
        verdict: 'error',
        ...verdict,
        fuelLimit: this.#d.fuelLimit,
        error: code,
        ...auditInput(input, code, logicVerdict !== undefined),
      },
      e,
    );
  }
}

/** Refusal of a state-changing decision for an unauthenticated requester (nothing is committed). */
function unauthenticatedChange(changed: string[], what: string): AgentError {
  return new AgentError(
    'ERR_UNAUTHENTICATED',
    `${what}: this decision would change the logic's state (${changed.length} key(s), e.g. a counted open) and the requester is not authenticated`,
    {
      hint: 'send the request with an auth field made with the requester\'s identity (docs/API.md "Requester authentication"); capsule open does this with --identity',
    },
  );
}

/** A digest of a scope's whole logic state, to detect a concurrent change. */
function stateVersion(state: Map<string, Uint8Array>): string {
  const h = createHash('sha256');
  for (const [k, v] of [...state].sort(([a], [b]) => (a < b ? -1 : 1))) h.update(`${k}:${v.length}:`).update(v);
  return h.digest('hex');
}
