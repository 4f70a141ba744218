/**
 * Keeps one pubsub subscription up for as long as `signal` is not aborted: when subscribing fails
 * (a Kubo daemon down, or without pubsub — it still stores and fetches) or a live subscription ends
 * (the daemon died or closed it), it subscribes again after a delay doubling from `backoffMs` up to
 * SUBSCRIBE_BACKOFF_MAX_MS. The cap is short because pubsub keeps no history: every second
 * unsubscribed is messages missed, and a retry against a daemon that is down costs one refused
 * connection. The delay is reset only by a subscription that lasted SUBSCRIBE_BACKOFF_MAX_MS, so a
 * daemon that ends every subscription at once is not hammered.
 *
 * Used for capsule announcements (CapsuleFetcher.ts) and image manifests (ImageManifestWatcher.ts).
 * Deliberately not here: what a message means (the topic's handlers).
 */
import type { DceError } from '../errors.ts';
import type { ContentStore } from '../store/ContentStore.ts';

/** The longest wait between attempts to subscribe. */
export const SUBSCRIBE_BACKOFF_MAX_MS = 10_000;

/** A topic and what to do with its messages. */
export interface TopicHandler {
  topic: string;
  onMessage: (data: Uint8Array, from: string) => void;
  /** Rejects at the pubsub layer (Helia: not delivered, not forwarded, the sender's score drops). */
  validate?: (data: Uint8Array, from: string) => boolean;
}

export interface KeepSubscribedOptions {
  signal: AbortSignal;
  /** First retry delay (default 1000 ms). */
  backoffMs?: number;
  log: (event: string, fields?: Record<string, unknown>) => void;
  /** Told when the subscription comes up (an unsubscribe function) and goes down (undefined). */
  onState?: (unsubscribe: (() => void) | undefined) => void;
}

/** Runs until `o.signal` aborts; never throws (failures are logged and retried). */
export async function keepSubscribed(store: ContentStore, t: TopicHandler, o: KeepSubscribedOptions): Promise<void> {
  const first = o.backoffMs ?? 1000;
  let delay = first;
  const stopped = new Promise<void>((r) => o.signal.addEventListener('abort', () => r(), { once: true }));
  const sleep = (ms: number) =>
    new Promise<void>((r) => {
      const timer = setTimeout(r, ms);
      o.signal.addEventListener(
        'abort',
        () => {
          clearTimeout(timer);
          r();
        },
        { once: true },
      );
    });
  let lost = false;
  while (!o.signal.aborted) {
    let ended!: (e: Error) => void;
    const end = new Promise<Error>((r) => {
      ended = r;
    });
    try {
      const unsubscribe = await store.subscribe(t.topic, (m) => t.onMessage(m.data, m.from), {
        ...(t.validate ? { validate: t.validate } : {}),
        onEnd: (e) => ended(e),
      });
      if (o.signal.aborted) return unsubscribe();
      o.onState?.(unsubscribe);
      if (lost) o.log('ipfs-resubscribed', { topic: t.topic });
      const since = Date.now();
      const e = await Promise.race([end, stopped]);
      o.onState?.(undefined);
      if (!e || o.signal.aborted) return unsubscribe();
      if (Date.now() - since >= SUBSCRIBE_BACKOFF_MAX_MS) delay = first;
      o.log('ipfs-subscription-ended', { topic: t.topic, code: (e as DceError).code, message: e.message, retryInMs: delay });
    } catch (e) {
      if (o.signal.aborted) return;
      o.log('ipfs-subscribe-failed', { topic: t.topic, code: (e as DceError).code, message: (e as Error).message, retryInMs: delay });
    }
    lost = true;
    await sleep(delay);
    delay = Math.min(delay * 2, SUBSCRIBE_BACKOFF_MAX_MS);
  }
}
