/**
 * The agent's storage under abuse (issue 18): capsule-id squatting (D2), disk exhaustion by a
 * stranger (D3: bounded audit entries, module quota, free-space reserve), disk-full errors (D7:
 * typed, no paths, 503, healing without a restart, a clear start failure) and file modes (D9).
 *
 * Real parts: `capsule agent` as a process over HTTP on 127.0.0.1, the Zymbit simulator, the policy
 * contract compiled with asc in the real sandbox, capsules sealed with CapsuleSealer (the squatter's
 * with the genuine capsule's id), and a real small file system (a tmpfs mounted as root) for the
 * disk tests: where mounting is impossible they print `SKIPPED:` and do not pass silently.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  statfsSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DatabaseSync } from 'node:sqlite';
import { ed25519 } from '@noble/curves/ed25519.js';
import { Decrypter } from 'age-encryption';
import { CapsuleSealer } from '../agent/capsule/CapsuleSealer.ts';
import { openWithKey } from '../agent/capsule/open.ts';
import { encodeIdentity, generateIdentity, type Identity } from '../agent/crypto/identity.ts';
import { encodeCanonical } from '../agent/format/cbor.ts';
import { buildPolicy } from '../agent/logic/build.ts';
import { present } from '../agent/daemon/present.ts';
import { Store } from '../agent/daemon/Store.ts';
import { BIN } from './helpers/cli.ts';
import { device, init, recipients, run, type Device } from './helpers/guardianDevice.ts';
import { statusOf } from '../agent/daemon/statusByCode.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const T = 1_893_456_000_000; // 2030-01-01T00:00:00Z
let policy: Uint8Array | undefined;
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

interface Running {
  url: string;
  stop(): Promise<number | null>;
  log: () => string;
}

async function startAgent(d: Device, config?: Record<string, unknown>): Promise<Running> {
  const extra: string[] = [];
  if (config) {
    writeFileSync(join(d.dir, 'agent.json'), JSON.stringify(config));
    extra.push('--config', join(d.dir, 'agent.json'));
  }
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
    log: () => log,
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

/** A provisioned guardian (simulator) whose data directory is `data` (default: in its own temp dir). */
async function provisioned(data?: string): Promise<{ d: Device; guardian: string; logic: Uint8Array }> {
  const d0 = device();
  const d = data ? { ...d0, data } : d0;
  const r = await init(d);
  assert.is(r.code, 0, r.stderr);
  policy ??= (await buildPolicy('contracts-as/contracts/policy.ts', { cwd: ROOT })).wasm;
  writeFileSync(join(d.dir, 'policy.wasm'), policy);
  writeFileSync(join(d.dir, 'clock'), String(T));
  return { d, guardian: recipients(d).x25519, logic: createHash('sha256').update(policy).digest() };
}

/** Seals `plain` to the guardian; `id` forces the capsule id (a squatter copies a published one). */
async function seal(guardian: string, logic: Uint8Array, params: unknown, plain: Uint8Array, id?: Uint8Array): Promise<Buffer> {
  let first = true;
  const random = id
    ? (n: number) => {
        if (first) {
          first = false;
          return Uint8Array.from(id);
        }
        return randomBytes(n);
      }
    : undefined;
  const s = new CapsuleSealer({
    recipients: [guardian],
    logic: { hash: logic, params: encodeCanonical(params) },
    created: new Date(T - 3_600_000),
    ...(random ? { random } : {}),
  });
  const head = s.begin(plain.length, s.payloadDigest().update(plain).digest());
  return Buffer.concat([head, ...s.push(plain), ...s.end()]);
}

async function post(url: string, path: string, body: unknown): Promise<{ status: number; json: Record<string, any> }> {
  const res = await fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Record<string, any> };
}

async function push(url: string, module: Uint8Array): Promise<{ status: number; json: Record<string, any> }> {
  const res = await fetch(url + '/v1/modules', { method: 'POST', headers: { 'content-type': 'application/wasm' }, body: new Uint8Array(module) });
  return { status: res.status, json: (await res.json()) as Record<string, any> };
}

function checkin(key: Uint8Array, id: string, at: number) {
  const message = new TextEncoder().encode(`capsule-checkin:v1:${id}:${at}`);
  return { kind: 'checkin', scheme: 'ed25519', signer: hex(ed25519.getPublicKey(key)), message: hex(message), signature: hex(ed25519.sign(message, key)) };
}

async function fileKeyOf(answer: string, me: Identity): Promise<Uint8Array> {
  const dec = new Decrypter();
  dec.addIdentity(encodeIdentity(me.secretKey));
  return dec.decrypt(Buffer.from(answer, 'base64'));
}

/** The state keys the agent holds for one capsule key (read-only, beside the running agent). */
function stateRows(d: Device, capsule: string): string[] {
  const db = new DatabaseSync(join(d.data, 'agent.sqlite'), { readOnly: true });
  try {
    return (db.prepare('SELECT key FROM state WHERE capsule = ?').all(capsule) as { key: string }[]).map((r) => Buffer.from(r.key, 'hex').toString()); // keys are hex
  } finally {
    db.close();
  }
}

test("D2: a squatter capsule sealed with the genuine capsule's id and registered first changes nothing for the genuine one", async () => {
  const { d, guardian, logic } = await provisioned();
  const me = generateIdentity();
  const owner = ed25519.utils.randomSecretKey();
  const squatter = ed25519.utils.randomSecretKey();
  const plain = randomBytes(5000);
  // Dead man: opens to me after 60 s of owner silence; a check-in (the counted state) resets it.
  const genuine = await seal(
    guardian,
    logic,
    { deadMan: { owner: hex(ed25519.getPublicKey(owner)), beneficiaries: [me.recipient], silenceMs: 60_000 } },
    plain,
  );
  const g = present(genuine);
  // The squatter copies the id (public: it is in the capsule) and seals its own capsule to the
  // same guardian (its recipient is public), with logic it controls.
  const fake = await seal(
    guardian,
    logic,
    { deadMan: { owner: hex(ed25519.getPublicKey(squatter)), beneficiaries: [me.recipient], silenceMs: 60_000 } },
    randomBytes(100),
    g.parsed.header.id,
  );
  const s = present(fake);
  assert.is(s.id, g.id, 'same id');
  assert.is.not(s.headerHash, g.headerHash);
  const a = await startAgent(d);
  try {
    const pushed = run(d, ['logic', 'push', 'policy.wasm', '--guardian', a.url]);
    assert.is(pushed.code, 0, pushed.stderr);
    // The squatter registers first: a check-in on its capsule (its own key, accepted: it names it).
    const sq = await post(a.url, '/v1/checkin', { capsule: fake.toString('base64'), checkin: checkin(squatter, s.id, T - 1000) });
    assert.is(sq.status, 200, JSON.stringify(sq.json));
    assert.is(sq.json.recorded, true);
    assert.equal(stateRows(d, s.headerHash), ['lastCheckin'], "the squatter's capsule has its own state");
    // The genuine capsule still releases (it was 409 ERR_HEADER_MISMATCH forever), its key opens it,
    // and the squatter's check-in did not reach its state.
    const r = await post(a.url, '/v1/release', { capsule: genuine.toString('base64'), requester: me.recipient });
    assert.is(r.status, 200, JSON.stringify(r.json));
    assert.is(r.json.verdict, 'allow');
    const key = await fileKeyOf(r.json.answer, me);
    const chunks: Buffer[] = [];
    for await (const c of openWithKey(genuine, () => Uint8Array.from(key))) chunks.push(c as Buffer);
    assert.ok(Buffer.concat(chunks).equals(plain), 'the released key opens the genuine capsule');
    assert.equal(stateRows(d, g.headerHash), [], "the genuine capsule's state is untouched");
    // Its own owner's check-in counts for it alone: now it denies, and the squatter's state is as it was.
    const own = await post(a.url, '/v1/checkin', { capsule: genuine.toString('base64'), checkin: checkin(owner, g.id, T - 500) });
    assert.is(own.status, 200, JSON.stringify(own.json));
    const denied = await post(a.url, '/v1/release', { capsule: genuine.toString('base64'), requester: me.recipient });
    assert.is(denied.status, 403, JSON.stringify(denied.json));
    assert.match(denied.json.reason, /owner active/);
    assert.equal(stateRows(d, g.headerHash), ['lastCheckin']);
    // A bare id now names two capsules: refused with a clear 409; the header hash picks one.
    const byId = await post(a.url, '/v1/release', { id: g.id, requester: me.recipient });
    assert.is(byId.status, 409);
    assert.is(byId.json.error.code, 'ERR_AMBIGUOUS_ID');
    assert.match(byId.json.error.message, new RegExp(`^capsule ${g.id}: several capsules with this id are registered here`));
    assert.match(byId.json.error.hint, /header hash \(body\.header/);
    for (const [h, at] of [
      [g.headerHash, T - 500],
      [s.headerHash, T - 1000],
    ] as const) {
      const byHeader = await post(a.url, '/v1/release', { header: h, requester: me.recipient });
      assert.is(byHeader.status, 403, JSON.stringify(byHeader.json));
      assert.match(byHeader.json.reason, new RegExp(`^owner active at ${at} `), 'each capsule decides on its own check-ins');
    }
    const unknown = await post(a.url, '/v1/release', { header: '0'.repeat(64), requester: me.recipient });
    assert.is(unknown.status, 404);
    assert.is(unknown.json.error.code, 'ERR_NOT_FOUND');
    assert.match(unknown.json.error.message, /^capsule with header hash 0{64}: unknown to this guardian$/);
  } finally {
    assert.is(await a.stop(), 0);
  }
  const v = run(d, ['audit', 'verify', '--data-dir', d.data, '--replay']);
  assert.is(v.code, 0, v.stderr);
  rmSync(d.dir, { recursive: true, force: true });
});

test('D2: a version-1 database (registry keyed by id) is migrated in place: capsules, state, approvals and CIDs kept, re-keyed by header hash', () => {
  const dir = mkdtempSync(join(tmpdir(), 'store-v1-'));
  try {
    const path = join(dir, 'agent.sqlite');
    const old = new DatabaseSync(path);
    // The schema of the version before `meta` (git show dd3b00d:agent/daemon/Store.ts).
    old.exec(`
CREATE TABLE capsules (id TEXT PRIMARY KEY, header_hash TEXT NOT NULL, logic TEXT NOT NULL, prefix BLOB NOT NULL, registered INTEGER NOT NULL);
CREATE TABLE state (capsule TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, PRIMARY KEY (capsule, key));
CREATE TABLE approvals (capsule TEXT NOT NULL, requester TEXT NOT NULL, scheme TEXT NOT NULL, signer TEXT NOT NULL, message BLOB NOT NULL, signature BLOB NOT NULL, received INTEGER NOT NULL, PRIMARY KEY (capsule, requester, signer));
CREATE TABLE replay (digest TEXT PRIMARY KEY, expires INTEGER NOT NULL);
CREATE TABLE cids (cid TEXT PRIMARY KEY, capsule TEXT NOT NULL, header_hash TEXT NOT NULL, logic TEXT, source TEXT NOT NULL, size INTEGER NOT NULL, added INTEGER NOT NULL);`);
    const id = 'ab'.repeat(16);
    const hh = 'cd'.repeat(32);
    old.prepare('INSERT INTO capsules VALUES (?, ?, ?, ?, ?)').run(id, hh, 'ef'.repeat(32), Uint8Array.of(1, 2, 3), 5);
    old.prepare('INSERT INTO state VALUES (?, ?, ?)').run(id, 'opens', Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 2));
    old.prepare('INSERT INTO state VALUES (?, ?, ?)').run('sign:00', 'count', Uint8Array.of(7));
    old.prepare('INSERT INTO approvals VALUES (?, ?, ?, ?, ?, ?, ?)').run(id, 'age1me', 'ed25519', '11'.repeat(32), Uint8Array.of(9), Uint8Array.of(8), 6);
    old.prepare('INSERT INTO replay VALUES (?, ?)').run('22'.repeat(32), 10);
    old.prepare('INSERT INTO cids VALUES (?, ?, ?, ?, ?, ?, ?)').run('bafyx', id, hh, null, 'release', 1234, 7);
    old.close();
    chmodSync(path, 0o644);
    const store = Store.open(path);
    try {
      assert.is(store.schemaVersion, 2);
      assert.equal(store.capsule(hh), { id, headerHash: hh, logic: 'ef'.repeat(32), prefix: Uint8Array.of(1, 2, 3) });
      assert.is(store.capsulesWithId(id).length, 1);
      assert.equal([...store.state(hh)], [['opens', Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 2)]], 'state moved to the header hash');
      assert.is(store.state(id).size, 0);
      assert.equal([...store.state('sign:00')], [['count', Uint8Array.of(7)]], 'signing-slot state untouched');
      assert.is(store.approvalCount(hh, 'age1me'), 1);
      assert.is(store.seen('22'.repeat(32), 1), true);
      assert.equal(store.cid('bafyx'), { cid: 'bafyx', capsule: id, headerHash: hh, logic: null, source: 'release', size: 1234 });
      // A second header with the same id is its own capsule now; the id becomes ambiguous.
      store.transaction(() => store.putCapsule({ id, headerHash: '99'.repeat(32), logic: 'ef'.repeat(32), prefix: Uint8Array.of(4) }, 8));
      assert.is(store.capsulesWithId(id).length, 2);
      assert.equal(store.capsule(hh)!.prefix, Uint8Array.of(1, 2, 3), 'the first is unchanged');
    } finally {
      store.close();
    }
    assert.is(statSync(path).mode & 0o777, 0o600, 'D9: an older 0644 database is made 0600');
    // Opening again is idempotent; a newer schema is refused with a typed error.
    Store.open(path).close();
    const db = new DatabaseSync(path);
    db.prepare("UPDATE meta SET value = '3' WHERE key = 'schema'").run();
    db.close();
    try {
      Store.open(path).close();
      assert.unreachable('a newer schema must be refused');
    } catch (e) {
      assert.is((e as { name: string }).name, 'StoreError');
      assert.is((e as { code: string }).code, 'ERR_STORE');
      assert.match((e as Error).message, /^database: schema version 3 is newer than this agent's \(2\)$/);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('D7: a database locked by another process is a typed StoreError ERR_STORE_BUSY (503), and works again once the lock is gone', () => {
  const dir = mkdtempSync(join(tmpdir(), 'store-busy-'));
  const store = Store.open(join(dir, 'agent.sqlite'));
  const other = new DatabaseSync(join(dir, 'agent.sqlite'), { timeout: 0 });
  try {
    other.exec('BEGIN IMMEDIATE'); // another writer holds the lock (Store waits 5 s for it)
    try {
      store.transaction(() => store.putState('ab'.repeat(32), new Map([['k', Uint8Array.of(1)]]), ['k']));
      assert.unreachable('the write must not pass the lock');
    } catch (e) {
      assert.is((e as { name: string }).name, 'StoreError');
      assert.is((e as { code: string }).code, 'ERR_STORE_BUSY');
      assert.match((e as Error).message, /^database: cannot begin a transaction: it is locked by another process \(SQLITE_BUSY\)$/);
      assert.match((e as { hint: string }).hint, /only one agent may use a data directory/);
    }
    other.exec('ROLLBACK');
    store.transaction(() => store.putState('ab'.repeat(32), new Map([['k', Uint8Array.of(1)]]), ['k']));
    assert.equal([...store.state('ab'.repeat(32))], [['k', Uint8Array.of(1)]]);
  } finally {
    other.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A tmpfs of `size` bytes mounted on a new directory, or undefined (printed SKIPPED) where mounting is impossible. */
function tmpfs(size: number, name: string): { dir: string; umount(): void } | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'store-tmpfs-'));
  const m = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir]);
  if (m.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    console.log(`SKIPPED: ${name}: cannot mount a tmpfs (${m.stderr.toString().trim() || `exit ${m.status}`}); needs root`);
    return undefined;
  }
  return {
    dir,
    umount: () => {
      spawnSync('umount', ['-l', dir]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const free = (dir: string) => {
  const s = statfsSync(dir);
  return s.bavail * s.bsize;
};

/** Fills the file system holding `dir` (a file `fill` that takes every free block); returns its path. */
function fillDisk(dir: string): string {
  const path = join(dir, 'fill');
  const fd = openSync(path, 'w');
  const block = Buffer.alloc(64 * 1024, 1);
  try {
    for (;;) {
      try {
        writeSync(fd, block);
      } catch {
        // ENOSPC: now write the last partial blocks
        try {
          for (;;) writeSync(fd, block.subarray(0, 512));
        } catch {
          break;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return path;
}

/** A valid module of about `size` bytes, distinct per `n`: the policy with a custom section of padding. */
function paddedModule(n: number, size: number): Uint8Array {
  const payload = Buffer.concat([Buffer.from([3]), Buffer.from('pad'), Buffer.alloc(4, 0), Buffer.alloc(size, n % 251)]);
  payload.writeUInt32LE(n, 4);
  const len: number[] = [];
  for (let v = payload.length; ; v >>>= 7) {
    if (v < 0x80) {
      len.push(v);
      break;
    }
    len.push((v & 0x7f) | 0x80);
  }
  return Buffer.concat([policy!, Buffer.from([0, ...len]), payload]);
}

test('D3: a flood of oversized requests and module pushes cannot fill a small data disk; each refused request writes ~1 KB, not its body', async () => {
  const fs = tmpfs(6 * 2 ** 20, 'D3 flood');
  if (!fs) return;
  let a: Running | undefined;
  try {
    const { d, guardian, logic } = await provisioned(join(fs.dir, 'data'));
    const me = generateIdentity();
    const capsule = await seal(guardian, logic, { timeLock: { notBefore: T + 3_600_000 } }, randomBytes(100));
    a = await startAgent(d, { minFreeBytes: 2 * 2 ** 20, maxModuleStoreBytes: 64 * 2 ** 20, maxModules: 100 });
    assert.is(run(d, ['logic', 'push', 'policy.wasm', '--guardian', a.url]).code, 0);
    // Oversized: 50 evidence items of 2 KiB messages: ~110 KB of CBOR, above the sandbox's 64 KiB input limit.
    const big = Array.from({ length: 50 }, () => ({
      kind: 'approval',
      scheme: 'ed25519',
      signer: hex(randomBytes(32)),
      message: hex(randomBytes(2048)),
      signature: hex(randomBytes(64)),
    }));
    const body = { capsule: capsule.toString('base64'), requester: me.recipient, evidence: big };
    const audit = join(d.data, 'audit.log');
    const before = statSync(audit).size;
    const N = 100;
    for (let i = 0; i < N; i++) {
      const r = await post(a.url, '/v1/release', body);
      assert.is(r.status, 422, JSON.stringify(r.json));
      assert.is(r.json.error.code, 'ERR_LIMIT');
    }
    const perRequest = (statSync(audit).size - before) / N;
    console.log(`D3 figures: ${JSON.stringify(JSON.stringify(body).length)} request bytes; ${perRequest.toFixed(0)} audit bytes written per refused request`);
    assert.ok(perRequest < 2048, `audit bytes per refused oversized request: ${perRequest}`);
    // The entry commits to the input by digest and size.
    const last = JSON.parse(readFileSync(audit, 'utf8').trim().split('\n').pop()!);
    assert.is(last.verdict, 'error');
    assert.is(last.error, 'ERR_LIMIT');
    assert.is(last.input, undefined);
    assert.match(last.inputDigest, /^[0-9a-f]{64}$/);
    assert.ok(last.inputBytes > 200_000, `inputBytes ${last.inputBytes}`);
    // Module pushes of ~1 MB each (quota set high here): the free-space reserve (2 MiB) stops them.
    let stored = 0;
    for (let i = 0; i < 20; i++) {
      const m = paddedModule(i, 990_000);
      const r = await push(a.url, m);
      if (r.status === 201) {
        stored++;
        continue;
      }
      assert.is(r.status, 507, JSON.stringify(r.json));
      assert.is(r.json.error.code, 'ERR_DISK_FULL');
      assert.match(
        r.json.error.message,
        new RegExp(
          `^module [0-9a-f]{64}: refused: the guardian's disk has \\d+ bytes free, and ${m.length} more would leave less than its reserve of 2097152 bytes \\(kept for decisions and the audit log\\)$`,
        ),
      );
      assert.match(r.json.error.hint, /lower minFreeBytes/);
    }
    assert.ok(stored >= 1 && stored <= 4, `modules stored before the reserve: ${stored}`);
    assert.ok(free(fs.dir) >= 2 * 2 ** 20, `free after the module flood: ${free(fs.dir)}`);
    // The oversized flood goes on with the disk 40 KB above the reserve: ~50 more entries fit, then
    // unauthenticated requests are refused before anything is written, and the reserve holds.
    const filler = join(fs.dir, 'filler');
    writeFileSync(filler, Buffer.alloc(Math.max(0, free(fs.dir) - 2 * 2 ** 20 - 40 * 1024)));
    const statuses: number[] = [];
    for (let i = 0; i < 150; i++) {
      const r = await post(a.url, '/v1/release', body);
      statuses.push(r.status);
      if (r.status === 507) {
        assert.is(r.json.error.code, 'ERR_DISK_FULL');
        assert.match(
          r.json.error.message,
          new RegExp(
            `^capsule ${present(capsule).id}: a decision for an unauthenticated requester: refused: the guardian's disk has \\d+ bytes free, less than its reserve of 2097152 bytes \\(kept for decisions and the audit log\\)$`,
          ),
        );
      } else assert.is(r.status, 422, JSON.stringify(r.json));
    }
    const firstRefused = statuses.indexOf(507);
    assert.ok(firstRefused > 10 && firstRefused < 100, `audited before the reserve: ${firstRefused} (${statuses.join(',')})`);
    // At the boundary the free space flickers by a page (the anchor is rewritten through a temporary
    // file after each decision), so requests that find the page free are still audited until the log
    // itself crosses the reserve: at ~700 bytes an entry, a 4 KiB page holds ~6, so at most two pages'
    // worth (12) may follow the first refusal; after that every stranger is refused. What must hold is
    // the reserve (checked below) and that the refusals become permanent.
    const after = statuses.slice(firstRefused).filter((x) => x === 422).length;
    assert.ok(after <= 12, `once below the reserve, strangers' requests are refused: ${after} more were audited (${statuses.join(',')})`);
    assert.ok(
      statuses.slice(-40).every((x) => x === 507),
      `the last 40 requests were all refused (${statuses.join(',')})`,
    );
    assert.ok(free(fs.dir) >= 2 * 2 ** 20 - 8192, `free after the flood: ${free(fs.dir)}`);
    // Nor can a stranger register new capsules of its own below the reserve (each would keep up to ~128 KiB).
    const key = ed25519.utils.randomSecretKey();
    const own = await seal(
      guardian,
      logic,
      { deadMan: { owner: hex(ed25519.getPublicKey(key)), beneficiaries: [me.recipient], silenceMs: 1 } },
      randomBytes(60_000),
    );
    const reg = await post(a.url, '/v1/checkin', { capsule: own.toString('base64'), checkin: checkin(key, present(own).id, T - 10) });
    assert.is(reg.status, 507, JSON.stringify(reg.json));
    assert.is(reg.json.error.code, 'ERR_DISK_FULL');
    assert.match(
      reg.json.error.message,
      new RegExp(
        `^capsule ${present(own).id}: a decision that would register it: refused: the guardian's disk has \\d+ bytes free, and \\d+ more would leave less than its reserve of 2097152 bytes`,
      ),
    );
    assert.ok(free(fs.dir) >= 2 * 2 ** 20 - 8192, `free after the flood: ${free(fs.dir)}`);
    // Space returns: decisions for anyone again.
    rmSync(filler);
    writeFileSync(join(d.dir, 'clock'), String(T + 3_600_000));
    const ok = await post(a.url, '/v1/release', { capsule: capsule.toString('base64'), requester: me.recipient });
    assert.is(ok.status, 200, JSON.stringify(ok.json));
    assert.is(await a.stop(), 0);
    a = undefined;
    const v = run(d, ['audit', 'verify', '--data-dir', d.data, '--replay']);
    assert.is(v.code, 0, v.stderr);
    rmSync(d.dir, { recursive: true, force: true });
  } finally {
    await a?.stop();
    fs.umount();
  }
});

test('D3: the module store has a quota (count and bytes, 507 ERR_QUOTA), counted from the disk after a restart', async () => {
  policy ??= (await buildPolicy('contracts-as/contracts/policy.ts', { cwd: ROOT })).wasm;
  const { ModuleStore } = await import('../agent/daemon/ModuleStore.ts');
  const dir = mkdtempSync(join(tmpdir(), 'modules-'));
  try {
    const one = new ModuleStore(dir, { maxModules: 2, maxBytes: 10 * 2 ** 20 });
    await one.add(paddedModule(1, 10_000));
    await one.add(paddedModule(1, 10_000)); // the same module again: no new space
    await one.add(paddedModule(2, 10_000));
    const third = paddedModule(3, 10_000);
    const h3 = createHash('sha256').update(third).digest('hex');
    await rejects(
      () => one.add(third),
      'ERR_QUOTA',
      new RegExp(`^module ${h3}: the module store holds 2 modules, the most this guardian keeps \\(maxModules 2\\)$`),
    );
    // A new store over the same directory (an agent restart) counts what is there.
    const bytes = paddedModule(1, 10_000).length + paddedModule(2, 10_000).length;
    const two = new ModuleStore(dir, { maxModules: 10, maxBytes: bytes + 5000 });
    assert.equal(await two.usage(), { bytes, count: 2 });
    await rejects(
      () => two.add(third),
      'ERR_QUOTA',
      new RegExp(`^module ${h3}: ${third.length} bytes would take the module store to ${bytes + third.length}, above maxModuleStoreBytes ${bytes + 5000}$`),
    );
    assert.is(readdirSync(dir).length, 2, 'nothing else written');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

async function rejects(fn: () => Promise<unknown>, code: string, message: RegExp): Promise<void> {
  try {
    await fn();
  } catch (e) {
    assert.is((e as { code?: string }).code, code, String(e));
    assert.is(statusOf((e as { code: string }).code), 507);
    assert.match((e as Error).message, message);
    return;
  }
  assert.unreachable(`expected ${code}`);
}

test('D7: a full disk answers 503 with a typed code and no paths, and the agent recovers by itself when space returns', async () => {
  const fs = tmpfs(4 * 2 ** 20, 'D7 full disk');
  if (!fs) return;
  let a: Running | undefined;
  try {
    const { d, guardian, logic } = await provisioned(join(fs.dir, 'data'));
    const approver = ed25519.utils.randomSecretKey();
    const me = generateIdentity();
    const params = { mOfN: { threshold: 2, approvers: [{ scheme: 'ed25519', key: hex(ed25519.getPublicKey(approver)) }] } };
    const capsules = await Promise.all(Array.from({ length: 40 }, () => seal(guardian, logic, params, randomBytes(100))));
    a = await startAgent(d, { minFreeBytes: 0 }); // no reserve: the disk really fills
    assert.is(run(d, ['logic', 'push', 'policy.wasm', '--guardian', a.url]).code, 0);
    const approve = (c: Buffer) => {
      const p = present(c);
      const message = new TextEncoder().encode(`capsule-approval:v1:${p.id}:${me.recipient}`);
      return post(a!.url, '/v1/approvals', {
        capsule: c.toString('base64'),
        requester: me.recipient,
        approval: {
          kind: 'approval',
          scheme: 'ed25519',
          signer: hex(ed25519.getPublicKey(approver)),
          message: hex(message),
          signature: hex(ed25519.sign(message, approver)),
        },
      });
    };
    assert.is((await approve(capsules[0]!)).status, 201);
    const filler = fillDisk(fs.dir);
    // A module write: 503 ERR_STORE_FULL, the client sees no path; the agent's log has it.
    const m = await push(a.url, paddedModule(1, 300_000));
    assert.is(m.status, 503, JSON.stringify(m.json));
    assert.is(m.json.error.code, 'ERR_STORE_FULL');
    assert.match(m.json.error.message, /^module [0-9a-f]{64}: not stored: the guardian's disk is full$/);
    assert.not.match(JSON.stringify(m.json), fs.dir);
    assert.match(a.log(), new RegExp(`"event":"module-write-failed","path":"${fs.dir}/data/modules/[0-9a-f]{64}\\.wasm","full":true`));
    // Database writes (registering new capsules) until SQLite finds no room: typed 503, never a bare 500.
    let full: Record<string, any> | undefined;
    for (const c of capsules.slice(1)) {
      const r = await approve(c);
      if (r.status === 201) continue;
      assert.is(r.status, 503, JSON.stringify(r.json));
      full = r.json;
      break;
    }
    assert.ok(full, 'the database filled up');
    assert.is(full!.error.code, 'ERR_STORE_FULL');
    assert.match(
      full!.error.message,
      /^database: cannot (write|commit|register the capsule|begin a transaction): the guardian's disk is full \(SQLITE_(FULL|IOERR)\)$/,
    );
    assert.not.match(JSON.stringify(full), fs.dir);
    // Space returns: the same requests succeed, no restart.
    rmSync(filler);
    const again = await push(a.url, paddedModule(1, 300_000));
    assert.is(again.status, 201, JSON.stringify(again.json));
    const later = await approve(capsules[capsules.length - 1]!);
    assert.is(later.status, 201, JSON.stringify(later.json));
    assert.is(await a.stop(), 0);
    a = undefined;
    rmSync(d.dir, { recursive: true, force: true });
  } finally {
    await a?.stop();
    fs.umount();
  }
});

test('D7: starting on a full disk fails with a typed error naming the data directory and its free space (exit 1, not "a bug"); it starts once space returns', async () => {
  const fs = tmpfs(2 * 2 ** 20, 'D7 start on a full disk');
  if (!fs) return;
  try {
    const { d, guardian, logic } = await provisioned(join(fs.dir, 'data'));
    const filler = fillDisk(fs.dir);
    const r = run(d, ['agent', '--data-dir', d.data, '--listen', '127.0.0.1:0', '--clock', `file:${join(d.dir, 'clock')}`]);
    assert.is(r.code, 1, `free ${free(fs.dir)}; ${r.signal}; ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`capsule: error: data directory ${d.data}: the disk is full \\(\\d+ bytes free\\); the agent cannot start\\n`));
    assert.match(r.stderr, /capsule: hint: free space on that file system \(or move the data directory\), then start the agent again/);
    assert.not.match(r.stderr, /this is a bug/);
    rmSync(filler);
    const a = await startAgent(d, { minFreeBytes: 256 * 1024 }); // the default reserve (64 MiB) is larger than this disk
    try {
      // And it decides (which also lets the sandbox worker finish loading before the stop).
      assert.is(run(d, ['logic', 'push', 'policy.wasm', '--guardian', a.url]).code, 0);
      const me = generateIdentity();
      const capsule = await seal(guardian, logic, { timeLock: { notBefore: T } }, randomBytes(100));
      const ok = await post(a.url, '/v1/release', { capsule: capsule.toString('base64'), requester: me.recipient });
      assert.is(ok.status, 200, JSON.stringify(ok.json));
    } finally {
      assert.is(await a.stop(), 0);
    }
    rmSync(d.dir, { recursive: true, force: true });
  } finally {
    fs.umount();
  }
});

test('D9: agent.sqlite, its -wal and -shm, and module files are 0600', async () => {
  const { d } = await provisioned();
  mkdirSync(join(d.data, 'modules'), { recursive: true });
  const legacy = join(d.data, 'modules', `${createHash('sha256').update(policy!).digest('hex')}.wasm`);
  writeFileSync(legacy, policy!, { mode: 0o644 }); // as an older version left it
  chmodSync(legacy, 0o644);
  const a = await startAgent(d);
  try {
    const m = await push(a.url, paddedModule(7, 1000));
    assert.is(m.status, 201, JSON.stringify(m.json));
    // The database was written at start (its schema), so its -wal and -shm exist.
    for (const f of ['agent.sqlite', 'agent.sqlite-wal', 'agent.sqlite-shm']) {
      assert.ok(existsSync(join(d.data, f)), f);
      assert.is((statSync(join(d.data, f)).mode & 0o777).toString(8), '600', f);
    }
    const files = readdirSync(join(d.data, 'modules')).filter((n) => n.endsWith('.wasm'));
    assert.is(files.length, 2);
    for (const n of files) assert.is((statSync(join(d.data, 'modules', n)).mode & 0o777).toString(8), '600', n);
  } finally {
    // Exit status not asserted: a SIGTERM while the sandbox worker is still loading can end in a V8
    // fatal error (seen on the unchanged agent too; reported) — not what this test is about.
    await a.stop();
  }
  rmSync(d.dir, { recursive: true, force: true });
});

test.run();
