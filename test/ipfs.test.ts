/**
 * The embedded IPFS content store with real nodes: two Helia nodes in this process on 127.0.0.1
 * (TCP, noise, yamux). One adds, the other fetches by CID over bitswap and receives announcements
 * over gossipsub; garbage announcements are rejected and counted. The CID every backend gives
 * equals the offline computation (importSettings.ts). The verified reader refuses content over the
 * cap (keeping nothing), content not matching its CID, and bad CIDs, with typed errors. A publish,
 * pinned without walking its DAG (pinImported.ts), leaves the records Helia's own pins.add would, and
 * Helia's ls, gc and rm treat it as their own.
 * The Kubo backend has its own file (kubo.test.ts), against a real Kubo-RPC daemon.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { create as digestOf } from 'multiformats/hashes/digest';
import { sha256 } from 'multiformats/hashes/sha2';
import { HeliaStore } from '../agent/store/HeliaStore.ts';
import { computeCid, CHUNK_BYTES } from '../agent/store/importSettings.ts';
import { readVerified } from '../agent/store/readVerified.ts';
import { parseCid, parseIpfsSpec } from '../agent/store/ContentStore.ts';
import { ANNOUNCE_TOPIC, decodeAnnouncement, encodeAnnouncement } from '../agent/store/Announcement.ts';
import { generateIdentity } from '../agent/crypto/identity.ts';
import { announce } from '../agent/cli/ipfs.ts';

const tmp = mkdtempSync(join(tmpdir(), 'ipfs-test-'));
const bytesOf = (n: number, seed = 7) => {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
};
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
async function drain(it: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const c of it) parts.push(Uint8Array.from(c));
  return new Uint8Array(Buffer.concat(parts));
}
async function rejects(p: Promise<unknown>, name: string, code: string, text?: RegExp): Promise<Error & { code?: string; hint?: string }> {
  try {
    await p;
  } catch (e) {
    const err = e as Error & { code?: string; hint?: string };
    assert.is(err.name, name, String(err.stack));
    assert.is(err.code, code, err.message);
    if (text) assert.match(err.message, text);
    return err;
  }
  throw new assert.Assertion({ message: `expected ${name} ${code}, but it resolved`, operator: 'rejects', expects: code, actual: 'resolved' });
}

let a: HeliaStore;
let b: HeliaStore;
test.before(async () => {
  a = await HeliaStore.open({ dir: join(tmp, 'a') });
  b = await HeliaStore.open({ dir: join(tmp, 'b'), ephemeral: true, listen: [] });
  await b.connect((await a.addresses())[0]!);
});
test.after(async () => {
  await a?.stop();
  await b?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

test('a repository keeps its peer identity across restarts (the self key in its datastore); an ephemeral node gets a fresh one each time', async () => {
  const dir = join(tmp, 'identity');
  const first = await HeliaStore.open({ dir, listen: [] });
  const id = first.peerId;
  await first.stop();
  const again = await HeliaStore.open({ dir, listen: [] });
  const ephemeral = await HeliaStore.open({ dir: join(tmp, 'identity-e'), listen: [], ephemeral: true });
  const ephemeral2 = await HeliaStore.open({ dir: join(tmp, 'identity-e'), listen: [], ephemeral: true });
  try {
    assert.match(id, /^12D3KooW/);
    assert.is(again.peerId, id);
    assert.is.not(ephemeral.peerId, ephemeral2.peerId);
    assert.is.not(ephemeral.peerId, id);
  } finally {
    await again.stop();
    await ephemeral.stop();
    await ephemeral2.stop();
  }
});

test('the embedded node gives the offline CID for every size class (1 leaf, 2 leaves, a full 174-link level and one more)', async () => {
  for (const n of [0, 1, CHUNK_BYTES, CHUNK_BYTES + 1, 174 * CHUNK_BYTES + 1]) {
    const data = bytesOf(n, n & 0xff);
    const cid = await a.add(data);
    assert.ok(cid.equals(await computeCid(data)), `size ${n}: ${cid}`);
    assert.ok(await a.has(cid));
  }
  // A stream in odd pieces is the same file, so the same CID.
  const data = bytesOf(3 * CHUNK_BYTES + 5);
  async function* pieces() {
    for (let o = 0; o < data.length; o += 99_991) yield data.subarray(o, o + 99_991);
  }
  assert.ok((await a.add(pieces())).equals(await computeCid(data)));
});

test('a file read through bytesOf (which reuses its read buffer) gets the CID of its bytes, from the node and offline', async () => {
  const { writeFileSync } = await import('node:fs');
  const { bytesOf: read } = await import('../agent/io/sources.ts');
  const data = randomBytes(3 * 2 ** 20 + 12_345); // several 1 MiB reads
  const path = join(tmp, 'file.bin');
  writeFileSync(path, data);
  const want = await computeCid(new Uint8Array(data));
  assert.ok((await computeCid(read({ path, name: 'file.bin' }))).equals(want));
  assert.ok((await a.add(read({ path, name: 'file.bin' }))).equals(want));
});

test('a second node fetches by CID over bitswap: identical bytes, then held and pinned locally', async () => {
  const data = randomBytes(3 * 2 ** 20 + 5);
  const cid = await a.add(data);
  assert.not.ok(await b.has(cid));
  const got = await drain(b.get(cid, { maxBytes: 4 * 2 ** 20, signal: AbortSignal.timeout(30_000) }));
  assert.is(sha(got), sha(data));
  await b.pin(cid);
  assert.ok(await b.has(cid));
  await b.unpin(cid);
  await b.unpin(cid); // unpinning what is not pinned is not an error
});

test('discard deletes what an abandoned fetch left, and never what a pin keeps', async () => {
  const data = randomBytes(3 * CHUNK_BYTES + 7);
  const cid = await a.add(data);
  for await (const _ of b.get(cid, { maxBytes: 1e9 })) break; // the root and the first leaves only
  assert.ok(await b.has(cid));
  assert.ok((await b.discard(cid)) >= 2, 'the root and at least one leaf');
  assert.not.ok(await b.has(cid));
  assert.is(await b.discard(cid), 0, 'nothing left');
  assert.is(await a.discard(cid), 0, 'pinned where it was added: kept');
  assert.ok(await a.has(cid));
  assert.is(sha(await drain(a.get(cid, { maxBytes: 1e9 }))), sha(data));
});

/** Helia alone over a HeliaStore's directory (stopped first): its own pins, gc and walk are the judge. */
/**
 * A bare Helia (its own pins.add, pins.ls, gc) on a repository: `sqlite` opens one HeliaStore made
 * (blocks/ and datastore.sqlite), `fs` keeps its records as datastore-fs files (the reference).
 */
async function bareHelia(dir: string, datastoreKind: 'fs' | 'sqlite') {
  const { FsBlockstore } = await import('blockstore-fs');
  const { FsDatastore } = await import('datastore-fs');
  const { SqliteDatastore } = await import('../agent/store/SqliteDatastore.ts');
  const { createHeliaLight } = await import('helia');
  const blockstore = new FsBlockstore(join(dir, 'blocks'));
  await blockstore.open();
  const datastore = datastoreKind === 'sqlite' ? new SqliteDatastore(join(dir, 'datastore.sqlite')) : new FsDatastore(join(dir, 'data'));
  if (datastore instanceof FsDatastore) await datastore.open();
  const helia = createHeliaLight({ blockstore, datastore });
  await helia.start();
  // Stopping Helia leaves its stores open: close the SQLite handle with it.
  const stop = helia.stop.bind(helia);
  helia.stop = async (options) => {
    const stopped = await stop(options);
    if (datastore instanceof SqliteDatastore) datastore.close();
    return stopped;
  };
  return helia;
}
type Bare = Awaited<ReturnType<typeof bareHelia>>;
/** Every block of a DAG, found by decoding it (not by what the importer reported). */
async function dagBlocks(helia: Bare, root: CID): Promise<CID[]> {
  const dagPb = await import('@ipld/dag-pb');
  const out = [root];
  if (root.code === dagPb.code) {
    const parts: Uint8Array[] = [];
    for await (const p of helia.blockstore.get(root, { offline: true } as never)) parts.push(p);
    for (const l of dagPb.decode(new Uint8Array(Buffer.concat(parts))).Links) out.push(...(await dagBlocks(helia, l.Hash)));
  }
  return out;
}
/** The pin records in a datastore, key → hex value. */
async function pinRecords(helia: Bare): Promise<Map<string, string>> {
  const m = new Map<string, string>();
  for (const prefix of ['/pin/', '/pinned-block/']) {
    for await (const { key, value } of helia.datastore.query({ prefix })) m.set(key.toString(), Buffer.from(value).toString('hex'));
  }
  return m;
}

test("a publish is pinned exactly as Helia pins (no walk): same records, listed, every block kept by Helia's gc; twice is one pin; unpinned, gc collects it", async () => {
  const { importer } = await import('ipfs-unixfs-importer');
  const { importOptions } = await import('../agent/store/importSettings.ts');
  const { pinImported } = await import('../agent/store/pinImported.ts');
  const data = randomBytes(5 * CHUNK_BYTES + 3);
  const part = data.subarray(0, 2 * CHUNK_BYTES); // shares its two leaves with data
  const ours = join(tmp, 'pins-ours');
  const store = await HeliaStore.open({ dir: ours, listen: [], ephemeral: true });
  let cid: CID, cidPart: CID;
  try {
    cid = await store.add(data);
    assert.ok((await store.add(data)).equals(cid), 'published twice');
    cidPart = await store.add(part);
  } finally {
    await store.stop();
  }

  // The reference: the same two files imported into a bare Helia and pinned with its walking pins.add.
  const ref = await bareHelia(join(tmp, 'pins-ref'), 'fs');
  let want: Map<string, string>;
  try {
    for (const d of [data, part]) {
      let root: CID | undefined;
      for await (const e of importer([{ content: d }], ref.blockstore, importOptions())) root = e.cid;
      for await (const _ of ref.pins.add(root!)) void _;
    }
    want = await pinRecords(ref);
  } finally {
    await ref.stop();
  }

  const helia = await bareHelia(ours, 'sqlite');
  try {
    const got = await pinRecords(helia);
    assert.equal([...got.keys()].sort(), [...want.keys()].sort());
    assert.equal(got, want, 'the same bytes under every key (so a second publish added nothing)');
    const pins = [];
    for await (const p of helia.pins.ls()) pins.push(p);
    assert.equal(pins.map((p) => p.cid.toString()).sort(), [cid.toString(), cidPart.toString()].sort());
    assert.ok(pins.every((p) => p.depth === Infinity));
    const blocks = await dagBlocks(helia, cid);
    assert.is(blocks.length, 7, 'a root and six leaves');
    for (const c of [...blocks, cidPart]) assert.ok(await helia.pins.isPinned(c), `${c} pinned`);

    // An interrupted pin (block records, no pin record) is completed by pinning again, counting nothing twice.
    await helia.datastore.delete((await import('../agent/store/pinImported.ts')).pinKey(cid));
    assert.ok(await pinImported(helia.datastore, cid, blocks));
    assert.not.ok(await pinImported(helia.datastore, cid, blocks), 'already pinned');
    assert.equal(await pinRecords(helia), want);

    // Helia's gc keeps every pinned block and collects a stray one.
    const stray = await computeCid(Uint8Array.of(1, 2, 3));
    await helia.blockstore.put(stray, Uint8Array.of(1, 2, 3));
    await helia.gc();
    assert.not.ok(await helia.blockstore.has(stray), 'gc ran and collected the unpinned block');
    for (const c of [...blocks, cidPart]) assert.ok(await helia.blockstore.has(c), `${c} survived gc`);

    // Helia's pins.rm undoes our records: the blocks only `data` had go, the shared ones stay.
    for await (const _ of helia.pins.rm(cid)) void _;
    await helia.gc();
    assert.not.ok(await helia.blockstore.has(cid));
    for (const c of await dagBlocks(helia, cidPart)) assert.ok(await helia.blockstore.has(c), `${c} still pinned by the other file`);
  } finally {
    await helia.stop();
  }
  const again = await HeliaStore.open({ dir: ours, listen: [], ephemeral: true });
  try {
    assert.is(sha(await drain(again.get(cidPart, { maxBytes: 1e9 }))), sha(part));
    assert.not.ok(await again.has(cid));
  } finally {
    await again.stop();
  }
});

test('content over the cap is refused before its data is fetched, and nothing of it is kept', async () => {
  const data = randomBytes(2 * 2 ** 20);
  const cid = await a.add(data);
  const e = await rejects(
    drain(b.get(cid, { maxBytes: 2 ** 20 })),
    'ContentError',
    'ERR_CONTENT_TOO_LARGE',
    new RegExp(`${cid}: ${data.length} bytes, above the 1048576-byte cap`),
  );
  assert.ok(e.hint);
  assert.not.ok(await b.has(cid), 'the root block read for its size was not kept');
  // A single raw block over the cap, too.
  const one = await a.add(randomBytes(1000));
  await rejects(drain(b.get(one, { maxBytes: 999 })), 'ContentError', 'ERR_CONTENT_TOO_LARGE');
});

test('blocks not matching their CID are rejected (a lying block source), as are short or long files', async () => {
  const data = bytesOf(2 * CHUNK_BYTES + 10);
  const blocks = new Map<string, Uint8Array>();
  const { importer } = await import('ipfs-unixfs-importer');
  const { importOptions } = await import('../agent/store/importSettings.ts');
  let root: CID | undefined;
  for await (const e of importer(
    [{ content: data }],
    {
      put: async (c: CID, bytes: Uint8Array) => {
        blocks.set(c.toString(), bytes);
        return c;
      },
    } as never,
    importOptions(),
  ))
    root = e.cid;
  const honest = async (c: CID) => blocks.get(c.toString())!;
  assert.is(sha(await drain(readVerified(honest, root!, { maxBytes: 1e9 }))), sha(data));
  // One leaf's bytes altered by the source: refused, naming the block.
  const leaf = [...blocks.keys()].find((k) => CID.parse(k).code === raw.code)!;
  const lying = async (c: CID) => (c.toString() === leaf ? Uint8Array.from(blocks.get(leaf)!, (x, i) => (i === 0 ? x ^ 1 : x)) : blocks.get(c.toString())!);
  await rejects(drain(readVerified(lying, root!, { maxBytes: 1e9 })), 'ContentError', 'ERR_CID_MISMATCH', new RegExp(`block ${leaf}`));
  // The root itself altered.
  const badRoot = async (c: CID) => (c.equals(root!) ? Uint8Array.from(blocks.get(c.toString())!).reverse() : blocks.get(c.toString())!);
  await rejects(drain(readVerified(badRoot, root!, { maxBytes: 1e9 })), 'ContentError', 'ERR_CID_MISMATCH');
  // A failing source mid-file: a typed error in order, never an unhandled rejection.
  let n = 0;
  const failing = async (c: CID) => {
    if (++n === 3) throw new Error('gone');
    return blocks.get(c.toString())!;
  };
  try {
    await drain(readVerified(failing, root!, { maxBytes: 1e9, prefetch: 8 }));
    assert.unreachable();
  } catch (e) {
    assert.is((e as Error).message, 'gone');
  }
  // A raw leaf named as the whole file is read as is; a dag-pb that is not UnixFS is refused.
  const leafCid = CID.parse(leaf);
  assert.is((await drain(readVerified(honest, leafCid, { maxBytes: CHUNK_BYTES }))).length, CHUNK_BYTES);
  const dagPb = await import('@ipld/dag-pb');
  const junk = dagPb.encode({ Data: Uint8Array.of(1, 2, 3), Links: [] });
  const junkCid = CID.createV1(dagPb.code, digestOf(sha256.code, createHash('sha256').update(junk).digest()));
  await rejects(drain(readVerified(async () => junk, junkCid, { maxBytes: 10 })), 'ContentError', 'ERR_BAD_DAG');
  // Hostile DAGs that would cost unbounded work while delivering no bytes: refused at once.
  const { UnixFS } = await import('ipfs-unixfs');
  const store = new Map<string, Uint8Array>();
  const put = (bytes: Uint8Array, code: number) => {
    const c = CID.createV1(code, digestOf(sha256.code, createHash('sha256').update(bytes).digest()));
    store.set(c.toString(), bytes);
    return c;
  };
  const emptyLeaf = put(new Uint8Array(0), raw.code);
  const fanOut = (blockSizes: bigint[], links: CID[]) =>
    put(dagPb.encode({ Data: new UnixFS({ type: 'file', blockSizes }).marshal(), Links: links.map((Hash) => ({ Hash })) }), dagPb.code);
  const fromStore = async (c: CID) => store.get(c.toString())!;
  const level = fanOut(Array(1000).fill(0n), Array(1000).fill(emptyLeaf));
  const bomb = fanOut(Array(1000).fill(0n), Array(1000).fill(level));
  await rejects(drain(readVerified(fromStore, bomb, { maxBytes: 10 })), 'ContentError', 'ERR_BAD_DAG', /a link to an empty block/);
  const small = put(Uint8Array.of(1, 2, 3), raw.code);
  await rejects(drain(readVerified(fromStore, fanOut([5n], [small]), { maxBytes: 10 })), 'ContentError', 'ERR_BAD_DAG', /3 bytes where its parent says 5/);
  await rejects(drain(readVerified(fromStore, fanOut([3n, 3n], [small]), { maxBytes: 10 })), 'ContentError', 'ERR_BAD_DAG', /1 links but 2 block sizes/);
  const inner = fanOut([3n], [small]);
  await rejects(
    drain(readVerified(fromStore, fanOut([4n], [inner]), { maxBytes: 10 })),
    'ContentError',
    'ERR_BAD_DAG',
    /declares 3 bytes where its parent says 4/,
  );
});

test('CIDs and IPFS settings are checked at the boundary with typed errors', async () => {
  await rejects(
    Promise.resolve().then(() => parseCid('not-a-cid', 'CID')),
    'ContentError',
    'ERR_BAD_CID',
    /^CID: not a CID/,
  );
  await rejects(
    Promise.resolve().then(() => parseCid('QmbWqxBEKC3P8tqsKc98xmWNzrzDtRLMiMPL8wBuTGsMnR', 'CID')),
    'ContentError',
    'ERR_BAD_CID',
    /expected a CIDv1/,
  );
  await rejects(
    Promise.resolve().then(() => parseCid('bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy', 'CID')),
    'ContentError',
    'ERR_BAD_CID',
    /codec raw \(0x55\) or dag-pb/,
  );
  await rejects(
    Promise.resolve().then(() => parseIpfsSpec('kubo:ftp://x', 'ipfs')),
    'ContentError',
    'ERR_IPFS',
    /expected an http\(s\) URL/,
  );
  await rejects(
    Promise.resolve().then(() => parseIpfsSpec('ipfs', 'ipfs')),
    'ContentError',
    'ERR_IPFS',
    /expected "helia", "kubo:URL" or "off"/,
  );
  assert.equal(parseIpfsSpec('kubo:http://127.0.0.1:5001/', 'ipfs'), { kind: 'kubo', url: 'http://127.0.0.1:5001' });
  await rejects(
    b.connect('/ip4/127.0.0.1/tcp/1/p2p/12D3KooWHs4pQEih7qiFWVKzBh2ZP7n1DbK3DXwLk92hNGujA8gN', { signal: AbortSignal.timeout(10_000) }),
    'ContentError',
    'ERR_IPFS_UNREACHABLE',
    /cannot connect/,
  );
  await rejects(b.connect('not a multiaddr'), 'ContentError', 'ERR_IPFS', /not a multiaddr/);
});

test('a fetch nobody can serve ends with its signal; an aborted fetch stops with AbortError', async () => {
  const missing = await computeCid(randomBytes(100));
  const t0 = performance.now();
  try {
    await drain(b.get(missing, { maxBytes: 1e6, signal: AbortSignal.timeout(500) }));
    assert.unreachable();
  } catch (e) {
    assert.is((e as Error).name, 'TimeoutError');
  }
  assert.ok(performance.now() - t0 < 10_000);
  const ac = new AbortController();
  ac.abort();
  const cid = await a.add(randomBytes(CHUNK_BYTES * 2));
  try {
    await drain(b.get(cid, { maxBytes: 1e9, signal: ac.signal }));
    assert.unreachable();
  } catch (e) {
    assert.is((e as Error).name, 'AbortError');
  }
});

test('announcements travel over gossipsub; garbage is rejected at the pubsub layer and never delivered', async () => {
  const got: Uint8Array[] = [];
  let rejected = 0;
  const unsubscribe = await a.subscribe(ANNOUNCE_TOPIC, (m) => got.push(m.data), {
    validate: (data) => {
      try {
        decodeAnnouncement(data);
        return true;
      } catch {
        rejected++;
        return false;
      }
    },
  });
  try {
    const id = generateIdentity();
    const cid = await computeCid(bytesOf(10));
    const good = encodeAnnouncement({ capsule: cid, logic: cid, guardian: new Uint8Array(33).fill(2), created: 1_700_000_000_000 }, id);
    assert.ok((await announce(b, Uint8Array.of(0xa0), 10_000)) > 0, 'the garbage was sent to a subscriber');
    await announce(b, good, 10_000);
    for (let i = 0; i < 200 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 25));
    assert.is(got.length, 1, 'only the valid announcement was delivered');
    assert.ok(decodeAnnouncement(got[0]!).capsule.equals(cid));
    assert.is(rejected, 1);
    // The garbage cost its sender: b's score on a is negative (gossipsub P4 on the announce topic).
    for (let i = 0; i < 100 && a.peerScore(b.peerId) >= 0; i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(a.peerScore(b.peerId) < 0, `score ${a.peerScore(b.peerId)}`);
    id.dispose();
  } finally {
    unsubscribe();
  }
});

test.run();
