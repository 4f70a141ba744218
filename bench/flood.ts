/**
 * Fairness under a sandbox flood (issue 18 D12; part of `npm run bench`, BENCH_ONLY=flood): a real
 * `capsule agent` (simulator module, default sandboxWorkers and clientFuelPerMinute) serves an
 * honest client (127.0.0.1, one release at a time, 100 ms apart, of a capsule under the standard
 * policy, time lock open) for BENCH_FLOOD_SECONDS (default 20) alone, then again in the same run while 4 flooding
 * clients (127.0.0.2–5, one request at a time each, ignoring Retry-After) release capsules whose
 * logic is a 100 000-function module that no worker prepares within its limits. Reports the honest
 * p50/p99 in both phases, their ratio (the issue's bar: ≤ 2×), what the flood got, the agent's RSS;
 * then the module-push figures of D10: the event loop's longest stall (a /v1/status probe every
 * 10 ms) while 30 000- and 100 000-function modules are pushed, and the RSS after 300 pushes of
 * modules with a garbage `name` section.
 *
 * Flooders are rate-limited per address (20/s; a 429 is counted like any answer): cheap requests are
 * the limiter's to stop, decisions that hold a sandbox worker the scheduler's.
 */
import { buildPolicy } from '../agent/logic/build.ts';
import { startRig, type Rig } from '../test/helpers/agentRig.ts';
import { encode, I32, OP, type Func } from '../test/helpers/wasmBinary.ts';
import { GOOD_POLICY, wat } from '../test/helpers/wat.ts';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SECONDS = Number(process.env.BENCH_FLOOD_SECONDS ?? 20);
const FLOODERS = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5'];

/** `n` trivial functions and a decide that calls the last (≈ 4 bytes each). */
const manyFunctions = (n: number) =>
  encode({
    types: [
      [[], [I32]],
      [[], []],
    ],
    memory: { min: 1, max: 1 },
    funcs: [...Array.from({ length: n }, (): Func => ({ type: 1, body: [] })), { type: 0, body: [OP.call, ...leb(n - 1), OP.i32_const, 1] }],
  });
function leb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))] ?? NaN;
};

async function honest(rig: Rig, capsule: string, seconds: number): Promise<number[]> {
  const lat: number[] = [];
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    const t = performance.now();
    const r = await rig.release(capsule, { localAddress: '127.0.0.1' });
    if (r.status !== 200) throw new Error(`honest release: HTTP ${r.status} ${JSON.stringify(r.json)}`);
    lat.push(performance.now() - t);
    await new Promise((r) => setTimeout(r, 100)); // a paced client, within its own budget and rate
  }
  return lat;
}

// Each address may send 20 requests/s (the per-/24 and global limits are off: every client here is
// on 127.0.0.x); the scheduler's budgets are the agent's defaults.
const rig = await startRig({ ratePerSecond: 20, ratePerNetwork: 0, rateGlobal: 0 });
try {
  const policy = (await buildPolicy('contracts-as/contracts/policy.ts', { cwd: ROOT })).wasm;
  const flood = manyFunctions(100_000);
  for (const m of [policy, flood]) {
    const r = await rig.push(m);
    if (r.status !== 201) throw new Error(`push: HTTP ${r.status} ${JSON.stringify(r.json)}`);
  }
  const honestCapsule = await rig.seal(policy, { timeLock: { notBefore: Date.now() - 86_400_000 } });
  const floodCapsule = await rig.seal(flood);
  await honest(rig, honestCapsule, 3); // warm-up: each worker compiles the policy
  const rss0 = rig.rssMiB();
  const alone = await honest(rig, honestCapsule, SECONDS);

  // Logic that burns its whole fuel (50 000 000 units) and ends in ERR_OUT_OF_FUEL.
  const burner = wat('(module (memory (export "memory") 1 1) (func (export "decide") (result i32) (loop $l (br $l)) (i32.const 1)))');
  if ((await rig.push(burner)).status !== 201) throw new Error('push burner');
  const burnerCapsule = await rig.seal(burner);
  const f = (x: number) => x.toFixed(1);
  console.log(
    `\nflood (D12): honest client one release at a time (100 ms apart), ${SECONDS} s alone, then ${SECONDS} s beside ${FLOODERS.length} flooders (one request at a time each, 20 req/s per address); default sandboxWorkers and clientFuelPerMinute`,
  );
  console.log('| phase | honest releases | p50 | p99 | p50 vs alone | agent RSS | the flood got |');
  console.log('|---|---|---|---|---|---|---|');
  console.log(`| alone | ${alone.length} | ${f(pct(alone, 0.5))} ms | ${f(pct(alone, 0.99))} ms | | ${f(rss0)} MiB | |`);
  for (const [name, capsule] of [
    ["100 000-function logic (the issue's flood)", floodCapsule],
    ['logic that runs out of fuel', burnerCapsule],
  ] as const) {
    let stop = false;
    const got = new Map<string, number>();
    const flooders = FLOODERS.map(async (addr) => {
      while (!stop) {
        const r = await rig.release(capsule, { localAddress: addr }).catch((e) => ({ status: 0, json: { error: { code: (e as Error).message } } }));
        const k = `${r.status} ${r.json.error?.code ?? ''}`.trim();
        got.set(k, (got.get(k) ?? 0) + 1);
      }
    });
    const flooded = await honest(rig, honestCapsule, SECONDS);
    stop = true;
    await Promise.all(flooders);
    const ratio = pct(flooded, 0.5) / pct(alone, 0.5);
    console.log(
      `| flooded: ${name} | ${flooded.length} | ${f(pct(flooded, 0.5))} ms | ${f(pct(flooded, 0.99))} ms | ${ratio.toFixed(2)}× (≤ 2×: ${ratio <= 2 ? 'met' : 'NOT met'}) | ${f(rig.rssMiB())} MiB | ${[...got].map(([k, n]) => `${k} ×${n}`).join(', ')} |`,
    );
    await new Promise((r) => setTimeout(r, 12_000)); // budgets refill between the two floods
  }

  // D10: the event loop while modules are checked, and RSS over 300 garbage-name pushes.
  for (const n of [30_000, 100_000]) {
    const m = manyFunctions(n + 1); // a module not pushed before
    let worst = 0;
    let done = false;
    const probe = (async () => {
      while (!done) {
        const t = performance.now();
        await rig.get('/v1/status');
        worst = Math.max(worst, performance.now() - t);
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    const t = performance.now();
    const r = await rig.push(m);
    const pushMs = performance.now() - t;
    done = true;
    await probe;
    // Before D10 the agent ran this on its event loop: the stall was the whole check.
    const { validateModule } = await import('../agent/sandbox/validate.ts');
    const { DEFAULT_LIMITS } = await import('../agent/sandbox/limits.ts');
    const t0 = performance.now();
    validateModule(m, DEFAULT_LIMITS);
    const inline = performance.now() - t0;
    console.log(
      `push of a ${n}-function module (${(m.length / 1024).toFixed(0)} KiB): HTTP ${r.status} in ${pushMs.toFixed(0)} ms; slowest /v1/status meanwhile ${worst.toFixed(1)} ms (the same check on an event loop, as before D10: ${inline.toFixed(0)} ms blocked)`,
    );
  }
  const good = wat(GOOD_POLICY);
  const before = rig.rssMiB();
  for (let i = 0; i < 300; i++) {
    const payload = Buffer.alloc(64 * 1024, i & 0xff).map((b, j) => (b * 31 + j * 7) & 0xff);
    const section = Buffer.concat([Buffer.from([4]), Buffer.from('name'), payload]);
    const size = leb(section.length);
    let r = await rig.push(Buffer.concat([good, Buffer.from([0, ...size]), section]));
    // The rig limits each address to 20 requests/s: wait as told, then push again.
    while (r.status === 429) {
      await new Promise((ok) => setTimeout(ok, 1000));
      r = await rig.push(Buffer.concat([good, Buffer.from([0, ...size]), section]));
    }
    if (r.status !== 201) throw new Error(`garbage push ${i}: HTTP ${r.status} ${JSON.stringify(r.json)}`);
  }
  await new Promise((r) => setTimeout(r, 3000)); // the checker worker retires when idle
  console.log(`300 pushes of modules with a 64 KiB garbage name section: agent RSS ${f(before)} → ${f(rig.rssMiB())} MiB`);
} finally {
  await rig.cleanup();
}
