/**
 * Opens the content store an `ipfs` setting names: the embedded node's repository is
 * `<data dir>/ipfs`; a Kubo daemon is checked to answer. Then dials the given peers (in order,
 * all of them; one unreachable peer is an error here — the agent retries in the background instead).
 * Deliberately not here: retries (the caller's policy).
 */
import { join } from 'node:path';
import type { ContentStore, IpfsSpec } from './ContentStore.ts';

export interface OpenOptions {
  dataDir: string;
  /** Embedded node only: listen addresses ([] for a one-shot client). */
  listen?: string[];
  /** Embedded node only: a fresh identity (one-shot commands beside a running agent). */
  ephemeral?: boolean;
  signal?: AbortSignal;
}

export async function openContentStore(spec: Exclude<IpfsSpec, { kind: 'off' }>, o: OpenOptions): Promise<ContentStore> {
  if (spec.kind === 'kubo') {
    const { KuboStore } = await import('./KuboStore.ts');
    const k = new KuboStore(spec.url);
    await k.start({ signal: o.signal });
    return k;
  }
  // Loaded on demand: libp2p costs ~1 s to import, which commands without IPFS should not pay.
  const { HeliaStore } = await import('./HeliaStore.ts');
  return HeliaStore.open({ dir: join(o.dataDir, 'ipfs'), listen: o.listen, ephemeral: o.ephemeral });
}

export async function connectAll(store: ContentStore, peers: string[], signal?: AbortSignal): Promise<void> {
  for (const p of peers) await store.connect(p, { signal });
}
