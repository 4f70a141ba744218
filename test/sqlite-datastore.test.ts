/**
 * The IPFS node's datastore in node:sqlite (agent/store/SqliteDatastore.ts), by behaviour: records
 * round-trip and persist (file 0600), a missing key is NotFoundError, queries narrow by prefix
 * (the indexed range and the scan alike, never a key that only looks alike) and take filters,
 * orders, offset and limit; a batch is all or nothing; a closed datastore drops writes and holds
 * nothing; `adopt` keeps what is already there. Through HeliaStore with a real Helia node: an old
 * repository's datastore-fs `data/` directory is moved in (same peer id, same pins, `data/` gone),
 * and a damaged database file is a typed error with a hint.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Key } from 'interface-datastore';
import { FsDatastore } from 'datastore-fs';
import { SqliteDatastore } from '../agent/store/SqliteDatastore.ts';
import { HeliaStore } from '../agent/store/HeliaStore.ts';
import { pinKey } from '../agent/store/pinImported.ts';
import { rejectsError, throwsError } from './helpers/assertError.ts';

const tmp = mkdtempSync(join(tmpdir(), 'sqlite-ds-test-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const fresh = () => new SqliteDatastore(join(tmp, `ds-${n++}.sqlite`));
const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);
async function all<T>(it: AsyncIterable<T> | Iterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

test('put, get, has, delete; a missing key is NotFoundError naming it; records persist in a 0600 file', async () => {
  const path = join(tmp, 'persist.sqlite');
  const ds = new SqliteDatastore(path);
  const k = new Key('/pin/abc');
  assert.not.ok(await ds.has(k));
  await rejectsError(async () => ds.get(k), 'NotFoundError', undefined, /no record \/pin\/abc/);
  assert.equal((await ds.put(k, bytes('one'))).toString(), '/pin/abc');
  assert.ok(await ds.has(k));
  assert.is(text(await ds.get(k)), 'one');
  await ds.put(k, bytes('two'));
  assert.is(text(await ds.get(k)), 'two', 'a put replaces');
  await ds.put(new Key('/other'), bytes('x'));
  await ds.delete(new Key('/other'));
  assert.not.ok(await ds.has(new Key('/other')));
  ds.close();
  assert.is(statSync(path).mode & 0o777, 0o600);
  const again = new SqliteDatastore(path);
  assert.is(text(await again.get(k)), 'two');
  again.close();
});

test('query: a prefix is a prefix of the key text (indexed range and scan), with filters, orders, offset, limit; queryKeys', async () => {
  const ds = fresh();
  for (const k of ['/pin/b', '/pin/a', '/pin', '/pinned-block/x', '/pin0', '/pio', '/é/1', '/é/2', '/éx', '/e', '/😀/1', '/😀x', '/😁'])
    await ds.put(new Key(k), bytes(k));
  const keys = async (q: Parameters<SqliteDatastore['query']>[0]) => (await all(ds.query(q))).map((p) => p.key.toString());
  assert.equal(await keys({ prefix: '/pin/' }), ['/pin/a', '/pin/b'], 'ASCII prefix: /pin, /pin0 and /pinned-block are outside');
  assert.equal(await keys({ prefix: '/pin' }), ['/pin', '/pin/a', '/pin/b', '/pin0', '/pinned-block/x']);
  assert.equal(await keys({ prefix: '/é/' }), ['/é/1', '/é/2'], 'ends in ASCII after a non-ASCII character (range)');
  assert.equal(await keys({ prefix: '/é' }), ['/é/1', '/é/2', '/éx'], 'ends in a non-ASCII character (scanned by UTF-8 bytes)');
  assert.equal(await keys({ prefix: '/😀' }), ['/😀/1', '/😀x'], 'ends outside the BMP (a surrogate pair in JavaScript, 4 bytes in UTF-8)');
  assert.equal((await keys({})).length, 13);
  // Filtered (drops '/pin'), descending, offset 1, limit 2: '/pinned-block/x' > '/pin0' > '/pin/b' > '/pin/a'.
  const desc = (a: { key: Key }, b: { key: Key }) => (a.key.toString() < b.key.toString() ? 1 : -1);
  assert.equal(await keys({ prefix: '/pin', filters: [(p) => text(p.value).length > 4], orders: [desc], offset: 1, limit: 2 }), ['/pin0', '/pin/b']);
  for (const p of await all(ds.query({ prefix: '/pin/' }))) assert.is(text(p.value), p.key.toString(), 'values come with their keys');
  assert.equal((await all(ds.queryKeys({ prefix: '/pinned-block/' }))).map(String), ['/pinned-block/x']);
  ds.close();
});

test('batch: puts and deletes land together on commit; a failing commit leaves none of them', async () => {
  const ds = fresh();
  await ds.put(new Key('/keep'), bytes('k'));
  await ds.put(new Key('/gone'), bytes('g'));
  const b = ds.batch();
  b.put(new Key('/a'), bytes('a'));
  b.delete(new Key('/gone'));
  b.put(new Key('/b'), bytes('b'));
  assert.not.ok(await ds.has(new Key('/a')), 'nothing before commit');
  await b.commit();
  assert.equal((await all(ds.queryKeys({}))).map(String), ['/a', '/b', '/keep']);

  const bad = ds.batch();
  bad.put(new Key('/c'), bytes('c'));
  bad.delete(new Key('/keep'));
  bad.put(new Key('/d'), { not: 'bytes' } as unknown as Uint8Array); // node:sqlite refuses it mid-transaction
  let thrown: unknown;
  try {
    await bad.commit();
  } catch (e) {
    thrown = e;
  }
  assert.instance(thrown, Error);
  assert.equal((await all(ds.queryKeys({}))).map(String), ['/a', '/b', '/keep'], 'rolled back: no /c, /keep still there');
  ds.close();
});

test('closed: writes are dropped, nothing is found, queries are empty (late peer-store writes after stop)', async () => {
  const path = join(tmp, 'closed.sqlite');
  const ds = new SqliteDatastore(path);
  await ds.put(new Key('/x'), bytes('x'));
  ds.close();
  ds.close(); // twice is fine
  await ds.put(new Key('/late'), bytes('late'));
  await ds.delete(new Key('/x'));
  const b = ds.batch();
  b.put(new Key('/batched'), bytes('b'));
  await b.commit();
  await all(ds.putMany([{ key: new Key('/many'), value: bytes('m') }]));
  assert.is(await ds.adopt([{ key: new Key('/adopted'), value: bytes('a') }]), 0);
  assert.not.ok(await ds.has(new Key('/x')));
  await rejectsError(async () => ds.get(new Key('/x')), 'NotFoundError', undefined, /no record \/x/);
  assert.equal(await all(ds.query({})), []);
  const again = new SqliteDatastore(path);
  assert.equal((await all(again.queryKeys({}))).map(String), ['/x'], 'the late writes never reached the file');
  again.close();
});

test('adopt: adds the records that are missing, keeps those already here (newer), in one go', async () => {
  const ds = fresh();
  await ds.put(new Key('/pinned-block/a'), bytes('newer'));
  const added = await ds.adopt([
    { key: new Key('/pinned-block/a'), value: bytes('older') },
    { key: new Key('/pinned-block/b'), value: bytes('b') },
    { key: new Key('/pin/r'), value: bytes('r') },
  ]);
  assert.is(added, 2);
  assert.is(text(await ds.get(new Key('/pinned-block/a'))), 'newer');
  assert.is(text(await ds.get(new Key('/pinned-block/b'))), 'b');
  assert.is(await ds.adopt([{ key: new Key('/pin/r'), value: bytes('again') }]), 0, 'adopting twice adds nothing');
  ds.close();
});

test('constructor: a path that is not one is a TypeError naming it; a file that is not a database is refused', () => {
  throwsError(() => new SqliteDatastore(''), 'TypeError', undefined, /SqliteDatastore: path: expected a file path, got ""/);
  const junk = join(tmp, 'junk.sqlite');
  writeFileSync(junk, Buffer.alloc(4096, 0x5a));
  const e = throwsError(() => new SqliteDatastore(junk), 'Error', 'ERR_SQLITE_ERROR', /not a database/);
  assert.is((e as { errcode?: number }).errcode, 26);
});

test("HeliaStore: an old repository's data/ (datastore-fs) is moved in: same peer id, same pin, data/ removed", async () => {
  const dir = join(tmp, 'old-repo');
  const first = await HeliaStore.open({ dir, listen: [] });
  const id = first.peerId;
  const content = new Uint8Array(600_000).map((_, i) => (i * 7) & 0xff);
  const cid = await first.add(content);
  await first.stop();
  // The same records as the old layout kept them: one datastore-fs file each under data/.
  const db = new SqliteDatastore(join(dir, 'datastore.sqlite'));
  const records = await all(db.query({}));
  db.close();
  assert.ok(records.length > 3, `a peer key, block pins and a pin (${records.length} records)`);
  const old = new FsDatastore(join(dir, 'data'));
  await old.open();
  for (const r of records) await old.put(r.key, r.value);
  for (const f of readdirSync(dir)) if (f.startsWith('datastore.sqlite')) rmSync(join(dir, f));

  const again = await HeliaStore.open({ dir, listen: [] });
  try {
    assert.is(again.peerId, id, 'the peer identity came along');
    assert.not.ok(existsSync(join(dir, 'data')), 'data/ removed once moved');
    assert.equal(Buffer.from(Buffer.concat(await all(again.get(cid, { maxBytes: 1e7 })))), Buffer.from(content));
  } finally {
    await again.stop();
  }
  const moved = new SqliteDatastore(join(dir, 'datastore.sqlite'));
  assert.ok(await moved.has(pinKey(cid)), 'the pin record is in the database');
  assert.is((await all(moved.query({}))).length >= records.length, true);
  moved.close();
});

test('HeliaStore: a damaged datastore file is ContentError ERR_IPFS naming it, with a hint; nothing is overwritten', async () => {
  const dir = join(tmp, 'damaged');
  const first = await HeliaStore.open({ dir, listen: [], ephemeral: true });
  await first.stop();
  const file = join(dir, 'datastore.sqlite');
  for (const f of readdirSync(dir)) if (f.startsWith('datastore.sqlite')) rmSync(join(dir, f));
  writeFileSync(file, Buffer.alloc(8192, 0x5a));
  const thrown = await rejectsError(
    () => HeliaStore.open({ dir, listen: [], ephemeral: true }),
    'ContentError',
    'ERR_IPFS',
    /its datastore .*datastore\.sqlite cannot be opened \(damaged\)/,
  );
  assert.match(String((thrown as { hint?: string }).hint), /move it aside/);
  assert.is((thrown.cause as { errcode?: number }).errcode, 26, 'the SQLite error (not a database) is the cause');
  assert.equal(statSync(file).size, 8192, 'left as it was');
});

test('HeliaStore: a datastore that cannot be opened for another reason is not called damaged; the hint says to check ownership', async () => {
  const dir = join(tmp, 'not-a-file');
  mkdirSync(join(dir, 'datastore.sqlite'), { recursive: true }); // a directory where the file should be
  const thrown = await rejectsError(
    () => HeliaStore.open({ dir, listen: [], ephemeral: true }),
    'ContentError',
    'ERR_IPFS',
    /its datastore .*datastore\.sqlite cannot be opened \(EISDIR\)/,
  );
  const hint = String((thrown as { hint?: string }).hint);
  assert.match(hint, /belong to the user running this/);
  assert.not.match(hint, /move it aside/);
});

test.run();
