/**
 * The warm-evaluation machinery (issue 15) changes nothing observable: the fast input encoder gives
 * encodeCanonical's bytes, the imported-memory rewrite keeps fuel figures, a pooled memory carries
 * nothing from one evaluation to the next (not after growth, a trap or data segments, in-process
 * and in the worker), module slots follow the bytes, not the buffer, and the worker's wall-clock
 * limits still split preparing from running.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import type { EvaluationInput } from '../agent/sandbox/inputs.ts';
import { encodeInputs, encodeInputsGeneric } from '../agent/sandbox/inputs.ts';
import { importMemory } from '../agent/sandbox/importedMemory.ts';
import { DEPTH_IMPORT_NAME, FUEL_IMPORT_MODULE, FUEL_IMPORT_NAME } from '../agent/sandbox/meterAbi.ts';
import { ModuleSlots, resolveModule } from '../agent/sandbox/moduleSlots.ts';
import { Sandbox } from '../agent/sandbox/Sandbox.ts';
import { checkAndMeter } from '../agent/sandbox/validate.ts';
import { WorkerSandbox } from '../agent/sandbox/WorkerSandbox.ts';
import { rejectsError } from './helpers/assertError.ts';
import { GOOD_POLICY, wat } from './helpers/wat.ts';

const INPUT: EvaluationInput = {
  now: 5000,
  requester: 'age1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq0gq7m',
  capsule: { id: new Uint8Array(16).fill(1), created: 1, owner: null, logic: new Uint8Array(32), size: 10, digest: new Uint8Array(32) },
};

const text = fc.oneof(fc.string(), fc.string({ unit: 'binary' }));
const bytes = fc.uint8Array({ maxLength: 40 });
const int = fc.oneof(fc.nat(), fc.integer(), fc.maxSafeNat(), fc.maxSafeInteger(), fc.double({ noNaN: true, noDefaultInfinity: true }));
const cborValue = fc.letrec<{ v: unknown }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    text,
    bytes,
    fc.maxSafeInteger(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('v'), { maxLength: 3 }),
    fc.uniqueArray(fc.tuple(text, tie('v')), { maxLength: 3, selector: ([k]) => k }).map((e) => new Map(e)),
  ),
})).v;
const evidence = fc.record({ kind: text, scheme: text, signer: bytes, message: bytes, signature: bytes });
const input = fc.record(
  {
    now: fc.maxSafeNat(),
    requester: text,
    capsule: fc.record({ id: bytes, created: int, owner: fc.option(bytes), logic: bytes, size: int, digest: bytes }),
    params: fc.option(bytes, { nil: undefined }),
    evidence: fc.option(fc.array(evidence, { maxLength: 3 }), { nil: undefined }),
    state: fc.option(
      fc
        .uniqueArray(
          fc.tuple(
            fc.oneof(
              fc.uint8Array({ maxLength: 8 }).map((b) => Buffer.from(b).toString('hex')),
              text,
            ),
            bytes,
          ),
          { maxLength: 5, selector: ([k]) => k },
        )
        .map((e) => new Map(e)),
      { nil: undefined },
    ),
    authenticated: fc.option(fc.boolean(), { nil: undefined }),
    request: fc.option(
      fc.uniqueArray(fc.tuple(text, cborValue), { maxLength: 3, selector: ([k]) => k }).map((e) => new Map(e)),
      { nil: undefined },
    ),
  },
  { requiredKeys: ['now', 'requester', 'capsule'] },
);

test('encodeInputs gives the bytes and digest of the general encoder, on any input', () => {
  fc.assert(
    fc.property(input, (i) => {
      const hex = (e: { blobs: (Uint8Array | undefined)[] }) => e.blobs.map((b) => b && Buffer.from(b).toString('hex'));
      const fast = encodeInputs(i as EvaluationInput);
      const generic = encodeInputsGeneric(i as EvaluationInput);
      assert.equal(hex(fast), hex(generic));
      assert.is(fast.digest, generic.digest);
    }),
    { numRuns: 2000 },
  );
  // The usual shape, field by field (the fast path, not a fallback).
  const usual = {
    ...INPUT,
    evidence: [
      { kind: 'approval' as const, scheme: 'ed25519' as const, signer: new Uint8Array(32), message: new Uint8Array(5), signature: new Uint8Array(64) },
    ],
    state: new Map([
      ['6b6579', Uint8Array.of(1)],
      ['61', Uint8Array.of(2)],
    ]),
    authenticated: true,
    params: Uint8Array.of(0xa0),
  };
  const u = encodeInputs(usual);
  assert.is(u.digest, encodeInputsGeneric(usual).digest);
  assert.equal(
    u.blobs,
    encodeInputsGeneric(usual).blobs.map((b) => b && Uint8Array.from(b)),
  );
});

test('importMemory: the memory becomes an import with the declared limits; anything unexpected is left alone', () => {
  const metered = checkAndMeter(wat(GOOD_POLICY.replace('(memory (export "memory") 1 1)', '(memory (export "memory") 2 5)')), new Sandbox().limits).metered;
  const r = importMemory(metered)!;
  assert.equal(r.shape, { initial: 2, maximum: 5 });
  const m = new WebAssembly.Module(r.bytes as Uint8Array<ArrayBuffer>);
  assert.ok(WebAssembly.Module.imports(m).some((i) => i.module === FUEL_IMPORT_MODULE && i.name === 'memory' && i.kind === 'memory'));
  assert.equal(WebAssembly.Module.exports(m), WebAssembly.Module.exports(new WebAssembly.Module(metered as Uint8Array<ArrayBuffer>)));
  assert.is(importMemory(Uint8Array.of(1, 2, 3)), undefined);
  assert.is(importMemory(metered.subarray(0, metered.length - 3)), undefined);
  assert.is(importMemory(wat('(module (func (export "decide") (result i32) (i32.const 1)))')), undefined, 'no import section, no memory');
});

test('the imported memory changes no fuel figure', () => {
  const loop = wat(`(module (memory (export "memory") 1 1)
    (func (export "decide") (result i32) (local $i i32)
      (loop $l (i32.store (i32.const 8) (local.get $i)) (local.set $i (i32.add (local.get $i) (i32.const 1))) (br_if $l (i32.lt_u (local.get $i) (i32.const 1000))))
      (i32.const 1)))`);
  const sb = new Sandbox();
  const metered = checkAndMeter(loop, sb.limits).metered;
  // The metered bytes as they are (the module defines its memory), counters as the sandbox sets them.
  const fuel = new WebAssembly.Global({ value: 'i64', mutable: true }, BigInt(sb.limits.fuel));
  const depth = new WebAssembly.Global({ value: 'i32', mutable: true }, sb.limits.maxCallDepth);
  const inst = new WebAssembly.Instance(new WebAssembly.Module(metered as Uint8Array<ArrayBuffer>), {
    [FUEL_IMPORT_MODULE]: { [FUEL_IMPORT_NAME]: fuel, [DEPTH_IMPORT_NAME]: depth },
  });
  assert.is((inst.exports.decide as () => number)(), 1);
  const expected = sb.limits.fuel - Number(fuel.value);
  assert.ok(expected > 1000);
  for (let i = 0; i < 3; i++) assert.is(sb.evaluate(loop, INPUT).fuel, expected);
});

// Allows only when its memory is as new: one page, byte 60000 zero. Then leaves a secret there.
const PROBE = `(module (memory (export "memory") 1 3)
  (func (export "decide") (result i32) (local $clean i32)
    (local.set $clean (i32.and (i32.eq (memory.size) (i32.const 1)) (i32.eqz (i32.load8_u (i32.const 60000)))))
    (i32.store8 (i32.const 60000) (i32.const 0xab))
    (local.get $clean)))`;
// Same memory shape: one grows it and writes in both pages; one has a data segment there and traps.
const GROWER = `(module (memory (export "memory") 1 3)
  (func (export "decide") (result i32) (drop (memory.grow (i32.const 2))) (i32.store8 (i32.const 60000) (i32.const 1)) (i32.store8 (i32.const 70000) (i32.const 1)) (i32.const 1)))`;
const TRAPPER = `(module (memory (export "memory") 1 3) (data (i32.const 60000) "\\ff")
  (func (export "decide") (result i32) (i32.store8 (i32.const 60001) (i32.const 1)) (unreachable)))`;
const SEQUENCE = [PROBE, PROBE, GROWER, PROBE, TRAPPER, PROBE, PROBE].map((t) => wat(t));

test('a pooled memory carries nothing over: after a secret, growth, a data segment and a trap (in-process)', () => {
  const sb = new Sandbox();
  for (const [i, m] of SEQUENCE.entries()) {
    if (m === SEQUENCE[4]) {
      assert.throws(
        () => sb.evaluate(m, INPUT),
        (e: Error & { code?: string }) => e.code === 'ERR_TRAP',
      );
      continue;
    }
    assert.is(sb.evaluate(m, INPUT).verdict, 'allow', `evaluation ${i}`);
  }
});

test('a pooled memory carries nothing over, in the worker too', async () => {
  const w = new WorkerSandbox();
  await w.start();
  try {
    for (const [i, m] of SEQUENCE.entries()) {
      if (m === SEQUENCE[4]) await rejectsError(() => w.evaluate(m, INPUT), 'SandboxError', 'ERR_TRAP', /unreachable/);
      else assert.is((await w.evaluate(m, INPUT)).verdict, 'allow', `evaluation ${i}`);
    }
  } finally {
    await w.stop();
  }
});

test('module slots follow the bytes: a reused buffer is sent again, an equal copy is not', () => {
  const slots = new ModuleSlots();
  const held: Uint8Array[] = [];
  const a = Uint8Array.of(1, 2, 3);
  const first = slots.pick(a);
  assert.ok('module' in first);
  slots.commit(first);
  assert.equal(resolveModule(held, first), a);
  const again = slots.pick(Uint8Array.of(1, 2, 3));
  assert.not.ok('module' in again, 'equal bytes in another buffer: the slot');
  assert.equal(resolveModule(held, again), a);
  a[0] = 9; // the caller changed its buffer in place
  const changed = slots.pick(a);
  assert.ok('module' in changed, 'changed bytes are sent');
  assert.is.not(changed.slot, first.slot, 'into another slot');
  // A request that could not be sent (not committed) leaves the slots as they were.
  const unsent = slots.pick(Uint8Array.of(7));
  assert.ok('module' in unsent);
  assert.ok('module' in slots.pick(Uint8Array.of(7)));
});

test('worker: preparing longer than timeoutMs is not running; running longer is, and preparing has its own limit', async () => {
  const big = (decide: string) =>
    wat(`(module (memory (export "memory") 1 1)
    ${Array.from({ length: 2000 }, (_, i) => `(func $f${i} (param i32) (result i32) (i32.add (local.get 0) (i32.const ${i})))`).join('\n')}
    (func (export "decide") (result i32) ${decide}))`);
  const w = new WorkerSandbox({ timeoutMs: 40, prepareTimeoutMs: 60_000, fuel: 1e12 });
  await w.start();
  try {
    const r = await w.evaluateTimed(big('(i32.const 1)'), INPUT);
    assert.is(r.record.verdict, 'allow');
    assert.ok(r.prepareMs > 40, `preparing took ${r.prepareMs} ms: longer than timeoutMs, so the test exercises the split`);
    await rejectsError(() => w.evaluate(big('(loop $l (br $l)) (i32.const 1)'), INPUT), 'SandboxError', 'ERR_TIMEOUT', /logic ran longer than timeoutMs 40 ms/);
    assert.is(w.restarts, 1);
  } finally {
    await w.stop();
  }
  const v = new WorkerSandbox({ prepareTimeoutMs: 20 });
  await v.start();
  try {
    await rejectsError(() => v.evaluate(big('(i32.const 0)'), INPUT), 'SandboxError', 'ERR_TIMEOUT', /prepareTimeoutMs 20 ms/);
    assert.is((await v.evaluate(wat(GOOD_POLICY), INPUT)).verdict, 'allow', 'a fresh worker serves the next request');
  } finally {
    await v.stop();
  }
});

test('worker: a module changed in place between two evaluations is the changed module', async () => {
  const w = new WorkerSandbox();
  await w.start();
  try {
    const m = wat(GOOD_POLICY);
    const a = await w.evaluate(m, INPUT);
    const other = wat(GOOD_POLICY.replace('"too early"', '"too EARLY"'));
    m.set(other.subarray(0, m.length)); // same length: only the data segment differs
    assert.is(other.length, m.length);
    const b = await w.evaluate(m, { ...INPUT, now: 1 });
    assert.is.not(a.moduleSha256, b.moduleSha256);
    assert.is(b.reason, 'too EARLY');
  } finally {
    await w.stop();
  }
});

test('worker: replySpinMs is checked at construction, naming the option and what came', () => {
  for (const bad of [-1, 2, Number.NaN, Number.POSITIVE_INFINITY, '0.1'])
    assert.throws(
      () => new WorkerSandbox({}, { replySpinMs: bad as number }),
      (e: unknown) => e instanceof RangeError && /^WorkerSandbox: replySpinMs must be a number of ms from 0 to 1, got /.test((e as Error).message),
      String(bad),
    );
  new WorkerSandbox({}, { replySpinMs: 0 });
  new WorkerSandbox({}, { replySpinMs: 1 });
});

test('worker: a reply taken by polling is the reply the event would bring, and it skips the event loop', async () => {
  const modules = [wat(GOOD_POLICY), wat(GOOD_POLICY.replace('"too early"', '"too EARLY"'))];
  const inputs = [INPUT, { ...INPUT, now: 1 }];
  const run = async (replySpinMs: number) => {
    const w = new WorkerSandbox({}, { replySpinMs });
    await w.start();
    const records: unknown[] = [];
    let withoutEventLoop = 0;
    try {
      for (let i = 0; i < 40; i++) {
        const pending = w.evaluate(modules[i % 2]!, inputs[(i >> 1) % 2]!);
        let settled = false;
        void pending.then(() => {
          settled = true;
        });
        for (let k = 0; k < 100 && !settled; k++) await Promise.resolve(); // microtasks only: no event-loop turn
        if (settled) withoutEventLoop++;
        records.push(await pending);
      }
      await rejectsError(() => w.evaluate(SEQUENCE[4]!, INPUT), 'SandboxError', 'ERR_TRAP', /unreachable/);
    } finally {
      await w.stop();
    }
    return { records, withoutEventLoop };
  };
  const polled = await run(1);
  const evented = await run(0);
  assert.equal(polled.records, evented.records, 'the same records (verdict, reason, fuel, state, digests) either way');
  // A reply taken while polling settles the evaluation in microtasks; one that waits for the port's
  // 'message' event needs a turn of the event loop, so never does.
  assert.ok(polled.withoutEventLoop > 0, `none of 40 replies was taken by polling`);
  assert.is(evented.withoutEventLoop, 0, 'replySpinMs 0: every reply came by the event');
  assert.is((polled.records[3] as { reason: string }).reason, 'too EARLY', 'the second module, denying at now = 1');
});

test.run();
