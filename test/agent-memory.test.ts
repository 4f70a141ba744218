/**
 * The agent's memory budget (issue 15), by behaviour: sandbox workers start on demand (only the
 * warm ones at start, one per decision that could run, stopped again when idle, never below the
 * warm count); the HTTP server loads its further routes and ajv only when a request needs them;
 * the module checker runs Binaryen in a child process that is gone after a refusal and when idle;
 * native memory is trimmed once after a burst, not while busy. RSS figures are in bench/agent.ts
 * (no memory or timing thresholds here).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DecisionScheduler, type PoolSandbox } from '../agent/daemon/DecisionScheduler.ts';
import { HttpServer, type Route } from '../agent/daemon/HttpServer.ts';
import { ProcessChecker } from '../agent/daemon/ProcessChecker.ts';
import { trimWhenQuiet } from '../agent/daemon/mallocTrim.ts';
import { requestContext } from '../agent/daemon/requestContext.ts';
import { loadConfig } from '../agent/daemon/config.ts';
import { DEFAULT_LIMITS } from '../agent/sandbox/limits.ts';
import type { DecisionRecord } from '../agent/sandbox/Sandbox.ts';
import type { EvaluationInput } from '../agent/sandbox/inputs.ts';
import { rejectsError } from './helpers/assertError.ts';
import { GOOD_POLICY, wat } from './helpers/wat.ts';

const record = { verdict: 'allow', reason: 'x', fuel: 1, changed: [] } as unknown as DecisionRecord;
const tick = () => new Promise((r) => setImmediate(r));

/** Fake sandboxes that count starts and stops, and whose decisions end when the test says. */
function pool(n: number) {
  const events: string[] = [];
  const running: Array<() => void> = [];
  const workers: PoolSandbox[] = Array.from({ length: n }, (_, i) => ({
    start: async () => {
      events.push(`start ${i}`);
    },
    stop: async () => {
      events.push(`stop ${i}`);
    },
    evaluate: () =>
      new Promise<DecisionRecord>((resolve) => {
        events.push(`run ${i}`);
        running.push(() => resolve(record));
      }),
  }));
  return { events, running, workers };
}

test("scheduler: with warm 0 nothing starts with it; a decision starts one worker, and a second client's decision another", async () => {
  const p = pool(3);
  const s = new DecisionScheduler({ workers: p.workers, warm: 0, maxQueued: 64, fuelPerMinute: 0, fuelLimit: 1, timeoutMs: 1000 });
  await s.start();
  assert.equal(p.events, [], 'no worker at start');
  assert.is(s.workersStarted, 0);
  const ask = (client: string) => requestContext.run({ client }, () => s.evaluate(new Uint8Array(), { requester: client } as EvaluationInput));
  const a = ask('a');
  await tick();
  assert.equal(p.events, ['start 0', 'run 0']);
  const a2 = ask('a'); // the same client: at most all workers but one (2 of 3) run its decisions
  const b = ask('b');
  await tick();
  assert.is(s.workersStarted, 3);
  assert.equal(p.events.filter((e) => e.startsWith('run')).length, 3, 'each waiting decision got a worker as it started');
  for (const end of p.running) end();
  assert.equal(
    [await a, await a2, await b].map((r) => r.reason),
    ['x', 'x', 'x'],
  );
  // Started workers are reused: the next decision starts nothing.
  const again = ask('c');
  await tick();
  assert.is(p.events.filter((e) => e.startsWith('start')).length, 3);
  p.running.at(-1)!();
  await again;
  await s.stop();
});

test('scheduler: a client alone under its cap wakes no worker it could not use', async () => {
  const p = pool(2);
  const s = new DecisionScheduler({ workers: p.workers, warm: 1, maxQueued: 64, fuelPerMinute: 0, fuelLimit: 1, timeoutMs: 1000 });
  await s.start();
  assert.equal(p.events, ['start 0']);
  const ask = () => requestContext.run({ client: 'only' }, () => s.evaluate(new Uint8Array(), { requester: 'only' } as EvaluationInput));
  const jobs = [ask(), ask(), ask()];
  await tick();
  // Two workers: one client runs on at most one (all but one), so the second is not started for it.
  assert.equal(p.events, ['start 0', 'run 0']);
  for (let i = 0; i < 3; i++) {
    p.running[i]!();
    await jobs[i];
    await tick();
  }
  assert.is(s.workersStarted, 1);
  await s.stop();
});

test('scheduler: a worker started on demand stops after idleStopMs; the warm ones stay; prewarm starts one ahead', async () => {
  let now = 0;
  const p = pool(2);
  const s = new DecisionScheduler({
    workers: p.workers,
    warm: 1,
    idleStopMs: 300,
    now: () => now,
    maxQueued: 64,
    fuelPerMinute: 0,
    fuelLimit: 1,
    timeoutMs: 1000,
  });
  await s.start();
  const ask = (client: string) => requestContext.run({ client }, () => s.evaluate(new Uint8Array(), { requester: client } as EvaluationInput));
  const a = ask('a');
  const b = ask('b');
  await tick();
  assert.is(s.workersStarted, 2);
  for (const end of p.running) end();
  await Promise.all([a, b]);
  now = 1000; // both idle since 0, longer than idleStopMs
  await new Promise((r) => setTimeout(r, 400)); // the sweep runs every max(250 ms, idleStopMs / 4)
  assert.is(s.workersStarted, 1, 'back to the warm count');
  assert.is(p.events.filter((e) => e.startsWith('stop')).length, 1);
  await new Promise((r) => setTimeout(r, 300));
  assert.is(s.workersStarted, 1, 'never below it');
  await s.stop();

  const q = pool(2);
  const t = new DecisionScheduler({ workers: q.workers, warm: 0, maxQueued: 64, fuelPerMinute: 0, fuelLimit: 1, timeoutMs: 1000 });
  await t.start();
  t.prewarm();
  t.prewarm(); // one is enough: a no-op once a worker is started or starting
  await tick();
  assert.equal(q.events, ['start 0']);
  await t.stop();
});

test('config: sandboxWarmWorkers defaults to 0 and is a validated count', async () => {
  assert.is((await loadConfig({ env: {} })).sandboxWarmWorkers, 0);
  await rejectsError(
    () => loadConfig({ env: {}, flags: { sandboxWarmWorkers: '-1' } }),
    'AgentError',
    'ERR_CONFIG',
    /sandboxWarmWorkers: expected an integer ≥ 0/,
  );
  assert.is((await loadConfig({ env: {}, flags: { sandboxWarmWorkers: '2' } })).sandboxWarmWorkers, 2);
});

test('HttpServer: `more` routes are loaded at the first request the given ones do not answer, once; a failed load is tried again', async () => {
  let loads = 0;
  let fail = true;
  const more = async (): Promise<Route[]> => {
    loads++;
    if (fail) throw new Error('not yet');
    return [
      {
        method: 'POST',
        path: '/late',
        maxBody: 1024,
        schema: { type: 'object', required: ['n'], properties: { n: { type: 'integer' } } },
        handle: async (b) => ({ status: 200, body: b }),
      },
      { method: 'GET', path: '/early', maxBody: 0, handle: async () => ({ status: 200, body: 'shadowed' }) },
    ];
  };
  const server = new HttpServer([{ method: 'GET', path: '/early', maxBody: 0, handle: async () => ({ status: 200, body: 'early' }) }], {
    host: '127.0.0.1',
    port: 0,
    requestTimeoutMs: 5000,
    ratePerSecond: 0,
    log: () => {},
    more,
  });
  const { port } = await server.listen();
  const url = `http://127.0.0.1:${port}`;
  const post = (body: string) => fetch(`${url}/late`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  try {
    assert.is(await (await fetch(`${url}/early`)).json(), 'early');
    assert.is(loads, 0, 'a route given at construction loads nothing');
    assert.is((await post('{"n":1}')).status, 500, 'the load failed: an internal error');
    fail = false;
    const ok = await post('{"n":1}');
    assert.is(ok.status, 200);
    assert.equal(await ok.json(), { n: 1 });
    const bad = await post('{"n":"x"}');
    assert.is(bad.status, 400, "validated with the route's schema");
    assert.match((await bad.json()).error.message, /^body\.n: must be integer$/);
    assert.is((await fetch(`${url}/nowhere`)).status, 404);
    assert.is((await fetch(`${url}/late`)).status, 405);
    assert.is(await (await fetch(`${url}/early`)).json(), 'early', 'a given route wins over a loaded one');
    assert.is(loads, 2, 'loaded once it succeeded');
  } finally {
    await server.close();
  }
});

test('ProcessChecker: meters in a child process; a refusal is typed and retires it; idle, it exits', async () => {
  const checker = new ProcessChecker({ idleMs: 200 });
  try {
    const ok = await checker.check(wat(GOOD_POLICY), DEFAULT_LIMITS);
    assert.ok(ok.metered.length > 0);
    await rejectsError(
      () => checker.check(wat('(module (memory (export "memory") 1 1))'), DEFAULT_LIMITS),
      'SandboxError',
      'ERR_INVALID_MODULE',
      /^logic module: does not export a function "decide"$/,
    );
    await rejectsError(() => checker.check(Uint8Array.of(1, 2, 3), DEFAULT_LIMITS), 'SandboxError', 'ERR_INVALID_MODULE', /not a valid WebAssembly binary/);
    assert.ok((await checker.check(wat(GOOD_POLICY), DEFAULT_LIMITS)).metered.length > 0, 'checks again after a refusal');
    assert.is(checker.spawned, 3, 'a fresh process after each refusal');
    await new Promise((r) => setTimeout(r, 600));
    assert.ok((await checker.check(wat(GOOD_POLICY), DEFAULT_LIMITS)).metered.length > 0);
    assert.is(checker.spawned, 4, 'the idle process had exited: another was started');
  } finally {
    await checker.close();
  }
  const slow = new ProcessChecker({ timeoutMs: 1 });
  try {
    await rejectsError(
      () => slow.check(wat(GOOD_POLICY), DEFAULT_LIMITS),
      'SandboxError',
      'ERR_TIMEOUT',
      /^logic module: checking it took longer than 1 ms; the checker was terminated$/,
    );
  } finally {
    await slow.close();
  }
});

test('trimWhenQuiet: trims once after activity and a quiet period, never while busy, not again until new activity', async () => {
  let served = 0;
  let busy = false;
  let trims = 0;
  const stop = trimWhenQuiet({
    activity: () => served,
    busy: () => busy,
    trim: () => {
      trims++;
    },
    quietMs: 60,
    everyMs: 20,
  });
  try {
    await new Promise((r) => setTimeout(r, 150));
    assert.is(trims, 0, 'no activity yet: nothing to give back');
    served = 5;
    busy = true;
    await new Promise((r) => setTimeout(r, 150));
    assert.is(trims, 0, 'busy (a request in flight)');
    busy = false;
    await new Promise((r) => setTimeout(r, 150));
    assert.is(trims, 1);
    await new Promise((r) => setTimeout(r, 150));
    assert.is(trims, 1, 'once per quiet period');
    served = 6;
    await new Promise((r) => setTimeout(r, 200));
    assert.is(trims, 2);
  } finally {
    stop();
  }
});

test.run();
