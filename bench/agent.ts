/**
 * Agent load benchmark (part of `npm run bench`; BENCH_ONLY=agent): a real `capsule agent` process
 * with the simulator module and the standard policy, 64 concurrent HTTP clients for
 * BENCH_AGENT_SECONDS (default 30) sending release requests that are allowed (time lock open:
 * logic run, key unwrapped, first chunk authenticated, audit entry fsync'ed and signed, answer
 * encrypted with age), then the same for denials. Reports requests/s, p50/p99 latency and the
 * agent's RSS at start and end. Peer in the same run: a bare node:http server answering a fixed
 * JSON body to the same load (the floor of any Node HTTP service here). Also start-to-ready vs a
 * bare `node -e` start.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildPolicy } from '../agent/logic/build.ts';
import { CLIENTS, ROOT, load, provisionDevice, rssMiB, startAgent as start, startPeer } from './agentProcess.ts';

const SECONDS = Number(process.env.BENCH_AGENT_SECONDS ?? 30);
const T = 1_893_456_000_000;

const dev = await provisionDevice('agent-bench-');
const { dir, data, cli } = dev;
writeFileSync(join(dir, 'policy.wasm'), (await buildPolicy('contracts-as/contracts/policy.ts', { cwd: ROOT })).wasm);
writeFileSync(join(dir, 'secret.bin'), Buffer.alloc(100_000, 7));
const x25519 = JSON.parse(readFileSync(join(data, 'guardian.json'), 'utf8')).recipients.x25519;
cli(['keygen', '-o', 'me.key']);
const me = /age1[0-9a-z]+/.exec(readFileSync(join(dir, 'me.key'), 'utf8'))![0];
// The production clock (the module's RTC through the FFI): one capsule opened in the past, one far ahead.
cli(['seal', 'secret.bin', '--guardian', x25519, '--logic', 'policy.wasm', '--params', `{"timeLock": {"notBefore": ${Date.now() - 86_400_000}}}`, '-o', 'open.capsule']);
cli(['seal', 'secret.bin', '--guardian', x25519, '--logic', 'policy.wasm', '--params', `{"timeLock": {"notBefore": ${T}}}`, '-o', 'shut.capsule']);

const startAgent = () => start(dev, join(dir, 'config.json'));
writeFileSync(join(dir, 'config.json'), JSON.stringify({ ratePerSecond: 0 }));

const prefix = (f: string) => readFileSync(join(dir, f)).subarray(0, 70_000).toString('base64');
const allowBody = JSON.stringify({ capsule: prefix('open.capsule'), requester: me });
const denyBody = JSON.stringify({ capsule: prefix('shut.capsule'), requester: me });
const byIdBody = JSON.stringify({ id: JSON.parse(cli(['inspect', 'open.capsule', '--json'])).id, requester: me });

const a = await startAgent();
await fetch(a.url + '/v1/modules', { method: 'POST', headers: { 'content-type': 'application/wasm' }, body: readFileSync(join(dir, 'policy.wasm')) });
await load(a.url, '/v1/release', allowBody, 200, 5); // warm-up (worker compile, caches, V8 heap growth)
const rss0 = rssMiB(a.pid);
const allow = await load(a.url, '/v1/release', allowBody, 200, SECONDS);
const rss1 = rssMiB(a.pid);
const deny = await load(a.url, '/v1/release', denyBody, 403, SECONDS);
const rss2 = rssMiB(a.pid);
const byId = await load(a.url, '/v1/release', byIdBody, 200, SECONDS); // registered by the allows above
const rss3 = rssMiB(a.pid);
await a.stop();
const again = await startAgent(); // start-to-ready with a populated data directory
await again.stop();

// Peer: a bare node:http server in a child process, same client, same body size.
const peer = await startPeer();
const floor = await load(peer.url, '/', allowBody, 200, SECONDS);
const floorSmall = await load(peer.url, '/', byIdBody, 200, SECONDS);
peer.stop();
const t0 = performance.now();
spawnSync(process.execPath, ['-e', '0']);
const bareStart = performance.now() - t0;

const f = (x: number) => x.toFixed(2);
console.log(`\nagent load: ${CLIENTS} concurrent clients, ${SECONDS} s each, simulator module, standard policy`);
console.log('| run | requests/s | p50 | p99 | agent RSS start → end | peer (bare node:http, same load) | ratio p50 |');
console.log('|---|---|---|---|---|---|---|');
console.log(`| allow (logic + unwrap + audit fsync + age answer) | ${allow.rps.toFixed(0)} | ${f(allow.p50)} ms | ${f(allow.p99)} ms | ${rss0.toFixed(0)} → ${rss1.toFixed(0)} MiB (${(((rss1 - rss0) / rss0) * 100).toFixed(1)}%) | ${floor.rps.toFixed(0)} req/s, p50 ${f(floor.p50)} ms, p99 ${f(floor.p99)} ms | ${(allow.p50 / floor.p50).toFixed(1)}× |`);
console.log(`| deny (logic + audit fsync) | ${deny.rps.toFixed(0)} | ${f(deny.p50)} ms | ${f(deny.p99)} ms | ${rss1.toFixed(0)} → ${rss2.toFixed(0)} MiB (${(((rss2 - rss1) / rss1) * 100).toFixed(1)}%) | (same peer) | ${(deny.p50 / floor.p50).toFixed(1)}× |`);
console.log(`| allow by id (capsule registered; small body) | ${byId.rps.toFixed(0)} | ${f(byId.p50)} ms | ${f(byId.p99)} ms | ${rss2.toFixed(0)} → ${rss3.toFixed(0)} MiB (${(((rss3 - rss2) / rss2) * 100).toFixed(1)}%) | ${floorSmall.rps.toFixed(0)} req/s, p50 ${f(floorSmall.p50)} ms, p99 ${f(floorSmall.p99)} ms | ${(byId.p50 / floorSmall.p50).toFixed(1)}× |`);
console.log(`| start to ready (populated data dir) | ${f(again.readyMs)} ms | | | | bare \`node -e 0\`: ${f(bareStart)} ms | ${(again.readyMs / bareStart).toFixed(1)}× |`);
rmSync(dir, { recursive: true, force: true });
