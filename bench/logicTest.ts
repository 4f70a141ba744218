/**
 * `capsule logic test` benchmark (issue 19; part of `npm run bench`, BENCH_ONLY=logic-test): a
 * generated scenario file of 1 000 cases for the standard policy.ts (the README's combined rule:
 * expiry with an open counter, an allowlist with m-of-n approvals, a dead man's switch; allows,
 * denies, check-ins, approvals by Ed25519 and Ethereum keys, counts carried with stateFrom), run as
 * a WHOLE PROCESS under the same wrapper (wholeProcess.ts), median of interleaved rounds (default
 * 5), against its peers:
 * - the same 1 000 cases naming policy.ts, built by asc in the run (no build cache: an author's
 *   first run), and with the build cache warm (every later run of an unchanged policy);
 * - one case (the fixed cost: start-up, ajv, Binaryen, compile) — (1 000 − 1) cases' difference
 *   is the per-case cost;
 * - `capsule logic run` of one decision on a sealed capsule — what one case costs done by hand.
 * Goal (issue 19): ≤ 2 s for the 1 000 cases, i.e. the module compiled once, instantiated per case.
 * Writes bench/out/logic-test.json.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildPolicy } from '../agent/logic/build.ts';
import { median, timeProcess } from './wholeProcess.ts';

const here = fileURLToPath(new URL('.', import.meta.url));
const ROOT = join(here, '..');
const BIN = join(ROOT, 'bin', 'capsule.js');
const ROUNDS = Number(process.env.BENCH_LOGIC_TEST_ROUNDS ?? 5);
const CASES = 1000;
const dir = mkdtempSync(join(tmpdir(), 'bench-logic-test-'));

const policyTs = join(ROOT, 'contracts-as', 'contracts', 'policy.ts');
writeFileSync(join(dir, 'policy.wasm'), (await buildPolicy(policyTs)).wasm);

const params = {
  all: [
    { expiry: { notAfter: '2035-01-01T00:00:00Z', maxOpens: 1000 } },
    {
      any: [
        {
          all: [
            { allowlist: { requesters: ['${alice}'] } },
            {
              mOfN: {
                threshold: 2,
                approvers: [
                  { scheme: 'ed25519', key: '${t1}' },
                  { scheme: 'ed25519', key: '${t2}' },
                  { scheme: 'eip191', key: '${t3}' },
                ],
              },
            },
          ],
        },
        { deadMan: { beneficiaries: ['${bob}'], silenceMs: 2592000000 } },
      ],
    },
  ],
};
const keys = {
  owner: { type: 'age' },
  alice: { type: 'age' },
  bob: { type: 'age' },
  mallory: { type: 'age' },
  t1: { type: 'ed25519' },
  t2: { type: 'ed25519' },
  t3: { type: 'eip191' },
};
const DAY = 86_400_000;
const T0 = Date.parse('2030-01-01T00:00:00Z');

/** Case i: one of eight shapes, at its own time (so no two decisions have the same inputs). */
function caseOf(i: number): Record<string, unknown> {
  const at = T0 + (i % 8 < 4 ? 10 * DAY : 40 * DAY) + i * 1000;
  const name = `case ${i}`;
  switch (i % 8) {
    case 0:
      return { name, at, requester: 'alice', approvals: ['t1', 't2'], expect: { verdict: 'allow', changed: ['0:opens'] } };
    case 1:
      return { name, at, requester: 'alice', approvals: ['t1'], expect: { verdict: 'deny', reason: { pattern: 'approved by only 1 of 3' } } };
    case 2:
      return { name, at, requester: 'bob', expect: { verdict: 'deny', reason: { pattern: 'owner active' } } };
    case 3:
      return { name, at, requester: 'bob', checkins: [{ by: 'owner' }], expect: { verdict: 'deny', changed: ['1.1:lastCheckin'] } };
    case 4:
      return { name, at, requester: 'bob', expect: { verdict: 'allow', state: { '0:opens': { u64: 1 } } } };
    case 5:
      return { name, at, requester: 'bob', stateFrom: `case ${i - 1}`, expect: { verdict: 'allow', state: { '0:opens': { u64: 2 } } } };
    case 6:
      return { name, at, requester: 'mallory', approvals: ['t1', 't2'], expect: { verdict: 'deny' } };
    default:
      return { name, at, requester: 'bob', state: { '0:opens': { u64: 1000 } }, expect: { verdict: 'deny', reason: { pattern: 'opened 1000 of 1000 times' } } };
  }
}
const cases = Array.from({ length: CASES }, (_, i) => caseOf(i));
const scenario = (policy: string, n: number) =>
  JSON.stringify({ policy, keys, capsule: { owner: 'owner', created: '2030-01-01T00:00:00Z' }, params, cases: cases.slice(0, n) });
writeFileSync(join(dir, 'wasm-1000.json'), scenario('policy.wasm', CASES));
writeFileSync(join(dir, 'wasm-1.json'), scenario('policy.wasm', 1));
writeFileSync(join(dir, 'ts-1000.json'), scenario(policyTs, CASES));

// The peer: one `capsule logic run` on a sealed capsule with the same module and params (the keys' forms from --json).
const { spawnSync } = await import('node:child_process');
const once = spawnSync(process.execPath, [BIN, 'logic', 'test', join(dir, 'wasm-1.json'), '--json'], { cwd: dir });
if (once.status !== 0) throw new Error(`logic test (1 case): exit ${once.status}: ${once.stderr}`);
const forms = JSON.parse(once.stdout.toString()).files[0].keys as Record<string, { recipient?: string; ed25519?: string; address?: string }>;
const resolved = JSON.parse(
  JSON.stringify(params).replace(/"\$\{(\w+)\}"/g, (_, k: string) => JSON.stringify(forms[k]!.recipient ?? forms[k]!.ed25519 ?? forms[k]!.address)),
);
resolved.all[1].any[1].deadMan.owner = forms.owner!.ed25519; // the sealed capsule has no owner field: name the key in the params
const sh = (args: string[]) => {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: dir });
  if (r.status !== 0) throw new Error(`capsule ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
};
sh(['keygen', '-o', 'g.key']);
const guardian = /age1[0-9a-z]+/.exec(readFileSync(join(dir, 'g.key'), 'utf8'))![0];
writeFileSync(join(dir, 'will.txt'), 'the last will');
writeFileSync(join(dir, 'params.json'), JSON.stringify(resolved));
sh(['seal', 'will.txt', '--guardian', guardian, '--logic', 'policy.wasm', '--params-file', 'params.json', '-o', 'will.capsule']);

const runs: Record<string, string[]> = {
  'logic test, 1000 cases (policy.wasm)': [process.execPath, BIN, 'logic', 'test', join(dir, 'wasm-1000.json')],
  // No cache: asc builds policy.ts in every run (an author's first run, or CAPSULE_BUILD_CACHE=off).
  'logic test, 1000 cases (policy.ts, built in the run)': ['env', 'CAPSULE_BUILD_CACHE=off', process.execPath, BIN, 'logic', 'test', join(dir, 'ts-1000.json')],
  // The build cache warm (every later run of an unchanged policy: agent/logic/BuildCache.ts).
  'logic test, 1000 cases (policy.ts, build cache warm)': [
    'env',
    `CAPSULE_BUILD_CACHE=${join(dir, 'build-cache')}`,
    process.execPath,
    BIN,
    'logic',
    'test',
    join(dir, 'ts-1000.json'),
  ],
  'logic test, 1 case (policy.wasm)': [process.execPath, BIN, 'logic', 'test', join(dir, 'wasm-1.json')],
  'logic run, 1 decision (policy.wasm)': [
    process.execPath,
    BIN,
    'logic',
    'run',
    join(dir, 'policy.wasm'),
    '--capsule',
    join(dir, 'will.capsule'),
    '--requester',
    forms.bob!.recipient!,
    '--at',
    '2030-03-01T00:00:00Z',
  ],
};
const wall: Record<string, number[]> = Object.fromEntries(Object.keys(runs).map((k) => [k, []]));
const rss: Record<string, number[]> = Object.fromEntries(Object.keys(runs).map((k) => [k, []]));
try {
  await timeProcess(runs['logic test, 1000 cases (policy.ts, build cache warm)']!, join(dir, 'time.txt')); // fills the cache (not counted)
  for (let r = 0; r < ROUNDS; r++) {
    for (const [k, argv] of Object.entries(runs)) {
      // interleaved: drift falls on all alike
      const f = await timeProcess(argv, join(dir, 'time.txt'));
      wall[k]!.push(f.wallSeconds);
      rss[k]!.push(f.peakRssKiB);
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const med = Object.fromEntries(Object.keys(runs).map((k) => [k, { wallSeconds: median(wall[k]!), peakRssMiB: median(rss[k]!) / 1024 }]));
const perCase = (med['logic test, 1000 cases (policy.wasm)']!.wallSeconds - med['logic test, 1 case (policy.wasm)']!.wallSeconds) / (CASES - 1);
console.log(`\ncapsule logic test (whole process, median of ${ROUNDS} interleaved rounds; goal ≤ 2 s for ${CASES} cases)`);
for (const [k, v] of Object.entries(med)) console.log(`  ${k.padEnd(56)} ${v.wallSeconds.toFixed(3)} s  ${v.peakRssMiB.toFixed(0)} MiB`);
console.log(`  per case (1000-case run minus 1-case run, / 999)${' '.repeat(9)}${(perCase * 1000).toFixed(3)} ms`);
mkdirSync(join(here, 'out'), { recursive: true });
writeFileSync(
  join(here, 'out', 'logic-test.json'),
  JSON.stringify({ rounds: ROUNDS, cases: CASES, medians: med, perCaseMs: perCase * 1000, goalSeconds: 2 }, null, 2) + '\n',
);
