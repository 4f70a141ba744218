/**
 * The guardian agent end to end, over real HTTP on 127.0.0.1, with the Zymbit simulator as the
 * module, logic compiled with asc (contracts-as/contracts/policy.ts) and run in the real sandbox:
 * time lock (denied with the logic's reason, then allowed; the answer opens with the Debian `age`),
 * m-of-n, dead-man, the audit log and its offline replay, and the faults the issue names.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openWithKey } from '../agent/capsule/open.ts';
import { parseIdentityFile } from '../agent/crypto/identity.ts';
import { buildPolicy } from '../agent/logic/build.ts';
import { createHash } from 'node:crypto';
import { p256 } from '@noble/curves/nist.js';
import { ed25519 } from '@noble/curves/ed25519.js';
import { compressP256 } from '../agent/crypto/p256.ts';
import { BIN } from './helpers/cli.ts';
import { assertFails, device, init, recipients, run, secretFile, type Device } from './helpers/guardianDevice.ts';
import { withAuth } from './helpers/runningAgent.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const T = 1_893_456_000_000; // 2030-01-01T00:00:00Z
let policy: Uint8Array | undefined;

interface Running {
  url: string;
  stop(): Promise<number | null>;
  kill(): void;
  log: () => string;
  pid: number;
}

/** `capsule agent` as a process, on a free port, with a file clock the test moves. */
async function startAgent(d: Device, extra: string[] = []): Promise<Running> {
  const child = spawn(process.execPath, [BIN, 'agent', '--data-dir', d.data, '--listen', '127.0.0.1:0', '--clock', `file:${join(d.dir, 'clock')}`, ...extra], {
    cwd: d.dir,
    env: d.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stderr.on('data', (c) => {
    log += c;
  });
  const url = await new Promise<string>((resolve, reject) => {
    const check = () => {
      const m = /"event":"started","url":"(http:\/\/[^"]+)"/.exec(log);
      if (m) resolve(m[1]!);
    };
    child.stderr.on('data', check);
    child.on('exit', (code) => reject(new Error(`agent exited ${code}: ${log}`)));
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return {
    url,
    pid: child.pid!,
    log: () => log,
    kill: () => child.kill('SIGKILL'),
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

function setClock(d: Device, ms: number): void {
  writeFileSync(join(d.dir, 'clock'), String(ms));
}

async function provisioned(): Promise<{ d: Device; x25519: string }> {
  const d = device();
  const r = await init(d);
  assert.is(r.code, 0, r.stderr);
  policy ??= (await buildPolicy('contracts-as/contracts/policy.ts', { cwd: ROOT })).wasm;
  writeFileSync(join(d.dir, 'policy.wasm'), policy);
  setClock(d, T - 1000);
  assert.is(run(d, ['keygen', '-o', 'me.key']).code, 0);
  assert.is(run(d, ['keygen', '-o', 'other.key']).code, 0);
  assert.is(run(d, ['keygen', '-o', 'owner.key']).code, 0);
  return { d, x25519: recipients(d).x25519 };
}

const recipientOf = (d: Device, key: string) => /age1[0-9a-z]+/.exec(readFileSync(join(d.dir, key), 'utf8'))![0];

async function post(url: string, path: string, body: unknown, raw?: string): Promise<{ status: number; json: Record<string, any> }> {
  const res = await fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: raw ?? JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Record<string, any> };
}

test('time lock end to end: denied before T with the reason, allowed after T; the answer opens with Debian age; audit replays', async () => {
  const { d, x25519 } = await provisioned();
  const plain = secretFile(d);
  assert.is(
    run(d, ['seal', 'secret.bin', '--guardian', x25519, '--logic', 'policy.wasm', '--params', `{"timeLock": {"notBefore": ${T}}}`, '-o', 'will.capsule']).code,
    0,
  );
  const a = await startAgent(d);
  try {
    const push = run(d, ['logic', 'push', 'policy.wasm', '--guardian', a.url]);
    assert.is(push.code, 0, push.stderr);
    assert.match(push.stdout, /^[0-9a-f]{64}\n$/);
    const denied = run(d, ['open', 'will.capsule', '--guardian', a.url, '--identity', 'me.key', '-o', 'will.out']);
    assertFails(
      denied,
      /denied by the capsule's logic: .*opens at 1893456000000 \(2030-01-01T00:00:00Z\)/,
      /the logic used \d+ fuel; the decision is audit entry #2/,
    ); // #0 genesis, #1 the anchor established
    assert.not.ok(existsSync(join(d.dir, 'will.out')));
    setClock(d, T);
    const ok = run(d, ['open', 'will.capsule', '--guardian', a.url, '--identity', 'me.key', '-o', 'will.out']);
    assert.is(ok.code, 0, ok.stderr);
    assert.ok(readFileSync(join(d.dir, 'will.out')).equals(plain), 'output equals input');
    // The raw answer, opened by the Debian age CLI, is the data key: it decrypts the capsule.
    const capsule = readFileSync(join(d.dir, 'will.capsule'));
    const r = await post(a.url, '/v1/release', { capsule: capsule.subarray(0, 70_000).toString('base64'), requester: recipientOf(d, 'me.key') }); // header + first chunk
    assert.is(r.status, 200, JSON.stringify(r.json));
    writeFileSync(join(d.dir, 'answer.age'), Buffer.from(r.json.answer, 'base64'));
    const age = spawnSync('age', ['-d', '-i', 'me.key', 'answer.age'], { cwd: d.dir });
    assert.is(age.status, 0, age.stderr.toString());
    assert.is(age.stdout.length, 32);
    const chunks: Buffer[] = [];
    for await (const c of openWithKey(capsule, () => Uint8Array.from(age.stdout))) chunks.push(c as Buffer);
    assert.ok(Buffer.concat(chunks).equals(plain), "the age-decrypted answer is the capsule's data key");
    // Another identity cannot read an answer made for me.
    assert.is(spawnSync('age', ['-d', '-i', 'other.key', 'answer.age'], { cwd: d.dir }).status, 1);
  } finally {
    assert.is(await a.stop(), 0, 'SIGTERM: graceful stop, exit 0');
  }
  const v = run(d, ['audit', 'verify', '--data-dir', d.data, '--replay', '--guardian-key', recipients(d).signingKey]);
  assert.is(v.code, 0, v.stderr);
  assert.match(v.stdout, /^ok .*audit\.log: 5 entries, chain and signatures valid .*; 3 decisions replayed with the same verdict and fuel\n$/, v.stdout);
  // Any alteration is caught: a verdict flipped, a line removed.
  const path = join(d.data, 'audit.log');
  const lines = readFileSync(path, 'utf8').split('\n');
  // The first decision (a denial) follows the genesis and the anchor's entries: line 3.
  const denial = lines.findIndex((l) => l.includes('"verdict":"deny"'));
  assert.is(denial, 2, 'the first denial is line 3');
  writeFileSync(path, lines.map((l, i) => (i === denial ? l.replace('"verdict":"deny"', '"verdict":"allow"') : l)).join('\n'));
  assertFails(run(d, ['audit', 'verify', '--data-dir', d.data]), /audit log line 3: signature does not verify \(the entry was altered\)/);
  writeFileSync(path, lines.filter((_, i) => i !== denial).join('\n'));
  assertFails(
    run(d, ['audit', 'verify', '--data-dir', d.data]),
    /audit log line 3: expected entry 2 with a 64-byte hex signature|audit log line 3: prev does not match/,
  );
});

test('m-of-n: M-1 approvals are denied, M open; approvals stored on the guardian count too; forged and replayed approvals are refused', async () => {
  const { d, x25519 } = await provisioned();
  const plain = secretFile(d, 5000);
  for (const k of ['a1.key', 'a2.key', 'a3.key']) assert.is(run(d, ['keygen', '-o', k]).code, 0);
  const pub = (k: string) => {
    const id = parseIdentityFile(readFileSync(join(d.dir, k), 'utf8'))[0]!;
    return Buffer.from(ownerKey(id)).toString('hex');
  };
  const params = { mOfN: { threshold: 2, approvers: ['a1.key', 'a2.key', 'a3.key'].map((k) => ({ scheme: 'ed25519', key: pub(k) })) } };
  assert.is(run(d, ['seal', 'secret.bin', '--guardian', x25519, '--logic', 'policy.wasm', '--params', JSON.stringify(params), '-o', 'c.capsule']).code, 0);
  const me = recipientOf(d, 'me.key');
  for (const k of ['a1', 'a2']) assert.is(run(d, ['approve', 'c.capsule', '--requester', me, '--key', `${k}.key`, '-o', `${k}.json`]).code, 0);
  const a = await startAgent(d);
  try {
    assert.is(run(d, ['logic', 'push', 'policy.wasm', '--guardian', a.url]).code, 0);
    assertFails(
      run(d, ['open', 'c.capsule', '--guardian', a.url, '--identity', 'me.key', '--approval', 'a1.json', '-o', 'c.out']),
      /approved by only 1 of 3 approvers \(threshold 2\)/,
    );
    const ok = run(d, ['open', 'c.capsule', '--guardian', a.url, '--identity', 'me.key', '--approval', 'a1.json', '--approval', 'a2.json', '-o', 'c.out']);
    assert.is(ok.code, 0, ok.stderr);
    assert.ok(readFileSync(join(d.dir, 'c.out')).equals(plain));
    // Approvals sent to the guardian are stored and counted for that requester only.
    const other = recipientOf(d, 'other.key');
    assert.is(run(d, ['approve', 'c.capsule', '--requester', other, '--key', 'a3.key', '--guardian', a.url]).code, 0);
    assertFails(
      run(d, ['approve', 'c.capsule', '--requester', other, '--key', 'a3.key', '--guardian', a.url]),
      /approval: already recorded for this capsule and requester/,
    );
    assertFails(run(d, ['open', 'c.capsule', '--guardian', a.url, '--identity', 'other.key', '-o', 'o.out']), /approved by only 1 of 3/);
    assert.is(run(d, ['approve', 'c.capsule', '--requester', other, '--key', 'a1.key', '--guardian', a.url]).code, 0);
    assert.is(run(d, ['open', 'c.capsule', '--guardian', a.url, '--identity', 'other.key', '-o', 'o.out']).code, 0);
    // A forged signature is refused before anything is stored.
    const forged = JSON.parse(readFileSync(join(d.dir, 'a2.json'), 'utf8'));
    forged.signature = forged.signature.replace(/^../, (h: string) => (parseInt(h, 16) ^ 1).toString(16).padStart(2, '0'));
    const capsule = readFileSync(join(d.dir, 'c.capsule')).toString('base64');
    const r = await post(a.url, '/v1/approvals', { capsule, requester: me, approval: forged });
    assert.is(r.status, 400);
    assert.is(r.json.error.code, 'ERR_BAD_REQUEST');
    assert.match(r.json.error.message, /body\.approval\.signature: does not verify under the ed25519 signer [0-9a-f]{64}/);
  } finally {
    await a.stop();
  }
});

test('dead-man: check-ins keep it shut; after the silence it opens for a beneficiary only; a replayed check-in is refused', async () => {
  const { d, x25519 } = await provisioned();
  secretFile(d, 1000);
  const me = recipientOf(d, 'me.key');
  const silence = 3_600_000;
  assert.is(
    run(d, [
      'seal',
      'secret.bin',
      '--guardian',
      x25519,
      '--logic',
      'policy.wasm',
      '--sign-with',
      'owner.key',
      '--params',
      JSON.stringify({ deadMan: { beneficiaries: [me], silenceMs: silence } }),
      '-o',
      'dm.capsule',
    ]).code,
    0,
  );
  const created = JSON.parse(run(d, ['inspect', 'dm.capsule', '--json']).stdout).created;
  const t0 = Date.parse(created);
  setClock(d, t0 + silence - 60_000);
  const a = await startAgent(d);
  try {
    assert.is(run(d, ['logic', 'push', 'policy.wasm', '--guardian', a.url]).code, 0);
    assertFails(run(d, ['open', 'dm.capsule', '--guardian', a.url, '--identity', 'me.key', '-o', 'x']), /owner active at/);
    // The owner checks in (signed with the owner key at the guardian's time, which the CLI asks for).
    setClock(d, Date.now() - 5000);
    const ci = run(d, ['checkin', 'dm.capsule', '--guardian', a.url, '--key', 'owner.key']);
    assert.is(ci.code, 0, ci.stderr);
    assert.match(ci.stderr, /capsule: check-in recorded by http:\/\/127\.0\.0\.1:\d+: check-in recorded \(audit entry #\d+\)/);
    // Replaying the same signed check-in is refused.
    const entries = readFileSync(join(d.data, 'audit.log'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const recorded = entries.find((e) => e.kind === 'checkin');
    const item = recorded.input.evidence[0];
    const capsule = readFileSync(join(d.dir, 'dm.capsule')).toString('base64');
    const replay = await post(a.url, '/v1/checkin', { capsule, checkin: item });
    assert.is(replay.status, 409);
    assert.is(replay.json.error.code, 'ERR_REPLAYED');
    // Shortly after the check-in: still shut. After the silence: open, for the beneficiary only.
    setClock(d, Date.now() + silence - 60_000);
    assertFails(run(d, ['open', 'dm.capsule', '--guardian', a.url, '--identity', 'me.key', '-o', 'x']), /owner active at/);
    setClock(d, Date.now() + silence + 60_000);
    assertFails(run(d, ['open', 'dm.capsule', '--guardian', a.url, '--identity', 'other.key', '-o', 'x']), /requester is not a beneficiary/);
    assert.is(run(d, ['open', 'dm.capsule', '--guardian', a.url, '--identity', 'me.key', '-o', 'dm.out']).code, 0);
  } finally {
    await a.stop();
  }
});

test('bad requests get typed errors with the right status, and the agent keeps serving', async () => {
  const { d, x25519 } = await provisioned();
  secretFile(d, 100);
  assert.is(
    run(d, ['seal', 'secret.bin', '--guardian', x25519, '--logic', 'policy.wasm', '--params', `{"timeLock": {"notBefore": ${T}}}`, '-o', 'c.capsule']).code,
    0,
  );
  const a = await startAgent(d, ['--config', writeConfig(d, { requestTimeoutMs: 1500, ratePerSecond: 0 })]);
  try {
    const capsule = readFileSync(join(d.dir, 'c.capsule')).toString('base64');
    const me = recipientOf(d, 'me.key');
    const cases: Array<[string, unknown, string | undefined, number, string, RegExp]> = [
      ['malformed JSON', undefined, '{"requester":', 400, 'ERR_BAD_REQUEST', /body: not valid JSON/],
      [
        'schema: unknown field',
        { capsule, requester: me, extra: 1 },
        undefined,
        400,
        'ERR_BAD_REQUEST',
        /body: must NOT have additional properties \("extra"\)/,
      ],
      ['schema: wrong type', { capsule, requester: 5 }, undefined, 400, 'ERR_BAD_REQUEST', /body\.requester: must be string/],
      ['unknown capsule id', { id: '00'.repeat(16), requester: me }, undefined, 404, 'ERR_NOT_FOUND', /capsule 0{32}: unknown to this guardian/],
      [
        'module not in the store',
        { capsule, requester: me },
        undefined,
        404,
        'ERR_NOT_FOUND',
        /logic module [0-9a-f]{64} is not in this guardian's module store/,
      ],
      [
        'release by CID, IPFS off',
        { cid: 'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku', requester: me },
        undefined,
        501,
        'ERR_UNAVAILABLE',
        /runs without IPFS \(ipfs: off\) and cannot fetch by CID/,
      ],
      [
        'truncated capsule',
        { capsule: capsule.slice(0, 200), requester: me },
        undefined,
        400,
        'ERR_TRUNCATED',
        /a release needs the preamble, the header and the first chunk/,
      ],
      ['bad requester', { capsule, requester: 'age1nope' }, undefined, 400, 'ERR_BAD_RECIPIENT', /recipient: expected an age X25519 recipient/],
    ];
    for (const [name, body, raw, status, code, message] of cases) {
      const r = await post(a.url, '/v1/release', body, raw);
      assert.is(r.status, status, `${name}: ${JSON.stringify(r.json)}`);
      assert.is(r.json.error.code, code, name);
      assert.match(r.json.error.message, message, name);
    }
    const big = await post(a.url, '/v1/release', undefined, `{"requester":"${'x'.repeat(300_000)}"}`);
    assert.is(big.status, 413);
    assert.is(big.json.error.code, 'ERR_TOO_LARGE');
    const nowhere = await fetch(a.url + '/v2/release');
    assert.is(nowhere.status, 404);
    // A slow client (headers dribbled) is cut off by the request timeout; others are served meanwhile.
    const port = Number(new URL(a.url).port);
    const slow = connect(port, '127.0.0.1');
    slow.write('POST /v1/release HTTP/1.1\r\nHost: x\r\n');
    const closed = new Promise<number>((r) => {
      const t0 = Date.now();
      slow.on('close', () => r(Date.now() - t0));
      slow.on('error', () => {});
    });
    const tick = setInterval(() => slow.write('X-A: b\r\n'), 300);
    assert.is((await fetch(a.url + '/v1/status')).status, 200, 'served while a slow client hangs on');
    const after = await closed;
    clearInterval(tick);
    assert.ok(after < 6000, `slow client cut off after ${after} ms`);
    // 1000 concurrent requests: all answered, the agent still serves.
    const all = await Promise.all(Array.from({ length: 1000 }, () => post(a.url, '/v1/release', { id: 'ff'.repeat(16), requester: me })));
    assert.ok(
      all.every((r) => r.status === 404 && r.json.error.code === 'ERR_NOT_FOUND'),
      'every one answered with its typed error',
    );
    assert.is((await fetch(a.url + '/v1/status')).status, 200);
    // A logic error is a decision (logged), never an allow: 422 with the sandbox's code.
    assert.is(run(d, ['seal', 'secret.bin', '--guardian', x25519, '--logic', 'policy.wasm', '--params', '{"timeLock": {}}', '-o', 'bad.capsule']).code, 0);
    assert.is(run(d, ['logic', 'push', 'policy.wasm', '--guardian', a.url]).code, 0);
    const trap = await post(a.url, '/v1/release', { capsule: readFileSync(join(d.dir, 'bad.capsule')).toString('base64'), requester: me });
    assert.is(trap.status, 422, JSON.stringify(trap.json));
    assert.is(trap.json.error.code, 'ERR_TRAP');
    assert.match(trap.json.error.message, /timeLock\.notBefore/);
    // No clock, no decision: 503, and the agent recovers when the clock is back.
    const clock = readFileSync(join(d.dir, 'clock'), 'utf8');
    writeFileSync(join(d.dir, 'clock'), 'garbage');
    const noClock = await post(a.url, '/v1/release', { capsule, requester: me });
    assert.is(noClock.status, 503);
    assert.is(noClock.json.error.code, 'ERR_UNAVAILABLE');
    assert.match(noClock.json.error.message, /clock: .*clock does not hold milliseconds since the epoch/);
    writeFileSync(join(d.dir, 'clock'), clock);
    assert.is((await post(a.url, '/v1/release', { capsule, requester: me })).status, 403, 'decides again once the clock is back');
    const log = readFileSync(join(d.data, 'audit.log'), 'utf8');
    assert.match(log, /"verdict":"error","logicVerdict":null,"fuelLimit":\d+,"error":"ERR_TRAP"/, 'the trap is in the audit log');
  } finally {
    await a.stop();
  }
});

test('rate limit: a client beyond its budget gets 429 and recovers', async () => {
  const { d } = await provisioned();
  const a = await startAgent(d, ['--config', writeConfig(d, { ratePerSecond: 5 })]);
  try {
    const codes: number[] = [];
    let limited: { error: { code: string; message: string } } | undefined;
    for (let i = 0; i < 15; i++) {
      const res = await fetch(a.url + '/v1/status');
      codes.push(res.status);
      const body = (await res.json()) as { error: { code: string; message: string } };
      if (res.status === 429) limited ??= body;
    }
    assert.ok(
      codes.slice(0, 10).every((c) => c === 200),
      `the burst (2 × rate) is served: ${codes}`,
    );
    assert.ok(limited, `then 429: ${codes}`);
    assert.is(limited!.error.code, 'ERR_RATE_LIMITED');
    assert.match(limited!.error.message, /too many requests from 127\.0\.0\.1 \(limit 5\/s\)/);
    await new Promise((r) => setTimeout(r, 1200));
    assert.is((await fetch(a.url + '/v1/status')).status, 200, 'tokens refill');
  } finally {
    await a.stop();
  }
});

test('SIGTERM lets a request in flight finish (answered, then exit 0); out of fuel is a 422', async () => {
  const { d, x25519 } = await provisioned();
  secretFile(d, 100);
  assert.is(
    run(d, ['seal', 'secret.bin', '--guardian', x25519, '--logic', 'policy.wasm', '--params', `{"timeLock": {"notBefore": ${T}}}`, '-o', 'c.capsule']).code,
    0,
  );
  const a = await startAgent(d, ['--config', writeConfig(d, { fuel: 2000 })]);
  assert.is(run(d, ['logic', 'push', 'policy.wasm', '--guardian', a.url]).code, 0);
  const body = JSON.stringify({ capsule: readFileSync(join(d.dir, 'c.capsule')).toString('base64'), requester: recipientOf(d, 'me.key') });
  // Headers and half the body, then SIGTERM, then the rest: the answer still comes.
  const sock = connect(Number(new URL(a.url).port), '127.0.0.1');
  let answer = '';
  sock.on('data', (c) => {
    answer += c;
  });
  const ended = new Promise<void>((r) => sock.on('close', () => r()));
  sock.write(
    `POST /v1/release HTTP/1.1\r\nHost: 127.0.0.1:${new URL(a.url).port}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, body.length >> 1)}`,
  );
  await new Promise((r) => setTimeout(r, 200));
  const exit = a.stop();
  for (let i = 0; i < 100 && !/"event":"stopping"/.test(a.log()); i++) await new Promise((r) => setTimeout(r, 50)); // shutdown has begun
  sock.write(body.slice(body.length >> 1)); // the server closes the connection after answering (connection: close)
  await ended;
  assert.match(answer, /^HTTP\/1\.1 422 /, `answered after SIGTERM: ${answer.slice(0, 80)}`);
  assert.match(answer, /"code":"ERR_OUT_OF_FUEL"/, 'fuel 2000 is not enough for the policy');
  assert.match(answer, /connection: close/i, 'answers during shutdown close their connection');
  assert.is(await exit, 0);
  assert.match(a.log(), /"event":"stopping","inFlight":1/);
  // The replay uses the fuel limit the decision was made under (2000), so it runs out of fuel too.
  const v = run(d, ['audit', 'verify', '--data-dir', d.data, '--replay']);
  assert.is(v.code, 0, v.stderr);
  assert.match(v.stdout, /; 1 decisions replayed with the same verdict and fuel/);
});

test('a flood beyond maxQueuedDecisions is refused as busy (503) and the agent keeps deciding', async () => {
  const { d, x25519 } = await provisioned();
  secretFile(d, 100);
  assert.is(
    run(d, ['seal', 'secret.bin', '--guardian', x25519, '--logic', 'policy.wasm', '--params', `{"timeLock": {"notBefore": ${T}}}`, '-o', 'c.capsule']).code,
    0,
  );
  const a = await startAgent(d, ['--config', writeConfig(d, { maxQueuedDecisions: 2, ratePerSecond: 0 })]);
  try {
    assert.is(run(d, ['logic', 'push', 'policy.wasm', '--guardian', a.url]).code, 0);
    const body = { capsule: readFileSync(join(d.dir, 'c.capsule')).toString('base64'), requester: recipientOf(d, 'me.key') };
    const all = await Promise.all(Array.from({ length: 200 }, () => post(a.url, '/v1/release', body)));
    const busy = all.filter((r) => r.status === 503);
    assert.ok(busy.length > 0, `some refused: ${all.map((r) => r.status)}`);
    assert.ok(
      busy.every(
        (r) => r.json.error.code === 'ERR_UNAVAILABLE' && /busy: \d+ decisions are waiting for the sandbox \(maxQueuedDecisions 2\)/.test(r.json.error.message),
      ),
    );
    assert.ok(
      all.every((r) => r.status === 503 || r.status === 403),
      'the others decided',
    );
    assert.is((await post(a.url, '/v1/release', body)).status, 403, 'decides again once the flood is over');
  } finally {
    await a.stop();
  }
});

test('configuration errors name the key; a missing module or guardian stops the agent at start', async () => {
  const { d } = await provisioned();
  assertFails(
    run(d, ['agent', '--data-dir', d.data, '--config', writeConfig(d, { prot: 1 })]),
    /config\.json: unknown key "prot"/,
    /known keys: dataDir, host, port/,
  );
  assertFails(run(d, ['agent', '--data-dir', d.data, '--config', writeConfig(d, { port: 'x' })]), /config\.json: port: expected a port 0\.\.65535, got "x"/);
  assertFails(
    run(d, ['agent', '--data-dir', d.data, '--listen', '0.0.0.0:7373']),
    /host: 0\.0\.0\.0 is not a loopback address; listening beyond this machine needs lan: true \(or --lan\)/,
  );
  assertFails(run(d, ['agent', '--data-dir', d.data, '--listen', '127.0.0.1:0'], undefined, { ZK_SIM_FAIL_OPEN: '1' }), /zymbit: zkOpen failed/, /zkifc/);
  assertFails(run(d, ['agent', '--data-dir', join(d.dir, 'none'), '--listen', '127.0.0.1:0']), /no guardian in .*none/);
});

test('kill -9 during releases: every allow answer received has its audit record, and the database and log stay valid', async () => {
  const { d, x25519 } = await provisioned();
  secretFile(d, 100);
  setClock(d, T);
  assert.is(
    run(d, ['seal', 'secret.bin', '--guardian', x25519, '--logic', 'policy.wasm', '--params', `{"expiry": {"maxOpens": 1000000}}`, '-o', 'c.capsule']).code,
    0,
  );
  const capsule = readFileSync(join(d.dir, 'c.capsule')).toString('base64');
  const me = recipientOf(d, 'me.key');
  const meId = parseIdentityFile(readFileSync(join(d.dir, 'me.key'), 'utf8'))[0]!;
  // Each open is counted, so each request is authenticated (a fresh nonce each).
  const authed = async (url: string) => withAuth(url, '/v1/release', { capsule, requester: me }, meId);
  const answered: number[] = [];
  for (let round = 0; round < 4; round++) {
    const a = await startAgent(d);
    if (round === 0) {
      assert.is(run(d, ['logic', 'push', 'policy.wasm', '--guardian', a.url]).code, 0);
      const first = await post(a.url, '/v1/release', await authed(a.url));
      assert.is(first.status, 200, JSON.stringify(first.json));
      answered.push(first.json.audit);
    }
    const inflight = Array.from({ length: 40 }, async () => {
      try {
        const r = await post(a.url, '/v1/release', await authed(a.url));
        if (r.status === 200) answered.push(r.json.audit);
      } catch {
        /* cut off by the kill: no answer */
      }
    });
    await new Promise((r) => setTimeout(r, 20 + round * 60));
    a.kill();
    await Promise.all(inflight);
  }
  assert.ok(answered.length > 0, 'some allows were answered before the kills');
  const v = run(d, ['audit', 'verify', '--data-dir', d.data, '--replay']);
  assert.is(v.code, 0, v.stderr);
  const log = readFileSync(join(d.data, 'audit.log'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  const allows = new Set(log.filter((e) => e.verdict === 'allow').map((e) => e.seq));
  for (const seq of answered) assert.ok(allows.has(seq), `answered allow #${seq} is in the audit log`);
  const check = spawnSync(
    process.execPath,
    [
      '-e',
      `const {DatabaseSync}=require('node:sqlite');const db=new DatabaseSync(${JSON.stringify(join(d.data, 'agent.sqlite'))});console.log(db.prepare('PRAGMA integrity_check').get().integrity_check)`,
    ],
    { env: { ...process.env, NODE_NO_WARNINGS: '1' } },
  );
  assert.is(check.stdout.toString().trim(), 'ok', check.stderr.toString());
  const a = await startAgent(d); // and it starts again on what was left
  await a.stop();
});

test('policy-gated signing: a slot signs a digest only when its policy allows; the signature and recovery id check out', async () => {
  const { d } = await provisioned();
  const logic = createHash('sha256').update(policy!).digest('hex');
  // The guardian's own slot (0: headers and audit entries) is refused for request signing.
  assertFails(
    run(d, ['agent', '--data-dir', d.data, '--listen', '127.0.0.1:0', '--config', writeConfig(d, { signing: [{ slot: 0, logic }] })]),
    /signing: slot 0 is the guardian's own key \(it signs capsule headers and audit entries\) and cannot sign requests/,
  );
  const a = await startAgent(d, ['--config', writeConfig(d, { signing: [{ slot: 1, logic, params: { timeLock: { notBefore: T } } }] })]);
  try {
    assert.is(run(d, ['logic', 'push', 'policy.wasm', '--guardian', a.url]).code, 0);
    const digest = createHash('sha256').update('pay 1 coin to bob').digest('hex');
    assertFails(
      run(d, ['sign-request', '--guardian', a.url, '--slot', '1', '--digest', digest, '--identity', 'me.key']),
      /denied by the signing policy: .*opens at 1893456000000/,
      /audit entry #\d+/,
    );
    assertFails(
      run(d, ['sign-request', '--guardian', a.url, '--slot', '2', '--digest', digest, '--identity', 'me.key']),
      /sign: no signing policy is registered for slot 2, so it never signs/,
    );
    assertFails(
      run(d, ['sign-request', '--guardian', a.url, '--slot', '1', '--digest', 'abcd', '--identity', 'me.key']),
      /--digest: expected 32 bytes as 64 hex digits, got 4 characters/,
    );
    setClock(d, T);
    const r = run(d, ['sign-request', '--guardian', a.url, '--slot', '1', '--digest', digest, '--identity', 'me.key']);
    assert.is(r.code, 0, r.stderr);
    const { signature, recoveryId } = JSON.parse(r.stdout);
    const pub = slotKey(d, 1);
    const sig = Uint8Array.from(Buffer.from(signature, 'hex'));
    assert.ok(p256.verify(sig, Buffer.from(digest, 'hex'), pub, { prehash: false, lowS: true }), 'valid, low-S');
    const recovered = p256.Signature.fromBytes(sig, 'compact').addRecoveryBit(recoveryId).recoverPublicKey(Buffer.from(digest, 'hex'));
    assert.ok(Buffer.from(recovered.toBytes(true)).equals(Buffer.from(pub)), 'the recovery id recovers the slot key');
  } finally {
    await a.stop();
  }
  const v = run(d, ['audit', 'verify', '--data-dir', d.data, '--replay']);
  assert.is(v.code, 0, v.stderr);
  assert.match(v.stdout, /; 2 decisions replayed with the same verdict and fuel/);
});

/** A slot's public key, read from the simulated module through the same binding as production. */
function slotKey(d: Device, slot: number): Uint8Array {
  const out = spawnSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `
    const { ZymbitKeyStore } = await import(${JSON.stringify(join(ROOT, 'agent/keys/ZymbitKeyStore.ts'))});
    const ks = ZymbitKeyStore.open(process.env.CAPSULE_ZYMBIT_LIB);
    process.stdout.write(Buffer.from(await ks.publicKey(${slot})).toString('hex'));
    await ks.close();`,
    ],
    { env: d.env, input: '' },
  );
  assert.is(out.status, 0, out.stderr.toString());
  return compressP256(Buffer.from(out.stdout.toString(), 'hex'));
}

test('review fixes: opens are counted under concurrency; foreign check-ins cannot block the owner; approvals are bounded', async () => {
  const { d, x25519 } = await provisioned();
  secretFile(d, 100);
  setClock(d, T);
  const me = recipientOf(d, 'me.key');
  assert.is(
    run(d, ['seal', 'secret.bin', '--guardian', x25519, '--logic', 'policy.wasm', '--params', '{"expiry": {"maxOpens": 1}}', '-o', 'once.capsule']).code,
    0,
  );
  assert.is(
    run(d, [
      'seal',
      'secret.bin',
      '--guardian',
      x25519,
      '--logic',
      'policy.wasm',
      '--sign-with',
      'owner.key',
      '--params',
      JSON.stringify({ deadMan: { beneficiaries: [me], silenceMs: 3_600_000 } }),
      '-o',
      'dm.capsule',
    ]).code,
    0,
  );
  const a = await startAgent(d, ['--config', writeConfig(d, { ratePerSecond: 0 })]);
  try {
    assert.is(run(d, ['logic', 'push', 'policy.wasm', '--guardian', a.url]).code, 0);
    // 20 concurrent releases of a capsule that opens once: exactly one allow.
    const once = readFileSync(join(d.dir, 'once.capsule')).toString('base64');
    const meId = parseIdentityFile(readFileSync(join(d.dir, 'me.key'), 'utf8'))[0]!;
    const bodies = await Promise.all(Array.from({ length: 20 }, () => withAuth(a.url, '/v1/release', { capsule: once, requester: me }, meId)));
    const all = await Promise.all(bodies.map((b) => post(a.url, '/v1/release', b)));
    assert.is(all.filter((r) => r.status === 200).length, 1, `statuses: ${all.map((r) => r.status)}`);
    assert.ok(all.filter((r) => r.status === 403).every((r) => /opened 1 of 1 times/.test(r.json.reason)));
    // Someone else signs the owner's next check-in message with their own key first: the owner's still counts.
    const dm = readFileSync(join(d.dir, 'dm.capsule')).toString('base64');
    const id = JSON.parse(run(d, ['inspect', 'dm.capsule', '--json']).stdout).id;
    setClock(d, Date.now());
    const status = (await (await fetch(a.url + '/v1/status')).json()) as { now: number };
    const message = new TextEncoder().encode(`capsule-checkin:v1:${id}:${status.now}`);
    const attacker = ed25519.utils.randomSecretKey();
    const forged = {
      kind: 'checkin',
      scheme: 'ed25519',
      signer: Buffer.from(ed25519.getPublicKey(attacker)).toString('hex'),
      message: Buffer.from(message).toString('hex'),
      signature: Buffer.from(ed25519.sign(message, attacker)).toString('hex'),
    };
    const r1 = await post(a.url, '/v1/checkin', { capsule: dm, checkin: forged });
    assert.is(r1.status, 403, "a stranger's check-in is refused (D9: not a key the capsule names)");
    assert.is(r1.json.error.code, 'ERR_FORBIDDEN');
    const ci = run(d, ['checkin', 'dm.capsule', '--guardian', a.url, '--key', 'owner.key']);
    assert.is(ci.code, 0, ci.stderr);
    // A check-in sent as release evidence is ignored (it must come through /v1/checkin).
    const viaRelease = await post(a.url, '/v1/release', { capsule: dm, requester: me, evidence: [forged] });
    assert.is(viaRelease.status, 403);
    assert.not.match(viaRelease.json.reason, /check-in recorded/);
    // A check-in by someone the logic does not recognise: the CLI says it was not recorded (exit 1).
    assertFails(run(d, ['checkin', 'dm.capsule', '--guardian', a.url, '--key', 'other.key']), /is not a key this capsule names/);
    // Approvals from signers the params do not list are not stored (Build 2), and release still decides.
    for (let i = 0; i < 33; i++) {
      const k = ed25519.utils.randomSecretKey();
      const m = new TextEncoder().encode(`capsule-approval:v1:${id}:${me}`);
      const item = {
        kind: 'approval',
        scheme: 'ed25519',
        signer: Buffer.from(ed25519.getPublicKey(k)).toString('hex'),
        message: Buffer.from(m).toString('hex'),
        signature: Buffer.from(ed25519.sign(m, k)).toString('hex'),
      };
      const r = await post(a.url, '/v1/approvals', { capsule: dm, requester: me, approval: item });
      assert.is(r.status, 403, JSON.stringify(r.json));
      assert.is(r.json.error.code, 'ERR_FORBIDDEN');
    }
    assert.is((await post(a.url, '/v1/release', { capsule: dm, requester: me })).status, 403, 'the release still decides (no evidence overflow)');
    // The requester must be exactly as encoded: what is audited is what is encrypted to.
    const spaced = await post(a.url, '/v1/release', { capsule: once, requester: ` ${me}` });
    assert.is(spaced.status, 400);
    assert.match(spaced.json.error.message, /requester: expected the recipient exactly as encoded/);
  } finally {
    await a.stop();
  }
  // The log verifies, pinned to guardian.json's key by default; a line with a duplicate key does not.
  const v = run(d, ['audit', 'verify', '--data-dir', d.data]);
  assert.is(v.code, 0, v.stderr);
  assert.match(v.stdout, /, pinned\)/);
  const path = join(d.data, 'audit.log');
  const lines = readFileSync(path, 'utf8').split('\n');
  writeFileSync(path, lines.map((l, i) => (i === 2 ? l.replace('{', '{"verdict":"allow",') : l)).join('\n'));
  assertFails(run(d, ['audit', 'verify', '--data-dir', d.data]), /audit log line 3: not in the form the guardian writes \(duplicate keys or extra text\)/);
});

function writeConfig(d: Device, c: Record<string, unknown>): string {
  writeFileSync(join(d.dir, 'config.json'), JSON.stringify(c));
  return 'config.json';
}

import { ownerPublicKey as ownerKey } from '../agent/crypto/identity.ts';

test.run();
