/**
 * Sandbox benchmark (part of `npm run bench`): cold evaluation (validate + meter + compile + run,
 * no cache), warm evaluation in-process and in the worker, and the fuel-metering overhead on a
 * loop-heavy policy against the same module uninstrumented (its peer, measured in the same run).
 * Reports medians; writes bench/out/sandbox.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeCanonical } from '../agent/format/cbor.ts';
import { buildPolicy } from '../agent/logic/build.ts';
import type { EvaluationInput } from '../agent/sandbox/inputs.ts';
import { DEPTH_IMPORT_NAME, FUEL_IMPORT_MODULE, FUEL_IMPORT_NAME, instrument } from '../agent/sandbox/meter.ts';
import { Sandbox } from '../agent/sandbox/Sandbox.ts';
import { WorkerSandbox } from '../agent/sandbox/WorkerSandbox.ts';
import { MeteredSandbox } from '../agent/sandbox/MeteredSandbox.ts';
import { checkAndMeter } from '../agent/sandbox/validate.ts';

const here = fileURLToPath(new URL('.', import.meta.url));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const us = (ms: number) => +(ms * 1000).toFixed(1);

// A realistic small policy: the time lock from the standard contracts if present, else an inline one.
const src = join(here, 'policies', 'time-lock-bench.ts');
const policy = (await buildPolicy(src)).wasm;
const input: EvaluationInput = {
  now: 1_893_456_000_000,
  requester: 'age1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq0gq7m',
  capsule: { id: new Uint8Array(16), created: 1, owner: null, logic: new Uint8Array(32), size: 1, digest: new Uint8Array(32) },
};

// Cold: a fresh sandbox each time (nothing cached), in a process whose code is warm, as a running
// guardian's is: the validator, the meter and Binaryen's glue settle during 60 untimed runs (the
// first few dozen cold runs in a fresh process take 2-4× longer; Binaryen itself loads once, ~40 ms).
const coldOf = (module: Uint8Array, inp: EvaluationInput) => {
  for (let i = 0; i < 60; i++) new Sandbox().evaluate(module, inp);
  const xs: number[] = [];
  for (let i = 0; i < 30; i++) {
    const t = performance.now();
    new Sandbox().evaluate(module, inp);
    xs.push(performance.now() - t);
  }
  return xs;
};
const cold = coldOf(policy, input);
// The same for the standard time-lock contract (SDK included: a realistic module size).
const standard = (await buildPolicy(join(here, '..', 'contracts-as', 'contracts', 'time-lock.ts'))).wasm;
const standardInput: EvaluationInput = { ...input, params: encodeCanonical(new Map([['notBefore', 1_893_456_000_000]])) };
const coldStandard = coldOf(standard, standardInput);
// Cold as the agent now pays it (issue 15 Build 5): the metered binary comes from the module
// store's cache, so a fresh evaluator only compiles it and runs (no Binaryen).
const coldMeteredOf = (module: Uint8Array, inp: EvaluationInput) => {
  const { metered: bytes } = checkAndMeter(module, new Sandbox().limits);
  for (let i = 0; i < 60; i++) new MeteredSandbox().evaluate(module, inp, bytes);
  const xs: number[] = [];
  for (let i = 0; i < 30; i++) {
    const t = performance.now();
    new MeteredSandbox().evaluate(module, inp, bytes);
    xs.push(performance.now() - t);
  }
  return xs;
};
const coldStandardMetered = coldMeteredOf(standard, standardInput);

// Warm, in-process.
const sb = new Sandbox();
for (let i = 0; i < 3000; i++) sb.evaluate(policy, input);
const warm: number[] = [];
for (let i = 0; i < 20000; i++) {
  const t = performance.now();
  sb.evaluate(policy, input);
  warm.push(performance.now() - t);
}

// Warm, worker-isolated (includes the message round trip): back to back (a queue of decisions),
// as the agent runs it (alwaysMetered, the metered bytes given), and one request every 2 ms (the
// worker and the main thread asleep in between: each pays a thread wake-up).
const workerRun = async (w: WorkerSandbox, bytes: Uint8Array | undefined, gapMs: number, n: number) => {
  await w.start();
  for (let i = 0; i < 500; i++) await w.evaluate(policy, input, bytes);
  const xs: number[] = [];
  for (let i = 0; i < n; i++) {
    if (gapMs) await new Promise((r) => setTimeout(r, gapMs));
    const t = performance.now();
    await w.evaluate(policy, input, bytes);
    xs.push(performance.now() - t);
  }
  await w.stop();
  return xs;
};
const warmWorker = await workerRun(new WorkerSandbox(), undefined, 0, 3000);
const policyMetered = checkAndMeter(policy, new Sandbox().limits).metered;
const warmWorkerAgent = await workerRun(new WorkerSandbox({}, { alwaysMetered: true }), policyMetered, 0, 3000);
const warmWorkerSpaced = await workerRun(new WorkerSandbox({}, { alwaysMetered: true }), policyMetered, 2, 300);
const p90 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.9)]!;

// Metering overhead: a loop-heavy policy, raw vs metered, same instance-per-run method.
const heavy = (await buildPolicy(join(here, 'policies', 'loop-heavy.ts'))).wasm;
const metered = new WebAssembly.Module(instrument(heavy) as Uint8Array<ArrayBuffer>);
const raw = new WebAssembly.Module(heavy as Uint8Array<ArrayBuffer>);

const runRaw = () => (new WebAssembly.Instance(raw, {}).exports.decide as () => number)();
const runMetered = () => {
  const fuel = new WebAssembly.Global({ value: 'i64', mutable: true }, 10n ** 15n);
  const depth = new WebAssembly.Global({ value: 'i32', mutable: true }, 10_000); // the call-depth counter the meter also imports
  const inst = new WebAssembly.Instance(metered, { [FUEL_IMPORT_MODULE]: { [FUEL_IMPORT_NAME]: fuel, [DEPTH_IMPORT_NAME]: depth } });
  (inst.exports.decide as () => number)();
  return fuel.value;
};
const timeIt = (f: () => unknown) => {
  const xs: number[] = [];
  for (let i = 0; i < 40; i++) {
    const t = performance.now();
    f();
    xs.push(performance.now() - t);
  }
  return median(xs);
};
for (let i = 0; i < 5; i++) {
  runRaw();
  runMetered();
}
const rawMs = timeIt(runRaw);
const meteredMs = timeIt(runMetered);

const results = {
  date: new Date().toISOString(),
  node: process.version,
  coldMedianMs: +median(cold).toFixed(2),
  coldStandardMedianMs: +median(coldStandard).toFixed(2),
  coldStandardFromMeteredMedianMs: +median(coldStandardMetered).toFixed(2),
  standardModuleBytes: standard.length,
  policyModuleBytes: policy.length,
  warmInProcessMedianUs: us(median(warm)),
  warmInProcessP90Us: us([...warm].sort((a, b) => a - b)[Math.floor(warm.length * 0.9)]!),
  warmWorkerMedianUs: us(median(warmWorker)),
  warmWorkerP90Us: us(p90(warmWorker)),
  warmWorkerAgentMedianUs: us(median(warmWorkerAgent)),
  warmWorkerSpacedMedianUs: us(median(warmWorkerSpaced)),
  loopHeavyRawMs: +rawMs.toFixed(2),
  loopHeavyMeteredMs: +meteredMs.toFixed(2),
  meteringOverhead: +(meteredMs / rawMs).toFixed(2),
  fuel: sb.evaluate(policy, input).fuel,
};
console.log('\nsandbox (time-lock policy, allow path)');
console.log('| measure | figure | goal |');
console.log('|---|---|---|');
console.log(`| cold evaluation (validate + meter + compile + run), median of 30, ${policy.length}-byte policy | ${results.coldMedianMs} ms | ≤ 5 ms |`);
console.log(`| cold evaluation, standard time-lock contract (${standard.length} bytes with the SDK) | ${results.coldStandardMedianMs} ms | ≤ 5 ms |`);
console.log(
  `| cold evaluation of the standard time-lock from its cached metered binary (compile + run: the agent's path) | ${results.coldStandardFromMeteredMedianMs} ms | ≤ 5 ms |`,
);
console.log(`| warm evaluation in-process, median of 20000 | ${results.warmInProcessMedianUs} µs (p90 ${results.warmInProcessP90Us} µs) | ≤ 50 µs |`);
console.log(
  `| warm evaluation in the worker (round trip, back to back), median of 3000 | ${results.warmWorkerMedianUs} µs (p90 ${results.warmWorkerP90Us} µs) | ≤ 60 µs |`,
);
console.log(`| the same, as the agent runs it (alwaysMetered, metered bytes given) | ${results.warmWorkerAgentMedianUs} µs | ≤ 60 µs |`);
console.log(`| the same, one request every 2 ms (both threads wake up each time), median of 300 | ${results.warmWorkerSpacedMedianUs} µs | reported |`);
console.log(
  `| loop-heavy policy: uninstrumented (peer) / metered | ${results.loopHeavyRawMs} ms / ${results.loopHeavyMeteredMs} ms = ${results.meteringOverhead}× | ≤ 1.5× |`,
);
mkdirSync(join(here, 'out'), { recursive: true });
writeFileSync(join(here, 'out', 'sandbox.json'), JSON.stringify(results, null, 2) + '\n');
