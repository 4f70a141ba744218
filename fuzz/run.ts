/**
 * `npm run fuzz`: the reliability campaign's bounded run (issue 18 Build 6) — every fuzz target
 * with ≥ 10^5 cases (each target also bounded in time), C's hostile-Wasm corpus against a real
 * agent when fuzz/targets/hostileWasm.ts exists, and the kill -9 campaign (fuzz/kill.ts, ≥ 100
 * runs, beside the targets). Prints one table and exits 1 if any untyped error, crash, hang, wrong output, unclean
 * kill run, or a target short of its case count.
 *
 * Options: --cases N (per target, default 100000; the HTTP target runs 20000 against a real agent
 * unless --cases is given, see targets.ts), --seed S (default: drawn and printed),
 * --target-minutes M (bound per target, default 10), --kills N (default 100), --only NAME,
 * --no-kill, --no-hostile. Seeds are printed so that any failure reproduces.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { SKIPPED, TARGETS, hostileWasm } from './targets.ts';
import type { FuzzResult } from './drive.ts';
import type { KillResult } from './kill.ts';

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}
const flag = (name: string) => process.argv.includes(`--${name}`);

const cases = Number(option('cases', '100000'));
const seed = Number(option('seed', String(Math.floor(Math.random() * 2 ** 31))));
const minutes = Number(option('target-minutes', '10'));
const kills = Number(option('kills', '100'));
const only = option('only', '');
for (const [k, v] of [
  ['cases', cases],
  ['seed', seed],
  ['target-minutes', minutes],
  ['kills', kills],
] as const) {
  if (!Number.isFinite(v) || v < 0) {
    process.stderr.write(`fuzz: error: --${k}: expected a non-negative number, got ${JSON.stringify(option(k, ''))}\n`);
    process.exit(2);
  }
}

const log = (s: string) => process.stdout.write(s + '\n');
log(`fuzz: seed ${seed}, ${cases} cases per target, ≤ ${minutes} min per target (reproduce: npm run fuzz -- --seed ${seed})`);
const results: FuzzResult[] = [];
let bad = 0;
// The kill campaign mostly waits on child processes (CLIs, agents): it runs beside the in-process
// targets, in its own process (its spawnSync calls must not stall the cases timed here).
const kill = !only && !flag('no-kill') ? killInChild(kills, seed) : undefined;
kill?.catch(() => {}); // awaited below; this only keeps an early failure from being "unhandled"
for (const t of TARGETS) {
  if (only && t.name !== only) continue;
  log(`fuzz: ${t.name} …`);
  let r: FuzzResult;
  const want = option('cases', '') === '' && t.campaignCases ? t.campaignCases.cases : cases;
  if (want !== cases) log(`fuzz: ${t.name}: ${want} cases: ${t.campaignCases!.why}`);
  try {
    r = await t.run({ cases: want, seed, deadlineMs: minutes * 60_000 });
  } catch (e) {
    log(`fuzz: ${t.name}: the target itself failed: ${(e as Error).stack ?? e}`);
    bad++;
    continue;
  }
  results.push(r);
  const short = r.cases < want;
  if (r.untyped || r.crashes || r.hangs || r.wrongOutput || short) bad++;
  log(
    `fuzz: ${t.name}: ${r.cases} cases in ${(r.ms / 1000).toFixed(1)} s${short ? ' (SHORT of the case count: deadline)' : ''}; codes ${JSON.stringify(r.codes)}`,
  );
  for (const f of r.failures) log(`  ${f}`);
}

const rows: string[][] = [['target', 'cases', 'ok', 'typed errors', 'untyped errors', 'crashes', 'hangs', 'wrong output', 'seconds']];
for (const r of results)
  rows.push([
    r.target,
    String(r.cases),
    String(r.ok),
    String(r.typed),
    String(r.untyped),
    String(r.crashes),
    String(r.hangs),
    String(r.wrongOutput),
    (r.ms / 1000).toFixed(1),
  ]);
for (const s of SKIPPED) rows.push([s.name, 'skipped', '', '', '', '', '', '', s.why]);

const hostile = only || flag('no-hostile') ? undefined : await hostileWasm();
let hostileLine =
  only || flag('no-hostile') ? 'hostile Wasm: not run (--no-hostile / --only)' : 'hostile Wasm: fuzz/targets/hostileWasm.ts not present yet (sandbox slice)';
if (hostile) {
  const h = await hostile({ cases, seed, deadlineMs: minutes * 60_000, log });
  hostileLine = `hostile Wasm: ${h.contained}/${h.cases} contained, ${h.wronglyAllowed} wrongly allowed, ${h.agentDeaths} agent deaths`;
  if (h.contained !== h.cases || h.wronglyAllowed || h.agentDeaths) bad++;
}

let killLine = 'kill -9: not run (--no-kill)';
if (kill) {
  const k = await kill;
  killLine = `kill -9: ${k.clean}/${k.runs} runs clean (seed ${seed}); by operation ${JSON.stringify(k.byOperation)}; leftover .partial files ${k.partialsLeft}`;
  if (k.clean !== k.runs) bad++;
}

log('');
log(table(rows));
log(hostileLine);
log(killLine);
log(bad ? `fuzz: FAILED (${bad} problems above; seed ${seed})` : `fuzz: all clean (seed ${seed})`);
process.exit(bad ? 1 : 0);

function killInChild(runs: number, s: number): Promise<KillResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fileURLToPath(new URL('./kill.ts', import.meta.url)), '--runs', String(runs), '--seed', String(s)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let buf = '';
    let result: KillResult | undefined;
    child.stdout!.on('data', (c) => {
      buf += c;
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line.startsWith('kill-result ')) result = JSON.parse(line.slice('kill-result '.length));
        else log(line);
      }
    });
    child.on('close', (code) => (result ? resolve(result) : reject(new Error(`kill campaign exited ${code} without a result`))));
  });
}

function table(r: string[][]): string {
  const w = r[0]!.map((_, i) => Math.max(...r.map((row) => (row[i] ?? '').length)));
  const line = (row: string[]) => `| ${row.map((c, i) => c.padEnd(w[i]!)).join(' | ')} |`;
  return [line(r[0]!), `|${w.map((n) => '-'.repeat(n + 2)).join('|')}|`, ...r.slice(1).map(line)].join('\n');
}
