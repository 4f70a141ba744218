/**
 * Keeps the configured IPFS peers connected: each is dialled best-effort and redialled every 30 s,
 * so one that is down does not keep the store from serving the others; a peer going down or coming
 * back is logged once per change.
 *
 * Deliberately not here: opening the store (IpfsConnection.ts) and topics (keepSubscribed.ts).
 */
import type { DceError } from '../errors.ts';
import type { ContentStore } from '../store/ContentStore.ts';

/** How often every peer is dialled again. */
const REDIAL_MS = 30_000;
/** How long one dial may take. */
const DIAL_MS = 10_000;

export interface KeepPeersOptions {
  signal: AbortSignal;
  log: (event: string, fields?: Record<string, unknown>) => void;
  /** Resolves after `ms`, or at once when `signal` aborts. */
  sleep: (ms: number) => Promise<void>;
}

/**
 * Dials `peers` on `store` until `o.signal` aborts.
 * @param store - The open content store.
 * @param peers - Multiaddrs (with /p2p/ID) to keep connected.
 * @param o - The stop signal, the log and the sleep.
 * @returns Resolves once stopped (never rejects).
 */
export async function keepPeers(store: ContentStore, peers: string[], o: KeepPeersOptions): Promise<void> {
  const down = new Set<string>();
  while (!o.signal.aborted) {
    for (const p of peers) {
      try {
        await store.connect(p, { signal: AbortSignal.any([o.signal, AbortSignal.timeout(DIAL_MS)]) });
        if (down.delete(p)) o.log('ipfs-peer-connected', { peer: p });
      } catch (e) {
        if (o.signal.aborted) return;
        if (!down.has(p)) o.log('ipfs-peer-unreachable', { peer: p, code: (e as DceError).code, message: (e as Error).message });
        down.add(p);
      }
    }
    await o.sleep(REDIAL_MS);
  }
}
