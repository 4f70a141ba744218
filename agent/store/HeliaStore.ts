/**
 * The embedded IPFS node: Helia with a filesystem blockstore (`blocks/`) and an SQLite datastore
 * (`datastore.sqlite`: pins, the peer identity, the peer store; SqliteDatastore.ts) under one directory,
 * libp2p over TCP (noise, yamux) on the configured listen addresses, bitswap to exchange blocks and
 * gossipsub for announcements.
 *
 * It is composed piece by piece (heliaLight.ts) rather than with createHelia()'s defaults, which dial public
 * bootstrap peers, run mDNS, use delegated routing and public gateways and listen on every
 * interface: a guardian talks only to the peers it is told about (dial them with connect(); with no
 * routing, a fetch finds blocks only at connected peers). The peer identity is kept in the
 * datastore, so a long-running node keeps its address; one-shot commands pass `ephemeral` and use
 * a fresh identity, so they never collide with the agent sharing the same directory. `add` pins
 * what it imported from the importer's own list of blocks (pinImported.ts) instead of walking the
 * DAG it just wrote. A repository from before issue 15 kept its datastore as files in `data/`
 * (datastore-fs): its records are moved into the database at the first open, then `data/` is removed.
 *
 * Deliberately not here: a DHT, NAT traversal, relays, garbage collection of unpinned blocks.
 */
import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import * as dagPb from '@ipld/dag-pb';
import { withBitswap } from '@helia/bitswap';
import { gossipsub, TopicValidatorResult } from '@libp2p/gossipsub';
import { createPeerScoreParams, createTopicScoreParams } from '@libp2p/gossipsub/score';
import { ANNOUNCE_TOPIC } from './Announcement.ts';
import { createHeliaWithLibp2p } from './heliaLight.ts';
import { identify } from '@libp2p/identify';
import { noise } from '@libp2p/noise';
import { tcp } from '@libp2p/tcp';
import { yamux } from '@libp2p/yamux';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { multiaddr } from '@multiformats/multiaddr';
import { FsBlockstore } from 'blockstore-fs';
import { importer } from 'ipfs-unixfs-importer';
import type { CID } from 'multiformats/cid';
import { ContentError } from '../errors.ts';
import type { ContentStore, GetOptions, Message, Signal, SubscribeOptions } from './ContentStore.ts';
import { importOptions, owned } from './importSettings.ts';
import { pinImported } from './pinImported.ts';
import { readVerified } from './readVerified.ts';
import { SqliteDatastore } from './SqliteDatastore.ts';

export interface HeliaStoreOptions {
  /** The repository directory (blocks/ and datastore.sqlite inside). */
  dir: string;
  /** libp2p listen multiaddrs; [] listens nowhere (a one-shot client). Default: loopback, any port. */
  listen?: string[];
  /** A fresh peer identity instead of the one kept in the datastore. */
  ephemeral?: boolean;
}

/** Block writes the importer keeps in flight on `add`. */
const BLOCK_WRITES = 32;

type Node = Awaited<ReturnType<typeof makeNode>>['node'];

/**
 * Peer scoring on the announcement topic, so that garbage costs its sender (gossipsub's P4): each
 * message the validator rejects counts against the peer, squared (−10·n²: three put it below the
 * graylist threshold of −80, and its messages are then ignored), forgotten slowly (×0.99 a
 * second, a half-life of about 70 s). Announcements are rare, so the delivery-rate terms that
 * would punish quiet honest peers are off.
 */
function announceScoring() {
  return createPeerScoreParams({
    topics: {
      [ANNOUNCE_TOPIC]: createTopicScoreParams({
        topicWeight: 1,
        timeInMeshWeight: 0,
        firstMessageDeliveriesWeight: 1,
        firstMessageDeliveriesDecay: 0.9,
        firstMessageDeliveriesCap: 10,
        meshMessageDeliveriesWeight: 0,
        meshFailurePenaltyWeight: 0,
        invalidMessageDeliveriesWeight: -10,
        invalidMessageDeliveriesDecay: 0.99,
      }),
    },
  });
}

/** The datastore's file in the repository, and the datastore-fs directory it replaced. */
const DATASTORE_FILE = 'datastore.sqlite';
const OLD_DATASTORE_DIR = 'data';

/**
 * Opens the repository's datastore, first moving in the records of an old `data/` directory that
 * are not in it yet (one transaction; `data/` is removed only after it committed, so an
 * interrupted move is finished at the next open, and a record the node changed since is kept).
 */
async function openDatastore(dir: string): Promise<SqliteDatastore> {
  const file = join(dir, DATASTORE_FILE);
  let datastore: SqliteDatastore;
  try {
    datastore = new SqliteDatastore(file);
  } catch (cause) {
    // SQLITE_NOTADB (26) and SQLITE_CORRUPT (11): the file is damaged. Anything else (permissions:
    // -wal/-shm files left by another user, a read-only directory) must not lead anyone to discard it.
    const errcode = (cause as { errcode?: number })?.errcode;
    const damaged = errcode === 26 || errcode === 11;
    throw new ContentError(
      'ERR_IPFS',
      `IPFS node in ${dir}: its datastore ${file} cannot be opened (${damaged ? 'damaged' : ((cause as { code?: string })?.code ?? 'error')})`,
      {
        cause,
        hint: damaged
          ? 'move it aside: a new one is made at the next start (the node then has a new peer id, and its pins must be added again)'
          : 'check that the directory and datastore.sqlite* belong to the user running this, and are writable',
      },
    );
  }
  const old = join(dir, OLD_DATASTORE_DIR);
  try {
    if (existsSync(old)) {
      const { FsDatastore } = await import('datastore-fs'); // only for the move
      const previous = new FsDatastore(old, { createIfMissing: false });
      await previous.open();
      await datastore.adopt(previous.query({}));
      await rm(old, { recursive: true, force: true });
    }
  } catch (e) {
    datastore.close();
    throw e;
  }
  return datastore;
}

async function makeNode(o: HeliaStoreOptions) {
  await mkdir(o.dir, { recursive: true, mode: 0o700 });
  const blockstore = new FsBlockstore(join(o.dir, 'blocks'));
  await blockstore.open(); // Helia does not open it itself
  const datastore = await openDatastore(o.dir);
  // A failure below must not leave the datastore's SQLite handle (and the blockstore) open.
  const closeStores = async () => {
    await blockstore.close().catch(() => {});
    datastore.close();
  };
  const helia = await createHeliaWithLibp2p(
    { blockstore, datastore },
    {
      privateKey: o.ephemeral ? await generateKeyPair('Ed25519') : undefined,
      addresses: { listen: o.listen ?? ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      peerDiscovery: [],
      services: { identify: identify(), pubsub: gossipsub({ allowPublishToZeroTopicPeers: true, scoreParams: announceScoring() }) },
    },
  ).catch(async (e: unknown) => {
    await closeStores();
    throw e;
  });
  // Bitswap: asks connected peers for missing blocks, and serves ours.
  const node = withBitswap(helia);
  try {
    await node.start();
  } catch (e) {
    // Helia's start() does not undo what it started: stop it, or each retry leaks a node.
    await node.stop().catch(() => {});
    await closeStores();
    throw e;
  }
  return { node, blocks: blockstore, data: datastore };
}

/** A block from the disk store, whether it comes whole or in pieces. */
async function blockBytes(b: Uint8Array | AsyncIterable<Uint8Array> | Promise<Uint8Array>): Promise<Uint8Array> {
  const v = await b;
  if (v instanceof Uint8Array) return v;
  const parts: Uint8Array[] = [];
  for await (const p of v) parts.push(p);
  return parts.length === 1 ? parts[0]! : new Uint8Array(Buffer.concat(parts));
}

export class HeliaStore implements ContentStore {
  readonly kind = 'helia' as const;
  readonly where: string;
  readonly #node: Node;
  /** The disk store under Helia's: deleting through Helia asks content routers (none here) and fails. */
  readonly #blocks: FsBlockstore;
  readonly #data: SqliteDatastore;

  private constructor(dir: string, made: { node: Node; blocks: FsBlockstore; data: SqliteDatastore }) {
    this.where = dir;
    this.#node = made.node;
    this.#blocks = made.blocks;
    this.#data = made.data;
  }

  static async open(options: HeliaStoreOptions): Promise<HeliaStore> {
    try {
      return new HeliaStore(options.dir, await makeNode(options));
    } catch (cause) {
      if (cause instanceof ContentError) throw cause;
      throw new ContentError('ERR_IPFS', `IPFS node in ${options.dir}: cannot start (${(cause as Error)?.name ?? 'error'})`, {
        cause,
        hint: 'check the directory is writable and the listen addresses are free',
      });
    }
  }

  get peerId(): string {
    return this.#node.libp2p.peerId.toString();
  }

  /** Our gossipsub score for a peer (tests, diagnostics): negative once it has sent garbage. */
  peerScore(peer: string): number {
    return (this.#node.libp2p.services.pubsub as unknown as { getScore(peer: string): number }).getScore(peer);
  }

  connections(): number {
    return this.#node.libp2p.getConnections().length;
  }

  async addresses(): Promise<string[]> {
    return this.#node.libp2p.getMultiaddrs().map(String);
  }

  async connect(addr: string, { signal }: Signal = {}): Promise<void> {
    let ma;
    try {
      ma = multiaddr(addr);
    } catch (cause) {
      throw new ContentError('ERR_IPFS', `peer ${JSON.stringify(addr)}: not a multiaddr`, { cause, hint: 'example: /ip4/192.0.2.7/tcp/4001/p2p/12D3KooW…' });
    }
    try {
      await this.#node.libp2p.dial(ma, { signal });
    } catch (cause) {
      if (signal?.aborted) throw cause;
      throw new ContentError('ERR_IPFS_UNREACHABLE', `peer ${addr}: cannot connect`, {
        cause,
        hint: 'is that node running and listening there (capsule agent, capsule watch)?',
      });
    }
  }

  /**
   * Imports and pins. The pin is written from the list of blocks the importer wrote
   * (pinImported.ts), not by Helia's `pins.add`, which would read the whole DAG back.
   */
  async add(content: Uint8Array | AsyncIterable<Uint8Array>, { signal }: Signal = {}): Promise<CID> {
    const bs = this.#node.blockstore;
    const written: CID[] = [];
    let root: CID | undefined;
    const sink = {
      put: async (cid: CID, bytes: Uint8Array) => {
        signal?.throwIfAborted();
        await bs.put(cid, bytes, { signal }); // Helia's put: skips blocks already held, tells bitswap
        written.push(cid);
        return cid;
      },
    };
    // More block writes in flight than the importer's 10: they wait on the file system, not the CPU
    // (256 MiB on tmpfs: ≈25% faster; the CID does not depend on it).
    for await (const entry of importer([{ content: owned(content, signal) }], sink as never, { ...importOptions(), blockWriteConcurrency: BLOCK_WRITES }))
      root = entry.cid;
    if (!root) throw new ContentError('ERR_IPFS', 'add: the importer produced no entry');
    try {
      await pinImported(this.#node.datastore, root, written, { signal });
    } catch (cause) {
      if (signal?.aborted) throw signal.reason ?? cause;
      throw new ContentError('ERR_IPFS', `add: could not record the pin on ${root}`, { cause, hint: 'check the IPFS directory is writable and not full' });
    }
    return root;
  }

  get(cid: CID, options: GetOptions): AsyncIterable<Uint8Array> {
    return this.#get(cid, options);
  }

  /** A refusal over the cap keeps nothing: the root block fetched to read the size is deleted again. */
  async *#get(cid: CID, options: GetOptions): AsyncGenerator<Uint8Array> {
    try {
      yield* this.#read(cid, options);
    } catch (e) {
      if ((e as ContentError).code === 'ERR_CONTENT_TOO_LARGE') await this.discard(cid).catch(() => {});
      throw e;
    }
  }

  #read(cid: CID, options: GetOptions): AsyncIterable<Uint8Array> {
    const bs = this.#node.blockstore;
    return readVerified(
      async (c, signal) => {
        try {
          const parts: Uint8Array[] = [];
          for await (const p of bs.get(c, { signal })) parts.push(p);
          return parts.length === 1 ? parts[0]! : new Uint8Array(Buffer.concat(parts));
        } catch (cause) {
          if (signal?.aborted) throw signal.reason ?? cause;
          throw new ContentError('ERR_CONTENT_UNAVAILABLE', `block ${c}: not held here and no connected peer gave it`, {
            cause,
            hint: 'connect to a node that has it (--peer MULTIADDR), and check it is online',
          });
        }
      },
      cid,
      options,
    );
  }

  async pin(cid: CID, { signal }: Signal = {}): Promise<void> {
    if (await this.#node.pins.isPinned(cid, { signal })) return;
    try {
      for await (const _ of this.#node.pins.add(cid, { signal })) void _;
    } catch (cause) {
      if (signal?.aborted) throw signal.reason ?? cause;
      throw new ContentError('ERR_CONTENT_UNAVAILABLE', `pin ${cid}: could not fetch all of it`, { cause, hint: 'connect to a node that has it' });
    }
  }

  async unpin(cid: CID, { signal }: Signal = {}): Promise<void> {
    if (!(await this.#node.pins.isPinned(cid, { signal }))) return;
    for await (const _ of this.#node.pins.rm(cid, { signal })) void _;
  }

  async discard(root: CID, { signal }: Signal = {}): Promise<number> {
    let deleted = 0;
    const visit = async (c: CID, depth: number): Promise<void> => {
      signal?.throwIfAborted();
      if (depth > 16 || !(await this.#blocks.has(c)) || (await this.#node.pins.isPinned(c))) return;
      let links: CID[] = [];
      if (c.code === dagPb.code) {
        try {
          links = dagPb.decode(await blockBytes(this.#blocks.get(c))).Links.map((l) => l.Hash);
        } catch {
          // not a dag-pb node after all: delete it, follow nothing
        }
      }
      await this.#blocks.delete(c);
      deleted++;
      for (const l of links) await visit(l, depth + 1);
    };
    await visit(root, 0);
    return deleted;
  }

  async has(cid: CID, { signal }: Signal = {}): Promise<boolean> {
    return this.#node.blockstore.has(cid, { signal, offline: true } as never);
  }

  async publish(topic: string, data: Uint8Array, _o: Signal = {}): Promise<number> {
    const { recipients } = await this.#node.libp2p.services.pubsub.publish(topic, data);
    return recipients.length;
  }

  async subscribe(topic: string, onMessage: (m: Message) => void, { validate }: SubscribeOptions = {}): Promise<() => void> {
    const ps = this.#node.libp2p.services.pubsub;
    if (validate)
      ps.topicValidators.set(topic, (peer, msg) => (validate(msg.data, peer.toString()) ? TopicValidatorResult.Accept : TopicValidatorResult.Reject));
    const listener = (e: CustomEvent<{ topic: string; data: Uint8Array; type: string; from?: { toString(): string } }>) => {
      const m = e.detail;
      if (m.topic === topic) onMessage({ topic, data: m.data, from: m.from?.toString() ?? '' });
    };
    ps.subscribe(topic);
    ps.addEventListener('message', listener as never);
    return () => {
      ps.removeEventListener('message', listener as never);
      ps.unsubscribe(topic);
      ps.topicValidators.delete(topic);
    };
  }

  async stop(): Promise<void> {
    await this.#node.stop();
    // Closed: libp2p's peer store may still patch a peer record after stop() resolved (identify
    // finishing on a closing connection); such a write only caches what a peer said, and is dropped.
    this.#data.close();
  }
}
