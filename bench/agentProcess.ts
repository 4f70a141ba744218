/**
 * What the agent load benchmarks (bench/agent.ts, bench/walletSign.ts) share: a guardian
 * provisioned through the real CLI on the Zymbit simulator (HSM6) in a scratch directory, a real
 * `capsule agent` process started on 127.0.0.1 and its RSS/CPU read from /proc, the 64-client
 * closed-loop HTTP load, and the bare node:http peer that answers the same load.
 *
 * Deliberately not here: what each benchmark sends or reports.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UNIT_NODE_ARGS } from '../test/helpers/unitNodeArgs.ts';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const BIN = join(ROOT, 'bin/capsule.js');
export const LIB = join(ROOT, 'native/build/libzk_sim.so');
export const CLIENTS = 64;

/** A provisioned device: its scratch dir, the environment every process gets, the data dir, the CLI. */
export interface BenchDevice {
  dir: string;
  env: NodeJS.ProcessEnv;
  data: string;
  /** Runs `capsule ARGS` in `dir`; throws with its stderr unless it exits 0. */
  cli(args: string[], input?: string): string;
}

/** Every device directory made here, removed when the bench process ends, also after a failure (a failed guardian init left its directory). */
const provisioned = new Set<string>();
process.on('exit', () => {
  for (const d of provisioned) rmSync(d, { recursive: true, force: true });
});

/**
 * Provisions a guardian through `capsule guardian init`, scripted (words to stdout, confirmed on
 * stdin): on the HSM6 simulator, or with `tpmTcti` on the TPM behind that TCTI (backend tpm2).
 */
export async function provisionDevice(prefix: string, options: { tpmTcti?: string } = {}): Promise<BenchDevice> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  provisioned.add(dir);
  mkdirSync(join(dir, 'module'));
  const env: NodeJS.ProcessEnv = options.tpmTcti
    ? { ...process.env, CAPSULE_TPM_TCTI: options.tpmTcti, CAPSULE_IPFS: 'off' }
    : { ...process.env, CAPSULE_ZYMBIT_LIB: LIB, ZK_SIM_STATE_DIR: join(dir, 'module'), ZK_SIM_MODEL: 'HSM6' };
  const data = join(dir, 'data');
  const backend = options.tpmTcti ? ['--backend', 'tpm2'] : [];
  await new Promise<void>((resolve, reject) => {
    const c = spawn(process.execPath, [BIN, 'guardian', 'init', ...backend, '--data-dir', data, '--mnemonic-to-stdout', '--confirm-words-from-stdin'], {
      cwd: dir,
      env,
    });
    let out = '';
    let err = '';
    c.stdout.on('data', (x) => {
      out += x;
    });
    c.stderr.on('data', (x) => {
      err += x;
      const m = /confirm words ((?:#\d+(?:, )?)+)/.exec(err);
      if (m && !c.stdin.writableEnded)
        c.stdin.end(
          m[1]!
            .split(', ')
            .map((s) => out.split('\n')[0]!.split(' ')[Number(s.slice(1)) - 1])
            .join('\n') + '\n',
        );
    });
    c.on('close', (code) => (code === 0 ? resolve() : reject(new Error(err))));
  });
  const cli = (args: string[], input?: string) => {
    const r = spawnSync(process.execPath, [BIN, ...args], { cwd: dir, env, input });
    if (r.status !== 0) throw new Error(`capsule ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.toString();
  };
  return { dir, env, data, cli };
}

export const rssMiB = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

/** User + system CPU time of `pid` so far, in ms (from /proc/PID/stat, clock ticks of 10 ms). */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // after "pid (comm) "
  return (Number(fields[11]) + Number(fields[12])) * 10; // utime, stime (fields 14, 15 of the line)
}

export interface RunningAgent {
  url: string;
  pid: number;
  readyMs: number;
  stop(): Promise<void>;
}

/**
 * Starts `capsule agent` on 127.0.0.1 with the module's clock and `config`; resolves once it logged
 * "started". BENCH_AGENT_NODE_ARGS adds Node options to the agent only (e.g. `--cpu-prof
 * --cpu-prof-dir=DIR` to see where a decision's CPU goes; Node refuses those in NODE_OPTIONS).
 */
export async function startAgent(dev: BenchDevice, config: string): Promise<RunningAgent> {
  const t0 = performance.now();
  const nodeArgs = [...UNIT_NODE_ARGS, ...(process.env.BENCH_AGENT_NODE_ARGS ?? '').split(' ').filter(Boolean)];
  const c: ChildProcess = spawn(
    process.execPath,
    [...nodeArgs, BIN, 'agent', '--data-dir', dev.data, '--listen', '127.0.0.1:0', '--clock', 'module', '--config', config],
    { cwd: dev.dir, env: dev.env, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  const url = await new Promise<string>((resolve, reject) => {
    c.stderr!.on('data', (x) => {
      log += x;
      const m = /"event":"started","url":"([^"]+)"/.exec(log);
      if (m) resolve(m[1]!);
    });
    c.on('exit', () => reject(new Error(log)));
  });
  const readyMs = performance.now() - t0;
  c.stderr!.removeAllListeners('data');
  c.stderr!.resume();
  return {
    url,
    pid: c.pid!,
    readyMs,
    stop: () =>
      new Promise((r) => {
        c.on('exit', () => r());
        c.kill('SIGTERM');
      }),
  };
}

export interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  n: number;
}

/**
 * CLIENTS closed-loop clients POSTing to `url + path` for `seconds`; `body` is fixed or made per
 * request (e.g. a fresh `auth` nonce). Any status other than `expect` aborts the benchmark.
 */
export async function load(url: string, path: string, body: string | (() => string), expect: number, seconds: number): Promise<LoadResult> {
  const lat: number[] = [];
  const end = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (performance.now() < end) {
        const payload = typeof body === 'string' ? body : body();
        const t = performance.now();
        const res = await fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: payload });
        const text = await res.text();
        if (res.status !== expect) throw new Error(`${path}: expected ${expect}, got ${res.status} ${text.slice(0, 300)}`);
        lat.push(performance.now() - t);
      }
    }),
  );
  lat.sort((a, b) => a - b);
  return { rps: lat.length / seconds, p50: lat[Math.floor(lat.length * 0.5)]!, p99: lat[Math.floor(lat.length * 0.99)]!, n: lat.length };
}

/** The peer: a bare node:http server in a child process answering `{"ok":true}` to anything. */
export async function startPeer(): Promise<{ url: string; pid: number; stop(): void }> {
  const peer = spawn(
    process.execPath,
    [
      '-e',
      `require('node:http').createServer((q,s)=>{q.resume();q.on('end',()=>{s.writeHead(200,{'content-type':'application/json'});s.end('{"ok":true}')})}).listen(0,'127.0.0.1',function(){console.log(this.address().port)})`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const port = await new Promise<string>((r) => peer.stdout.once('data', (x) => r(String(x).trim())));
  return { url: `http://127.0.0.1:${port}`, pid: peer.pid!, stop: () => peer.kill() };
}
