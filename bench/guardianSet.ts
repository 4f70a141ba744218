/**
 * Opening from a guardian set (issue 17; BENCH_ONLY=guardian-set): `capsule open` of a 1 MiB
 * capsule sealed 2-of-3 to three guardians, against `capsule open` of the same-sized capsule
 * sealed to one of them, both as whole processes under the same wrapper (wholeProcess.ts),
 * interleaved, medians. Three real `capsule agent` processes (simulator modules, their RTC as
 * the clock, the standard policy with an open time lock) on 127.0.0.1; the client asks all three
 * at once and stops at two shares. Goal: ≤ 1.3× the single guardian's time.
 *
 * Deliberately not here: the network-namespace topology (test/guardian-set.test.ts): on loopback
 * the figure is the protocol's and the client's cost, not a LAN's.
 */
import { writeFileSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { buildPolicy } from '../agent/logic/build.ts';
import { BIN, ROOT, provisionDevice, startAgent, type BenchDevice, type RunningAgent } from './agentProcess.ts';
import { median, timeProcess } from './wholeProcess.ts';

const RUNS = Number(process.env.BENCH_GUARDIAN_SET_RUNS ?? 9);
const devices: BenchDevice[] = [];
const agents: RunningAgent[] = [];
try {
  for (let i = 0; i < 3; i++) devices.push(await provisionDevice(`guardian-set-bench-${i}-`));
  const [d0] = devices as [BenchDevice];
  const policy = new Uint8Array((await buildPolicy('contracts-as/contracts/policy.ts', { cwd: ROOT })).wasm);
  writeFileSync(join(d0.dir, 'policy.wasm'), policy);
  writeFileSync(join(d0.dir, 'secret.bin'), Buffer.alloc(1 << 20, 7));
  d0.cli(['keygen', '-o', 'me.key']);
  const x25519 = devices.map((d) => JSON.parse(readFileSync(join(d.data, 'guardian.json'), 'utf8')).recipients.x25519 as string);
  const params = JSON.stringify({ timeLock: { notBefore: Date.now() - 86_400_000 } });
  d0.cli([
    'seal',
    'secret.bin',
    ...x25519.flatMap((x) => ['--guardian', x]),
    '--threshold',
    '2',
    '--logic',
    'policy.wasm',
    '--params',
    params,
    '-o',
    'set.capsule',
  ]);
  d0.cli(['seal', 'secret.bin', '--guardian', x25519[0]!, '--logic', 'policy.wasm', '--params', params, '-o', 'one.capsule']);
  const config = join(d0.dir, 'bench-config.json');
  writeFileSync(config, JSON.stringify({ ipfs: 'off', ratePerSecond: 0, clientFuelPerMinute: 0 }));
  for (const d of devices) agents.push(await startAgent(d, config));
  for (const a of agents) d0.cli(['logic', 'push', 'policy.wasm', '--guardian', a.url]);
  const open = (capsule: string, urls: string[], out: string) => [
    process.execPath,
    BIN,
    'open',
    join(d0.dir, capsule),
    ...urls.flatMap((u) => ['--guardian', u]),
    '--identity',
    join(d0.dir, 'me.key'),
    '--receipts',
    join(d0.dir, 'receipts'),
    '-o',
    join(d0.dir, out),
  ];
  const report = join(d0.dir, 'time.report');
  const one: number[] = [];
  const set: number[] = [];
  for (let r = 0; r < RUNS + 1; r++) {
    rmSync(join(d0.dir, 'one.out'), { force: true });
    rmSync(join(d0.dir, 'set.out'), { force: true });
    // Interleaved, alternating which goes first; the first round warms the compile cache and is dropped.
    const a = () => timeProcess(open('one.capsule', [agents[0]!.url], 'one.out'), report);
    const b = () =>
      timeProcess(
        open(
          'set.capsule',
          agents.map((x) => x.url),
          'set.out',
        ),
        report,
      );
    let fa, fb;
    if (r % 2 === 0) {
      fa = await a();
      fb = await b();
    } else {
      fb = await b();
      fa = await a();
    }
    if (r === 0) continue;
    one.push(fa.wallSeconds);
    set.push(fb.wallSeconds);
  }
  const m1 = median(one) * 1000;
  const m3 = median(set) * 1000;
  console.log(`\nopen from a guardian set: 1 MiB capsule, whole \`capsule open\` processes, medians of ${RUNS} interleaved runs`);
  console.log('| capsule | guardians asked | median | runs (ms) |');
  console.log('|---|---|---|---|');
  console.log(`| one guardian | 1 | ${m1.toFixed(0)} ms | ${one.map((s) => (s * 1000).toFixed(0)).join(', ')} |`);
  console.log(`| 2-of-3 guardian set | 3 (stops at 2 shares) | ${m3.toFixed(0)} ms | ${set.map((s) => (s * 1000).toFixed(0)).join(', ')} |`);
  console.log(`ratio 2-of-3 / one: ${(m3 / m1).toFixed(2)}× (goal ≤ 1.3×)`);
} finally {
  for (const a of agents) await a.stop();
  for (const d of devices) rmSync(d.dir, { recursive: true, force: true });
}
