/**
 * Pinning a DAG this node has just written, without reading it back (issue 15, item 6). Helia's
 * `pins.add` walks the whole DAG from the blockstore — for a 256 MiB publish it read 256 MiB back
 * and took 1.4–1.8 s, more than the import itself — and writes one record per block, one at a
 * time. The importer has already handed us every block it wrote, so the walk teaches nothing: this
 * writes the same records `pins.add` would, from that list, as one datastore batch (one transaction
 * in the node's SqliteDatastore: 1,031 records of a 256 MiB publish at once, where one file each
 * cost ≈ 80 ms).
 *
 * The records are Helia's own (helia 7.1.15, src/pins.js; the version is pinned in package.json and
 * test/ipfs.test.ts checks them with Helia's `pins.ls`, `isPinned`, `pins.rm` and `gc`):
 *   /pinned-block/<base36 of the block's multihash> → cbor { pinCount, pinnedBy: [root CID bytes…] }
 *     one per block; what `isPinned` and `gc` look at;
 *   /pin/<base36 of the root CIDv1> → cbor { depth: Infinity, metadata: {} }
 *     the recursive pin itself; what `pins.ls` lists and `pins.rm` starts from.
 * As in Helia, the block records are written first and the pin record last, so a pin record means
 * all its blocks are recorded; an interrupted pin leaves block records naming a root that has no pin
 * record (with a transactional batch: all of them or none), and pinning that root again completes
 * it (a block already naming the root is left as is).
 *
 * Deliberately not here: pinning content that may be missing locally (that must walk, to fetch:
 * HeliaStore.pin uses `pins.add`), unpinning (`pins.rm` walks and undoes these records), garbage
 * collection, and any lock against a concurrent `gc` (Helia's `pins.add` takes none either).
 */
import * as cborg from 'cborg';
import { Key, type Datastore } from 'interface-datastore';
import { base36 } from 'multiformats/bases/base36';
import type { CID } from 'multiformats/cid';

/** What Helia keeps per pinned block. */
interface PinnedBlock {
  pinCount: number;
  pinnedBy: Uint8Array[];
}

/** The datastore key of the recursive pin on `root` (Helia keys pins by the CIDv1 in base36). */
export function pinKey(root: CID): Key {
  return new Key(`/pin/${root.toV1().toString(base36)}`);
}

/** The datastore key of a block's pin count (by multihash: the same bytes under two codecs are one block). */
export function pinnedBlockKey(block: CID): Key {
  return new Key(`/pinned-block/${base36.encode(block.multihash.bytes)}`);
}

/** True when `root` has a recursive pin of its own (not merely a block inside another pinned DAG). */
export async function hasPin(datastore: Datastore, root: CID, options: { signal?: AbortSignal } = {}): Promise<boolean> {
  return datastore.has(pinKey(root), options);
}

/**
 * Pins `root` recursively, given every block of its DAG (`blocks`: what the importer wrote, in any
 * order, repeats allowed; it must include the root). Does nothing when `root` is already pinned.
 * Returns true when it wrote the pin. Errors from the datastore propagate as they are.
 */
export async function pinImported(datastore: Datastore, root: CID, blocks: Iterable<CID>, options: { signal?: AbortSignal } = {}): Promise<boolean> {
  const { signal } = options;
  if (await hasPin(datastore, root, options)) return false;
  const unique = new Map<string, Key>();
  for (const b of blocks) {
    const k = pinnedBlockKey(b);
    unique.set(k.toString(), k);
  }
  if (!unique.has(pinnedBlockKey(root).toString())) throw new TypeError(`pinImported: the block list does not include the root ${root}`);
  // Read every block's record first (a few may already name other roots), then write them all in
  // one batch: one transaction in SqliteDatastore (the node's), so a crash leaves all or none.
  const batch = datastore.batch();
  for (const key of unique.values()) {
    signal?.throwIfAborted();
    const rec = await withRoot(datastore, key, root.bytes, options);
    if (rec) batch.put(key, cborg.encode(rec));
  }
  await batch.commit(options);
  signal?.throwIfAborted();
  await datastore.put(pinKey(root), cborg.encode({ depth: Infinity, metadata: {} }), options);
  return true;
}

/** One block's record with `root` added, as Helia's pins.add makes it; undefined when it already names `root`. */
async function withRoot(datastore: Datastore, key: Key, root: Uint8Array, options: { signal?: AbortSignal }): Promise<PinnedBlock | undefined> {
  let rec: PinnedBlock = { pinCount: 0, pinnedBy: [] };
  try {
    rec = cborg.decode(await datastore.get(key, options)) as PinnedBlock;
  } catch (e) {
    if ((e as Error)?.name !== 'NotFoundError') throw e;
  }
  if (rec.pinnedBy.some((r) => Buffer.compare(r, root) === 0)) return undefined;
  rec.pinCount++;
  rec.pinnedBy.push(root);
  return rec;
}
