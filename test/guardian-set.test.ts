/**
 * m-of-n guardians over a real network (issue 17): three guardians, each its own `capsule agent`
 * process with its own data directory and simulated module, in its own network namespace, and a
 * client namespace joined to each by a veth pair (test/helpers/netns.ts). The client runs the real
 * CLI (`capsule open --guardian URL ×3`) inside its namespace. Where namespaces are not permitted
 * the suite prints SKIPPED and runs the same scenarios on loopback ports.
 *
 * Scenarios: 2-of-3 opens with a guardian down; a guardian whose clock is wrong denies and the
 * others open; one allow of three is not enough (each guardian's verdict is reported, nothing is
 * written); a guardian answering with another capsule's share, with garbage, or not at all loses
 * its vote only; a guardian killed mid-release loses nothing (its audit log verifies and it
 * releases again after a restart).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN } from './helpers/cli.ts';
import { run, secretFile, type Device } from './helpers/guardianDevice.ts';
import { makeNet, type Host } from './helpers/netns.ts';
import { provisioned, setClock, T } from './helpers/runningAgent.ts';
import { readHeader } from '../agent/capsule/inspect.ts';

const net = makeNet(3);
if (net.skipped) console.error(`SKIPPED: guardian-set network namespaces (${net.skipped}); the scenarios run on loopback ports instead`);

const guardians: Array<{ d: Device; x25519: string; cleanup(): void }> = [];
for (let i = 0; i < 3; i++) guardians.push(await provisioned()); // one at a time: each init is a sandboxed seed process
const client = mkdtempSync(join(tmpdir(), 'guardian-set-client-'));
const env = { ...guardians[0]!.d.env };

interface Agent {
  url: string;
  child: ChildProcess;
  exited: Promise<number | null>;
}
const agents: Array<Agent | undefined> = [undefined, undefined, undefined];
const fakes: ChildProcess[] = [];

/** Guardian i's agent inside its namespace (port 7373 there; a free port on the fallback). */
async function start(i: number): Promise<Agent> {
  const g = guardians[i]!;
  const h = net.guardians[i]!;
  const cfg = join(g.d.dir, 'set-config.json');
  writeFileSync(cfg, JSON.stringify({ lan: true }));
  const child = net.spawn(
    h,
    process.execPath,
    [BIN, 'agent', '--data-dir', g.d.data, '--listen', `${h.address}:${h.ns ? 7373 : 0}`, '--clock', `file:${join(g.d.dir, 'clock')}`, '--config', cfg],
    {
      cwd: g.d.dir,
      env: g.d.env,
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let log = '';
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (c) => {
      log += c;
      const m = /"event":"started","url":"(http:\/\/[^"]+)"/.exec(log);
      if (m) resolve(m[1]!);
    });
    void exited.then((code) => reject(new Error(`guardian ${i} exited ${code}: ${log}`)));
  });
  child.stderr!.resume();
  agents[i] = { url, child, exited };
  return agents[i]!;
}

async function stop(i: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  const a = agents[i];
  if (!a) return;
  a.child.kill(signal);
  await a.exited;
  agents[i] = undefined;
}

/** `node script` in the client namespace (or on the fallback, here), with stdout/stderr and exit code. */
function inClient(args: string[], host: Host = net.client): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const c = net.spawn(host, process.execPath, args, { cwd: client, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout!.on('data', (d) => {
      stdout += d;
    });
    c.stderr!.on('data', (d) => {
      stderr += d;
    });
    c.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const capsule = (args: string[]) => inClient([BIN, ...args]);
const urls = () => agents.flatMap((a, i) => ['--guardian', a?.url ?? `http://${net.guardians[i]!.address}:${net.guardians[i]!.ns ? 7373 : 9}`]);
const open = (file: string, out: string, guardianArgs = urls(), extra: string[] = []) =>
  capsule([
    'open',
    file,
    ...guardianArgs,
    '--identity',
    join(guardians[0]!.d.dir, 'me.key'),
    '--receipts',
    join(client, 'receipts'),
    '-o',
    join(client, out),
    ...extra,
  ]);

/** The guardian's last decision of `kind` in its audit log (polled: the client may have stopped waiting for it). */
async function lastDecision(i: number, kind: string, after: number): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const entries = readFileSync(join(guardians[i]!.d.data, 'audit.log'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const e = entries.filter((x) => x.kind === kind && (x.seq as number) > after).at(-1);
    if (e) return e;
    if (Date.now() > deadline) throw new Error(`guardian ${i}: no ${kind} entry after #${after}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
const lastSeq = (i: number) => readFileSync(join(guardians[i]!.d.data, 'audit.log'), 'utf8').split('\n').filter(Boolean).length - 1;

const secret = secretFile(guardians[0]!.d, 300_000);
const seal = (out: string) => {
  const r = run(guardians[0]!.d, [
    'seal',
    'secret.bin',
    ...guardians.flatMap((g) => ['--guardian', g.x25519]),
    '--threshold',
    '2',
    '--logic',
    'policy.wasm',
    '--params',
    JSON.stringify({ timeLock: { notBefore: T } }),
    '-o',
    join(client, out),
  ]);
  assert.is(r.code, 0, r.stderr);
};
seal('a.capsule');
seal('b.capsule');
for (let i = 0; i < 3; i++) setClock(guardians[i]!.d, T + 60_000);

test.before(async () => {
  for (let i = 0; i < 3; i++) {
    await start(i);
    const r = await capsule(['logic', 'push', join(guardians[0]!.d.dir, 'policy.wasm'), '--guardian', agents[i]!.url]);
    assert.is(r.code, 0, r.stderr);
  }
});

test.after(async () => {
  for (const f of fakes) f.kill('SIGKILL');
  for (let i = 0; i < 3; i++) await stop(i);
  net.stop();
  for (const g of guardians) g.cleanup();
  rmSync(client, { recursive: true, force: true });
});

// On the loopback fallback every guardian is the same host: this one is not registered there (SKIPPED above).
if (!net.skipped)
  test('the guardians are separate hosts: the client reaches each, no guardian reaches another', async () => {
    const probe = `fetch(${JSON.stringify(agents[1]!.url + '/v1/status')}, { signal: AbortSignal.timeout(2000) }).then(() => console.log('reached'), (e) => console.log('unreachable', e.cause?.code ?? e.name))`;
    assert.match((await inClient(['-e', probe])).stdout, /^reached/);
    assert.match((await inClient(['-e', probe], net.guardians[0])).stdout, /^unreachable/);
  });

test('2-of-3 opens with one guardian down; the payload is the sealed one', async () => {
  await stop(2);
  try {
    const r = await open('a.capsule', 'a1.out');
    assert.is(r.code, 0, r.stderr);
    assert.equal(readFileSync(join(client, 'a1.out')), secret);
    assert.match(r.stderr, /capsule: guardian http:\/\/\S+: allow \(share [01]\)/);
  } finally {
    await start(2);
  }
});

test('a guardian whose clock is wrong denies (it decides on its own clock); the other two open', async () => {
  setClock(guardians[2]!.d, T - 86_400_000);
  const before = lastSeq(2);
  try {
    const r = await open('a.capsule', 'a2.out');
    assert.is(r.code, 0, r.stderr);
    assert.equal(readFileSync(join(client, 'a2.out')), secret);
    const e = await lastDecision(2, 'release', before);
    assert.is(e.verdict, 'deny', JSON.stringify(e));
  } finally {
    setClock(guardians[2]!.d, T + 60_000);
  }
});

test("one allow of three is not enough: each guardian's verdict is listed, exit 1, nothing written", async () => {
  setClock(guardians[1]!.d, T - 86_400_000);
  setClock(guardians[2]!.d, T - 86_400_000);
  try {
    const r = await open('a.capsule', 'a3.out');
    assert.is(r.code, 1, r.stderr);
    const lines = r.stderr.trim().split('\n');
    assert.match(lines.find((l) => l.startsWith('capsule: error:')) ?? '', /2-of-3: 1 guardian released a share, 2 needed/);
    assert.match(r.stderr, new RegExp(`capsule: guardian ${agents[1]!.url.replace(/[.]/g, '\\.')}: deny: `));
    assert.match(r.stderr, new RegExp(`capsule: guardian ${agents[2]!.url.replace(/[.]/g, '\\.')}: deny: `));
    assert.match(r.stderr, /capsule: guardian \S+: allow \(share 0\)/);
    assert.not.ok(existsSync(join(client, 'a3.out')));
  } finally {
    setClock(guardians[1]!.d, T + 60_000);
    setClock(guardians[2]!.d, T + 60_000);
  }
});

/** Replays recorded answers from guardian 2's address: a guardian that lies, talks nonsense, or hangs. */
async function fakeGuardian(mode: 'replay' | 'garbage' | 'hang', recorded: string): Promise<ChildProcess> {
  const h = net.guardians[2]!;
  const script = `
    const rec = JSON.parse(require('fs').readFileSync(${JSON.stringify(recorded)}, 'utf8'));
    const s = require('http').createServer((q, res) => {
      if (q.url === '/v1/status') { res.setHeader('content-type', 'application/json'); return res.end(JSON.stringify(rec.status)); }
      if (${JSON.stringify(mode)} === 'hang') return; // never answers
      res.setHeader('content-type', 'application/json');
      res.end(${JSON.stringify(mode)} === 'replay' ? JSON.stringify(rec.release) : JSON.stringify({ ...rec.release, answer: Buffer.from('not an age file').toString('base64') }));
    });
    s.listen(${h.ns ? 7373 : 0}, ${JSON.stringify(h.address)}, () => console.log('http://${h.address}:' + s.address().port));`;
  const c = net.spawn(h, process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  fakes.push(c);
  const url = await new Promise<string>((r) => c.stdout!.once('data', (d) => r(String(d).trim())));
  agents[2] = { url, child: c, exited: new Promise((r) => c.on('exit', (code) => r(code))) };
  return c;
}

test("a guardian that answers with another capsule's share, with garbage, or not at all only loses its vote", async () => {
  // Record a real answer of guardian 2 for capsule b, then let a fake guardian 2 replay it for capsule a.
  const recorded = join(client, 'recorded.json');
  const me = /age1[0-9a-z]+/.exec(readFileSync(join(guardians[0]!.d.dir, 'me.key'), 'utf8'))![0];
  const rec = await inClient([
    '-e',
    `
    const u = ${JSON.stringify(agents[2]!.url)};
    (async () => {
      const status = await (await fetch(u + '/v1/status')).json();
      const release = await (await fetch(u + '/v1/release', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ capsule: require('fs').readFileSync(${JSON.stringify(join(client, 'b.capsule'))}).subarray(0, 70000).toString('base64'), requester: ${JSON.stringify(me)} }) })).json();
      require('fs').writeFileSync(${JSON.stringify(recorded)}, JSON.stringify({ status, release }));
    })();`,
  ]);
  assert.is(rec.code, 0, rec.stderr);
  assert.equal(JSON.parse(readFileSync(recorded, 'utf8')).release.share, { index: 2 });
  await stop(2);
  setClock(guardians[1]!.d, T - 86_400_000); // guardian 1 denies: the fake's vote would decide
  try {
    const f = await fakeGuardian('replay', recorded);
    let r = await open('a.capsule', 'a4.out');
    assert.is(r.code, 1, r.stderr);
    assert.match(r.stderr, /capsule: guardian \S+: no share: guardian 2: its share does not match its commitment in this header/);
    assert.match(r.stderr, /capsule: error: 2-of-3: 1 guardian released a share, 2 needed/);
    assert.not.ok(existsSync(join(client, 'a4.out')));
    f.kill('SIGKILL');

    const g = await fakeGuardian('garbage', recorded);
    r = await open('a.capsule', 'a5.out');
    assert.is(r.code, 1, r.stderr);
    assert.match(r.stderr, /capsule: guardian \S+: no share: guardian \S+: the release answer does not open with age1/);
    g.kill('SIGKILL');

    const h = await fakeGuardian('hang', recorded);
    const t0 = Date.now();
    r = await open('a.capsule', 'a6.out', urls(), ['--timeout', '2']);
    assert.is(r.code, 1, r.stderr);
    assert.match(r.stderr, /capsule: guardian \S+: no share: guardian \S+: no answer within 2000 ms/);
    assert.ok(Date.now() - t0 < 20_000, 'the hanging guardian is given up after its timeout');
    setClock(guardians[1]!.d, T + 60_000); // with guardians 0 and 1 allowing, the hanging one does not matter
    r = await open('a.capsule', 'a7.out', urls(), ['--timeout', '2']);
    assert.is(r.code, 0, r.stderr);
    assert.equal(readFileSync(join(client, 'a7.out')), secret);
    h.kill('SIGKILL');
  } finally {
    agents[2] = undefined;
    setClock(guardians[1]!.d, T + 60_000);
    await start(2);
  }
});

test('a guardian killed mid-release loses nothing: its log verifies, it releases again after a restart', async () => {
  const runs = Array.from({ length: 4 }, (_, k) => open('a.capsule', `k${k}.out`, ['--guardian', agents[0]!.url, '--guardian', agents[1]!.url]));
  await new Promise((r) => setTimeout(r, 150));
  await stop(0, 'SIGKILL');
  const results = await Promise.all(runs);
  for (const r of results) assert.ok(r.code === 0 || r.code === 1, r.stderr); // each either opened or failed cleanly
  for (const [k, r] of results.entries()) if (r.code === 1) assert.not.ok(existsSync(join(client, `k${k}.out`)));
  const v = run(guardians[0]!.d, ['audit', 'verify', '--data-dir', guardians[0]!.d.data]);
  assert.is(v.code, 0, v.stderr);
  await start(0);
  const r = await open('a.capsule', 'k.out');
  assert.is(r.code, 0, r.stderr);
  assert.equal(readFileSync(join(client, 'k.out')), secret);
});

test("a copy of the header with another guardian's commitment altered is the same capsule to each guardian: counted opens carry over", async () => {
  const s = run(guardians[0]!.d, [
    'seal',
    'secret.bin',
    ...guardians.flatMap((g) => ['--guardian', g.x25519]),
    '--threshold',
    '2',
    '--logic',
    'policy.wasm',
    '--params',
    JSON.stringify({ expiry: { maxOpens: 1 } }),
    '-o',
    join(client, 'once.capsule'),
  ]);
  assert.is(s.code, 0, s.stderr);
  let r = await open('once.capsule', 'once1.out');
  assert.is(r.code, 0, r.stderr);
  // The copy: guardian 2's commitment replaced. Guardians 0 and 1 can check only their own
  // commitments, which still match; their state must be the original's, not a fresh one.
  const bytes = readFileSync(join(client, 'once.capsule'));
  const { header } = await readHeader({ path: join(client, 'once.capsule') });
  const at = bytes.indexOf(Buffer.from(header.shareCommitments![2]!));
  assert.ok(at > 0);
  const copy = Buffer.from(bytes);
  copy.fill(0x5a, at, at + 32);
  writeFileSync(join(client, 'once-copy.capsule'), copy);
  r = await open('once-copy.capsule', 'once2.out');
  assert.is(r.code, 1, r.stderr);
  assert.match(r.stderr, /capsule: guardian \S+: deny: .*opened 1 of 1 times/);
  assert.match(r.stderr, /capsule: error: 2-of-3: [01] guardians? released a share, 2 needed/);
  assert.not.ok(existsSync(join(client, 'once2.out')));
});

test('a check-in fans out to every guardian (each keeps its own state); one that is down is named, the others record it', async () => {
  const me = /age1[0-9a-z]+/.exec(readFileSync(join(guardians[0]!.d.dir, 'me.key'), 'utf8'))![0];
  const s = run(guardians[0]!.d, [
    'seal',
    'secret.bin',
    ...guardians.flatMap((g) => ['--guardian', g.x25519]),
    '--threshold',
    '2',
    '--logic',
    'policy.wasm',
    '--sign-with',
    'owner.key',
    '--params',
    JSON.stringify({ deadMan: { beneficiaries: [me], silenceMs: 3_600_000 } }),
    '-o',
    join(client, 'dm.capsule'),
  ]);
  assert.is(s.code, 0, s.stderr);
  const key = join(guardians[0]!.d.dir, 'owner.key');
  const before = [0, 1, 2].map(lastSeq);
  let r = await capsule(['checkin', join(client, 'dm.capsule'), ...urls(), '--key', key]);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stderr.match(/^capsule: check-in recorded by http:\/\/\S+: check-in recorded \(audit entry #\d+\)$/gm)?.length, 3, r.stderr);
  for (let i = 0; i < 3; i++) assert.match(JSON.stringify(await lastDecision(i, 'checkin', before[i]!)), /check-in recorded/);
  await stop(1);
  for (let i = 0; i < 3; i++) setClock(guardians[i]!.d, T + 120_000); // a later check-in (the same one again is a replay)
  try {
    r = await capsule(['checkin', join(client, 'dm.capsule'), ...urls(), '--key', key, '--timeout', '5']);
    assert.is(r.code, 1, r.stderr);
    assert.is(r.stderr.match(/^capsule: check-in recorded by /gm)?.length, 2, r.stderr);
    assert.match(r.stderr, /capsule: guardian http:\/\/\S+: cannot connect\n/);
    assert.match(r.stderr, /capsule: error: the check-in was not recorded by 1 of 3 guardians \(http:\/\/\S+\)\ncapsule: hint: the others recorded it/);
  } finally {
    for (let i = 0; i < 3; i++) setClock(guardians[i]!.d, T + 60_000);
    await start(1);
  }
});

test('several --guardian for a capsule without a guardian set, or by CID: a usage error', async () => {
  const r = run(guardians[0]!.d, [
    'seal',
    'secret.bin',
    '--guardian',
    guardians[0]!.x25519,
    '--logic',
    'policy.wasm',
    '--params',
    JSON.stringify({ timeLock: { notBefore: T } }),
    '-o',
    join(client, 'single.capsule'),
  ]);
  assert.is(r.code, 0, r.stderr);
  const o = await open('single.capsule', 's.out');
  assert.is(o.code, 1);
  assert.match(
    o.stderr,
    /^capsule: error: single\.capsule was sealed without a guardian set: give the one guardian that holds it\ncapsule: hint: several --guardian are for capsules sealed with --threshold\n$/,
  );
});

test.run();
