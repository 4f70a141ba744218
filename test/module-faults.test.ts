/**
 * Module faults (issue 18, Build 5): a real `capsule agent` over HTTP on 127.0.0.1 with the Zymbit
 * simulator as its module, broken and healed while it runs through the simulator's fault file
 * (ZK_SIM_FAULTS: `fail`, `hang MS`, optionally naming calls). The agent answers 503 with the
 * module's error (code and one line, no paths), reports the module failing in /v1/status,
 * recovers by itself when the module answers again, bounds a hung call by moduleTimeoutMs, and
 * never answers (or counts) a release whose audit entry the module could not sign.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildPolicy } from '../agent/logic/build.ts';
import { BIN } from './helpers/cli.ts';
import { assertFails, device, init, LIB, recipients, run, secretFile, type Device } from './helpers/guardianDevice.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const T = 1_893_456_000_000; // 2030-01-01T00:00:00Z
const TIMEOUT_MS = 800; // the agent's moduleTimeoutMs in these tests
const dirs: string[] = [];

interface Running {
  url: string;
  stop(): Promise<number | null>;
}

async function startAgent(d: Device, faults: string): Promise<Running> {
  const env = { ...d.env, ZK_SIM_FAULTS: faults, CAPSULE_MODULE_TIMEOUT_MS: String(TIMEOUT_MS) };
  // One test client makes every request: no per-client fuel budget or rate limit (not under test here).
  const config = join(d.dir, 'agent.json');
  writeFileSync(config, JSON.stringify({ clientFuelPerMinute: 0, ratePerSecond: 0 }));
  const child = spawn(
    process.execPath,
    [BIN, 'agent', '--config', config, '--data-dir', d.data, '--listen', '127.0.0.1:0', '--clock', `file:${join(d.dir, 'clock')}`],
    { cwd: d.dir, env, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr.on('data', (c) => {
    log += c;
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr.on('data', () => {
      const m = /"event":"started","url":"(http:\/\/[^"]+)"/.exec(log);
      if (m) resolve(m[1]!);
    });
    child.on('exit', (code) => reject(new Error(`agent exited ${code}: ${log}`)));
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return {
    url,
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

let shared: { d: Device; x25519: string; me: string } | undefined;

/** One provisioned device for the agent tests (init is the slow part); each test seals its own capsule. */
async function provisioned(): Promise<{ d: Device; x25519: string; me: string; faults: string }> {
  if (!shared) {
    const d = device();
    dirs.push(d.dir);
    const r = await init(d);
    assert.is(r.code, 0, r.stderr);
    writeFileSync(join(d.dir, 'policy.wasm'), (await buildPolicy('contracts-as/contracts/policy.ts', { cwd: ROOT })).wasm);
    writeFileSync(join(d.dir, 'clock'), String(T));
    assert.is(run(d, ['keygen', '-o', 'me.key']).code, 0);
    const me = /age1[0-9a-z]+/.exec(readFileSync(join(d.dir, 'me.key'), 'utf8'))![0];
    shared = { d, x25519: recipients(d).x25519, me };
  }
  rmSync(join(shared.d.dir, 'faults'), { force: true });
  return { ...shared, faults: join(shared.d.dir, 'faults') };
}

async function release(url: string, capsule: string, requester: string): Promise<{ status: number; json: Record<string, any> }> {
  const res = await fetch(url + '/v1/release', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ capsule, requester }),
  });
  return { status: res.status, json: (await res.json()) as Record<string, any> };
}

async function moduleHealth(url: string): Promise<{ state: string; code?: string; message?: string }> {
  return ((await (await fetch(url + '/v1/status')).json()) as { module: { state: string } }).module;
}

/** Polls /v1/status until the module reads `state` (the agent probes a failing module by itself). */
async function untilModule(url: string, state: string, withinMs: number): Promise<void> {
  const end = Date.now() + withinMs;
  for (;;) {
    if ((await moduleHealth(url)).state === state) return;
    if (Date.now() > end) assert.unreachable(`module still not ${state} after ${withinMs} ms: ${JSON.stringify(await moduleHealth(url))}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function assertModuleError(r: { status: number; json: Record<string, any> }, message: RegExp): void {
  assert.is(r.status, 503, JSON.stringify(r.json));
  assert.is(r.json.error.code, 'ERR_MODULE_CALL');
  assert.match(r.json.error.message, message);
  assert.not.match(r.json.error.message, /\n|\/|libzk/, 'one line, no paths or library names');
  assert.not.ok('answer' in r.json, 'nothing released');
}

test('simulator fault file: fail, hang MS and named calls, read on every call (absent or empty = healthy)', () => {
  const dv = device();
  const dir = dv.dir;
  dirs.push(dir);
  const faults = join(dir, 'faults');
  const script = `
    import { writeFileSync, rmSync } from 'node:fs';
    const { ZymbitModule } = await import(${JSON.stringify(join(ROOT, 'agent/keys/zymbit/ZymbitModule.ts'))});
    const m = ZymbitModule.open(${JSON.stringify(LIB)});
    const f = ${JSON.stringify(faults)};
    const out = [];
    const probe = async (label) => { const t = Date.now(); try { await m.randomBytes(4); out.push(label + ':ok'); } catch (e) { out.push(label + ':' + e.code + ':' + e.message + ':' + (Date.now() - t >= 250 ? 'slow' : 'fast')); } };
    await probe('absent');
    writeFileSync(f, ''); await probe('empty');
    writeFileSync(f, 'fail\\n'); await probe('fail');
    writeFileSync(f, 'hang 300'); await probe('hang');
    writeFileSync(f, 'fail zkGenECDSASigFromDigest'); await probe('other-call');
    try { await m.sign(new Uint8Array(32), 0); out.push('sign:ok'); } catch (e) { out.push('sign:' + e.code); }
    writeFileSync(f, 'flail'); await probe('typo');
    rmSync(f); await probe('healed');
    await m.close();
    console.log(out.join('\\n'));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env: { ...dv.env, ZK_SIM_FAULTS: faults }, encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim().split('\n'), [
    'absent:ok',
    'empty:ok',
    'fail:ERR_MODULE_CALL:zymbit: zkGetRandBytes failed (-1):fast',
    'hang:ERR_MODULE_CALL:zymbit: zkGetRandBytes failed (-1):slow',
    'other-call:ok',
    'sign:ERR_MODULE_CALL',
    'typo:ERR_MODULE_CALL:zymbit: zkGetRandBytes failed (-1):fast',
    'healed:ok',
  ]);
});

test('a hung call holds the context: its caller and those queued behind it fail at the timeout, later calls fail at once, nobody queued runs late, health recovers', () => {
  const dv = device();
  dirs.push(dv.dir);
  const faults = join(dv.dir, 'faults');
  const script = `
    import { writeFileSync, rmSync } from 'node:fs';
    const { ZymbitKeyStore } = await import(${JSON.stringify(join(ROOT, 'agent/keys/ZymbitKeyStore.ts'))});
    const ks = ZymbitKeyStore.open(${JSON.stringify(LIB)}, { timeoutMs: 300, probeIntervalMs: 50 });
    const f = ${JSON.stringify(faults)};
    const out = [];
    const t0 = Date.now();
    const settle = (p) => p.then(() => 'ok', (e) => e.code + ': ' + e.message.replace(/\\d+ ms/g, 'N ms'));
    writeFileSync(f, 'hang 2000');
    const first = settle(ks.randomBytes(4));
    const queued = settle(ks.randomBytes(4));
    out.push(await first, await queued, 'bounded:' + (Date.now() - t0 < 2000));
    const t1 = Date.now();
    out.push(await settle(ks.sign(new Uint8Array(32), 0)), 'at once:' + (Date.now() - t1 < 1000));
    out.push(JSON.stringify({ state: ks.health().state, code: ks.health().code }));
    rmSync(f);
    while (ks.health().state !== 'ok' && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 20));
    out.push('health:' + ks.health().state, 'taken:' + ks.module.freed);
    out.push(await settle(ks.randomBytes(4)), 'taken:' + ks.module.freed);
    await ks.close();
    console.log(out.join('\\n'));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env: { ...dv.env, ZK_SIM_FAULTS: faults }, encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  const base = Number(/taken:(\d+)/.exec(r.stdout)![1]);
  assert.equal(r.stdout.trim().split('\n'), [
    'ERR_MODULE_CALL: zymbit: zkGetRandBytes did not answer within N ms',
    'ERR_MODULE_CALL: zymbit: zkGetRandBytes did not answer within N ms',
    'bounded:true', // by the 300 ms timeout, not the 2000 ms hang
    'ERR_MODULE_CALL: zymbit: zkGenECDSASigFromDigest refused: the module has not answered zkGetRandBytes for N ms',
    'at once:true', // not queued behind the hung call
    '{"state":"failing","code":"ERR_MODULE_CALL"}',
    'health:ok',
    `taken:${base}`, // the queued call never ran once its caller had given up
    'ok',
    `taken:${base + 1}`,
  ]);
});

test('module fails: release answers 503 ERR_MODULE_CALL (one line, no paths), /v1/status says failing; healed, it recovers with no restart', async () => {
  const { d, x25519, me, faults } = await provisioned();
  secretFile(d, 1000);
  assert.is(
    run(d, ['seal', 'secret.bin', '--guardian', x25519, '--logic', 'policy.wasm', '--params', `{"timeLock": {"notBefore": ${T}}}`, '-o', 'c.capsule']).code,
    0,
  );
  const capsule = readFileSync(join(d.dir, 'c.capsule')).toString('base64');
  // D6 (agent side): a temporary file left in the data dir by a writer of a previous boot is swept at start.
  const stale = join(d.data, `.guardian.json.${process.pid}-1-00000000.0123456789ab.partial`);
  writeFileSync(stale, 'left by a power cut');
  const a = await startAgent(d, faults);
  try {
    assert.not.ok(existsSync(stale), 'swept at start');
    assert.is(run(d, ['logic', 'push', 'policy.wasm', '--guardian', a.url]).code, 0);
    assert.is((await release(a.url, capsule, me)).status, 200, 'healthy: allowed');
    assert.equal(await moduleHealth(a.url), { state: 'ok' });
    writeFileSync(faults, 'fail\n');
    assertModuleError(await release(a.url, capsule, me), /^zymbit: zk\w+ failed \(-1\)$/);
    const h = await moduleHealth(a.url);
    assert.is(h.state, 'failing');
    assert.is(h.code, 'ERR_MODULE_CALL');
    assert.match(h.message!, /^zymbit: zk\w+ failed \(-1\)$/);
    // The CLI shows the same error as one `capsule: error:` line.
    assertFails(run(d, ['open', 'c.capsule', '--guardian', a.url, '--identity', 'me.key', '-o', 'c.out']), /zymbit: zk\w+ failed \(-1\)/);
    rmSync(faults);
    await untilModule(a.url, 'ok', 5000); // probed by the agent itself: no request needed
    assert.is((await release(a.url, capsule, me)).status, 200, 'healed: allowed again, same process');
  } finally {
    assert.is(await a.stop(), 0);
  }
  const v = run(d, ['audit', 'verify', '--data-dir', d.data]);
  assert.is(v.code, 0, v.stderr);
});

test('module hangs: a release answers 503 within moduleTimeoutMs (not after the hang), later calls fail fast, then it recovers', async () => {
  const { d, x25519, me, faults } = await provisioned();
  secretFile(d, 1000);
  assert.is(
    run(d, ['seal', 'secret.bin', '--guardian', x25519, '--logic', 'policy.wasm', '--params', `{"timeLock": {"notBefore": ${T}}}`, '-o', 'h.capsule']).code,
    0,
  );
  const capsule = readFileSync(join(d.dir, 'h.capsule')).toString('base64');
  const a = await startAgent(d, faults);
  try {
    assert.is(run(d, ['logic', 'push', 'policy.wasm', '--guardian', a.url]).code, 0);
    writeFileSync(faults, 'hang 3000');
    // Answered by the timeout, not by the end of the hang: a call that had returned would say
    // "failed (-1)"; these messages exist only while the hung call is still running.
    const r = await release(a.url, capsule, me);
    assertModuleError(
      r,
      new RegExp(`^zymbit: zk\\w+ (did not answer within ${TIMEOUT_MS} ms|refused: the module has not answered zkUnlockDataB2B for \\d+ ms)$`),
    );
    // The context is still held by the hung call: the next request is refused at once, not queued.
    const r2 = await release(a.url, capsule, me);
    assertModuleError(r2, /has not answered zk\w+ for \d+ ms/);
    assert.is((await moduleHealth(a.url)).state, 'failing');
    rmSync(faults);
    await untilModule(a.url, 'ok', 8000); // the hung call returns (≤ 3 s), then the probe succeeds
    assert.is((await release(a.url, capsule, me)).status, 200, 'recovered without a restart');
  } finally {
    assert.is(await a.stop(), 0);
  }
  assert.is(run(d, ['audit', 'verify', '--data-dir', d.data]).code, 0);
});

test('a fault while the audit entry is being signed: 503 with the module error, the counted open is not spent, the log verifies', async () => {
  const { d, x25519, faults } = await provisioned();
  const plain = secretFile(d, 5000);
  assert.is(
    run(d, ['seal', 'secret.bin', '--guardian', x25519, '--logic', 'policy.wasm', '--params', '{"expiry": {"maxOpens": 1}}', '-o', 'once.capsule']).code,
    0,
  );
  const a = await startAgent(d, faults);
  try {
    assert.is(run(d, ['logic', 'push', 'policy.wasm', '--guardian', a.url]).code, 0);
    const lines = () => readFileSync(join(d.data, 'audit.log'), 'utf8').split('\n').filter(Boolean).length;
    const before = lines();
    // Only signing fails: the file key unlocks, the logic allows and counts, then the audit entry
    // cannot be signed. Nothing may be answered or committed.
    writeFileSync(faults, 'fail zkGenECDSASigFromDigest');
    assertFails(
      run(d, ['open', 'once.capsule', '--guardian', a.url, '--identity', 'me.key', '-o', 'once.out']),
      /zymbit: zkGenECDSASigFromDigest failed \(-1\)/,
    );
    assert.is(lines(), before, 'no audit entry written');
    rmSync(faults);
    await untilModule(a.url, 'ok', 5000);
    const ok = run(d, ['open', 'once.capsule', '--guardian', a.url, '--identity', 'me.key', '-o', 'once.out']);
    assert.is(ok.code, 0, `the one open was not spent by the faulted attempt: ${ok.stderr}`);
    assert.ok(readFileSync(join(d.dir, 'once.out')).equals(plain));
    assertFails(run(d, ['open', 'once.capsule', '--guardian', a.url, '--identity', 'me.key', '-o', 'twice.out']), /opened 1 of 1 times/);
  } finally {
    assert.is(await a.stop(), 0);
  }
  const v = run(d, ['audit', 'verify', '--data-dir', d.data, '--replay']);
  assert.is(v.code, 0, v.stderr);
});

test.after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

test.run();
