/**
 * Capsule announcements received on the pubsub topic: malformed, unsigned or forged ones are
 * rejected at the pubsub layer (`validate`: not delivered, not forwarded, and the sender's
 * gossipsub score drops) and counted; ones for other guardians are counted and ignored; ones for
 * this guardian are queued (bounded, deduplicated) and fetched one at a time (announcements must
 * not turn into a fetch storm) through `fetch` (CapsuleFetcher.capsuleByCid: authenticated before
 * the rest is fetched), and counted as indexed or failed.
 *
 * Deliberately not here: the subscription (keepSubscribed.ts) and fetching (CapsuleFetcher.ts).
 */
import type { CID } from 'multiformats/cid';
import type { DceError } from '../errors.ts';
import { ANNOUNCE_TOPIC, decodeAnnouncement } from '../store/Announcement.ts';
import type { TopicHandler } from './keepSubscribed.ts';
import type { Presented } from './present.ts';
import type { Store } from './Store.ts';

/** Announcements queued at most; more are dropped (and counted). */
const QUEUE_MAX = 64;

export interface AnnouncementQueueOptions {
  /** This guardian's compressed P-256 key: announcements naming another are ignored. */
  guardianKey: Uint8Array;
  /** Where CIDs already indexed are known. */
  store: Pick<Store, 'cid'>;
  /** Fetches and indexes an announced capsule. */
  fetch: (cid: string, logic: CID) => Promise<Presented>;
  /** Aborted when the agent stops: the queue stops at the next capsule. */
  signal: AbortSignal;
  log: (event: string, fields?: Record<string, unknown>) => void;
}

export class AnnouncementQueue {
  readonly #o: AnnouncementQueueOptions;
  readonly #queue: Array<{ key: string; logic: CID }> = [];
  readonly #queued = new Set<string>();
  #draining = false;
  #drained: Promise<void> = Promise.resolve();
  /** What happened to the announcements received (for /v1/status). */
  readonly counts = { received: 0, dropped: 0, otherGuardian: 0, duplicate: 0, indexed: 0, failed: 0 };

  constructor(o: AnnouncementQueueOptions) {
    this.#o = o;
  }

  /** The topic handler to keep subscribed (keepSubscribed.ts). */
  handler(): TopicHandler {
    return { topic: ANNOUNCE_TOPIC, onMessage: (data, from) => this.#onAnnouncement(data, from), validate: (data, from) => this.#validate(data, from) };
  }

  /** Resolves once the capsule being indexed (if any) is done: after stop, nothing more starts. */
  drained(): Promise<void> {
    return this.#drained;
  }

  #validate(data: Uint8Array, from: string): boolean {
    try {
      decodeAnnouncement(data);
      return true;
    } catch (e) {
      this.counts.received++;
      this.counts.dropped++;
      if (this.counts.dropped <= 10 || this.counts.dropped % 100 === 0)
        this.#o.log('announcement-dropped', { from, code: (e as DceError).code, message: (e as Error).message, dropped: this.counts.dropped });
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

  /** One capsule at a time. */
  async #drain(): Promise<void> {
    if (this.#draining) return;
    this.#draining = true;
    try {
      while (this.#queue.length && !this.#o.signal.aborted) {
        const { key, logic } = this.#queue.shift()!;
        try {
          const p = await this.#o.fetch(key, logic); // authenticated before the rest is fetched
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
}
