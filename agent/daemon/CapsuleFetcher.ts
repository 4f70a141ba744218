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
 * delivered, not forwarded) and counted; ones for other guardians are counted and ignored; ones for
 * this guardian are queued (bounded, deduplicated), fetched, authenticated through
 * Releaser.register (the header must open with a key this guardian holds) and recorded CID → id.
 *
 * Deliberately not here: the HTTP routes (api.ts) and the decisions (Releaser.ts).
 */
import { AgentError, ContentError, DceError } from '../errors.ts';
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
import { present, type Presented, type Releaser } from './Releaser.ts';
import type { Store } from './Store.ts';

/** preamble + largest header + first sealed chunk */
export const MAX_PREFIX = 16 + 65536 + 65536 + 16;
const QUEUE_MAX = 64;

export interface FetcherOptions {
  open: () => Promise<ContentStore>;
  peers: string[];
  store: Store;
  modules: ModuleStore;
  releaser: Releaser;
  /** This guardian's compressed P-256 key: announcements naming another are ignored. */
  guardianKey: Uint8Array;
  maxCapsuleBytes: number;
  fetchTimeoutMs: number;
  now: () => Promise<number>;
  log: (event: string, fields?: Record<string, unknown>) => void;
  /** First retry delay; doubles up to 60 s. */
  backoffMs?: number;
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

  constructor(o: FetcherOptions) {
    this.#o = o;
    this.#ready = this.#openWithBackoff();
    this.#ready.catch(() => {});
  }

  status(): Record<string, unknown> {
    return { ready: !!this.#content, backend: this.#content?.kind, lastError: this.#lastError, announcements: { ...this.counts }, indexed: this.#o.store.cidCount() };
  }

  /** Background: open the store, dial peers and subscribe, retrying with backoff until stop(). */
  async #openWithBackoff(): Promise<ContentStore> {
    let delay = this.#o.backoffMs ?? 1000;
    let store: ContentStore | undefined;
    for (;;) {
      try {
        store ??= await this.#o.open();
        for (const p of this.#o.peers) await store.connect(p, { signal: this.#stop.signal });
        this.#unsubscribe = await store.subscribe(ANNOUNCE_TOPIC, (m) => this.#onAnnouncement(m.data, m.from), {
          validate: (data, from) => this.#validate(data, from),
        });
        this.#content = store;
        this.#lastError = undefined;
        this.#o.log('ipfs-ready', { backend: store.kind, where: store.where, addresses: await store.addresses().catch(() => []) });
        return store;
      } catch (e) {
        if (this.#stop.signal.aborted) {
          await store?.stop().catch(() => {});
          throw e;
        }
        this.#lastError = (e as Error).message;
        this.#o.log('ipfs-unavailable', { code: (e as DceError).code ?? 'ERR_IPFS', message: this.#lastError, retryInMs: delay });
        await new Promise((r) => { const t = setTimeout(r, delay); this.#stop.signal.addEventListener('abort', () => { clearTimeout(t); r(undefined); }, { once: true }); });
        delay = Math.min(delay * 2, 60_000);
      }
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

  /** The store, waiting for it up to the fetch timeout; 503 if it is still not there. */
  async content(): Promise<ContentStore> {
    if (this.#content) return this.#content;
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new AgentError('ERR_UNAVAILABLE', `IPFS is not available yet${this.#lastError ? `: ${this.#lastError}` : ''}`, {
      status: 503, hint: 'the agent keeps retrying in the background; check the ipfs setting and the daemon',
    })), Math.min(this.#o.fetchTimeoutMs, 10_000)).unref());
    return Promise.race([this.#ready, timeout]);
  }

  /**
   * Fetches (or finds pinned) the capsule at `cidText`, verified and capped; returns its parsed
   * prefix and records CID → id.
   */
  async capsuleByCid(cidText: string, source: 'release' | 'announcement', logic?: CID, record = true): Promise<Presented> {
    const cid = parseCid(cidText, 'cid');
    const known = this.#o.store.cid(cid.toString());
    if (known) {
      const rec = this.#o.store.capsule(known.capsule);
      if (rec) return present(rec.prefix);
    }
    const content = await this.content();
    await this.#reachable(content, cid);
    const signal = AbortSignal.any([this.#stop.signal, AbortSignal.timeout(this.#o.fetchTimeoutMs)]);
    const parts: Uint8Array[] = [];
    let kept = 0;
    try {
      for await (const chunk of content.get(cid, { maxBytes: this.#o.maxCapsuleBytes, signal })) {
        if (kept < MAX_PREFIX) {
          const take = chunk.subarray(0, MAX_PREFIX - kept);
          parts.push(Uint8Array.from(take));
          kept += take.length;
        }
      }
      await content.pin(cid, { signal });
    } catch (e) {
      throw statusOf(e, cid, this.#o.fetchTimeoutMs);
    }
    let p: Presented;
    try {
      p = present(new Uint8Array(Buffer.concat(parts)));
    } catch (e) {
      await content.unpin(cid).catch(() => {}); // not a capsule: not kept
      throw e;
    }
    if (record) await this.record(cid.toString(), p, source, logic);
    return p;
  }

  async record(cid: string, p: Presented, source: 'release' | 'announcement', logic?: CID): Promise<void> {
    const logicCid = logic ?? (p.parsed.header.logic.cid ? cidFromBytes(p.parsed.header.logic.cid, 'logic.cid') : undefined);
    this.#o.store.putCid({ cid, capsule: p.id, logic: logicCid?.toString() ?? null, source }, await this.#o.now());
  }

  /**
   * A logic module by its header's locator (`logic.cid`), or — a module of at most one chunk is a
   * single raw block — by the raw CID of its SHA-256. Verified against `hash`, validated, stored, pinned.
   */
  async module(hash: Uint8Array, cidBytes: Uint8Array | undefined): Promise<Uint8Array> {
    const cid = cidBytes ? cidFromBytes(cidBytes, 'logic.cid') : CID.createV1(raw.code, digestOf(sha256Hasher.code, hash));
    const content = await this.content();
    await this.#reachable(content, cid);
    const signal = AbortSignal.any([this.#stop.signal, AbortSignal.timeout(this.#o.fetchTimeoutMs)]);
    const parts: Uint8Array[] = [];
    try {
      for await (const chunk of content.get(cid, { maxBytes: MAX_MODULE_SIZE, signal })) parts.push(Uint8Array.from(chunk));
    } catch (e) {
      throw statusOf(e, cid, this.#o.fetchTimeoutMs);
    }
    const bytes = new Uint8Array(Buffer.concat(parts));
    if (!Buffer.from(sha256(bytes)).equals(Buffer.from(hash))) {
      throw new AgentError('ERR_NOT_FOUND', `logic ${cid}: its bytes are not the module the header names (SHA-256 ${Buffer.from(hash).toString('hex')})`, {
        status: 422, hint: 'the header\'s logic.cid points at another module; logic.hash is authoritative',
      });
    }
    await this.#o.modules.add(bytes);
    await content.pin(cid, { signal }).catch(() => {});
    return bytes;
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
    void this.#drain();
  }

  /** One capsule at a time: announcements must not turn into a fetch storm. */
  async #drain(): Promise<void> {
    if (this.#draining) return;
    this.#draining = true;
    try {
      while (this.#queue.length && !this.#stop.signal.aborted) {
        const { key, logic } = this.#queue.shift()!;
        try {
          // Recorded (and kept pinned) only once it authenticates: the header must open with a key
          // this guardian holds, so announcing junk under our key fills neither the index nor the disk.
          const p = await this.capsuleByCid(key, 'announcement', logic, false);
          try {
            await this.#o.releaser.register(p);
          } catch (e) {
            await this.#content?.unpin(parseCid(key, 'cid')).catch(() => {});
            throw e;
          }
          await this.record(key, p, 'announcement', logic);
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

  /** Waits until the queue is empty (tests, shutdown). */
  get idle(): boolean {
    return !this.#draining && this.#queue.length === 0;
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    this.#unsubscribe?.();
    await this.#ready.catch(() => {});
    await this.#content?.stop().catch(() => {});
    this.#content = undefined;
  }
}

function statusOf(e: unknown, cid: CID, timeoutMs: number): unknown {
  if ((e as Error)?.name === 'TimeoutError') {
    return new ContentError('ERR_CONTENT_UNAVAILABLE', `${cid}: not found within ${timeoutMs} ms`, { cause: e, hint: 'no connected peer has it; check the publisher\'s node is online and in ipfsPeers' });
  }
  return e;
}
