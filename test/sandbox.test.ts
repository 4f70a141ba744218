/**
 * The sandbox against hostile modules and at its limits: every fixture in test/fixtures/wat is
 * refused or contained with the typed error its `;; expect:` line names, and a good policy runs
 * right after each one (the sandbox stays healthy). Every limit is tested on both sides of its
 * boundary. Decisions are deterministic (same verdict and fuel twice, and in another process).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SandboxError } from '../agent/errors.ts';
import type { EvaluationInput } from '../agent/sandbox/inputs.ts';
import { DEFAULT_LIMITS } from '../agent/sandbox/limits.ts';
import { Sandbox } from '../agent/sandbox/Sandbox.ts';
import { WorkerSandbox } from '../agent/sandbox/WorkerSandbox.ts';
import { rejectsError, throwsError } from './helpers/assertError.ts';
import { GOOD_POLICY, wat } from './helpers/wat.ts';

const FIXTURES = fileURLToPath(new URL('./fixtures/wat/', import.meta.url));
const good = wat(GOOD_POLICY);
export const INPUT: EvaluationInput = {
  now: 5000,
  requester: 'age1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq0gq7m',
  capsule: { id: new Uint8Array(16).fill(1), created: 1, owner: null, logic: new Uint8Array(32), size: 10, digest: new Uint8Array(32) },
};
const sandbox = new Sandbox();

function healthy(sb: Sandbox): void {
  const r = sb.evaluate(good, INPUT);
  assert.is(r.verdict, 'allow');
  assert.equal(r.logs, ['too']);
}

const fixtures = readdirSync(FIXTURES)
  .filter((f) => f.endsWith('.wat'))
  .sort();

test('the hostile corpus has at least 15 modules', () => {
  assert.ok(fixtures.length >= 15, `${fixtures.length} fixtures`);
});

for (const f of fixtures) {
  const text = readFileSync(join(FIXTURES, f), 'utf8');
  const expect = /^;; expect: (\S+)/.exec(text)![1]!;
  test(`hostile ${f} -> ${expect}, then a good policy still runs`, () => {
    const bytes = wat(text);
    if (expect === 'allow' || expect === 'deny') {
      const a = sandbox.evaluate(bytes, INPUT);
      const b = sandbox.evaluate(bytes, INPUT);
      assert.is(a.verdict, expect);
      assert.is(a.fuel, b.fuel);
    } else {
      let err: unknown;
      try {
        sandbox.evaluate(bytes, INPUT);
      } catch (e) {
        err = e;
      }
      assert.instance(err, SandboxError, `${f}: a SandboxError`);
      assert.is((err as SandboxError).code, expect, (err as Error).message);
      assert.not.match((err as Error).message, /\n/);
    }
    healthy(sandbox);
  });
}

test('error messages name the limit and the numbers', () => {
  const run = (name: string) => () => sandbox.evaluate(wat(readFileSync(join(FIXTURES, name), 'utf8')), INPUT);
  throwsError(run('infinite-loop.wat'), 'SandboxError', 'ERR_OUT_OF_FUEL', /limit 50000000 units/);
  throwsError(run('memory-grow-bomb.wat'), 'SandboxError', 'ERR_INVALID_MODULE', /maximum of 65536 pages, above maxMemoryPages 16/);
  throwsError(run('oversized-log.wat'), 'SandboxError', 'ERR_LIMIT', /log: maxLogBytes is 4096, the logic needed 8192/);
  throwsError(run('oob-state-get.wat'), 'SandboxError', 'ERR_GUEST_MEMORY', /state_get: \(ptr 70000, len 4\) is outside guest memory of 65536 bytes/);
  throwsError(run('import-outside-abi.wat'), 'SandboxError', 'ERR_INVALID_MODULE', /imports "env"\."abort"; only "capsule_v1" is offered/);
  throwsError(run('deep-recursion.wat'), 'SandboxError', 'ERR_LIMIT', /call depth: maxCallDepth is 5000 frame units/);
});

// ---- each limit on both sides of its boundary ----

const logN = (n: number) =>
  wat(`(module (import "capsule_v1" "log" (func $l (param i32 i32))) (memory (export "memory") 1 1)
  (func (export "decide") (result i32) ${'(call $l (i32.const 0) (i32.const 1))'.repeat(n)} (i32.const 1)))`);
const callWith = (imp: string, sig: string, args: string) =>
  wat(`(module (import "capsule_v1" "${imp}" (func $f ${sig})) (memory (export "memory") 1 1)
  (func (export "decide") (result i32) ${args} (i32.const 0)))`);

test('limit fuel: exactly enough passes, one unit less runs out', () => {
  const used = sandbox.evaluate(good, INPUT).fuel;
  assert.ok(used > 0);
  assert.is(new Sandbox({ fuel: used }).evaluate(good, INPUT).fuel, used);
  throwsError(() => new Sandbox({ fuel: used - 1 }).evaluate(good, INPUT), 'SandboxError', 'ERR_OUT_OF_FUEL', new RegExp(`limit ${used - 1} units`));
});

test('limit maxReasonBytes: 256 passes, 257 fails', () => {
  assert.is(sandbox.evaluate(callWith('set_reason', '(param i32 i32)', '(call $f (i32.const 0) (i32.const 256))'), INPUT).reason.length, 256);
  throwsError(
    () => sandbox.evaluate(callWith('set_reason', '(param i32 i32)', '(call $f (i32.const 0) (i32.const 257))'), INPUT),
    'SandboxError',
    'ERR_LIMIT',
    /maxReasonBytes is 256, the logic needed 257/,
  );
});

test('limit maxLogLines: 64 pass, 65 fail; maxLogBytes: 4096 pass, 4097 fail', () => {
  assert.is(sandbox.evaluate(logN(64), INPUT).logs.length, 64);
  throwsError(() => sandbox.evaluate(logN(65), INPUT), 'SandboxError', 'ERR_LIMIT', /maxLogLines is 64, the logic needed 65/);
  assert.is(sandbox.evaluate(callWith('log', '(param i32 i32)', '(call $f (i32.const 0) (i32.const 4096))'), INPUT).logs[0]!.length, 4096);
  throwsError(
    () => sandbox.evaluate(callWith('log', '(param i32 i32)', '(call $f (i32.const 0) (i32.const 4097))'), INPUT),
    'SandboxError',
    'ERR_LIMIT',
    /maxLogBytes is 4096, the logic needed 4097/,
  );
});

test('limit maxStateKeyBytes 64 / maxStateValueBytes 1024: each side', () => {
  const set = (k: number, v: number) =>
    callWith('state_set', '(param i32 i32 i32 i32)', `(call $f (i32.const 0) (i32.const ${k}) (i32.const 0) (i32.const ${v}))`);
  assert.is(sandbox.evaluate(set(64, 1024), INPUT).changed.length, 1);
  throwsError(() => sandbox.evaluate(set(65, 1), INPUT), 'SandboxError', 'ERR_LIMIT', /maxStateKeyBytes is 64, the logic needed 65/);
  throwsError(() => sandbox.evaluate(set(1, 1025), INPUT), 'SandboxError', 'ERR_LIMIT', /maxStateValueBytes is 1024, the logic needed 1025/);
});

test('limit maxStateKeys 32 and maxStateBytes 8192: each side', () => {
  const KEYS = '(data (i32.const 0) "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")';
  const keys = (n: number, v: number) =>
    wat(`(module (import "capsule_v1" "state_set" (func $f (param i32 i32 i32 i32))) (memory (export "memory") 1 1) ${KEYS}
    (func (export "decide") (result i32) ${Array.from({ length: n }, (_, i) => `(call $f (i32.const ${i}) (i32.const 1) (i32.const 100) (i32.const ${v}))`).join(' ')} (i32.const 0)))`);
  assert.is(sandbox.evaluate(keys(32, 1), INPUT).state.size, 32);
  throwsError(() => sandbox.evaluate(keys(33, 1), INPUT), 'SandboxError', 'ERR_LIMIT', /state after the evaluation: maxStateKeys is 32, the logic left 33/);
  // 8 keys × (1 + 1023) = 8192 bytes exactly; one more byte anywhere exceeds it.
  const big = (n: number, last: number) =>
    wat(`(module (import "capsule_v1" "state_set" (func $f (param i32 i32 i32 i32))) (memory (export "memory") 1 1) ${KEYS}
    (func (export "decide") (result i32) ${Array.from({ length: n }, (_, i) => `(call $f (i32.const ${i}) (i32.const 1) (i32.const 100) (i32.const ${i === n - 1 ? last : 1023}))`).join(' ')} (i32.const 0)))`);
  assert.is(sandbox.evaluate(big(8, 1023), INPUT).state.size, 8);
  throwsError(() => sandbox.evaluate(big(9, 0), INPUT), 'SandboxError', 'ERR_LIMIT', /state after the evaluation: maxStateBytes is 8192, the logic left 8193/);
});

test('limit maxMemoryPages: declared 16 runs, 17 refused', () => {
  const mem = (max: number) => wat(`(module (memory (export "memory") 1 ${max}) (func (export "decide") (result i32) (i32.const 1)))`);
  assert.is(sandbox.evaluate(mem(16), INPUT).verdict, 'allow');
  throwsError(() => sandbox.evaluate(mem(17), INPUT), 'SandboxError', 'ERR_INVALID_MODULE', /maximum of 17 pages, above maxMemoryPages 16/);
});

test('limit maxTableElements: 1024 runs, 1025 refused', () => {
  const table = (max: number) => wat(`(module (table 1 ${max} funcref) (memory (export "memory") 1 1) (func (export "decide") (result i32) (i32.const 1)))`);
  assert.is(sandbox.evaluate(table(1024), INPUT).verdict, 'allow');
  throwsError(() => sandbox.evaluate(table(1025), INPUT), 'SandboxError', 'ERR_INVALID_MODULE', /up to 1025 elements, above 1024/);
});

test('limit maxModuleBytes: at the limit runs, one byte over refused', () => {
  const size = good.length;
  assert.is(new Sandbox({ maxModuleBytes: size }).evaluate(good, INPUT).verdict, 'allow');
  throwsError(
    () => new Sandbox({ maxModuleBytes: size - 1 }).evaluate(good, INPUT),
    'SandboxError',
    'ERR_INVALID_MODULE',
    new RegExp(`${size} bytes, above maxModuleBytes ${size - 1}`),
  );
});

test('limit maxInputBytes: params at the limit pass, one byte over refused before running', () => {
  const params = (n: number) => Uint8Array.from([0x5a, (n - 5) >>> 24, ((n - 5) >>> 16) & 255, ((n - 5) >>> 8) & 255, (n - 5) & 255, ...new Uint8Array(n - 5)]);
  assert.is(sandbox.evaluate(good, { ...INPUT, params: params(65536) }).verdict, 'allow');
  throwsError(
    () => sandbox.evaluate(good, { ...INPUT, params: params(65537) }),
    'SandboxError',
    'ERR_LIMIT',
    /input params: 65537 bytes, above maxInputBytes 65536/,
  );
});

test('state may pass through more than the caps inside one evaluation; totals count at the end', () => {
  const m = wat(`(module (import "capsule_v1" "state_set" (func $set (param i32 i32 i32 i32))) (import "capsule_v1" "state_delete" (func $del (param i32 i32)))
    (memory (export "memory") 1 1) (data (i32.const 0) "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
    (func (export "decide") (result i32) ${Array.from({ length: 33 }, (_, i) => `(call $set (i32.const ${i}) (i32.const 1) (i32.const 100) (i32.const 1))`).join(' ')}
      (call $del (i32.const 0) (i32.const 1)) (i32.const 0)))`);
  assert.is(sandbox.evaluate(m, INPUT).state.size, 32);
});

/** A module whose decide() nests n i32.add expressions, encoded directly (text parsers recurse). */
function nestedAdds(n: number): Uint8Array {
  const leb = (v: number) => {
    const out: number[] = [];
    do {
      let b = v & 0x7f;
      v >>>= 7;
      if (v) b |= 0x80;
      out.push(b);
    } while (v);
    return out;
  };
  const section = (id: number, body: number[]) => [id, ...leb(body.length), ...body];
  const name = (s: string) => [...leb(s.length), ...new TextEncoder().encode(s)];
  const code = [
    0x00,
    ...Array(n + 1)
      .fill([0x41, 0x01])
      .flat(),
    ...Array(n).fill(0x6a),
    0x1a,
    0x41,
    0x01,
    0x0b,
  ];
  return Uint8Array.from([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, [0x01, 0x60, 0x00, 0x01, 0x7f]),
    ...section(3, [0x01, 0x00]),
    ...section(5, [0x01, 0x01, 0x01, 0x01]),
    ...section(7, [0x02, ...name('memory'), 0x02, 0x00, ...name('decide'), 0x00, 0x00]),
    ...section(10, [0x01, ...leb(code.length), ...code]),
  ]);
}

test('meter: expressions nested deeper than 1000 levels are refused, not a stack overflow', () => {
  const nested = nestedAdds;
  assert.is(sandbox.evaluate(nested(900), INPUT).verdict, 'allow');
  throwsError(() => sandbox.evaluate(nested(10_000), INPUT), 'SandboxError', 'ERR_INVALID_MODULE', /nested deeper than 1000 levels/);
});

test("guest names cannot collide with the meter: a global named like ours stays the guest's", () => {
  const m = wat(
    `(module (global $__capsule_fuel i64 (i64.const 7)) (memory (export "memory") 1 1)
    (func (export "decide") (result i32) (i32.wrap_i64 (i64.sub (global.get $__capsule_fuel) (i64.const 6)))))`,
    { names: true },
  );
  assert.is(sandbox.evaluate(m, INPUT).verdict, 'allow', 'decide read its own 7, not the host fuel');
});

test('limits are validated at the boundary', () => {
  throwsError(() => new Sandbox({ fuel: -1 }), 'RangeError', undefined, /limits\.fuel: expected a non-negative integer, got -1/);
  throwsError(() => new Sandbox({ nope: 1 } as never), 'TypeError', undefined, /limits\.nope: unknown limit/);
});

test('determinism: same inputs give the same record twice and in another process', () => {
  const a = sandbox.evaluate(good, INPUT);
  const b = new Sandbox().evaluate(good, INPUT);
  assert.equal({ ...a, state: [...a.state] }, { ...b, state: [...b.state] });
  const child = spawnSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `
    import { Sandbox } from ${JSON.stringify(new URL('../agent/sandbox/Sandbox.ts', import.meta.url).href)};
    import { GOOD_POLICY, wat } from ${JSON.stringify(new URL('./helpers/wat.ts', import.meta.url).href)};
    const input = ${JSON.stringify({ ...INPUT, capsule: { ...INPUT.capsule, id: [...INPUT.capsule.id], logic: [...INPUT.capsule.logic], digest: [...INPUT.capsule.digest] } })};
    for (const k of ['id', 'logic', 'digest']) input.capsule[k] = Uint8Array.from(input.capsule[k]);
    const r = new Sandbox().evaluate(wat(GOOD_POLICY), input);
    console.log(JSON.stringify({ verdict: r.verdict, fuel: r.fuel, inputs: r.inputsSha256, module: r.moduleSha256 }));`,
    ],
    { encoding: 'utf8' },
  );
  assert.is(child.status, 0, child.stderr);
  assert.equal(JSON.parse(child.stdout), { verdict: a.verdict, fuel: a.fuel, inputs: a.inputsSha256, module: a.moduleSha256 });
});

test('worker sandbox: contains hostile modules, times out slow ones, keeps serving', async () => {
  const w = new WorkerSandbox({ timeoutMs: 300, fuel: 1_000_000_000 });
  await w.start();
  try {
    assert.is((await w.evaluate(good, INPUT)).verdict, 'allow');
    await rejectsError(
      () => w.evaluate(wat(readFileSync(join(FIXTURES, 'deep-recursion.wat'), 'utf8')), INPUT),
      'SandboxError',
      'ERR_LIMIT',
      /maxCallDepth is 5000/,
    );
    // Slow but cheap: a loop of signature checks costs little fuel and much wall-clock time.
    const slow = wat(`(module (import "capsule_v1" "verify_ed25519" (func $v (param i32 i32 i32 i32 i32 i32) (result i32)))
      (memory (export "memory") 1 1)
      (func (export "decide") (result i32) (loop $l (drop (call $v (i32.const 0) (i32.const 32) (i32.const 0) (i32.const 64) (i32.const 0) (i32.const 32))) (br $l)) (i32.const 1)))`);
    await rejectsError(() => w.evaluate(slow, INPUT), 'SandboxError', 'ERR_TIMEOUT', /timeoutMs 300 ms; its worker was terminated/);
    assert.is(w.restarts, 1);
    assert.is((await w.evaluate(good, INPUT)).verdict, 'allow', 'a fresh worker serves the next request');
  } finally {
    await w.stop();
  }
  assert.is(w.status, 'stopped');
  await rejectsError(() => w.evaluate(good, INPUT), 'SandboxError', 'ERR_SANDBOX', /stopped/);
});

test('worker sandbox: an unsendable input fails alone; stop() fails the request in flight without a restart', async () => {
  const w = new WorkerSandbox({ timeoutMs: 300 });
  await w.start();
  try {
    await rejectsError(
      () => w.evaluate(good, { ...INPUT, requester: (() => 1) as never }),
      'SandboxError',
      'ERR_SANDBOX',
      /cannot be sent to the sandbox worker/,
    );
    assert.is((await w.evaluate(good, INPUT)).verdict, 'allow');
    await new Promise((r) => setTimeout(r, 400)); // no stale timer from the failed request fires
    assert.is((await w.evaluate(good, INPUT)).verdict, 'allow');
    assert.is(w.restarts, 0);
  } finally {
    await w.stop();
  }
  // A long evaluation (signature checks, generous fuel) interrupted by stop().
  const v = new WorkerSandbox({ timeoutMs: 10_000, fuel: 1_000_000_000 });
  await v.start();
  const slow = wat(`(module (import "capsule_v1" "verify_ed25519" (func $v (param i32 i32 i32 i32 i32 i32) (result i32)))
    (memory (export "memory") 1 1)
    (func (export "decide") (result i32) (loop $l (drop (call $v (i32.const 0) (i32.const 32) (i32.const 0) (i32.const 64) (i32.const 0) (i32.const 32))) (br $l)) (i32.const 1)))`);
  const inFlight = v.evaluate(slow, INPUT);
  const queued = v.evaluate(good, INPUT);
  await new Promise((r) => setTimeout(r, 100));
  await v.stop();
  await rejectsError(() => inFlight, 'SandboxError', 'ERR_SANDBOX', /stopped during the evaluation/);
  await rejectsError(() => queued, 'SandboxError', 'ERR_SANDBOX', /sandbox is stopped/);
  assert.is(v.restarts, 0);
});

test('default limits are the documented ones', () => {
  assert.equal(
    { ...DEFAULT_LIMITS },
    {
      fuel: 50_000_000,
      maxCallDepth: 5000,
      maxMemoryPages: 16,
      maxModuleBytes: 1048576,
      maxTableElements: 1024,
      maxInputBytes: 65536,
      maxReasonBytes: 256,
      maxLogBytes: 4096,
      maxLogLines: 64,
      maxStateKeyBytes: 64,
      maxStateValueBytes: 1024,
      maxStateBytes: 8192,
      maxStateKeys: 32,
      timeoutMs: 1000,
      prepareTimeoutMs: 15000,
    },
  );
});

test.run();
