/**
 * The audit trail under faults (issue 18 D1, D4, D5), with the real agent over HTTP on 127.0.0.1
 * and the simulator module:
 *  - D1: a really full disk (a small tmpfs as the data directory; needs root) answers 503 ERR_AUDIT,
 *    /v1/status says the audit is failing, and decisions succeed again once space returns, with no
 *    restart; the log then verifies.
 *  - D4: a commit that fails for real (another process holds the database's write lock past the
 *    busy timeout) is answered 503 and voided in the log; a kill -9 between audit and commit is
 *    voided at the next start; the open is not counted either way.
 *  - D5: a restored, deleted or truncated file, an older log, a missing or altered anchor, or a
 *    broken chain stops the start with a typed error; --accept-rollback starts and is audited.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, unlinkSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { BIN } from './helpers/cli.ts';
import { device, init, recipients, run, type Device } from './helpers/guardianDevice.ts';
import { identityOf, provisioned, setClock, startAgent, T, withAuth, type Running } from './helpers/runningAgent.ts';
import { buildPolicy } from '../agent/logic/build.ts';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

// No rate limit and no fuel budget: these tests are about the audit trail, not the scheduler.
const CFG = { ratePerSecond: 0, clientFuelPerMinute: 0 };

type Entry = Record<string, any>;
const entries = (d: Device): Entry[] =>
  readFileSync(join(d.data, 'audit.log'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));

/** A release of `file` for me.key, authenticated; fails the test instead of hanging (D1: a wedge). */
async function release(a: Running, d: Device, file: string): Promise<{ status: number; json: Record<string, any> }> {
  const me = identityOf(d, 'me.key');
  const body = await withAuth(a.url, '/v1/release', { capsule: readFileSync(join(d.dir, file)).toString('base64'), requester: me.recipient }, me);
  const res = await fetch(a.url + '/v1/release', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(20_000),
  });
  return { status: res.status, json: (await res.json()) as Record<string, any> };
}

/**
 * A release of `file` for me.key WITHOUT auth: a decision that changes no logic state needs none, and
 * an authenticated request first stores its nonce in the database (which a full or locked database
 * refuses before any decision is made).
 */
async function plainRelease(a: Running, d: Device, body: Record<string, unknown>): Promise<{ status: number; json: Record<string, any> }> {
  const res = await fetch(a.url + '/v1/release', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ requester: identityOf(d, 'me.key').recipient, ...body }),
    signal: AbortSignal.timeout(20_000),
  });
  return { status: res.status, json: (await res.json()) as Record<string, any> };
}
const capsuleOf = (d: Device, file: string) => ({ capsule: readFileSync(join(d.dir, file)).toString('base64') });

/** `capsule agent` that is expected to refuse to start: its exit code and stderr. */
function startRefused(d: Device, extra: string[] = []): { code: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, 'agent', '--data-dir', d.data, '--listen', '127.0.0.1:0', '--clock', `file:${join(d.dir, 'clock')}`, ...extra], {
    cwd: d.dir,
    env: d.env,
    timeout: 30_000,
  });
  return { code: r.status, stderr: r.stderr.toString() };
}

// ---- D1: a real full disk ----

/** Whether this process may mount a tmpfs (root, mount(8) present, allowed by the container). */
function canMount(): boolean {
  if (process.getuid?.() !== 0) return false;
  const probe = join(device().dir, 'probe');
  mkdirSync(probe);
  const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', probe]);
  if (m.status !== 0) return false;
  spawnSync('umount', [probe]);
  return true;
}
const mountable = canMount();
if (!mountable) console.log('SKIPPED: D1 full-disk test needs root and mount -t tmpfs (not available here)');

(mountable ? test : test.skip)(
  'D1: a full disk answers 503 ERR_AUDIT (never hangs), status says failing, and decisions succeed again when space returns, without a restart; the log verifies',
  async () => {
    const d = device();
    mkdirSync(d.data);
    assert.is(spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=3m,mode=0700', 'tmpfs', d.data]).status, 0);
    let a: Running | undefined;
    try {
      assert.is((await init(d)).code, 0);
      writeFileSync(join(d.dir, 'policy.wasm'), (await buildPolicy('contracts-as/contracts/policy.ts', { cwd: ROOT })).wasm);
      setClock(d, T);
      assert.is(run(d, ['keygen', '-o', 'me.key']).code, 0);
      assert.is(
        run(d, [
          'seal',
          'policy.wasm',
          '--guardian',
          recipients(d).x25519,
          '--logic',
          'policy.wasm',
          '--params',
          `{"timeLock": {"notBefore": ${T + 3_600_000}}}`,
          '-o',
          't.capsule',
        ]).code,
        0,
      );
      a = await startAgent(d, { ...CFG, minFreeBytes: 0 });
      assert.is(run(d, ['logic', 'push', 'policy.wasm', '--guardian', a.url]).code, 0);
      assert.is((await plainRelease(a, d, capsuleOf(d, 't.capsule'))).status, 403);
      // Fill the file system to the last byte.
      const fd = openSync(join(d.data, 'fill'), 'w');
      for (let chunk = 1 << 16; chunk >= 1; chunk >>= 1) {
        try {
          for (;;) writeSync(fd, Buffer.alloc(chunk));
        } catch (e) {
          assert.is((e as NodeJS.ErrnoException).code, 'ENOSPC');
        }
      }
      closeSync(fd);
      // tmpfs allocates whole pages: the log's last page may still take a few entries. Decisions keep
      // being answered (403) until an append really fails; from then on every one is a 503.
      let answered = 0;
      let first = await plainRelease(a, d, capsuleOf(d, 't.capsule'));
      while (first.status === 403 && answered < 100) {
        answered++;
        first = await plainRelease(a, d, capsuleOf(d, 't.capsule'));
      }
      for (let i = 0; i < 3; i++) {
        const r = i === 0 ? first : await plainRelease(a, d, capsuleOf(d, 't.capsule'));
        assert.is(r.status, 503, `after ${answered} answered on the full disk: ${JSON.stringify(r.json)}`);
        assert.is(r.json.error.code, 'ERR_AUDIT');
        assert.is(r.json.error.message, 'audit log: the decision could not be recorded, so it is not answered');
      }
      const failing = (await (await fetch(a.url + '/v1/status')).json()) as Record<string, any>;
      assert.is(failing.auditLog.state, 'failing');
      assert.is(failing.auditLog.code, 'ENOSPC');
      assert.is(failing.status, 'started');
      // Space returns: the next decision is recorded and answered (the log cut its partial batch off).
      unlinkSync(join(d.data, 'fill'));
      const denied = await plainRelease(a, d, capsuleOf(d, 't.capsule'));
      assert.is(denied.status, 403, JSON.stringify(denied.json));
      assert.is(denied.json.receipt.seq, denied.json.audit);
      assert.equal(((await (await fetch(a.url + '/v1/status')).json()) as Record<string, any>).auditLog, { state: 'ok' });
      setClock(d, T + 3_600_000);
      const allowed = await plainRelease(a, d, capsuleOf(d, 't.capsule'));
      assert.is(allowed.status, 200, JSON.stringify(allowed.json));
      assert.is(allowed.json.audit, denied.json.audit + 1, 'the chain continues from the last acknowledged entry');
      assert.is(await a.stop(), 0);
      a = undefined;
      const v = run(d, ['audit', 'verify', '--data-dir', d.data]);
      assert.is(v.code, 0, v.stderr);
    } finally {
      await a?.stop();
      spawnSync('umount', [d.data]);
      rmSync(d.dir, { recursive: true, force: true });
    }
  },
);

// ---- D4: intent, commit, void ----

/** Holds the database's write lock from this process (another writer: the agent's commit waits 5 s, then fails SQLITE_BUSY). */
function holdWriteLock(d: Device): () => void {
  const db = new DatabaseSync(join(d.data, 'agent.sqlite'));
  db.exec('BEGIN IMMEDIATE');
  return () => {
    db.exec('ROLLBACK');
    db.close();
  };
}

test('D4: a commit that fails (database locked past the busy timeout) answers 503, the allow is voided in the log, and nothing is released or registered', async () => {
  const { d, x25519, cleanup } = await provisioned();
  let a: Running | undefined;
  try {
    assert.is(
      run(d, ['seal', 'policy.wasm', '--guardian', x25519, '--logic', 'policy.wasm', '--params', `{"timeLock": {"notBefore": ${T}}}`, '-o', 't.capsule']).code,
      0,
    );
    a = await startAgent(d, CFG);
    assert.is(run(d, ['logic', 'push', 'policy.wasm', '--guardian', a.url]).code, 0);
    const unlock = holdWriteLock(d);
    let r;
    try {
      r = await plainRelease(a, d, capsuleOf(d, 't.capsule'));
    } finally {
      unlock();
    }
    assert.is(r.status, 503, JSON.stringify(r.json));
    assert.is(r.json.error.code, 'ERR_STORE_BUSY');
    assert.match(r.json.error.message, /^database: cannot (begin a transaction|commit|write): it is locked by another process \(SQLITE_BUSY\)$/);
    assert.not.ok('answer' in r.json, 'no key is released');
    const log = entries(d);
    const intent = log.find((e) => e.kind === 'release' && e.verdict === 'allow')!;
    assert.is(intent.commit, true);
    const voided = log.find((e) => e.kind === 'void' && e.ref === intent.seq)!;
    assert.ok(voided, 'a void entry follows the allow whose commit failed');
    assert.is(voided.reason, 'ERR_STORE_BUSY');
    assert.is(r.json.receipt.seq, voided.seq, "the 503 carries the void entry's receipt");
    // The commit did not happen: the capsule was never registered (known by id only after a commit).
    const byId = await plainRelease(a, d, { id: intent.capsule });
    assert.is(byId.status, 404, JSON.stringify(byId.json));
    assert.is(byId.json.error.code, 'ERR_NOT_FOUND');
    // And the next attempt, with the database free, is recorded and committed.
    const again = await plainRelease(a, d, capsuleOf(d, 't.capsule'));
    assert.is(again.status, 200, JSON.stringify(again.json));
    assert.is((await plainRelease(a, d, { id: intent.capsule })).status, 200);
    assert.is(await a.stop(), 0);
    a = undefined;
    const v = run(d, ['audit', 'verify', '--data-dir', d.data, '--replay']);
    assert.is(v.code, 0, v.stderr);
  } finally {
    await a?.stop();
    cleanup();
  }
});

test('D4: kill -9 between the audit entry and the commit: the next start voids the intent, and the commit never happened', async () => {
  const { d, x25519, cleanup } = await provisioned();
  let a: Running | undefined;
  try {
    assert.is(
      run(d, ['seal', 'policy.wasm', '--guardian', x25519, '--logic', 'policy.wasm', '--params', `{"timeLock": {"notBefore": ${T}}}`, '-o', 't.capsule']).code,
      0,
    );
    a = await startAgent(d, CFG);
    assert.is(run(d, ['logic', 'push', 'policy.wasm', '--guardian', a.url]).code, 0);
    const unlock = holdWriteLock(d);
    const pending = plainRelease(a, d, capsuleOf(d, 't.capsule')).catch((e) => e);
    try {
      // The intent is on disk and the commit is waiting for the lock: kill the agent now.
      const until = Date.now() + 30_000;
      while (!entries(d).some((e) => e.kind === 'release' && e.commit === true)) {
        assert.ok(Date.now() < until, 'the intent entry never appeared');
        await new Promise((r) => setTimeout(r, 20));
      }
      process.kill(a.pid, 'SIGKILL');
      await pending;
    } finally {
      unlock();
    }
    a = undefined;
    const intent = entries(d).find((e) => e.kind === 'release' && e.commit === true)!;
    assert.not.ok(entries(d).some((e) => e.kind === 'void'));
    a = await startAgent(d, CFG);
    const voided = entries(d).find((e) => e.kind === 'void' && e.ref === intent.seq);
    assert.ok(voided, 'the start voided the intent whose commit never happened');
    assert.is(voided!.reason, 'ERR_NOT_COMMITTED');
    assert.match(a.log(), new RegExp(`"event":"intents-voided","seqs":\\[${intent.seq}\\]`));
    assert.is((await plainRelease(a, d, { id: intent.capsule })).status, 404, 'the capsule was never registered');
    assert.is(await a.stop(), 0);
    a = undefined;
    assert.is(run(d, ['audit', 'verify', '--data-dir', d.data]).code, 0);
  } finally {
    await a?.stop();
    cleanup();
  }
});

// ---- D5: rollback ----

/** A guardian that made counted decisions (maxOpens 3): two opens, a snapshot of its files, one more open. */
async function withHistory(): Promise<{ d: Device; cleanup(): void; snapshot: string }> {
  const { d, x25519, cleanup } = await provisioned();
  let a: Running | undefined;
  try {
    assert.is(
      run(d, ['seal', 'policy.wasm', '--guardian', x25519, '--logic', 'policy.wasm', '--params', '{"expiry": {"maxOpens": 3}}', '-o', 'c.capsule']).code,
      0,
    );
    a = await startAgent(d, CFG);
    assert.is(run(d, ['logic', 'push', 'policy.wasm', '--guardian', a.url]).code, 0);
    for (let i = 0; i < 2; i++) assert.is((await release(a, d, 'c.capsule')).status, 200);
    assert.is(await a.stop(), 0);
    const snapshot = join(d.dir, 'snapshot');
    mkdirSync(snapshot);
    for (const f of ['agent.sqlite', 'audit.log', 'anchor']) copyFileSync(join(d.data, f), join(snapshot, f));
    a = await startAgent(d, CFG);
    assert.is((await release(a, d, 'c.capsule')).status, 200);
    assert.is((await release(a, d, 'c.capsule')).status, 403, 'the three opens are spent');
    assert.is(await a.stop(), 0);
    a = undefined;
    return { d, cleanup, snapshot };
  } catch (e) {
    await a?.stop();
    cleanup();
    throw e;
  }
}

const refuses = (d: Device, message: RegExp) => {
  const r = startRefused(d);
  assert.is(r.code, 1, r.stderr);
  assert.match(r.stderr, message);
  assert.match(r.stderr, /capsule: hint: /);
};

test('D5: a restored older agent.sqlite, or a deleted one, is refused at start (the open counters would reset)', async () => {
  const { d, cleanup, snapshot } = await withHistory();
  try {
    const db = join(d.data, 'agent.sqlite');
    for (const f of ['-wal', '-shm']) rmSync(db + f, { force: true });
    copyFileSync(join(snapshot, 'agent.sqlite'), db);
    refuses(
      d,
      /capsule: error: rollback: the database is at state generation 2, but the anchor records 3 \(agent\.sqlite was restored from an older copy or deleted\)/,
    );
    rmSync(db);
    refuses(d, /capsule: error: rollback: the database is at state generation 0, but the anchor records 3/);
  } finally {
    cleanup();
  }
});

test('D5: a truncated audit log, an older copy of it, or a deleted one is refused at start', async () => {
  const { d, cleanup, snapshot } = await withHistory();
  try {
    const path = join(d.data, 'audit.log');
    const full = readFileSync(path, 'utf8');
    const lines = full.trim().split('\n');
    writeFileSync(path, lines.slice(0, -2).join('\n') + '\n');
    refuses(
      d,
      new RegExp(
        `capsule: error: rollback: the audit log ends at entry ${lines.length - 3}, but the anchor records entry \\d+ \\(the log was truncated or replaced by an older copy\\)`,
      ),
    );
    copyFileSync(join(snapshot, 'audit.log'), path);
    refuses(d, /capsule: error: rollback: the audit log ends at entry \d+, but the anchor records entry \d+/);
    rmSync(path);
    refuses(d, /capsule: error: rollback: the audit log ends at entry 0, but the anchor records entry \d+/);
    writeFileSync(path, full);
    // A broken chain (an entry altered in the middle) is refused before anything else.
    writeFileSync(path, lines.map((l, i) => (i === 2 ? l.replace('"verdict":"allow"', '"verdict":"deny"') : l)).join('\n') + '\n');
    refuses(d, /capsule: error: audit log .*audit\.log line 4: prev does not match the previous entry/);
    writeFileSync(path, full);
    const ok = await startAgent(d, CFG);
    assert.is(await ok.stop(), 0, 'the intact files start');
  } finally {
    cleanup();
  }
});

test('D5: a deleted or altered anchor is refused; --accept-rollback starts, records an override entry, and re-establishes the anchor', async () => {
  const { d, cleanup, snapshot } = await withHistory();
  try {
    const anchor = join(d.data, 'anchor');
    const blob = readFileSync(anchor);
    rmSync(anchor);
    refuses(d, /capsule: error: rollback: the anchor \(module-locked file .*anchor\) is missing, but the audit log or database says one was established/);
    const flipped = Buffer.from(blob);
    flipped[flipped.length - 5]! ^= 1;
    writeFileSync(anchor, flipped);
    refuses(d, /capsule: error: rollback anchor .*anchor: the module refuses it \(altered, or written on another device\)/);
    writeFileSync(anchor, blob);
    // The operator restores the older database on purpose and accepts it: audited.
    const db = join(d.data, 'agent.sqlite');
    for (const f of ['-wal', '-shm']) rmSync(db + f, { force: true });
    copyFileSync(join(snapshot, 'agent.sqlite'), db);
    const a = await startAgent(d, CFG, ['--accept-rollback']);
    assert.match(a.log(), /"event":"rollback-accepted","found":"ERR_ROLLBACK"/);
    assert.is((await fetch(a.url + '/v1/status')).status, 200);
    await a.stop();
    const log = entries(d);
    const override = log.find((e) => e.kind === 'override')!;
    assert.is(override.found, 'ERR_ROLLBACK');
    assert.match(override.message, /^rollback: the database is at state generation 2, but the anchor records 3/);
    assert.is(override.generation, 2);
    assert.ok(log.some((e) => e.kind === 'anchor' && e.established === 'override' && e.seq > override.seq));
    assert.is(run(d, ['audit', 'verify', '--data-dir', d.data]).code, 0);
    // Re-established: the next start is clean without the flag.
    const again = await startAgent(d, CFG);
    assert.is(await again.stop(), 0);
    assert.ok(existsSync(anchor));
  } finally {
    cleanup();
  }
});

test.run();
