/**
 * Hostile Wasm against the sandbox and the agent (issue 18 D10, D11, Build 6): call depth limited
 * deterministically by the metered depth counter (the same verdict in the agent's worker, in
 * `capsule logic run` on the CLI's main thread, and in `audit verify --replay`); custom sections
 * (a garbage `name` section) kept away from Binaryen and module checks run off the agent's main
 * thread in a worker that is retired after failures; and the generated hostile corpus (≥ 200
 * modules, test/helpers/hostileCorpus.ts) contained in-process and through a real agent over HTTP.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SandboxError } from '../agent/errors.ts';
import { withoutCustomSections } from '../agent/sandbox/binaryen.ts';
import { FUEL_TABLE_VERSION, frameWeight } from '../agent/sandbox/meter.ts';
import { ModuleChecker } from '../agent/sandbox/ModuleChecker.ts';
import { DEFAULT_LIMITS, resolveLimits } from '../agent/sandbox/limits.ts';
import { Sandbox } from '../agent/sandbox/Sandbox.ts';
import { checkAndMeter } from '../agent/sandbox/validate.ts';
import { WorkerSandbox } from '../agent/sandbox/WorkerSandbox.ts';
import type { EvaluationInput } from '../agent/sandbox/inputs.ts';
import { rejectsError, throwsError } from './helpers/assertError.ts';
import { startRig } from './helpers/agentRig.ts';
import { assertFails, run } from './helpers/guardianDevice.ts';
import { hostileCorpus } from './helpers/hostileCorpus.ts';
import { alive, runOverHttp } from './helpers/hostileOverHttp.ts';
import { encode, I32, OP, s } from './helpers/wasmBinary.ts';
import { GOOD_POLICY, wat } from './helpers/wat.ts';

const INPUT: EvaluationInput = {
  now: 5000,
  requester: 'age1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq0gq7m',
  capsule: { id: new Uint8Array(16).fill(1), created: 1, owner: null, logic: new Uint8Array(32), size: 10, digest: new Uint8Array(32) },
};
const good = wat(GOOD_POLICY);
const c32 = (n: number) => [OP.i32_const, ...s(n)];

/** decide → f(1) → f(2) … → f(n) returns 1 (f has one parameter: weight 3; decide weight 2). */
function recursion(n: number, bottom: number[] = []): Uint8Array {
  const imports: Array<[string, number]> = bottom.length ? [['verify_eip191', 2]] : [];
  const f = imports.length;
  return encode({
    types: [
      [[], [I32]],
      [[I32], [I32]],
      [[I32, I32, I32, I32, I32, I32], [I32]],
    ],
    imports,
    memory: { min: 1, max: 1 },
    funcs: [
      {
        type: 1,
        body: [
          OP.local_get,
          0,
          ...c32(n),
          OP.i32_ge_u,
          OP.if,
          I32,
          ...bottom,
          ...c32(1),
          OP.else,
          OP.local_get,
          0,
          ...c32(1),
          OP.i32_add,
          OP.call,
          f,
          OP.return,
          OP.end,
        ],
      },
      { type: 0, body: [...c32(1), OP.call, f] },
    ],
  });
}
/** A custom section named `name` holding bytes that are no valid name section. */
function garbageName(module: Uint8Array, seed: number, size = 4096): Uint8Array {
  const payload = Buffer.alloc(size);
  for (let i = 0; i < size; i++) payload[i] = (i * 131 + seed * 7919 + (i >> 3) * seed) & 0xff;
  const name = Buffer.from([4, ...Buffer.from('name')]);
  const len = name.length + size;
  const leb: number[] = [];
  for (let v = len; ; v >>>= 7) {
    if (v < 0x80) {
      leb.push(v);
      break;
    }
    leb.push((v & 0x7f) | 0x80);
  }
  return Buffer.concat([module, Buffer.from([0, ...leb]), name, payload]);
}

// ---- D11: call depth ----

test('D11: recursion ends with ERR_LIMIT at maxCallDepth, one frame past the limit, in-process and in the worker', async () => {
  assert.is(DEFAULT_LIMITS.maxCallDepth, 5000);
  assert.is(frameWeight(1, 1, 4), 3, 'f: 1 parameter, its scratch local, stack height 4');
  const sb = new Sandbox();
  // 2 (decide) + 3 × 1666 = 5000 units: allowed; 1667 frames need 5003.
  const ok = sb.evaluate(recursion(1666), INPUT);
  assert.is(ok.verdict, 'allow');
  assert.is(ok.fuelTable, FUEL_TABLE_VERSION);
  assert.is(FUEL_TABLE_VERSION, 2, 'the depth counter is a new cost table version');
  throwsError(
    () => sb.evaluate(recursion(1667), INPUT),
    'SandboxError',
    'ERR_LIMIT',
    /^call depth: maxCallDepth is 5000 frame units, the logic's calls nested deeper \(recursion too deep\)$/,
  );
  throwsError(() => sb.evaluate(recursion(30_000), INPUT), 'SandboxError', 'ERR_LIMIT', /maxCallDepth is 5000 frame units/);
  // A smaller budget moves the boundary: 2 + 3 × 32 = 98 ≤ 100 < 101.
  const small = new Sandbox({ maxCallDepth: 100 });
  assert.is(small.evaluate(recursion(32), INPUT).verdict, 'allow');
  throwsError(() => small.evaluate(recursion(33), INPUT), 'SandboxError', 'ERR_LIMIT', /maxCallDepth is 100 frame units/);
  // The worker (4 MB stack) ends at the same place as this main thread (~1 MB).
  const w = new WorkerSandbox();
  await w.start();
  try {
    const inWorker = await w.evaluate(recursion(1666), INPUT);
    assert.is(inWorker.verdict, 'allow');
    assert.is(inWorker.fuel, ok.fuel, 'same fuel in the worker and in-process');
    await rejectsError(() => w.evaluate(recursion(1667), INPUT), 'SandboxError', 'ERR_LIMIT', /maxCallDepth is 5000/);
  } finally {
    await w.stop();
  }
});

test('D11: at the deepest allowed frame the costliest host import still runs on the main thread; a budget beyond the stack is still a typed error', () => {
  // verify_eip191 (secp256k1 recovery in JS) called from the deepest frame, on this (main) thread:
  // the recursive function stacks six operands (weight 4), so 2 + 4 × 1249 = 4998 fit, 1250 do not.
  const bottom = [...c32(0), ...c32(32), ...c32(0), ...c32(65), ...c32(0), ...c32(20), OP.call, 0, OP.drop];
  const r = new Sandbox().evaluate(recursion(1249, bottom), INPUT);
  assert.is(r.verdict, 'allow');
  assert.ok(r.fuel > 1_600_000, 'the signature check ran (and was charged)');
  throwsError(() => new Sandbox().evaluate(recursion(1250, bottom), INPUT), 'SandboxError', 'ERR_LIMIT', /maxCallDepth is 5000/);
  // An operator who configures more than the stack holds gets V8's overflow, still typed (ERR_TRAP).
  throwsError(
    () => new Sandbox({ maxCallDepth: 2 ** 31 - 1 }).evaluate(recursion(10_000_000), INPUT),
    'SandboxError',
    'ERR_TRAP',
    /call stack exhausted \(recursion too deep\)/,
  );
});

test('D11: every exit gives the frame back: return (with and without a value) from nested blocks and loops, a bare return body, a branch out of the body', () => {
  const cases = hostileCorpus().filter((c) => c.family === 'call depth' && /nested blocks|br out|return in a loop|bare return/.test(c.name));
  assert.is(cases.length, 5);
  // With a budget of 20 units, 2000–3000 calls in a row pass only if every exit gives its weight back.
  for (const c of cases) assert.is(new Sandbox({ maxCallDepth: 20 }).evaluate(c.bytes(), INPUT).verdict, 'allow', c.name);
});

test('D11: limits.maxCallDepth is validated at the boundary', () => {
  throwsError(
    () => resolveLimits({ maxCallDepth: 2 ** 31 }),
    'RangeError',
    undefined,
    /^limits\.maxCallDepth: expected at most 2147483647 \(an i32 counter\), got 2147483648$/,
  );
  throwsError(() => resolveLimits({ maxCallDepth: -1 }), 'RangeError', undefined, /^limits\.maxCallDepth: expected a non-negative integer, got -1$/);
});

test('D11: the agent, `capsule logic run` and `audit verify --replay` agree on a module recursing 30,000 deep (and on one within the limit)', async () => {
  const rig = await startRig();
  try {
    const deep = recursion(30_000);
    const fine = recursion(1000);
    writeFileSync(join(rig.d.dir, 'deep.wasm'), deep);
    writeFileSync(join(rig.d.dir, 'fine.wasm'), fine);
    assert.is((await rig.push(deep)).status, 201);
    assert.is((await rig.push(fine)).status, 201);
    const deepCapsule = await rig.seal(deep);
    const fineCapsule = await rig.seal(fine);
    writeFileSync(join(rig.d.dir, 'deep.capsule'), Buffer.from(deepCapsule, 'base64'));
    writeFileSync(join(rig.d.dir, 'fine.capsule'), Buffer.from(fineCapsule, 'base64'));
    const refused = await rig.release(deepCapsule);
    assert.is(refused.status, 422, JSON.stringify(refused.json));
    assert.is(refused.json.error.code, 'ERR_LIMIT');
    assert.match(refused.json.error.message, /call depth: maxCallDepth is 5000 frame units/);
    const allowed = await rig.release(fineCapsule);
    assert.is(allowed.status, 200, JSON.stringify(allowed.json));
    // The CLI evaluates on its main thread (~1 MB of stack, a quarter of the worker's): same outcomes.
    const at = String(Date.now());
    assertFails(
      run(rig.d, ['logic', 'run', 'deep.wasm', '--capsule', 'deep.capsule', '--requester', rig.me, '--at', at]),
      /call depth: maxCallDepth is 5000 frame units/,
    );
    const cli = run(rig.d, ['logic', 'run', 'fine.wasm', '--capsule', 'fine.capsule', '--requester', rig.me, '--at', at, '--json']);
    assert.is(cli.code, 0, cli.stderr);
    assert.is(JSON.parse(cli.stdout).verdict, 'allow');
    assert.is(JSON.parse(cli.stdout).fuel, allowed.json.fuel, 'the same fuel as the agent');
    assert.is(await rig.stop(), 0);
    const v = run(rig.d, ['audit', 'verify', '--data-dir', rig.d.data, '--replay']);
    assert.is(v.code, 0, v.stderr);
    assert.match(v.stdout, /; 2 decisions replayed with the same verdict and fuel/);
  } finally {
    await rig.cleanup();
  }
});

// ---- D10: hostile custom sections, checks off the main thread ----

test('D10: custom sections never reach Binaryen: a garbage `name` section validates, meters and runs like the module without it', () => {
  const bad = garbageName(good, 1);
  const stripped = withoutCustomSections(bad);
  assert.equal(stripped, withoutCustomSections(good), 'the same sections once custom ones are gone');
  assert.ok(stripped.length < bad.length);
  const { report, metered } = checkAndMeter(bad, DEFAULT_LIMITS);
  assert.is(report.bytes, bad.length, 'the report counts the whole module');
  assert.equal(metered, checkAndMeter(good, DEFAULT_LIMITS).metered);
  assert.is(new Sandbox().evaluate(bad, INPUT).verdict, 'allow');
  // Not a section sequence: returned unchanged (V8 has refused it before this runs).
  const broken = Uint8Array.from([...good.subarray(0, 8), 0, 0x7f, 1]);
  assert.is(withoutCustomSections(broken), broken);
});

test('D10: the module checker answers typed errors: refusal (and retires its worker), timeout', async () => {
  const checker = new ModuleChecker({ timeoutMs: 60_000 });
  try {
    const ok = await checker.check(garbageName(good, 2), DEFAULT_LIMITS);
    assert.ok(ok.metered.length > 0);
    assert.is(ok.report.functions, 5);
    await rejectsError(
      () => checker.check(wat('(module (memory (export "memory") 1 1))'), DEFAULT_LIMITS),
      'SandboxError',
      'ERR_INVALID_MODULE',
      /^logic module: does not export a function "decide"$/,
    );
    await rejectsError(() => checker.check(Uint8Array.of(1, 2, 3), DEFAULT_LIMITS), 'SandboxError', 'ERR_INVALID_MODULE', /not a valid WebAssembly binary/);
    assert.ok((await checker.check(good, DEFAULT_LIMITS)).metered.length > 0, 'checks again after a refusal');
    assert.is(checker.spawned, 3, 'a fresh worker after each refusal');
  } finally {
    await checker.close();
  }
  // A check that cannot finish within timeoutMs (30 000 functions take hundreds of ms) is cut off.
  const slow = new ModuleChecker({ timeoutMs: 1 });
  try {
    const many = hostileCorpus()
      .find((c) => c.name === '30000 functions')!
      .bytes();
    await rejectsError(
      () => slow.check(many, DEFAULT_LIMITS),
      'SandboxError',
      'ERR_TIMEOUT',
      /^logic module: checking it took longer than 1 ms; the checker was terminated$/,
    );
  } finally {
    await slow.close();
  }
});

test('D10: through the agent: a garbage name section is stored (201, not 500) and `logic check` accepts it; 300 garbage pushes keep RSS bounded; /v1/status answers while a push is checked', async () => {
  const rig = await startRig();
  try {
    const bad = garbageName(good, 3);
    writeFileSync(join(rig.d.dir, 'bad.wasm'), bad);
    const pushed = await rig.push(bad);
    assert.is(pushed.status, 201, JSON.stringify(pushed.json));
    const check = run(rig.d, ['logic', 'check', 'bad.wasm', '--json']);
    assert.is(check.code, 0, check.stderr);
    assert.is(JSON.parse(check.stdout).ok, true);
    // A module the checker refuses is a typed 422, from the CLI a typed error.
    const refused = await rig.push(wat('(module (memory (export "memory") 1 1))'));
    assert.is(refused.status, 422);
    assert.is(refused.json.error.code, 'ERR_INVALID_MODULE');
    writeFileSync(join(rig.d.dir, 'nodecide.wasm'), wat('(module (memory (export "memory") 1 1))'));
    assertFails(run(rig.d, ['logic', 'check', 'nodecide.wasm']), /logic module: does not export a function "decide"/);

    // 300 distinct garbage-name modules (the defect: +281 MiB over 300, ~0.94 MiB a push, never
    // freed). The first 100 let the heap and the checker settle (on some machines V8 grows its heap
    // by tens of MiB before collecting); the next 200 would add ~187 MiB with the defect.
    const pushGarbage = async (i: number) => {
      const r = await rig.push(garbageName(good, 1000 + i, 64 * 1024));
      assert.is(r.status, 201, JSON.stringify(r.json));
    };
    for (let i = 0; i < 100; i++) await pushGarbage(i);
    const before = rig.rssMiB();
    for (let i = 100; i < 300; i++) await pushGarbage(i);
    const grew = rig.rssMiB() - before;
    assert.ok(grew < 100, `RSS grew ${grew.toFixed(1)} MiB over the last 200 of 300 garbage pushes`);

    // A module whose check takes long (30 000 functions): status answers before the push does.
    const many = hostileCorpus()
      .find((c) => c.name === '30000 functions')!
      .bytes();
    const order: string[] = [];
    const push = rig.push(many).then((r) => {
      order.push('push');
      return r;
    });
    const status = (async () => {
      for (let i = 0; i < 200 && !order.includes('push'); i++) {
        const s = await rig.get('/v1/status');
        assert.is(s.status, 200);
        order.push('status');
      }
    })();
    assert.is((await push).status, 201);
    await status;
    assert.is(order[0], 'status', `status answered while the push was checked: ${order.slice(0, 5).join(', ')}`);
  } finally {
    await rig.cleanup();
  }
});

// ---- Build 6: the generated hostile corpus ----

const corpus = hostileCorpus();

test('Build 6: the generated hostile corpus has ≥ 200 modules in ≥ 10 families, each family on both sides of its limit', () => {
  assert.ok(corpus.length >= 200, `${corpus.length} cases`);
  const families = new Map<string, Set<string>>();
  for (const c of corpus)
    (families.get(c.family) ?? families.set(c.family, new Set()).get(c.family)!).add(c.expect === 'allow' || c.expect === 'deny' ? 'ran' : 'refused');
  assert.ok(families.size >= 10, [...families.keys()].join(', '));
  for (const [f, sides] of families) if (!['globals', 'parameters'].includes(f)) assert.is(sides.size, 2, `${f}: both sides`);
  assert.equal(
    corpus.map((c) => c.name),
    hostileCorpus().map((c) => c.name),
    'deterministic',
  );
});

test('Build 6: every generated hostile module is contained in-process with its prescribed outcome, and a good policy runs after each', () => {
  const sb = new Sandbox();
  const wrong: string[] = [];
  for (const c of corpus) {
    let got: string;
    try {
      got = sb.evaluate(c.bytes(), INPUT).verdict;
    } catch (e) {
      got = e instanceof SandboxError ? e.code : `untyped ${(e as Error)?.name}: ${(e as Error)?.message}`;
      if (e instanceof SandboxError) assert.not.match(e.message, /\n/);
    }
    if (got !== c.expect) wrong.push(`${c.family} / ${c.name}: expected ${c.expect}, got ${got}`);
    assert.is(sb.evaluate(good, INPUT).verdict, 'allow');
  }
  assert.equal(wrong, []);
});

test('Build 6: the generated corpus through a real agent over HTTP: each push or release answers its typed outcome, none is wrongly allowed, the agent keeps serving', async () => {
  const rig = await startRig({ clientFuelPerMinute: 0, maxModules: 1000, maxModuleStoreBytes: 1 << 30 });
  try {
    const quick = wat('(module (memory (export "memory") 1 1) (func (export "decide") (result i32) (i32.const 1)))');
    const goodCapsule = await rig.seal(quick);
    assert.is((await rig.push(quick)).status, 201);
    const wrong: string[] = [];
    for (const c of corpus) {
      const o = await runOverHttp(rig, c);
      if (!o.contained) wrong.push(`${c.family} / ${c.name}: expected ${c.expect}, got ${o.got}`);
      if (o.wronglyAllowed) wrong.push(`WRONGLY ALLOWED ${c.name}`);
      assert.ok(alive(rig.pid), `the agent is alive after ${c.name}`);
    }
    assert.equal(wrong, []);
    assert.is((await rig.get('/v1/status')).status, 200, 'still serving');
    assert.is((await rig.release(goodCapsule)).status, 200, 'still deciding');
  } finally {
    assert.is(await rig.stop(), 0, 'a graceful stop: the agent never died');
    await rig.cleanup();
  }
});

test.run();
