/**
 * The agent's IPFS side (issue #6): a content store opened in the background (with backoff while a
 * daemon is unreachable), capsules and logic modules fetched by CID — verified, capped, then
 * pinned — and announcements received, checked and indexed.
 *
 * Fetching a capsule reads all of it through the verified reader (so the cap applies to the bytes
 * really delivered, not to what a root block claims), keeps its first bytes for the Releaser, and
 * pins it only then (pinning alone would fetch whatever DAG a CID names, uncapped).
 *
 * Announcements: malformed, unsigned or forged ones are rejected at the pubsub layer (not
 * delivered, not forwarded, and the sender's gossipsub score drops) and counted; ones for other guardians are counted and ignored; ones for
 * this guardian are queued (bounded, deduplicated), fetched, authenticated through
 * Releaser.register (the header must open with a key this guardian holds) and recorded CID → id.
 *
 * Deliberately not here: the HTTP routes (api.ts) and the decisions (Releaser.ts).
 */
import { AgentError, ContentError, DceError, StoreError } from '../errors.ts';
import { sha256 } from '../crypto/kdf.ts';
import type { ContentStore } from '../store/ContentStore.ts';
import { cidFromBytes, parseCid } from '../store/ContentStore.ts';
import { ANNOUNCE_TOPIC, decodeAnnouncement } from '../store/Announcement.ts';
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { create as digestOf } from 'multiformats/hashes/digest';
import { sha256 as sha256Hasher } from 'multiformats/hashes/sha2';
import type { ModuleStore } from './ModuleStore.ts';
import { MAX_MODULE_SIZE } from './ModuleStore.ts';
import { present, type Presented } from './present.ts';
import type { Releaser } from './Releaser.ts';
import type { Store } from './Store.ts';
import { isDiskFull, type DiskReserve } from './DiskSpace.ts';
import { keepSubscribed, type TopicHandler } from './keepSubscribed.ts';
import { capsuleLength } from '../format/layout.ts';
import { PREAMBLE_SIZE } from '../format/constants.ts';

/** preamble + largest header + first sealed chunk */
export const MAX_PREFIX = 16 + 65536 + 65536 + 16;
const QUEUE_MAX = 64;
/** Fetches by CID at once (each may read up to maxCapsuleBytes). */
const MAX_FETCHES = 4;

export interface FetcherOptions {
  open: (signal: AbortSignal) => Promise<ContentStore>;
  peers: string[];
  store: Store;
  modules: ModuleStore;
  /** Registers a fetched capsule (only `register` is used: the agent may build its Releaser later). */
  releaser: Pick<Releaser, 'register'>;
  /** This guardian's compressed P-256 key: announcements naming another are ignored. */
  guardianKey: Uint8Array;
  maxCapsuleBytes: number;
  /** All capsules kept by CID together (the disk quota). */
  maxStoredBytes: number;
  fetchTimeoutMs: number;
  /** The data directory's free-space reserve: no capsule is fetched below it (507 ERR_DISK_FULL). */
  reserve?: DiskReserve;
  now: () => Promise<number>;
  log: (event: string, fields?: Record<string, unknown>) => void;
  /** First retry delay; doubles up to 60 s. */
  backoffMs?: number;
  /** Further topics to keep subscribed on the same node (image manifests: ImageManifestWatcher.ts). */
  topics?: TopicHandler[];
}

export class CapsuleFetcher {
  readonly #o: FetcherOptions;
  readonly #stop = new AbortController();
  #content: ContentStore | undefined;
  #lastError: string | undefined;
  #ready: Promise<ContentStore>;
  #unsubscribe: (() => void) | undefined;
  readonly #queue: Array<{ key: string; logic: CID }> = [];
  readonly #queued = new Set<string>();
  #draining = false;
  readonly counts = { received: 0, dropped: 0, otherGuardian: 0, duplicate: 0, indexed: 0, failed: 0 };

  readonly #failed = new Map<string, unknown>();
  #active = 0;
  #maintaining: Promise<void> | undefined;
  #drained: Promise<void> = Promise.resolve();

  #begin: () => void = () => {};

  /** Nothing happens until start(): the agent starts IPFS after it is ready (libp2p costs ~0.7 s to load). */
  constructor(o: FetcherOptions) {
    this.#o = o;
    this.#ready = new Promise<void>((r) => { this.#begin = r; }).then(() => this.#openWithBackoff());
    this.#ready.catch(() => {});
  }

  start(): void {
    this.#begin();
  }

  status(): Record<string, unknown> {
    return {
      ready: !!this.#content, backend: this.#content?.kind, subscribed: !!this.#unsubscribe, lastError: this.#lastError,
      announcements: { ...this.counts }, indexed: this.#o.store.cidCount(), storedBytes: this.#o.store.storedBytes(), maxStoredBytes: this.#o.maxStoredBytes,
    };
  }

  /** Background: open the store, retrying with backoff until stop(); then keep peers and the subscription up. */
  async #openWithBackoff(): Promise<ContentStore> {
    let delay = this.#o.backoffMs ?? 1000;
    for (;;) {
      if (this.#stop.signal.aborted) throw stopping();
      try {
        const store = await this.#o.open(this.#stop.signal);
        if (this.#stop.signal.aborted) {
          await store.stop().catch(() => {});
          throw this.#stop.signal.reason;
        }
        this.#content = store;
        this.#lastError = undefined;
        this.#o.log('ipfs-ready', { backend: store.kind, where: store.where, addresses: await store.addresses().catch(() => []) });
        const announcements: TopicHandler = { topic: ANNOUNCE_TOPIC, onMessage: (data, from) => this.#onAnnouncement(data, from), validate: (data, from) => this.#validate(data, from) };
        const keep = (t: TopicHandler, onState?: (u: (() => void) | undefined) => void) => keepSubscribed(store, t, { signal: this.#stop.signal, backoffMs: this.#o.backoffMs, log: this.#o.log, onState });
        this.#maintaining = Promise.all([
          this.#maintain(store), keep(announcements, (u) => { this.#unsubscribe = u; }), ...(this.#o.topics ?? []).map((t) => keep(t)),
        ]).then(() => {});
        return store;
      } catch (e) {
        if (this.#stop.signal.aborted) throw e;
        this.#lastError = (e as Error).message;
        this.#o.log('ipfs-unavailable', { code: (e as DceError).code ?? 'ERR_IPFS', message: this.#lastError, retryInMs: delay });
        await this.#sleep(delay);
        delay = Math.min(delay * 2, 60_000);
      }
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((r) => {
      const t = setTimeout(r, ms);
      this.#stop.signal.addEventListener('abort', () => { clearTimeout(t); r(); }, { once: true });
    });
  }

  /**
   * Peers are dialled best-effort and redialled every 30 s (one that is down does not keep the
   * store from serving the others).
   */
  async #maintain(store: ContentStore): Promise<void> {
    const down = new Set<string>();
    while (!this.#stop.signal.aborted) {
      for (const p of this.#o.peers) {
        try {
          await store.connect(p, { signal: AbortSignal.any([this.#stop.signal, AbortSignal.timeout(10_000)]) });
          if (down.delete(p)) this.#o.log('ipfs-peer-connected', { peer: p });
        } catch (e) {
          if (this.#stop.signal.aborted) return;
          if (!down.has(p)) this.#o.log('ipfs-peer-unreachable', { peer: p, code: (e as DceError).code, message: (e as Error).message });
          down.add(p);
        }
      }
      await this.#sleep(30_000);
    }
  }

  /** Fails at once when the content is not here and no peer could give it (rather than after the timeout). */
  async #reachable(content: ContentStore, cid: CID): Promise<void> {
    if (content.connections && content.connections() === 0 && !(await content.has(cid))) {
      throw new ContentError('ERR_CONTENT_UNAVAILABLE', `${cid}: not held by this guardian, and no IPFS peer is connected`, {
        hint: 'add the publisher\'s node to ipfsPeers (its multiaddr with /p2p/ID), or check it is online',
      });
    }
  }

  /** The store, waiting for it up to 10 s; 503 if it is still not there. */
  async content(): Promise<ContentStore> {
    if (this.#content) return this.#content;
    if (this.#stop.signal.aborted) throw stopping();
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new AgentError('ERR_UNAVAILABLE', `IPFS is not available yet${this.#lastError ? `: ${this.#lastError}` : ''}`, {
      status: 503, hint: 'the agent keeps retrying in the background; check the ipfs setting and the daemon',
    })), Math.min(this.#o.fetchTimeoutMs, 10_000)).unref());
    return Promise.race([this.#ready, timeout]);
  }

  /** At most MAX_FETCHES fetches by CID at once; more are refused (503) rather than queued. */
  async #limited<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#active >= MAX_FETCHES) throw new AgentError('ERR_UNAVAILABLE', `busy: ${this.#active} fetches by CID in progress`, { status: 503, hint: 'retry shortly' });
    this.#active++;
    try {
      return await fn();
    } finally {
      this.#active--;
    }
  }

  #signal(ms: number): AbortSignal {
    return AbortSignal.any([this.#stop.signal, AbortSignal.timeout(ms)]);
  }

  /**
   * The capsule at `cidText`: its prefix is fetched first (verified, under the cap) and
   * authenticated — the header must open with a key this guardian holds and its first chunk
   * authenticate (Releaser.register, SPEC.md §11.7) — and only then is the rest fetched, verified
   * and pinned, and CID → id (with the header hash) recorded. So neither a release by CID nor an
   * announcement makes the guardian download, keep or serve content that is not a capsule sealed
   * to it. A CID that failed for a reason other than the network is remembered and refused again.
   */
  async capsuleByCid(cidText: string, source: 'release' | 'announcement', logic?: CID): Promise<Presented> {
    const cid = parseCid(cidText, 'cid');
    const key = cid.toString();
    const known = this.#o.store.cid(key);
    const rec = known && this.#o.store.capsule(known.headerHash); // the registry is keyed by header hash (D2)
    if (rec) return present(rec.prefix);
    if (this.#failed.has(key)) throw this.#failed.get(key);
    return this.#limited(async () => {
      await this.#o.reserve?.require(`${cid}`, MAX_PREFIX); // fetched blocks are written to the data directory
      const content = await this.content();
      await this.#reachable(content, cid);
      const signal = this.#signal(this.#o.fetchTimeoutMs);
      try {
        const parts: Uint8Array[] = [];
        let kept = 0;
        for await (const chunk of content.get(cid, { maxBytes: this.#o.maxCapsuleBytes, signal })) {
          const take = chunk.subarray(0, MAX_PREFIX - kept);
          parts.push(Uint8Array.from(take));
          kept += take.length;
          if (kept >= MAX_PREFIX) break; // the rest only once it authenticates
        }
        const p = present(new Uint8Array(Buffer.concat(parts)));
        await this.#o.releaser.register(p); // another header with this id is another capsule (D2), not a mismatch
        // A disk quota for what anyone can make the guardian keep (anyone can seal a capsule to it).
        const size = capsuleLength(p.parsed.headerBytes.length - PREAMBLE_SIZE, p.parsed.header.payload.size);
        const stored = this.#o.store.storedBytes();
        if (stored + size > this.#o.maxStoredBytes) {
          throw new AgentError('ERR_QUOTA', `${cid}: ${size} bytes would take the capsules kept here to ${stored + size}, above maxStoredBytes ${this.#o.maxStoredBytes}`, {
            status: 507, hint: 'the operator can raise maxStoredBytes or remove capsules; send the capsule bytes instead (capsule open FILE)',
          });
        }
        await this.#o.reserve?.require(`${cid}`, size); // and the disk's free-space reserve (D3)
        for await (const _ of content.get(cid, { maxBytes: this.#o.maxCapsuleBytes, signal })) void _; // all of it, verified
        await content.pin(cid, { signal });
        const logicCid = logic ?? (p.parsed.header.logic.cid ? cidFromBytes(p.parsed.header.logic.cid, 'logic.cid') : undefined);
        this.#o.store.putCid({ cid: key, capsule: p.id, headerHash: p.headerHash, logic: logicCid?.toString() ?? null, source, size }, await this.#o.now());
        return p;
      } catch (e) {
        const err = statusOf(e, cid, this.#o.fetchTimeoutMs);
        if (!transient(err)) this.#remember(key, err);
        // Whatever was fetched and is not pinned goes: a refused or failed capsule leaves nothing.
        const gone = await content.discard?.(cid).catch(() => 0);
        if (gone) this.#o.log('discarded', { capsule: key, blocks: gone });
        throw err;
      }
    });
  }

  #remember(key: string, e: unknown): void {
    this.#failed.set(key, e);
    if (this.#failed.size > 1024) this.#failed.delete(this.#failed.keys().next().value!);
  }

  /**
   * A logic module by its header's locator (`logic.cid`), or — a module of at most one chunk is a
   * single raw block — by the raw CID of its SHA-256. Verified against `hash`, validated, stored, pinned.
   * Given at most 15 s: the request that needs it is waiting.
   */
  async module(hash: Uint8Array, cidBytes: Uint8Array | undefined): Promise<Uint8Array> {
    const cid = cidBytes ? cidFromBytes(cidBytes, 'logic.cid') : CID.createV1(raw.code, digestOf(sha256Hasher.code, hash));
    return this.#limited(async () => {
      await this.#o.reserve?.require(`logic ${cid}`, MAX_MODULE_SIZE);
      const content = await this.content();
      await this.#reachable(content, cid);
      const ms = Math.min(this.#o.fetchTimeoutMs, 15_000);
      const signal = this.#signal(ms);
      const parts: Uint8Array[] = [];
      try {
        for await (const chunk of content.get(cid, { maxBytes: MAX_MODULE_SIZE, signal })) parts.push(Uint8Array.from(chunk));
      } catch (e) {
        await content.discard?.(cid).catch(() => 0);
        throw statusOf(e, cid, ms);
      }
      const bytes = new Uint8Array(Buffer.concat(parts));
      if (!Buffer.from(sha256(bytes)).equals(Buffer.from(hash))) {
        await content.discard?.(cid).catch(() => 0);
        throw new AgentError('ERR_NOT_FOUND', `logic ${cid}: its bytes are not the module the header names (SHA-256 ${Buffer.from(hash).toString('hex')})`, {
          status: 422, hint: 'the header\'s logic.cid points at another module; logic.hash is authoritative',
        });
      }
      await this.#o.modules.add(bytes);
      await content.pin(cid, { signal }).catch(() => {});
      return bytes;
    });
  }

  /** The capsule's bytes for GET /v1/content: only capsules this guardian has fetched or indexed. */
  async stream(cidText: string): Promise<AsyncIterable<Uint8Array>> {
    const cid = parseCid(cidText, 'cid');
    if (!this.#o.store.cid(cid.toString())) {
      throw new AgentError('ERR_NOT_FOUND', `${cid}: not a capsule this guardian holds`, { status: 404, hint: 'the guardian serves the capsules it guards (released or announced), not arbitrary content' });
    }
    return (await this.content()).get(cid, { maxBytes: this.#o.maxCapsuleBytes, signal: this.#stop.signal });
  }

  #validate(data: Uint8Array, from: string): boolean {
    try {
      decodeAnnouncement(data);
      return true;
    } catch (e) {
      this.counts.received++;
      this.counts.dropped++;
      if (this.counts.dropped <= 10 || this.counts.dropped % 100 === 0) this.#o.log('announcement-dropped', { from, code: (e as DceError).code, message: (e as Error).message, dropped: this.counts.dropped });
      return false;
    }
  }

  #onAnnouncement(data: Uint8Array, from: string): void {
    this.counts.received++;
    let a;
    try {
      a = decodeAnnouncement(data);
    } catch {
      this.counts.dropped++; // Kubo delivers what it got; validate() ran already for Helia
      return;
    }
    if (!Buffer.from(a.guardian).equals(Buffer.from(this.#o.guardianKey))) {
      this.counts.otherGuardian++;
      return;
    }
    const key = a.capsule.toString();
    if (this.#queued.has(key) || this.#o.store.cid(key)) {
      this.counts.duplicate++;
      return;
    }
    if (this.#queue.length >= QUEUE_MAX) {
      this.counts.dropped++;
      this.#o.log('announcement-dropped', { from, code: 'ERR_BUSY', message: `index queue full (${QUEUE_MAX})` });
      return;
    }
    this.#queue.push({ key, logic: a.logic });
    this.#queued.add(key);
    this.#o.log('announcement', { capsule: key, logic: a.logic.toString(), from });
    if (!this.#draining) this.#drained = this.#drain();
  }

  /** One capsule at a time: announcements must not turn into a fetch storm. */
  async #drain(): Promise<void> {
    if (this.#draining) return;
    this.#draining = true;
    try {
      while (this.#queue.length && !this.#stop.signal.aborted) {
        const { key, logic } = this.#queue.shift()!;
        try {
          const p = await this.capsuleByCid(key, 'announcement', logic); // authenticated before the rest is fetched
          this.counts.indexed++;
          this.#o.log('indexed', { capsule: key, id: p.id });
        } catch (e) {
          this.counts.failed++;
          this.#o.log('index-failed', { capsule: key, code: (e as DceError).code ?? 'ERR_INTERNAL', message: (e as Error).message });
        } finally {
          this.#queued.delete(key);
        }
      }
    } finally {
      this.#draining = false;
    }
  }

  async stop(): Promise<void> {
    this.#stop.abort(stopping());
    this.#begin(); // so that #ready settles even if start() never came
    await this.#ready.catch(() => {}); // keepSubscribed unsubscribes each topic once the signal aborts
    await this.#maintaining;
    await this.#drained; // indexing stops at the next capsule, before the database closes
    await this.#content?.stop().catch(() => {});
    this.#content = undefined;
  }
}

function stopping(): AgentError {
  return new AgentError('ERR_UNAVAILABLE', 'the agent is stopping', { status: 503, hint: 'retry once it is back' });
}

/** Worth trying again later: the network, a timeout, the agent busy or stopping, the quota (it can be raised). */
function transient(e: unknown): boolean {
  const code = (e as DceError)?.code;
  return code === 'ERR_CONTENT_UNAVAILABLE' || code === 'ERR_IPFS_UNREACHABLE' || code === 'ERR_IPFS' || code === 'ERR_UNAVAILABLE' || code === 'ERR_QUOTA'
    || code === 'ERR_DISK_FULL' || code === 'ERR_STORE_FULL' || code === 'ERR_STORE_BUSY' // space or the lock can come back
    || (e as Error)?.name === 'AbortError' || (e as Error)?.name === 'TimeoutError';
}

function statusOf(e: unknown, cid: CID, timeoutMs: number): unknown {
  if ((e as Error)?.name === 'TimeoutError') {
    return new ContentError('ERR_CONTENT_UNAVAILABLE', `${cid}: not found within ${timeoutMs} ms`, { cause: e, hint: 'no connected peer has it; check the publisher\'s node is online and in ipfsPeers' });
  }
  // The blockstore found no room: typed (503, no path), and worth retrying once space returns (D7).
  if (isDiskFull(e) && !(e instanceof StoreError)) {
    return new StoreError('ERR_STORE_FULL', `${cid}: not fetched: the guardian's disk is full`, { cause: e, hint: 'retry later; the operator must free space on the data directory (no restart needed)' });
  }
  return e;
}
