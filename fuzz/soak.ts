/**
 * `npm run soak`: a real `capsule agent` (simulator module, embedded IPFS node) under mixed load
 * from several clients for N minutes (default 10; `--minutes N` or SOAK_MINUTES) — releases that
 * allow and that deny (capsule bytes), releases by CID (the agent fetches from a second node,
 * `capsule watch`, on 127.0.0.1), policy-gated signs and owner check-ins — with module faults
 * injected through the simulator's knob (ZK_SIM_FAULTS: `fail` for 5 s in the middle of each
 * minute; `--no-faults` to turn off).
 *
 * Every 10 s it samples the agent's VmRSS and open file descriptors (/proc/PID); at the end it
 * prints the least-squares slopes (RSS MiB/min, fds/min; the first minute is warm-up and left
 * out when the run is longer than 2 minutes), latency p50/p99 per minute, and error counts by
 * code, split into those during an injected fault (+2 s to drain) and any others. Exits 1 if an
 * error happened outside a fault window. Deliberately not here: assertions on slopes (noise on a
 * shared machine; the figures go to BENCHMARKS.md).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN } from '../test/helpers/cli.ts';
import { run } from '../test/helpers/guardianDevice.ts';
import { post } from '../test/helpers/runningAgent.ts';
import { checkinBody, guardianFixture, T } from './guardian.ts';

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}
const minutes = Number(option('minutes', process.env.SOAK_MINUTES ?? '10'));
const clients = Number(option('clients', '4'));
const sampleMs = Number(option('sample-seconds', '10')) * 1000;
const faultsOn = !process.argv.includes('--no-faults');
const ipfsOn = !process.argv.includes('--no-ipfs');
for (const [k, v] of [
  ['minutes', minutes],
  ['clients', clients],
  ['sample-seconds', sampleMs],
] as const) {
  if (!Number.isFinite(v) || v <= 0) {
    process.stderr.write(`soak: error: --${k}: expected a positive number, got ${JSON.stringify(option(k, ''))}\n`);
    process.exit(2);
  }
}
const log = (s: string) => process.stdout.write(s + '\n');

interface Sample {
  t: number;
  rssMiB: number;
  fds: number;
}
interface Done {
  t: number;
  ms: number;
  kind: string;
  status: number;
  code?: string;
}

/** Least-squares slope of y over x. */
export function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  if (n < 2) return 0;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0,
    den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

const pct = (sorted: number[], p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]! : NaN);

function sample(pid: number, t: number): Sample {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? NaN);
  return { t, rssMiB: kb / 1024, fds: readdirSync(`/proc/${pid}/fd`).length };
}

log(
  `soak: ${minutes} min, ${clients} clients, faults ${faultsOn ? 'on (ZK_SIM_FAULTS: fail 5 s each minute)' : 'off'}, IPFS ${ipfsOn ? 'on' : 'off'}; load ${readFileSync('/proc/loadavg', 'utf8').trim()}`,
);
const faultFile = join(process.env.TMPDIR ?? '/tmp', `soak-faults-${process.pid}`);
rmSync(faultFile, { force: true });
const f = await guardianFixture({}, 200, { ipfs: ipfsOn, env: { ZK_SIM_FAULTS: faultFile } });
let watch: ReturnType<typeof spawn> | undefined;
let cid: string | undefined;
const samples: Sample[] = [];
const done: Done[] = [];
const windows: [number, number][] = [];
let exitCode = 0;
try {
  if (ipfsOn) {
    await f.agent.stop();
    watch = spawn(process.execPath, [BIN, 'watch', '--data-dir', 'provider'], { cwd: f.d.dir, env: f.d.env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    const home = await new Promise<string>((resolve, reject) => {
      watch!.stderr!.on('data', (c) => {
        err += c;
        const m = /listening on (\S+)/.exec(err);
        if (m) resolve(m[1]!);
      });
      watch!.on('exit', (code) => reject(new Error(`watch exited ${code}: ${err}`)));
      setTimeout(() => reject(new Error(`watch: not ready after 60 s: ${err}`)), 60_000).unref();
    });
    const p = run(f.d, ['publish', 'allow.capsule', '--logic', 'policy.wasm', '--data-dir', 'provider', '--peer', home]);
    if (p.code !== 0) throw new Error(`publish: ${p.stderr}`);
    cid = p.stdout.trim();
    Object.assign(f.config, { ipfs: 'helia', ipfsListen: ['/ip4/127.0.0.1/tcp/0'], ipfsPeers: [home] });
    await f.restart();
  }
  const url = f.agent.url;
  const pid = f.agent.pid;
  const digest = createHash('sha256').update('soak').digest('hex');
  const start = Date.now();
  const end = start + minutes * 60_000;
  let checkinAt = T - 9 * 60_000; // each check-in a fresh ms within the agent's window around T
  const kinds = ['release allow', 'release deny', 'sign', 'checkin', ...(cid ? ['release by cid'] : [])];
  const client = async (c: number) => {
    for (let k = c; Date.now() < end; k++) {
      const kind = kinds[k % kinds.length]!;
      const t0 = performance.now();
      let status = 0;
      let code: string | undefined;
      try {
        const body =
          kind === 'release allow'
            ? { capsule: f.allow.toString('base64'), requester: f.me.recipient }
            : kind === 'release deny'
              ? { capsule: f.deny.toString('base64'), requester: f.me.recipient }
              : kind === 'release by cid'
                ? { cid, requester: f.me.recipient }
                : kind === 'sign'
                  ? { slot: 1, digest, requester: f.me.recipient }
                  : checkinBody(f, checkinAt++);
        const path = kind.startsWith('release') ? '/v1/release' : kind === 'sign' ? '/v1/sign' : '/v1/checkin';
        const r = await post(url, path, body);
        status = r.status;
        const expected = kind === 'release deny' ? 403 : 200;
        if (status !== expected) code = String(r.json?.error?.code ?? `HTTP_${status}`);
      } catch (e) {
        code = `CLIENT_${(e as Error).message.slice(0, 40)}`;
      }
      done.push({ t: Date.now() - start, ms: performance.now() - t0, kind, status, code });
    }
  };
  const sampler = setInterval(() => {
    try {
      samples.push(sample(pid, Date.now() - start));
    } catch {
      /* agent gone: shows as a gap */
    }
  }, sampleMs);
  samples.push(sample(pid, 0));
  const injector = faultsOn
    ? setInterval(() => {
        const s = Date.now() - start;
        if (s % 60_000 >= 30_000 && s % 60_000 < 35_000) {
          if (!windows.length || windows.at(-1)![1] < s - 1000) {
            writeFileSync(faultFile, 'fail\n');
            windows.push([s, s + 5000]);
          }
        } else rmSync(faultFile, { force: true });
      }, 250)
    : undefined;
  await Promise.all(Array.from({ length: clients }, (_, c) => client(c)));
  clearInterval(sampler);
  if (injector) clearInterval(injector);
  rmSync(faultFile, { force: true });
  samples.push(sample(pid, Date.now() - start));
  const alive = await fetch(url + '/v1/status').then(
    (r) => r.status === 200,
    () => false,
  );

  // Report.
  // An error is the injected fault's when it falls in a fault window or after it, until the first
  // success after the file was removed (the agent's recovery; reported as its own figure).
  const recovered = windows.map(([, b]) => Math.max(b + 2000, done.find((d) => !d.code && d.t - d.ms > b)?.t ?? Infinity));
  const injected = (t: number) => windows.some(([a], i) => t >= a && t <= recovered[i]!);
  const rows = ['| minute | requests | p50 ms | p99 ms | errors (injected fault) | errors (other) |', '|---|---|---|---|---|---|'];
  for (let m = 0; m < Math.ceil(minutes); m++) {
    const inMin = done.filter((d) => d.t >= m * 60_000 && d.t < (m + 1) * 60_000);
    const lat = inMin
      .filter((d) => !d.code)
      .map((d) => d.ms)
      .sort((a, b) => a - b);
    rows.push(
      `| ${m + 1} | ${inMin.length} | ${pct(lat, 0.5).toFixed(1)} | ${pct(lat, 0.99).toFixed(1)} | ${inMin.filter((d) => d.code && injected(d.t)).length} | ${inMin.filter((d) => d.code && !injected(d.t)).length} |`,
    );
  }
  const byCode = (filter: (d: Done) => boolean) => {
    const out: Record<string, number> = {};
    for (const d of done) if (d.code && filter(d)) out[`${d.kind}: ${d.code}`] = (out[`${d.kind}: ${d.code}`] ?? 0) + 1;
    return out;
  };
  const warm = minutes > 2 ? samples.filter((s) => s.t >= 60_000) : samples;
  const rssSlope = slope(
    warm.map((s) => s.t / 60_000),
    warm.map((s) => s.rssMiB),
  );
  const fdSlope = slope(
    warm.map((s) => s.t / 60_000),
    warm.map((s) => s.fds),
  );
  const other = byCode((d) => !injected(d.t));
  log('');
  log(rows.join('\n'));
  log('');
  log(`samples (every ${sampleMs / 1000} s): RSS MiB ${samples.map((s) => s.rssMiB.toFixed(0)).join(' ')}`);
  log(`samples: open fds ${samples.map((s) => s.fds).join(' ')}`);
  log(
    `RSS slope ${rssSlope.toFixed(2)} MiB/min, fd slope ${fdSlope.toFixed(2)} /min (least squares over ${warm.length} samples${warm.length < samples.length ? ', first minute left out' : ''}); RSS ${samples[0]!.rssMiB.toFixed(0)} → ${samples.at(-1)!.rssMiB.toFixed(0)} MiB, fds ${samples[0]!.fds} → ${samples.at(-1)!.fds}`,
  );
  log(
    `requests ${done.length} (${kinds.join(', ')}); fault windows ${windows.length}; errors during injected faults ${JSON.stringify(byCode((d) => injected(d.t)))}; other errors ${JSON.stringify(other)}`,
  );
  log(
    `recovery after each fault (file removed → first success): ${windows.map(([, b], i) => `${((recovered[i]! - b) / 1000).toFixed(1)} s`).join(', ') || 'no faults'}`,
  );
  log(`agent still serving: ${alive}; load at end ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
  if (Object.keys(other).length || !alive || recovered.some((r) => r === Infinity)) exitCode = 1;
} finally {
  watch?.kill('SIGTERM');
  if (watch) await new Promise((r) => watch!.once('close', r));
  await f.cleanup();
  rmSync(faultFile, { force: true });
}
log(exitCode ? 'soak: FAILED (errors outside the injected faults, no recovery after a fault, or the agent stopped serving)' : 'soak: clean');
process.exit(exitCode);
