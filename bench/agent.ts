/**
 * Agent load and memory benchmark (part of `npm run bench`; BENCH_ONLY=agent): a real `capsule
 * agent` process with the simulator module and the standard policy, run with `ipfs: off` and with
 * `ipfs: helia` (the embedded node listening on 127.0.0.1 only, no peers: nothing leaves the machine).
 *
 * Memory (issue 15), the agent's VmRSS from /proc (its sandbox workers are threads, so included;
 * the module checker is a child process, so not):
 * - idle: at ready and settled (BENCH_AGENT_IDLE_MS after ready, default 12 s: after V8's memory
 *   reducer, ~8 s after start), medians of 3 starts per mode, modes interleaved, after one
 *   unmeasured start per mode (so that Node's compile cache is warm, as on a device);
 * - after 10 pushes of distinct modules (each validated and metered: 10 module checks);
 * - at the start and end of each load run, and BENCH_AGENT_QUIET_MS (default 15 s) after the last.
 *
 * Load: 64 concurrent HTTP clients for BENCH_AGENT_SECONDS (default 30) each, after a 5 s warm-up:
 * release requests that are allowed (time lock open: logic run, key unwrapped, first chunk
 * authenticated, audit entry fsync'ed and signed, answer encrypted with age), then denials, then
 * allows by id. Peer in the same run: a bare node:http server answering a fixed JSON body to the
 * same load (the floor of any Node HTTP service here). Also start-to-ready vs a bare `node -e` start,
 * after the load runs: it grows with the audit log, which the agent walks at start (bench/auditOpen.ts),
 * and both modes share one data directory, so the helia row's log holds both sessions' decisions.
 *
 * BENCH_AGENT_NODE_ARGS adds Node options to the agent (agentProcess.ts), e.g.
 * `--max-semi-space-size=2` to try another collection policy on top of the unit's.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildPolicy } from '../agent/logic/build.ts';
import { CLIENTS, ROOT, load, provisionDevice, rssMiB, startAgent as start, startPeer, type LoadResult, type RunningAgent } from './agentProcess.ts';

const SECONDS = Number(process.env.BENCH_AGENT_SECONDS ?? 30);
const IDLE_MS = Number(process.env.BENCH_AGENT_IDLE_MS ?? 12_000);
const QUIET_MS = Number(process.env.BENCH_AGENT_QUIET_MS ?? 15_000);
const STARTS = 3;
const MODES = ['off', 'helia'] as const;
type Mode = (typeof MODES)[number];
const T = 1_893_456_000_000;

const dev = await provisionDevice('agent-bench-');
const { dir, data, cli } = dev;
const policy = new Uint8Array((await buildPolicy('contracts-as/contracts/policy.ts', { cwd: ROOT })).wasm);
writeFileSync(join(dir, 'policy.wasm'), policy);
writeFileSync(join(dir, 'secret.bin'), Buffer.alloc(100_000, 7));
const x25519 = JSON.parse(readFileSync(join(data, 'guardian.json'), 'utf8')).recipients.x25519;
cli(['keygen', '-o', 'me.key']);
const me = /age1[0-9a-z]+/.exec(readFileSync(join(dir, 'me.key'), 'utf8'))![0];
// The production clock (the module's RTC through the FFI): one capsule opened in the past, one far ahead.
cli([
  'seal',
  'secret.bin',
  '--guardian',
  x25519,
  '--logic',
  'policy.wasm',
  '--params',
  `{"timeLock": {"notBefore": ${Date.now() - 86_400_000}}}`,
  '-o',
  'open.capsule',
]);
cli(['seal', 'secret.bin', '--guardian', x25519, '--logic', 'policy.wasm', '--params', `{"timeLock": {"notBefore": ${T}}}`, '-o', 'shut.capsule']);

// All 64 clients come from 127.0.0.1: one client for the scheduler, so no rate limit and no fuel budget.
for (const mode of MODES) {
  writeFileSync(join(dir, `${mode}.json`), JSON.stringify({ ratePerSecond: 0, clientFuelPerMinute: 0, ipfs: mode, ipfsListen: ['/ip4/127.0.0.1/tcp/0'] }));
}
const startAgent = (mode: Mode) => start(dev, join(dir, `${mode}.json`));

const prefix = (f: string) => readFileSync(join(dir, f)).subarray(0, 70_000).toString('base64');
const allowBody = JSON.stringify({ capsule: prefix('open.capsule'), requester: me });
const denyBody = JSON.stringify({ capsule: prefix('shut.capsule'), requester: me });
const byIdBody = JSON.stringify({ id: JSON.parse(cli(['inspect', 'open.capsule', '--json'])).id, requester: me });

/** `policy` with a custom section naming `i`: a distinct module (hash) that the checker validates and meters anew. */
function variant(i: number): Uint8Array<ArrayBuffer> {
  const name = Buffer.from('bench');
  const payload = Buffer.concat([Buffer.of(name.length), name, Buffer.from(`push ${i} ${Date.now()}`)]);
  return new Uint8Array(Buffer.concat([policy, Buffer.of(0, payload.length), payload])); // section id 0, size < 128: one LEB128 byte
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const running = new Set<RunningAgent>();
const stop = async (a: RunningAgent) => {
  running.delete(a);
  await a.stop();
};

interface Session {
  readyFresh: number[];
  idleReady: number[];
  idleSettled: number[];
  pushes: number;
  loads: Array<{ name: string; r: LoadResult; from: number; to: number }>;
  quiet: number;
  readyMs: number;
}
const sessions = new Map<Mode, Session>();

try {
  for (const mode of MODES) await stop(await startAgent(mode)); // compile cache warm for both modes
  for (const mode of MODES) sessions.set(mode, { readyFresh: [], idleReady: [], idleSettled: [], pushes: 0, loads: [], quiet: 0, readyMs: 0 });
  // Idle: interleaved starts; the last start of each mode goes on to the pushes and the load.
  const last = new Map<Mode, RunningAgent>();
  for (let i = 0; i < STARTS; i++) {
    for (const mode of MODES) {
      const a = await startAgent(mode);
      running.add(a);
      const s = sessions.get(mode)!;
      s.idleReady.push(rssMiB(a.pid));
      s.readyFresh.push(a.readyMs);
      await sleep(IDLE_MS);
      s.idleSettled.push(rssMiB(a.pid));
      if (i < STARTS - 1) await stop(a);
      else last.set(mode, a);
    }
  }
  await stop(last.get('helia')!); // one agent at a time under load: restarted below
  for (const mode of MODES) {
    const a = mode === 'off' ? last.get('off')! : await startAgent(mode);
    running.add(a);
    if (mode !== 'off') await sleep(IDLE_MS);
    const s = sessions.get(mode)!;
    for (let i = 0; i < 10; i++) {
      const res = await fetch(a.url + '/v1/modules', { method: 'POST', headers: { 'content-type': 'application/wasm' }, body: variant(i) });
      if (res.status !== 201) throw new Error(`push ${i}: ${res.status} ${await res.text()}`);
    }
    s.pushes = rssMiB(a.pid);
    const push = await fetch(a.url + '/v1/modules', { method: 'POST', headers: { 'content-type': 'application/wasm' }, body: policy });
    if (push.status !== 201) throw new Error(`push: ${push.status} ${await push.text()}`);
    await load(a.url, '/v1/release', allowBody, 200, 5); // warm-up (worker compile, caches, V8 heap growth)
    for (const [name, body, status] of [
      ['allow', allowBody, 200],
      ['deny', denyBody, 403],
      ['byId', byIdBody, 200],
    ] as const) {
      const from = rssMiB(a.pid);
      const r = await load(a.url, '/v1/release', body, status, SECONDS); // by id: registered by the allows above
      s.loads.push({ name, r, from, to: rssMiB(a.pid) });
    }
    await sleep(QUIET_MS);
    s.quiet = rssMiB(a.pid);
    await stop(a);
    const again = await startAgent(mode); // start-to-ready with a populated data directory
    running.add(again);
    s.readyMs = again.readyMs;
    await stop(again);
  }
} finally {
  for (const a of running) await a.stop().catch(() => {});
}

// Peer: a bare node:http server in a child process, same client, same body size.
const peer = await startPeer();
const floor = await load(peer.url, '/', allowBody, 200, SECONDS);
const floorSmall = await load(peer.url, '/', byIdBody, 200, SECONDS);
peer.stop();
const t0 = performance.now();
spawnSync(process.execPath, ['-e', '0']);
const bareStart = performance.now() - t0;

const f = (x: number) => x.toFixed(2);
const m = (x: number) => `${x.toFixed(0)} MiB`;
const nodeArgs = process.env.BENCH_AGENT_NODE_ARGS ? `, agent Node options: ${process.env.BENCH_AGENT_NODE_ARGS}` : '';
console.log(
  `\nagent memory (VmRSS, sandbox worker threads included): median of ${STARTS} starts per mode; settled = ${IDLE_MS / 1000} s after ready${nodeArgs}`,
);
console.log(
  '| ipfs | idle at ready | idle settled (3 starts) | after 10 module pushes | allow run start → end | deny run start → end | by-id run start → end | 15 s after the last run |',
);
console.log('|---|---|---|---|---|---|---|---|');
for (const [mode, s] of sessions) {
  const run = (name: string) => {
    const l = s.loads.find((x) => x.name === name)!;
    return `${m(l.from)} → ${m(l.to)}`;
  };
  console.log(
    `| ${mode} | ${m(median(s.idleReady))} | ${m(median(s.idleSettled))} (${s.idleSettled.map((x) => x.toFixed(0)).join(', ')}) | ${m(s.pushes)} | ${run('allow')} | ${run('deny')} | ${run('byId')} | ${m(s.quiet)} |`,
  );
}
console.log(`\nagent load: ${CLIENTS} concurrent clients, ${SECONDS} s each, simulator module, standard policy${nodeArgs}`);
console.log('| ipfs | run | requests/s | p50 | p99 | peer (bare node:http, same load) | ratio p50 |');
console.log('|---|---|---|---|---|---|---|');
const label = {
  allow: 'allow (logic + unwrap + audit fsync + age answer)',
  deny: 'deny (logic + audit fsync)',
  byId: 'allow by id (capsule registered; small body)',
} as Record<string, string>;
for (const [mode, s] of sessions) {
  for (const { name, r } of s.loads) {
    const p = name === 'byId' ? floorSmall : floor;
    console.log(
      `| ${mode} | ${label[name]} | ${r.rps.toFixed(0)} | ${f(r.p50)} ms | ${f(r.p99)} ms | ${p.rps.toFixed(0)} req/s, p50 ${f(p.p50)} ms, p99 ${f(p.p99)} ms | ${(r.p50 / p.p50).toFixed(1)}× |`,
    );
  }
  console.log(
    `| ${mode} | start to ready (audit log of a few entries; median of ${STARTS}) | ${f(median(s.readyFresh))} ms | | | bare \`node -e 0\`: ${f(bareStart)} ms | ${(median(s.readyFresh) / bareStart).toFixed(1)}× |`,
  );
  console.log(
    `| ${mode} | start to ready (populated data dir) | ${f(s.readyMs)} ms | | | bare \`node -e 0\`: ${f(bareStart)} ms | ${(s.readyMs / bareStart).toFixed(1)}× |`,
  );
}
rmSync(dir, { recursive: true, force: true });
