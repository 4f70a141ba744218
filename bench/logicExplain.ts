/**
 * `capsule logic explain` on a dead man's switch (issue 19; BENCH_ONLY=logic-explain): the standard
 * dead-man.ts module, a capsule sealed with a beneficiary and 30 days of silence, explained as a
 * whole process, against its peer `capsule logic run` of the same capsule (one decision: the same
 * start-up, module loading and metering, one evaluation), under the same wrapper (wholeProcess.ts),
 * interleaved with the order alternating, medians. Goal: explain ≤ 1 s; the ratio shows what the
 * search's evaluations add to one decision.
 *
 * Deliberately not here: correctness (test/logic-explain.test.ts).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildPolicy } from '../agent/logic/build.ts';
import { median, timeProcess } from './wholeProcess.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'bin/capsule.js');
const RUNS = Number(process.env.BENCH_LOGIC_EXPLAIN_RUNS ?? 5);
const dir = mkdtempSync(join(tmpdir(), 'bench-explain-'));

function cli(args: string[]): string {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: dir, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`capsule ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return r.stdout;
}

try {
  writeFileSync(join(dir, 'dead-man.wasm'), (await buildPolicy('contracts-as/contracts/dead-man.ts', { cwd: ROOT })).wasm);
  writeFileSync(join(dir, 'will.txt'), 'the last will');
  for (const k of ['g', 'owner', 'heir']) cli(['keygen', '-o', `${k}.key`]);
  const recipient = (k: string) => /age1[0-9a-z]+/.exec(readFileSync(join(dir, k), 'utf8'))![0];
  const heir = recipient('heir.key');
  cli([
    'seal',
    'will.txt',
    '--guardian',
    recipient('g.key'),
    '--logic',
    'dead-man.wasm',
    '--sign-with',
    'owner.key',
    '--params',
    JSON.stringify({ beneficiaries: [heir], silenceMs: 30 * 86_400_000 }),
    '-o',
    'will.capsule',
  ]);
  const probes = JSON.parse(cli(['logic', 'explain', 'dead-man.wasm', '--capsule', 'will.capsule', '--json'])).probes as number;
  const report = join(dir, 'time.report');
  const explainArgv = [process.execPath, BIN, 'logic', 'explain', join(dir, 'dead-man.wasm'), '--capsule', join(dir, 'will.capsule')];
  const runArgv = [
    process.execPath,
    BIN,
    'logic',
    'run',
    join(dir, 'dead-man.wasm'),
    '--capsule',
    join(dir, 'will.capsule'),
    '--requester',
    heir,
    '--at',
    String(Date.now()),
  ];
  const explain: number[] = [];
  const run: number[] = [];
  for (let r = 0; r < RUNS + 1; r++) {
    const a = () => timeProcess(explainArgv, report);
    const b = () => timeProcess(runArgv, report);
    let fa, fb;
    if (r % 2 === 0) {
      fa = await a();
      fb = await b();
    } else {
      fb = await b();
      fa = await a();
    }
    if (r === 0) continue; // the first round warms the file cache: dropped
    explain.push(fa.wallSeconds);
    run.push(fb.wallSeconds);
  }
  const me = median(explain) * 1000;
  const mr = median(run) * 1000;
  const ms = (xs: number[]) => xs.map((s) => (s * 1000).toFixed(0)).join(', ');
  console.log(`\nlogic explain on a dead-man capsule (${probes} evaluations), whole processes, medians of ${RUNS} interleaved runs`);
  console.log('| command | median | runs (ms) |');
  console.log('|---|---|---|');
  console.log(`| capsule logic explain | ${me.toFixed(0)} ms | ${ms(explain)} |`);
  console.log(`| capsule logic run (peer: one decision) | ${mr.toFixed(0)} ms | ${ms(run)} |`);
  console.log(`ratio explain / run: ${(me / mr).toFixed(2)}×; goal explain ≤ 1000 ms: ${me <= 1000 ? 'met' : 'NOT met'}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
