/**
 * The agent's IPFS side (issue #6), put together from one part per job: the store opened in the
 * background with backoff (IpfsConnection.ts); once open, the peers kept connected (keepPeers.ts)
 * and the topics kept subscribed (keepSubscribed.ts: announcements, and further topics such as
 * image manifests); capsules by CID (CapsuleFetcher.ts) and modules by CID (ModuleFetcher.ts),
 * sharing the fetch slots (FetchSlots.ts); announcements queued and indexed (AnnouncementQueue.ts).
 * start() and stop() are the agent's (a component of Agent.ts); stop ends fetches in flight (503),
 * the subscriptions and peers, waits for the capsule being indexed, then closes the store.
 *
 * Deliberately not here: the HTTP routes (api.ts) and the decisions (Releaser.ts).
 */
import type { ContentStore } from '../store/ContentStore.ts';
import { AnnouncementQueue } from './AnnouncementQueue.ts';
import { CapsuleFetcher, type CapsuleFetcherOptions } from './CapsuleFetcher.ts';
import { FetchSlots } from './FetchSlots.ts';
import { IpfsConnection } from './IpfsConnection.ts';
import { keepPeers } from './keepPeers.ts';
import { keepSubscribed, type TopicHandler } from './keepSubscribed.ts';
import { ModuleFetcher } from './ModuleFetcher.ts';
import type { ModuleStore } from './ModuleStore.ts';

/** How long a fetch waits for the store to open, at most. */
const OPEN_WAIT_MS = 10_000;

/** The capsule fetcher's options (but its connection and slots, made here) and what the rest needs. */
export interface IpfsOptions extends Omit<CapsuleFetcherOptions, 'connection' | 'slots'> {
  open: (signal: AbortSignal) => Promise<ContentStore>;
  peers: string[];
  modules: ModuleStore;
  /** This guardian's compressed P-256 key: announcements naming another are ignored. */
  guardianKey: Uint8Array;
  /** First retry delay; doubles up to 60 s. */
  backoffMs?: number;
  /** Further topics to keep subscribed on the same node (image manifests: ImageManifestWatcher.ts). */
  topics?: TopicHandler[];
}

export class IpfsService {
  readonly #o: IpfsOptions;
  readonly #connection: IpfsConnection;
  readonly #announcements: AnnouncementQueue;
  #unsubscribe: (() => void) | undefined;
  /** Capsules by CID (releases, GET /v1/content, announcements). */
  readonly capsules: CapsuleFetcher;
  /** Logic modules by CID (decisions whose module the store lacks). */
  readonly modules: ModuleFetcher;

  /** Nothing happens until start(): the agent starts IPFS after it is ready (libp2p costs ~0.7 s to load). */
  constructor(o: IpfsOptions) {
    this.#o = o;
    const connection = (this.#connection = new IpfsConnection({
      open: o.open,
      waitMs: Math.min(o.fetchTimeoutMs, OPEN_WAIT_MS),
      backoffMs: o.backoffMs,
      log: o.log,
      onOpen: (store) => this.#keep(store),
    }));
    const slots = new FetchSlots();
    this.capsules = new CapsuleFetcher({
      connection,
      slots,
      store: o.store,
      registry: o.registry,
      maxCapsuleBytes: o.maxCapsuleBytes,
      maxStoredBytes: o.maxStoredBytes,
      fetchTimeoutMs: o.fetchTimeoutMs,
      reserve: o.reserve,
      now: o.now,
      log: o.log,
    });
    this.modules = new ModuleFetcher({ connection, slots, modules: o.modules, fetchTimeoutMs: o.fetchTimeoutMs, reserve: o.reserve });
    this.#announcements = new AnnouncementQueue({
      guardianKey: o.guardianKey,
      store: o.store,
      signal: connection.signal,
      log: o.log,
      fetch: (cid, logic) => this.capsules.capsuleByCid(cid, 'announcement', logic),
    });
  }

  /** Starts opening the store in the background. */
  start(): void {
    this.#connection.start();
  }

  /** What /v1/status shows under `ipfs`. */
  status(): Record<string, unknown> {
    const content = this.#connection.current;
    return {
      ready: !!content,
      backend: content?.kind,
      subscribed: !!this.#unsubscribe,
      lastError: this.#connection.lastError,
      announcements: { ...this.#announcements.counts },
      indexed: this.#o.store.cidCount(),
      storedBytes: this.#o.store.storedBytes(),
      maxStoredBytes: this.#o.maxStoredBytes,
    };
  }

  /** Fetches in flight end (503); peers and subscriptions stop; indexing stops at the next capsule; the store closes. */
  async stop(): Promise<void> {
    await this.#connection.stop(); // keepSubscribed unsubscribes each topic once the signal aborts
    await this.#announcements.drained(); // before the database closes
    await this.#connection.close();
  }

  /** Once the store is open: peers dialled, and every topic kept subscribed, until stop. */
  async #keep(store: ContentStore): Promise<void> {
    const c = this.#connection;
    const keep = (t: TopicHandler, onState?: (u: (() => void) | undefined) => void) =>
      keepSubscribed(store, t, { signal: c.signal, backoffMs: this.#o.backoffMs, log: this.#o.log, onState });
    await Promise.all([
      keepPeers(store, this.#o.peers, { signal: c.signal, log: this.#o.log, sleep: (ms) => c.sleep(ms) }),
      keep(this.#announcements.handler(), (u) => {
        this.#unsubscribe = u;
      }),
      ...(this.#o.topics ?? []).map((t) => keep(t)),
    ]);
  }
}
