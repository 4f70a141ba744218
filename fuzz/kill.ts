/**
 * The kill -9 campaign (issue 18 Build 6): SIGKILL at a seeded random moment of seal, decrypt,
 * release and sign (the agent under load from 4 clients), module push, guardian init and IPFS
 * fetch (`capsule fetch` with its embedded Helia node, from a second node), then checks:
 *   - no partial output under a final name (an output file exists only complete and correct);
 *     leftover `.partial` files are counted and reported (sweeping them is D6's fix);
 *   - no acknowledged audit entry lost (every sequence number answered before the kill is in
 *     audit.log), PRAGMA integrity_check on agent.sqlite is ok, the agent restarts and serves
 *     (a release is decided), `capsule audit verify` passes; acknowledged modules are stored
 *     and every stored module hashes to its name;
 *   - a killed `guardian init` leaves either a usable guardian or one that a new init creates;
 *   - a killed fetch leaves a node whose next fetch succeeds.
 * Runs rotate through the operations; delays come from the seed (printed), so a failure
 * reproduces with the same seed. Deliberately not here: the module fault knob (soak.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { fileURLToPath } from 'node:url';
import { BIN } from '../test/helpers/cli.ts';
import { device, init, run, type Device } from '../test/helpers/guardianDevice.ts';
import { post, startAgent, type Running } from '../test/helpers/runningAgent.ts';
import { guardianFixture, type Fixture } from './guardian.ts';

export const OPERATIONS = ['seal', 'decrypt', 'release', 'sign', 'module push', 'guardian init', 'ipfs fetch'] as const;
export type Operation = (typeof OPERATIONS)[number];

export interface KillOptions {
  runs: number;
  seed: number;
  log?: (line: string) => void;
  /** Operations to rotate through (default all). */
  operations?: readonly Operation[];
}

export interface KillResult {
  runs: number;
  clean: number;
  byOperation: Record<string, { runs: number; clean: number; ms?: number }>;
  /** `.partial` files left behind by killed writers (reported, not counted as unclean: D6). */
  partialsLeft: number;
  failures: string[];
}

/** mulberry32: a small seeded generator, so that delays reproduce from the printed seed. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Runs `capsule ARGS` and SIGKILLs it after `delayMs` (if still running). */
function killedCli(
  d: Device,
  args: string[],
  delayMs: number,
  env: Record<string, string | undefined> = d.env,
): Promise<{ code: number | null; signal: string | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: d.dir, env: env as NodeJS.ProcessEnv, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (c) => {
      stderr += c;
    });
    const t = setTimeout(() => child.kill('SIGKILL'), delayMs);
    // A spawn failure (the runtime gone mid-campaign) is that run's problem, not the campaign's end.
    child.on('error', (e) => {
      clearTimeout(t);
      resolve({ code: null, signal: null, stderr: `spawn failed: ${e.message}` });
    });
    child.on('close', (code, signal) => {
      clearTimeout(t);
      resolve({ code, signal, stderr });
    });
  });
}

function partials(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).filter((n) => n.endsWith('.partial')) : [];
}

function integrity(data: string): string {
  const db = new DatabaseSync(join(data, 'agent.sqlite'), { readOnly: true });
  try {
    return String((db.prepare('PRAGMA integrity_check').get() as { integrity_check: unknown }).integrity_check);
  } finally {
    db.close();
  }
}

function auditSeqs(data: string): Set<number> {
  const text = existsSync(join(data, 'audit.log')) ? readFileSync(join(data, 'audit.log'), 'utf8') : '';
  const seqs = new Set<number>();
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      seqs.add(JSON.parse(line).seq);
    } catch {
      /* a torn last line is for audit verify to judge */
    }
  }
  return seqs;
}

/** A valid module of a fresh hash: the policy with a custom section of random bytes appended. */
function moduleVariant(policy: Uint8Array): Uint8Array {
  const payload = randomBytes(16);
  const name = Buffer.from('k');
  const body = Buffer.concat([Buffer.of(name.length), name, payload]);
  return Buffer.concat([policy, Buffer.of(0, body.length), body]);
}

interface Ctx {
  f: Fixture;
  rand: () => number;
  policy: Uint8Array;
  big: Buffer;
  bigCapsule: string;
  durations: Map<string, number>;
  ipfs?: { d: Device; home: string; cid: string; capsule: Buffer; watch: ChildProcess };
  n: number;
}

/** How long the unkilled operation takes here (ms), measured once: kills land within it. */
async function calibrate(ctx: Ctx, key: string, fn: () => Promise<unknown> | unknown): Promise<number> {
  let ms = ctx.durations.get(key);
  if (ms === undefined) {
    const t0 = Date.now();
    await fn();
    ms = Math.max(200, Date.now() - t0);
    ctx.durations.set(key, ms);
  }
  return ms;
}

async function cliOutputRun(ctx: Ctx, op: 'seal' | 'decrypt', problems: string[], addPartials: (n: number) => void): Promise<void> {
  const { d } = ctx.f;
  const out = `kill-${op}-${ctx.n}.out`;
  const args =
    op === 'seal'
      ? ['seal', 'big.bin', '--guardian', ctx.f.me.recipient, '--logic', 'policy.wasm', '-o', out]
      : ['decrypt', ctx.bigCapsule, '--identity', 'me.key', '-o', out];
  const full = await calibrate(ctx, op, () => {
    const r = run(
      d,
      args.map((a) => (a === out ? `cal-${op}` : a)),
    );
    if (r.code !== 0) throw new Error(`${op} (unkilled) failed: ${r.stderr}`);
  });
  await killedCli(d, args, Math.floor(ctx.rand() * full * 1.1));
  const path = join(d.dir, out);
  if (existsSync(path)) {
    if (op === 'seal') {
      const v = run(d, ['verify', out]);
      if (v.code !== 0) problems.push(`seal: ${out} exists under its final name but does not verify: ${v.stderr.trim()}`);
    } else if (!readFileSync(path).equals(ctx.big)) {
      problems.push(`decrypt: ${out} exists under its final name but is not the plaintext`);
    }
    rmSync(path);
  }
  const left = partials(d.dir).filter((n) => n.includes(out));
  addPartials(left.length);
  for (const n of left) rmSync(join(d.dir, n));
}

async function agentRun(ctx: Ctx, op: 'release' | 'sign' | 'module push', problems: string[], addPartials: (n: number) => void): Promise<void> {
  const { f } = ctx;
  const a = await startAgent(f.d, f.config);
  const acked: number[] = [];
  const modules: string[] = [];
  let stop = false;
  const digest = sha(Buffer.from('kill campaign'));
  const client = async (i: number) => {
    for (let k = 0; !stop; k++) {
      try {
        if (op === 'module push') {
          const m = moduleVariant(ctx.policy);
          const r = await fetch(a.url + '/v1/modules', { method: 'POST', headers: { 'content-type': 'application/wasm' }, body: new Uint8Array(m) });
          if (r.status === 201 || r.status === 200) modules.push(((await r.json()) as { sha256: string }).sha256);
        } else {
          const r =
            op === 'release'
              ? await post(a.url, '/v1/release', { capsule: ((i + k) % 2 ? f.allow : f.deny).toString('base64'), requester: f.me.recipient })
              : await post(a.url, '/v1/sign', { slot: 1, digest, requester: f.me.recipient });
          if (typeof r.json.audit === 'number') acked.push(r.json.audit);
        }
      } catch {
        /* cut off by the kill */
      }
    }
  };
  const load = Promise.all([0, 1, 2, 3].map(client));
  await sleep(20 + Math.floor(ctx.rand() * 1500));
  process.kill(a.pid, 'SIGKILL');
  await a.stop();
  stop = true;
  await load;
  const data = f.d.data;
  const seqs = auditSeqs(data);
  const lost = acked.filter((s) => !seqs.has(s));
  if (lost.length) problems.push(`${op}: ${lost.length} acknowledged audit entries missing (e.g. #${lost[0]})`);
  const ic = integrity(data);
  if (ic !== 'ok') problems.push(`${op}: PRAGMA integrity_check: ${ic}`);
  const dir = join(data, 'modules');
  for (const n of existsSync(dir) ? readdirSync(dir) : []) {
    const m = /^([0-9a-f]{64})\.wasm$/.exec(n);
    if (m && sha(readFileSync(join(dir, n))) !== m[1]) problems.push(`${op}: modules/${n} does not hash to its name (partial write under the final name)`);
  }
  for (const h of modules) if (!existsSync(join(dir, `${h}.wasm`))) problems.push(`${op}: acknowledged module ${h} is not stored`);
  addPartials(partials(dir).length + partials(data).length);
  // Restart: it must serve and decide.
  let b: Running | undefined;
  try {
    b = await startAgent(f.d, f.config);
    const r = await post(b.url, '/v1/release', { capsule: f.allow.toString('base64'), requester: f.me.recipient });
    if (r.status !== 200) problems.push(`${op}: after restart a release answered ${r.status} ${JSON.stringify(r.json).slice(0, 200)}`);
  } catch (e) {
    problems.push(`${op}: the agent did not restart: ${(e as Error).message.slice(0, 400)}`);
  } finally {
    await b?.stop();
  }
  const v = run(f.d, ['audit', 'verify', '--data-dir', data]);
  if (v.code !== 0) problems.push(`${op}: audit verify failed: ${v.stderr.trim().slice(0, 400)}`);
}

async function initRun(ctx: Ctx, problems: string[], addPartials: (n: number) => void): Promise<void> {
  const full = await calibrate(ctx, 'guardian init', async () => {
    const c = device();
    try {
      const r = await init(c);
      if (r.code !== 0) throw new Error(`guardian init (unkilled) failed: ${r.stderr}`);
    } finally {
      rmSync(c.dir, { recursive: true, force: true });
    }
  });
  const g = device();
  try {
    await init(g, { killAfterMs: Math.floor(ctx.rand() * full * 1.1) });
    addPartials(partials(g.data).length);
    const file = join(g.data, 'guardian.json');
    if (existsSync(file)) {
      try {
        JSON.parse(readFileSync(file, 'utf8'));
      } catch {
        problems.push('guardian init: guardian.json exists but is not complete JSON');
      }
      const s = run(g, ['guardian', 'show', '--data-dir', g.data]);
      if (s.code !== 0) problems.push(`guardian init: guardian.json exists but guardian show fails: ${s.stderr.trim().slice(0, 300)}`);
    } else {
      const again = await init(g);
      if (again.code !== 0) problems.push(`guardian init: after the kill, a new init fails: ${again.stderr.trim().slice(0, 300)}`);
    }
  } finally {
    rmSync(g.dir, { recursive: true, force: true });
  }
}

async function ipfsSetup(ctx: Ctx): Promise<NonNullable<Ctx['ipfs']>> {
  if (ctx.ipfs) return ctx.ipfs;
  const d = device();
  delete (d.env as Record<string, string | undefined>).CAPSULE_IPFS;
  writeFileSync(join(d.dir, 'c.capsule'), readFileSync(join(ctx.f.d.dir, ctx.bigCapsule)));
  const watch = spawn(process.execPath, [BIN, 'watch', '--data-dir', 'A'], { cwd: d.dir, env: d.env, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  const home = await new Promise<string>((resolve, reject) => {
    watch.stderr!.on('data', (c) => {
      err += c;
      const m = /listening on (\S+)/.exec(err);
      if (m) resolve(m[1]!);
    });
    watch.on('exit', (code) => reject(new Error(`watch exited ${code}: ${err}`)));
    setTimeout(() => reject(new Error(`watch: not ready after 60 s: ${err}`)), 60_000).unref();
  });
  const p = run(d, ['publish', 'c.capsule', '--data-dir', 'A', '--peer', home]);
  if (p.code !== 0) throw new Error(`publish: ${p.stderr}`);
  ctx.ipfs = { d, home, cid: p.stdout.trim(), capsule: readFileSync(join(d.dir, 'c.capsule')), watch };
  return ctx.ipfs;
}

async function fetchRun(ctx: Ctx, problems: string[], addPartials: (n: number) => void): Promise<void> {
  const ip = await ipfsSetup(ctx);
  const out = `got-${ctx.n}.capsule`;
  const args = (o: string, dataDir: string) => ['fetch', ip.cid, '-o', o, '--data-dir', dataDir, '--peer', ip.home, '--timeout', '60'];
  const full = await calibrate(ctx, 'ipfs fetch', () => {
    const r = run(ip.d, args('cal.capsule', 'CAL'));
    if (r.code !== 0) throw new Error(`fetch (unkilled) failed: ${r.stderr}`);
  });
  const dataDir = `B${ctx.n}`;
  await killedCli(ip.d, args(out, dataDir), Math.floor(ctx.rand() * full * 1.1));
  const path = join(ip.d.dir, out);
  if (existsSync(path) && !readFileSync(path).equals(ip.capsule)) problems.push(`ipfs fetch: ${out} exists under its final name but is not the capsule`);
  const left = partials(ip.d.dir).filter((n) => n.includes(out));
  addPartials(left.length);
  rmSync(path, { force: true });
  for (const n of left) rmSync(join(ip.d.dir, n));
  // The node's store survives the kill: the next fetch into the same data directory works.
  const again = run(ip.d, args(out, dataDir));
  if (again.code !== 0 || !readFileSync(path).equals(ip.capsule))
    problems.push(`ipfs fetch: after the kill, fetching again into ${dataDir} fails: ${again.stderr.trim().slice(0, 300)}`);
  rmSync(path, { force: true });
  rmSync(join(ip.d.dir, dataDir), { recursive: true, force: true });
}

/** Runs the campaign; never throws for a finding (it is in the result), only for a broken setup. */
export async function killCampaign(opts: KillOptions): Promise<KillResult> {
  const log = opts.log ?? (() => {});
  const ops = opts.operations ?? OPERATIONS;
  const f = await guardianFixture({}, 200);
  await f.agent.stop();
  const big = randomBytes(6 * 2 ** 20);
  writeFileSync(join(f.d.dir, 'big.bin'), big);
  const sealed = run(f.d, ['seal', 'big.bin', '--guardian', f.me.recipient, '--logic', 'policy.wasm', '-o', 'big.capsule']);
  if (sealed.code !== 0) throw new Error(`kill campaign setup: seal: ${sealed.stderr}`);
  const ctx: Ctx = {
    f,
    rand: seeded(opts.seed),
    policy: readFileSync(join(f.d.dir, 'policy.wasm')),
    big,
    bigCapsule: 'big.capsule',
    durations: new Map(),
    n: 0,
  };
  const result: KillResult = { runs: 0, clean: 0, byOperation: {}, partialsLeft: 0, failures: [] };
  try {
    for (let i = 0; i < opts.runs; i++) {
      const op = ops[i % ops.length]!;
      ctx.n = i;
      const problems: string[] = [];
      const t0 = Date.now();
      const addPartials = (n: number) => {
        result.partialsLeft += n;
      };
      try {
        if (op === 'seal' || op === 'decrypt') await cliOutputRun(ctx, op, problems, addPartials);
        else if (op === 'release' || op === 'sign' || op === 'module push') await agentRun(ctx, op, problems, addPartials);
        else if (op === 'guardian init') await initRun(ctx, problems, addPartials);
        else await fetchRun(ctx, problems, addPartials);
      } catch (e) {
        problems.push(`${op}: harness error: ${(e as Error).message.slice(0, 400)}`);
      }
      const s = (result.byOperation[op] ??= { runs: 0, clean: 0 });
      s.runs++;
      result.runs++;
      if (problems.length === 0) {
        s.clean++;
        result.clean++;
      } else {
        result.failures.push(...problems.map((p) => `run ${i} (seed ${opts.seed}): ${p}`));
        for (const p of problems) log(`kill: run ${i} ${op}: ${p}`);
      }
      s.ms = (s.ms ?? 0) + Date.now() - t0;
      if ((i + 1) % 10 === 0) log(`kill: ${i + 1}/${opts.runs} runs, ${result.clean} clean`);
    }
  } finally {
    ctx.ipfs?.watch.kill('SIGTERM');
    if (ctx.ipfs) {
      await new Promise((r) => ctx.ipfs!.watch.once('close', r));
      rmSync(ctx.ipfs.d.dir, { recursive: true, force: true });
    }
    await f.cleanup();
  }
  return result;
}

/**
 * As a program (`node fuzz/kill.ts --runs N --seed S`): runs the campaign and prints its log, then
 * one line `kill-result {json}`. fuzz/run.ts runs it so: the campaign's spawnSync calls would
 * otherwise block the event loop that times the fuzz targets' cases (false hangs).
 */
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const arg = (name: string, fallback: string) => {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
  };
  const r = await killCampaign({ runs: Number(arg('runs', '100')), seed: Number(arg('seed', '1')), log: (s) => process.stdout.write(s + '\n') });
  process.stdout.write(`kill-result ${JSON.stringify(r)}\n`);
}
