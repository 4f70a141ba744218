/**
 * The one decision pipeline (agent/daemon/Decider.ts) on real parts: a Store (SQLite) and an
 * AuditLog in a temporary directory, a ModuleStore holding small modules compiled from WAT, and the
 * in-process Sandbox evaluating them. Covers: allow (act runs once, its fields are audited, state
 * and its commit record are written), deny (act never runs), an evaluation error (audited, nothing
 * acted or committed), an unauthenticated state change (refused, audited, nothing committed), a
 * failing act and a failing commit (error entry / void entry, nothing committed), the three
 * concurrency modes (serial and optimistic serialise a counter; optimistic gives up after
 * MAX_ATTEMPTS), module lookup with a fetch fallback, the error-entry layouts existing logs fix, and
 * that every entry it writes replays with `capsule audit verify --replay`.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { p256 } from '@noble/curves/nist.js';
import { AgentError, ContentError, StoreError } from '../agent/errors.ts';
import { encodeP256Key, GUARDIAN_KEY_HRP } from '../agent/crypto/p256.ts';
import { AuditLog, verifyAuditLog, type AuditEntry } from '../agent/daemon/AuditLog.ts';
import { Decider, MAX_ATTEMPTS, type Decision, type Evaluator } from '../agent/daemon/Decider.ts';
import { ModuleStore } from '../agent/daemon/ModuleStore.ts';
import { receiptOfError } from '../agent/daemon/Receipt.ts';
import { Store } from '../agent/daemon/Store.ts';
import type { EvaluationInput } from '../agent/sandbox/inputs.ts';
import { Sandbox } from '../agent/sandbox/Sandbox.ts';
import { capsule } from './helpers/cli.ts';
import { rejectsError } from './helpers/assertError.ts';
import { wat } from './helpers/wat.ts';
import { statusOf } from '../agent/daemon/statusByCode.ts';

const T = 1_893_456_000_000;
const SCOPE = 'a'.repeat(64);
const N = '6e'; // hex("n"): the counter's state key

/** Counts in state "n" (one byte) and answers `verdict` with reason "counted". */
const counter = (verdict: 0 | 1) =>
  wat(`(module
  (import "capsule_v1" "state_get" (func $get (param i32 i32 i32 i32) (result i32)))
  (import "capsule_v1" "state_set" (func $set (param i32 i32 i32 i32)))
  (import "capsule_v1" "set_reason" (func $reason (param i32 i32)))
  (memory (export "memory") 1 1)
  (data (i32.const 0) "n")
  (data (i32.const 16) "counted")
  (func (export "decide") (result i32)
    (drop (call $get (i32.const 0) (i32.const 1) (i32.const 32) (i32.const 1)))
    (i32.store8 (i32.const 32) (i32.add (i32.load8_u (i32.const 32)) (i32.const 1)))
    (call $set (i32.const 0) (i32.const 1) (i32.const 32) (i32.const 1))
    (call $reason (i32.const 16) (i32.const 7))
    (i32.const ${verdict})))`);
/** Answers `verdict` with reason "fixed" and touches no state. */
const fixed = (verdict: 0 | 1) =>
  wat(`(module
  (import "capsule_v1" "set_reason" (func $reason (param i32 i32)))
  (memory (export "memory") 1 1)
  (data (i32.const 0) "fixed")
  (func (export "decide") (result i32) (call $reason (i32.const 0) (i32.const 5)) (i32.const ${verdict})))`);
const TRAP = wat('(module (memory (export "memory") 1 1) (func (export "decide") (result i32) unreachable))');

const dirs: string[] = [];
const closers: Array<() => Promise<void> | void> = [];

interface Rig {
  dir: string;
  store: Store;
  audit: AuditLog;
  modules: ModuleStore;
  sandbox: Sandbox;
  guardianKey: string;
  hashes: { countAllow: string; countDeny: string; allow: string; deny: string; trap: string };
  decider(evaluator?: Evaluator): Decider;
  entries(): AuditEntry[];
}

async function rig(): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), 'decider-'));
  dirs.push(dir);
  const sk = p256.utils.randomSecretKey();
  const signer = {
    publicKey: p256.getPublicKey(sk, true),
    sign: async (d: Uint8Array) => p256.sign(d, sk, { prehash: false, lowS: false, format: 'compact' } as never) as Uint8Array,
  };
  const store = Store.open(join(dir, 'agent.sqlite'));
  const audit = await AuditLog.open(join(dir, 'audit.log'), signer, T);
  closers.push(
    () => audit.close(),
    () => store.close(),
  );
  const modules = new ModuleStore(join(dir, 'modules'));
  const hashes = {
    countAllow: await modules.add(counter(1)),
    countDeny: await modules.add(counter(0)),
    allow: await modules.add(fixed(1)),
    deny: await modules.add(fixed(0)),
    trap: await modules.add(TRAP),
  };
  const sandbox = new Sandbox();
  const clock = { kind: 'test', now: async () => T };
  return {
    dir,
    store,
    audit,
    modules,
    sandbox,
    hashes,
    guardianKey: encodeP256Key(GUARDIAN_KEY_HRP, signer.publicKey),
    decider: (evaluator = sandbox) => new Decider({ store, modules, audit, sandbox: evaluator, clock, fuelLimit: sandbox.limits.fuel }),
    entries: () => verifyAuditLog(readFileSync(join(dir, 'audit.log'), 'utf8')),
  };
}

/** A decision on SCOPE with module `hash`; `over` replaces any part. */
function decision<R = string>(hash: string, over: Partial<Decision<R>> = {}): Decision<R> {
  const input: Omit<EvaluationInput, 'now' | 'state'> = {
    requester: 'age1requester',
    evidence: [],
    authenticated: true,
    capsule: {
      id: new Uint8Array(16).fill(1),
      created: 0,
      owner: null,
      logic: Uint8Array.from(Buffer.from(hash, 'hex')),
      size: 0,
      digest: new Uint8Array(32).fill(2),
    },
  };
  return {
    op: 'test',
    scope: SCOPE,
    concurrency: 'serial',
    subject: 'test scope',
    module: { hash, notFound: (cause) => new AgentError('ERR_NOT_FOUND', `test: module ${hash} not found`, { status: 404, cause }) },
    input,
    fields: { subject: 'test', logic: hash, requester: 'age1requester' },
    ...over,
  };
}

const count = (r: Rig) => r.store.state(SCOPE).get(N)?.[0];
const last = (r: Rig) => r.entries().at(-1)!;

test("allow: verify and act run once, the act's fields are in the entry (an intent), state and its commit record are written", async () => {
  const r = await rig();
  const calls: string[] = [];
  const o = await r.decider().decide(
    decision(r.hashes.countAllow, {
      verify: async () => {
        calls.push('verify');
      },
      act: async () => {
        calls.push('act');
        return { result: 'signed', audit: { signature: 'beef', signedTx: '02f8' } };
      },
      alsoCommit: (now) => {
        calls.push(`commit ${now}`);
      },
    }),
  );
  assert.equal(calls, ['verify', 'act', `commit ${T}`]);
  assert.equal(
    { verdict: o.verdict, reason: o.reason, changed: o.changed, result: o.result },
    { verdict: 'allow', reason: 'counted', changed: [N], result: 'signed' },
  );
  const e = last(r);
  assert.is(o.audit, e.seq);
  assert.equal(o.receipt.seq, e.seq);
  assert.equal(
    Object.keys(e).filter((k) => !['seq', 'prev', 'at', 'kind', 'sig'].includes(k)),
    ['subject', 'logic', 'requester', 'verdict', 'reason', 'fuel', 'inputs', 'changed', 'fuelLimit', 'signature', 'signedTx', 'input', 'commit'],
  );
  assert.equal([e.kind, e.verdict, e.signature, e.signedTx, e.commit, e.fuel], ['test', 'allow', 'beef', '02f8', true, o.fuel]);
  assert.is(count(r), 1);
  assert.ok(r.store.appliedOf([e.seq]).has(e.seq), "the commit records the entry's seq");
});

test('deny without a state change: neither verify nor act runs; the entry is the whole decision (no commit)', async () => {
  const r = await rig();
  let ran = 0;
  const o = await r.decider().decide(
    decision(r.hashes.deny, {
      verify: async () => {
        ran++;
      },
      act: async () => {
        ran++;
        return { result: 'x' };
      },
    }),
  );
  assert.equal([o.verdict, o.reason, o.result, ran], ['deny', 'fixed', undefined, 0]);
  const e = last(r);
  assert.equal([e.verdict, e.commit, e.seq], ['deny', undefined, o.audit]);
  assert.not.ok(r.store.appliedOf([e.seq]).has(e.seq));
});

test("deny that changes state: verify runs (the state is committed), act does not; mayAllow false records the logic's allow but answers deny", async () => {
  const r = await rig();
  const calls: string[] = [];
  const steps = {
    verify: async () => {
      calls.push('verify');
    },
    act: async () => {
      calls.push('act');
      return { result: 'x' };
    },
  };
  const o = await r.decider().decide(decision(r.hashes.countDeny, steps));
  assert.equal([o.verdict, calls, count(r), last(r).commit], ['deny', ['verify'], 1, true]);
  const c = await r.decider().decide(decision(r.hashes.countAllow, { ...steps, mayAllow: false }));
  assert.equal([c.verdict, c.result, calls, count(r)], ['deny', undefined, ['verify', 'verify'], 2]);
  assert.equal([last(r).verdict, last(r).commit], ['allow', true], 'the entry keeps what the logic said');
});

test('an evaluation error is audited (verdict error, its code, logicVerdict null, the input kept for replay) and thrown with the receipt; nothing acted or committed', async () => {
  const r = await rig();
  let ran = 0;
  let thrown: unknown;
  await rejectsError(
    () =>
      r
        .decider()
        .decide(
          decision(r.hashes.trap, {
            act: async () => {
              ran++;
              return { result: 'x' };
            },
          }),
        )
        .catch((e) => {
          thrown = e;
          throw e;
        }),
    'SandboxError',
    'ERR_TRAP',
    /unreachable/,
  );
  const e = last(r);
  assert.equal(
    Object.keys(e).filter((k) => !['seq', 'prev', 'at', 'kind', 'sig'].includes(k)),
    ['subject', 'logic', 'requester', 'verdict', 'logicVerdict', 'fuelLimit', 'error', 'input'],
  );
  assert.equal([e.verdict, e.logicVerdict, e.error, e.fuelLimit], ['error', null, 'ERR_TRAP', r.sandbox.limits.fuel]);
  assert.is(receiptOfError(thrown)?.seq, e.seq);
  assert.equal([ran, r.store.state(SCOPE).size], [0, 0]);
});

test("an unauthenticated state change is refused (401 ERR_UNAUTHENTICATED, audited with the logic's verdict); a check-in-like input without the flag is not", async () => {
  const r = await rig();
  let ran = 0;
  const base = decision(r.hashes.countAllow, {
    op: 'sign',
    act: async () => {
      ran++;
      return { result: 'x' };
    },
  });
  let thrown: unknown;
  await rejectsError(
    () =>
      r
        .decider()
        .decide({ ...base, input: { ...base.input, authenticated: false } })
        .catch((e) => {
          thrown = e;
          throw e;
        }),
    'AgentError',
    'ERR_UNAUTHENTICATED',
    /^sign: this decision would change the logic's state \(1 key\(s\), e\.g\. a counted open\) and the requester is not authenticated$/,
  );
  assert.is(statusOf((thrown as AgentError).code), 401);
  const e = last(r);
  assert.equal([e.kind, e.verdict, e.logicVerdict, e.error, e.commit], ['sign', 'error', 'allow', 'ERR_UNAUTHENTICATED', undefined]);
  assert.equal((e.input as { authenticated: boolean }).authenticated, false);
  assert.is(receiptOfError(thrown)?.seq, e.seq);
  assert.equal([ran, count(r), r.store.appliedOf([e.seq]).size], [0, undefined, 0], 'nothing acted or committed');
  // A decision that changes no state needs no authentication.
  assert.is((await r.decider().decide({ ...decision(r.hashes.allow), input: { ...base.input, authenticated: false } })).verdict, 'allow');
  // Without the flag (a check-in: signed by its author), the change is committed.
  const { authenticated: _, ...unflagged } = base.input;
  assert.is((await r.decider().decide({ ...base, input: unflagged })).verdict, 'allow');
  assert.is(count(r), 1);
});

test("a failing verify or act is audited as an error with the logic's verdict and thrown; nothing is committed; unauditedAct throws without an entry", async () => {
  const r = await rig();
  const before = r.audit.seq;
  let thrown: unknown;
  await rejectsError(
    () =>
      r
        .decider()
        .decide(
          decision(r.hashes.countAllow, {
            act: async () => {
              throw new AgentError('ERR_UNAVAILABLE', 'test: the module refused to sign', { status: 503 });
            },
          }),
        )
        .catch((e) => {
          thrown = e;
          throw e;
        }),
    'AgentError',
    'ERR_UNAVAILABLE',
    /^test: the module refused to sign$/,
  );
  const e = last(r);
  assert.equal([e.seq, e.verdict, e.logicVerdict, e.error, e.commit], [before + 1, 'error', 'allow', 'ERR_UNAVAILABLE', undefined]);
  assert.ok(e.input, 'the logic decided: its input is kept for replay');
  assert.is(receiptOfError(thrown)?.seq, e.seq);
  assert.is(count(r), undefined, 'state not committed');
  // A header that fails verification on a denial that would change state: the same.
  await rejectsError(
    () =>
      r.decider().decide(
        decision(r.hashes.countDeny, {
          verify: async () => {
            throw new StoreError('ERR_STORE', 'test: verification failed');
          },
        }),
      ),
    'StoreError',
    'ERR_STORE',
    /^test: verification failed$/,
  );
  assert.equal([last(r).logicVerdict, last(r).error, count(r)], ['deny', 'ERR_STORE', undefined]);
  // Existing `sign` decisions answer a failing signature without an entry.
  const seq = r.audit.seq;
  await rejectsError(
    () =>
      r.decider().decide(
        decision(r.hashes.countAllow, {
          errors: { unauditedAct: true },
          act: async () => {
            throw new AgentError('ERR_UNAVAILABLE', 'test: no signature');
          },
        }),
      ),
    'AgentError',
    'ERR_UNAVAILABLE',
    /^test: no signature$/,
  );
  assert.equal([r.audit.seq, count(r)], [seq, undefined], 'no entry, nothing committed');
});

test("a failing commit: the intent is followed by a void entry naming it, the error carries the void's receipt, the transaction is rolled back", async () => {
  const r = await rig();
  let thrown: unknown;
  await rejectsError(
    () =>
      r
        .decider()
        .decide(
          decision(r.hashes.countAllow, {
            act: async () => ({ result: 'x' }),
            alsoCommit: (now) => {
              r.store.putCapsule({ id: '01'.repeat(16), headerHash: SCOPE, logic: r.hashes.countAllow, prefix: new Uint8Array(8) }, now); // a real write, then the failure
              throw new StoreError('ERR_STORE_FULL', 'test: the disk is full');
            },
          }),
        )
        .catch((e) => {
          thrown = e;
          throw e;
        }),
    'StoreError',
    'ERR_STORE_FULL',
    /^test: the disk is full$/,
  );
  const [intent, voided] = r.entries().slice(-2);
  assert.equal([intent!.verdict, intent!.commit], ['allow', true]);
  assert.equal([voided!.kind, voided!.ref, voided!.reason], ['void', intent!.seq, 'ERR_STORE_FULL']);
  assert.is(receiptOfError(thrown)?.seq, voided!.seq);
  assert.equal([count(r), r.store.capsule(SCOPE), r.store.appliedOf([intent!.seq]).size], [undefined, undefined, 0]);
});

test('serial: a second decision on the scope waits for the first to commit, and counts on its state', async () => {
  const r = await rig();
  const events: string[] = [];
  const evaluator: Evaluator = {
    evaluate: (m, i) => {
      events.push(`eval ${i.requester}`);
      return r.sandbox.evaluate(m, i);
    },
  };
  const d = r.decider(evaluator);
  let started!: () => void;
  let finish!: () => void;
  const aStarted = new Promise<void>((res) => {
    started = res;
  });
  const gate = new Promise<void>((res) => {
    finish = res;
  });
  const one = (who: string, act: () => Promise<void>) => {
    const x = decision(r.hashes.countAllow, {
      act: async () => {
        await act();
        return { result: `${who} ${count(r) ?? 0}` };
      },
    });
    return d.decide({ ...x, input: { ...x.input, requester: who } });
  };
  const a = one('a', async () => {
    events.push('act a');
    started();
    await gate;
  });
  const b = one('b', async () => {
    events.push('act b');
  });
  await aStarted;
  for (let i = 0; i < 5; i++) await new Promise((res) => setImmediate(res)); // let b run as far as it can
  assert.equal(events, ['eval a', 'act a'], 'b has not started while a holds the scope');
  finish();
  const [oa, ob] = await Promise.all([a, b]);
  assert.equal(events, ['eval a', 'act a', 'eval b', 'act b']);
  assert.equal([oa.result, ob.result, count(r)], ['a 0', 'b 1', 2], 'b evaluated on the state a committed');
  // held: the caller holds the lock (as a check-in does); the decision runs inside it.
  const held = await d.lock(SCOPE, () => d.decide(decision(r.hashes.countAllow, { concurrency: 'held' })));
  assert.equal([held.verdict, count(r)], ['allow', 3]);
});

test('optimistic: two decisions that read the same state both evaluate; the later commit finds it moved and is evaluated again', async () => {
  const r = await rig();
  let evaluations = 0;
  let open!: () => void;
  const both = new Promise<void>((res) => {
    open = res;
  });
  const evaluator: Evaluator = {
    evaluate: async (m, i) => {
      const rec = r.sandbox.evaluate(m, i);
      if (++evaluations === 2) open();
      if (evaluations <= 2) await both; // both have read n = 0 before either commits
      return rec;
    },
  };
  const d = r.decider(evaluator);
  const before = r.audit.seq;
  const outs = await Promise.all([0, 1].map(() => d.decide(decision(r.hashes.countAllow, { concurrency: 'optimistic' }))));
  assert.equal([evaluations, count(r)], [3, 2], 'not over-spent: the stale one was evaluated on n = 1');
  assert.equal(
    outs.map((o) => o.verdict),
    ['allow', 'allow'],
  );
  assert.is(r.audit.seq, before + 2, 'one entry per decision, none for the stale evaluation');
  // Decisions that change nothing never take the lock or re-evaluate.
  evaluations = 10;
  await Promise.all([0, 1].map(() => d.decide(decision(r.hashes.allow, { concurrency: 'optimistic' }))));
  assert.is(evaluations, 12);
});

test(`optimistic: a scope whose state changes under every attempt gives up after ${MAX_ATTEMPTS} with 503 ERR_UNAVAILABLE, nothing audited`, async () => {
  const r = await rig();
  let evaluations = 0;
  const evaluator: Evaluator = {
    evaluate: (m, i) => {
      const rec = r.sandbox.evaluate(m, i);
      r.store.putState(SCOPE, new Map([['77', Uint8Array.of(++evaluations)]]), ['77']); // another writer, every time
      return rec;
    },
  };
  const before = r.audit.seq;
  let thrown: unknown;
  await rejectsError(
    () =>
      r
        .decider(evaluator)
        .decide(decision(r.hashes.countAllow, { concurrency: 'optimistic', subject: 'capsule 0101' }))
        .catch((e) => {
          thrown = e;
          throw e;
        }),
    'AgentError',
    'ERR_UNAVAILABLE',
    /^capsule 0101: its state kept changing under concurrent requests; try again$/,
  );
  assert.equal([statusOf((thrown as AgentError).code), evaluations, r.audit.seq, count(r)], [503, MAX_ATTEMPTS, before, undefined]);
});

test('module lookup: the store, else the fetch; "unavailable" from the fetch is the not-found error\'s cause; any other fetch error is thrown; nothing audited', async () => {
  const r = await rig();
  const before = r.audit.seq;
  const missing = 'f'.repeat(64);
  const base = decision(missing);
  await rejectsError(() => r.decider().decide(base), 'AgentError', 'ERR_NOT_FOUND', /^test: module f{64} not found$/);
  const unavailable = new ContentError('ERR_CONTENT_UNAVAILABLE', 'test: no provider');
  let cause: unknown;
  await rejectsError(
    () =>
      r.decider().decide({
        ...base,
        module: {
          ...base.module,
          fetch: async () => {
            throw unavailable;
          },
          notFound: (c) => {
            cause = c;
            return base.module.notFound(c);
          },
        },
      }),
    'AgentError',
    'ERR_NOT_FOUND',
    /not found/,
  );
  assert.is(cause, unavailable);
  await rejectsError(
    () =>
      r.decider().decide({
        ...base,
        module: {
          ...base.module,
          fetch: async () => {
            throw new ContentError('ERR_CID_MISMATCH', 'test: wrong bytes');
          },
        },
      }),
    'ContentError',
    'ERR_CID_MISMATCH',
    /^test: wrong bytes$/,
  );
  assert.is(r.audit.seq, before);
  const fetched = await r.decider().decide({ ...base, module: { ...base.module, fetch: async () => fixed(1) } });
  assert.equal([fetched.verdict, fetched.reason], ['allow', 'fixed']);
});

test('error-entry layout of existing sign decisions: its own naming fields, no null logicVerdict, ERR_SANDBOX for an uncoded error', async () => {
  const r = await rig();
  const evaluator: Evaluator = {
    evaluate: () => {
      throw new Error('test: a worker bug');
    },
  };
  const x = decision(r.hashes.allow, { op: 'sign', fields: { slot: 1, logic: r.hashes.allow, requester: 'age1requester', digest: '02'.repeat(32) } });
  await rejectsError(
    () =>
      r
        .decider(evaluator)
        .decide({ ...x, errors: { fields: { slot: 1, logic: r.hashes.allow, requester: 'age1requester' }, uncoded: 'ERR_SANDBOX', omitNullVerdict: true } }),
    'Error',
    undefined,
    /^test: a worker bug$/,
  );
  const e = last(r);
  assert.equal(
    Object.keys(e).filter((k) => !['seq', 'prev', 'at', 'kind', 'sig'].includes(k)),
    ['slot', 'logic', 'requester', 'verdict', 'fuelLimit', 'error', 'inputDigest', 'inputBytes'],
  );
  assert.is(e.error, 'ERR_SANDBOX');
  // The default layout (release's): the decision's fields, logicVerdict null, ERR_INTERNAL.
  await rejectsError(() => r.decider(evaluator).decide(x), 'Error', undefined, /^test: a worker bug$/);
  assert.equal([last(r).digest, last(r).logicVerdict, last(r).error], ['02'.repeat(32), null, 'ERR_INTERNAL']);
});

test("misuse is refused before anything runs: an empty scope, an unknown concurrency, an act field that would replace the entry's own", async () => {
  const r = await rig();
  const d = r.decider();
  await rejectsError(() => d.decide(decision(r.hashes.allow, { scope: '' })), 'TypeError', undefined, /^decision\.scope: expected a non-empty string, got ""$/);
  await rejectsError(
    () => d.decide(decision(r.hashes.allow, { concurrency: 'sometimes' as never })),
    'TypeError',
    undefined,
    /^decision\.concurrency: expected "serial", "optimistic" or "held", got "sometimes"$/,
  );
  const seq = r.audit.seq;
  await rejectsError(
    () => d.decide(decision(r.hashes.allow, { act: async () => ({ result: 'x', audit: { verdict: 'deny' } }) })),
    'TypeError',
    undefined,
    /^act: its audit field "verdict" would replace one the entry already has$/,
  );
  await rejectsError(
    () => d.decide(decision(r.hashes.allow, { act: async () => ({ result: 'x', audit: { requester: 'someone' } }) })),
    'TypeError',
    undefined,
    /^act: its audit field "requester" would replace one the entry already has$/,
  );
  assert.is(r.audit.seq, seq, 'nothing audited');
});

test('every decision the Decider writes replays: capsule audit verify --replay over allow, deny, error, refusal and void entries', async () => {
  const r = await rig();
  const d = r.decider();
  await d.decide(decision(r.hashes.countAllow, { act: async () => ({ result: 'x', audit: { signature: 'beef' } }) }));
  await d.decide(decision(r.hashes.countDeny));
  await d.decide(decision(r.hashes.deny));
  await d.decide(decision(r.hashes.trap)).catch(() => {});
  const x = decision(r.hashes.countAllow);
  await d.decide({ ...x, input: { ...x.input, authenticated: false } }).catch(() => {});
  await d
    .decide(
      decision(r.hashes.countAllow, {
        act: async () => {
          throw new AgentError('ERR_UNAVAILABLE', 'test');
        },
      }),
    )
    .catch(() => {});
  await d
    .decide(
      decision(r.hashes.countAllow, {
        alsoCommit: () => {
          throw new StoreError('ERR_STORE', 'test');
        },
      }),
    )
    .catch(() => {});
  await r.audit.close();
  const v = capsule(['audit', 'verify', join(r.dir, 'audit.log'), '--guardian-key', r.guardianKey, '--replay', '--modules', join(r.dir, 'modules')], r.dir);
  assert.is(v.code, 0, v.stderr);
  assert.match(
    v.stdout.toString(),
    /: 9 entries, chain and signatures valid \(guardian capsule-guardian1[0-9a-z]+, pinned\); 7 decisions replayed with the same verdict and fuel\n$/,
  );
});

test.after(async () => {
  for (const close of closers) await Promise.resolve(close()).catch(() => {});
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

test.run();
