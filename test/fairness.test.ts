/**
 * Fair scheduling of decisions (issue 18 D12, Build 3), through a real agent over HTTP: clients are
 * told apart by source address (127.0.0.2 floods, 127.0.0.1 is honest); a flooding client's queue
 * is served round-robin with the others (the honest client's requests are decided between flood
 * requests, not after all of them), its share of the queue is bounded, and its fuel budget per
 * minute ends in 503 ERR_UNAVAILABLE with Retry-After while other clients are still served.
 * Assertions are on order and outcomes, never on wall-clock thresholds (those are in bench/flood.ts).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startRig } from './helpers/agentRig.ts';
import { assertFails, device, run } from './helpers/guardianDevice.ts';
import { wat } from './helpers/wat.ts';
import { DecisionScheduler, type PoolSandbox } from '../agent/daemon/DecisionScheduler.ts';
import { requestContext } from '../agent/daemon/requestContext.ts';
import type { DecisionRecord } from '../agent/sandbox/Sandbox.ts';
import type { EvaluationInput } from '../agent/sandbox/inputs.ts';

const FLOOD = '127.0.0.2';
const HONEST = '127.0.0.1';

/** Slow but within fuel: `n` Ed25519 checks (~120 000 units each). */
const slow = (n: number) =>
  wat(`(module (import "capsule_v1" "verify_ed25519" (func $v (param i32 i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1 1)
  (func (export "decide") (result i32) (local $i i32)
    (block $done (loop $l (br_if $done (i32.ge_u (local.get $i) (i32.const ${n})))
      (drop (call $v (i32.const 0) (i32.const 32) (i32.const 0) (i32.const 64) (i32.const 0) (i32.const 32)))
      (local.set $i (i32.add (local.get $i) (i32.const 1))) (br $l)))
    (i32.const 1)))`);
const quick = wat('(module (memory (export "memory") 1 1) (func (export "decide") (result i32) (i32.const 1)))');

test("D12: round-robin: with one client's flood queued on one worker, another client's releases are decided between flood requests", async () => {
  // Flood decisions of ~240 ms (fuel raised to allow 2000 signature checks), so the honest client's
  // own HTTP and key work is small beside them.
  const rig = await startRig({ sandboxWorkers: 1, maxQueuedDecisions: 100, clientFuelPerMinute: 0, fuel: 400_000_000 });
  try {
    const floodModule = slow(2000);
    assert.is((await rig.push(floodModule)).status, 201);
    assert.is((await rig.push(quick)).status, 201);
    const floodCapsule = await rig.seal(floodModule);
    const honestCapsule = await rig.seal(quick);
    const events: string[] = [];
    let firstDone!: () => void;
    const first = new Promise<void>((r) => {
      firstDone = r;
    });
    const flood = Array.from({ length: 20 }, () =>
      rig.release(floodCapsule, { localAddress: FLOOD }).then((r) => {
        events.push('flood');
        firstDone();
        return r;
      }),
    );
    await first; // the rest of the flood is queued (one worker, one decision at a time)
    for (let i = 0; i < 3; i++) {
      const r = await rig.release(honestCapsule, { localAddress: HONEST });
      assert.is(r.status, 200, JSON.stringify(r.json));
      events.push('honest');
    }
    const floods = await Promise.all(flood);
    // (On a loaded machine a flood decision may pass the 1 s wall clock: a typed timeout, also fine here.)
    assert.ok(
      floods.every((r) => r.status === 200 || r.json.error?.code === 'ERR_TIMEOUT'),
      floods.map((r) => r.status).join(' '),
    );
    // Each honest request waited for at most the flood request running and the one served before
    // it in turn — never for the whole flood queue (FIFO would put all three after all 20).
    const lastHonest = events.lastIndexOf('honest');
    const floodAfter = events.slice(lastHonest).filter((e) => e === 'flood').length;
    assert.ok(floodAfter >= 8, `flood requests still pending when the honest client was done: ${floodAfter} (order: ${events.join(' ')})`);
  } finally {
    await rig.cleanup();
  }
});

test('D12: a client over its fuel budget gets 503 ERR_UNAVAILABLE with Retry-After; another client is still served', async () => {
  // ~48 000 000 units per flood decision (plus the worker's compile time on the first): a budget of
  // 100 000 000 per minute admits one or two, then refuses.
  const rig = await startRig({ sandboxWorkers: 1, clientFuelPerMinute: 100_000_000 });
  try {
    const floodModule = slow(400);
    assert.is((await rig.push(floodModule)).status, 201);
    assert.is((await rig.push(quick)).status, 201);
    const floodCapsule = await rig.seal(floodModule);
    const statuses: number[] = [];
    let refused: Awaited<ReturnType<typeof rig.release>> | undefined;
    for (let i = 0; i < 4 && !refused; i++) {
      const r = await rig.release(floodCapsule, { localAddress: FLOOD });
      statuses.push(r.status);
      if (r.status === 503) refused = r;
    }
    assert.ok(refused && statuses[0] === 200 && statuses.slice(0, -1).every((st) => st === 200), `decided, then refused: ${statuses.join(' ')}`);
    assert.is(refused!.json.error.code, 'ERR_UNAVAILABLE');
    assert.match(
      refused!.json.error.message,
      /^busy: this client's fuel budget \(clientFuelPerMinute 100000000\) is spent by its recent decisions; it refills in \d+ s$/,
    );
    const retryAfter = Number(refused!.headers['retry-after']);
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1, `Retry-After: ${refused!.headers['retry-after']}`);
    assert.match(refused!.json.error.message, new RegExp(`refills in ${retryAfter} s`));
    const honest = await rig.release(await rig.seal(quick), { localAddress: HONEST });
    assert.is(honest.status, 200, JSON.stringify(honest.json));
  } finally {
    await rig.cleanup();
  }
});

test('D12: one client holds at most a quarter of the decision queue (503 with Retry-After); another client still gets in', async () => {
  const rig = await startRig({ sandboxWorkers: 1, maxQueuedDecisions: 8, clientFuelPerMinute: 0 });
  try {
    const floodModule = slow(400);
    assert.is((await rig.push(floodModule)).status, 201);
    assert.is((await rig.push(quick)).status, 201);
    const floodCapsule = await rig.seal(floodModule);
    const honestCapsule = await rig.seal(quick);
    const flood = Array.from({ length: 12 }, () => rig.release(floodCapsule, { localAddress: FLOOD }));
    const honest = rig.release(honestCapsule, { localAddress: HONEST });
    const all = await Promise.all(flood);
    const busy = all.filter((r) => r.status === 503);
    assert.ok(busy.length >= 1, `refused beyond the share of 2: ${all.map((r) => r.status).join(' ')}`);
    assert.ok(
      all.every((r) => r.status === 200 || r.status === 503),
      all.map((r) => r.status).join(' '),
    );
    for (const r of busy) {
      assert.is(r.json.error.code, 'ERR_UNAVAILABLE');
      assert.match(r.json.error.message, /^busy: 2 decisions are waiting for the sandbox \(maxQueuedDecisions 8\) from this client, whose share is 2$/);
      assert.is(r.headers['retry-after'], '1');
    }
    assert.is((await honest).status, 200);
  } finally {
    await rig.cleanup();
  }
});

test('D12: with two workers, a flooding client holds one; a client arriving meanwhile runs at once on the other', async () => {
  // Sandboxes whose decisions end when the test says: what is measured is which job runs when.
  const running: { client: string; end: () => void }[] = [];
  const record = { verdict: 'deny', reason: 'x', fuel: 1, changed: [] } as unknown as DecisionRecord;
  const sandbox = (): PoolSandbox => ({
    evaluate: (_m: Uint8Array, input: EvaluationInput) => new Promise((resolve) => running.push({ client: input.requester, end: () => resolve(record) })),
  });
  const s = new DecisionScheduler({ workers: [sandbox(), sandbox()], maxQueued: 64, fuelPerMinute: 0, fuelLimit: 1, timeoutMs: 1000 });
  const ask = (client: string) => requestContext.run({ client }, () => s.evaluate(new Uint8Array(), { requester: client } as EvaluationInput));
  const flood = [ask('flooder'), ask('flooder'), ask('flooder')];
  await Promise.resolve();
  assert.equal(
    running.map((r) => r.client),
    ['flooder'],
    'the flooder holds one worker of two; its other decisions wait',
  );
  const honest = ask('honest');
  await Promise.resolve();
  assert.equal(
    running.map((r) => r.client),
    ['flooder', 'honest'],
    'the honest client runs at once on the free worker',
  );
  running[1]!.end();
  assert.is((await honest).reason, 'x');
  running[0]!.end();
  await flood[0];
  assert.equal(
    running.map((r) => r.client),
    ['flooder', 'honest', 'flooder'],
    "the flooder's next decision runs when its previous one ends",
  );
  for (const r of running.slice(2)) r.end();
  await flood[1];
  running[3]!.end();
  await Promise.all(flood);
  assert.equal(s.served, ['flooder', 'honest', 'flooder', 'flooder']);
});

test('D12: sandboxWorkers and clientFuelPerMinute are validated configuration keys', () => {
  const d = device();
  writeFileSync(join(d.dir, 'w.json'), JSON.stringify({ sandboxWorkers: 0 }));
  assertFails(run(d, ['agent', '--data-dir', d.data, '--config', 'w.json']), /w\.json: sandboxWorkers: expected an integer > 0, got 0/);
  writeFileSync(join(d.dir, 'f.json'), JSON.stringify({ clientFuelPerMinute: -5 }));
  assertFails(run(d, ['agent', '--data-dir', d.data, '--config', 'f.json']), /f\.json: clientFuelPerMinute: expected an integer ≥ 0, got -5/);
  rmSync(d.dir, { recursive: true, force: true });
});

test.run();
