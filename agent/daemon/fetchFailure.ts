/**
 * What a failed fetch by CID means: a timeout is content not found in time (ERR_CONTENT_UNAVAILABLE),
 * a full disk is the store's ERR_STORE_FULL (D7); which failures are worth trying again later
 * (the network, the agent busy or stopping, quotas and space) and which are remembered and refused
 * again (anything about the content itself); and the fast refusal when no peer could have it.
 *
 * Deliberately not here: the fetches (CapsuleFetcher.ts, ModuleFetcher.ts).
 */
import type { CID } from 'multiformats/cid';
import { ContentError, StoreError, type DceError } from '../errors.ts';
import type { ContentStore } from '../store/ContentStore.ts';
import { isDiskFull } from './DiskSpace.ts';

/**
 * The typed error for a fetch of `cid` that failed with `e` (others are returned as they are).
 * @param e - What the fetch threw.
 * @param cid - What was fetched.
 * @param timeoutMs - The fetch's timeout (named in the message).
 * @returns ContentError ERR_CONTENT_UNAVAILABLE for a timeout, StoreError ERR_STORE_FULL for a full disk, else `e`.
 */
export function fetchFailure(e: unknown, cid: CID, timeoutMs: number): unknown {
  if ((e as Error)?.name === 'TimeoutError') {
    return new ContentError('ERR_CONTENT_UNAVAILABLE', `${cid}: not found within ${timeoutMs} ms`, {
      cause: e,
      hint: "no connected peer has it; check the publisher's node is online and in ipfsPeers",
    });
  }
  // The blockstore found no room: typed (503, no path), and worth retrying once space returns (D7).
  if (isDiskFull(e) && !(e instanceof StoreError)) {
    return new StoreError('ERR_STORE_FULL', `${cid}: not fetched: the guardian's disk is full`, {
      cause: e,
      hint: 'retry later; the operator must free space on the data directory (no restart needed)',
    });
  }
  return e;
}

/**
 * Worth trying again later: the network, a timeout, the agent busy or stopping, the quota (it can be raised), space.
 * @param e - A fetch's (typed) failure.
 * @returns Whether a later attempt may succeed.
 */
export function isTransient(e: unknown): boolean {
  const code = (e as DceError)?.code;
  return (
    code === 'ERR_CONTENT_UNAVAILABLE' ||
    code === 'ERR_IPFS_UNREACHABLE' ||
    code === 'ERR_IPFS' ||
    code === 'ERR_UNAVAILABLE' ||
    code === 'ERR_QUOTA' ||
    code === 'ERR_DISK_FULL' ||
    code === 'ERR_STORE_FULL' ||
    code === 'ERR_STORE_BUSY' || // space or the lock can come back
    (e as Error)?.name === 'AbortError' ||
    (e as Error)?.name === 'TimeoutError'
  );
}

/**
 * Fails at once when the content is not here and no peer could give it (rather than after the timeout).
 * @throws ContentError ERR_CONTENT_UNAVAILABLE
 */
export async function requireReachable(content: ContentStore, cid: CID): Promise<void> {
  if (content.connections && content.connections() === 0 && !(await content.has(cid))) {
    throw new ContentError('ERR_CONTENT_UNAVAILABLE', `${cid}: not held by this guardian, and no IPFS peer is connected`, {
      hint: "add the publisher's node to ipfsPeers (its multiaddr with /p2p/ID), or check it is online",
    });
  }
}
