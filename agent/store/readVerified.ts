/**
 * Reads a UnixFS file by CID from any block source, trusting nothing it is given: every block is
 * hashed against the CID that names it, the root's declared size is checked against a cap before
 * any data is fetched, and the delivered length must equal the declared size. Both backends read
 * through this: Helia does not re-verify blocks from its own disk, and the Kubo RPC's `cat` is
 * not verified at all.
 *
 * Why not ipfs-unixfs-exporter: in 16.2.2 an error in a child subtree (an abort, a missing or bad
 * block) becomes an unhandled rejection that crashes Node (docs/ipfs-research.md). Here every
 * prefetch promise is awaited or has a handler.
 *
 * Deliberately not here: directories, HAMT shards, inline (identity) CIDs, any hash but SHA-256 —
 * a capsule or a logic module is one file imported with importSettings.ts.
 */
import { createHash } from 'node:crypto';
import * as dagPb from '@ipld/dag-pb';
import { UnixFS } from 'ipfs-unixfs';
import type { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { sha256 } from 'multiformats/hashes/sha2';
import { ContentError } from '../errors.ts';

/** Fetches one block's bytes (unverified: they are checked here). */
export type FetchBlock = (cid: CID, signal?: AbortSignal) => Promise<Uint8Array>;

export interface ReadOptions {
  /** Refuse (before fetching any data) a file that declares more bytes than this. */
  maxBytes: number;
  signal?: AbortSignal;
  /** Leaf blocks fetched ahead, per tree node. */
  prefetch?: number;
}

const MAX_DEPTH = 16; // 174^16 leaves: far beyond any file; a deeper DAG is hostile

export function checkCid(cid: CID): void {
  if (cid.version !== 1)
    throw new ContentError('ERR_BAD_CID', `CID ${cid}: expected a CIDv1, got v${cid.version}`, { hint: 'capsules are published as CIDv1 (bafy…/bafk…)' });
  if (cid.code !== raw.code && cid.code !== dagPb.code) {
    throw new ContentError('ERR_BAD_CID', `CID ${cid}: expected codec raw (0x55) or dag-pb (0x70), got 0x${cid.code.toString(16)}`, {
      hint: 'a capsule is a UnixFS file',
    });
  }
  if (cid.multihash.code !== sha256.code || cid.multihash.size !== 32) {
    throw new ContentError(
      'ERR_BAD_CID',
      `CID ${cid}: expected a 32-byte sha2-256 multihash, got code 0x${cid.multihash.code.toString(16)} of ${cid.multihash.size} bytes`,
    );
  }
}

async function fetchVerified(fetch: FetchBlock, cid: CID, signal?: AbortSignal): Promise<Uint8Array> {
  checkCid(cid);
  signal?.throwIfAborted();
  const bytes = await fetch(cid, signal);
  const digest = createHash('sha256').update(bytes).digest();
  if (!digest.equals(cid.multihash.digest)) {
    throw new ContentError('ERR_CID_MISMATCH', `block ${cid}: its bytes hash to ${digest.toString('hex').slice(0, 16)}…, not to the CID`, {
      hint: 'the node served content that is not what the CID names; it is discarded',
    });
  }
  return bytes;
}

function tooLarge(cid: CID, declared: bigint | number, max: number): ContentError {
  return new ContentError('ERR_CONTENT_TOO_LARGE', `${cid}: ${declared} bytes, above the ${max}-byte cap`, {
    hint: 'nothing was fetched or kept; raise the cap only for content you expect to be that large',
  });
}

function unixfsOf(cid: CID, node: dagPb.PBNode): UnixFS {
  try {
    return UnixFS.unmarshal(node.Data ?? new Uint8Array());
  } catch (cause) {
    throw new ContentError('ERR_BAD_DAG', `${cid}: not a UnixFS node`, { cause });
  }
}

function decodePb(cid: CID, bytes: Uint8Array): dagPb.PBNode {
  try {
    return dagPb.decode(bytes);
  } catch (cause) {
    throw new ContentError('ERR_BAD_DAG', `${cid}: not a dag-pb node`, { cause });
  }
}

/** Streams the file at `cid`, verified. Throws ContentError (or AbortError) on any fault. */
export async function* readVerified(fetch: FetchBlock, cid: CID, options: ReadOptions): AsyncGenerator<Uint8Array> {
  const { maxBytes, signal } = options;
  const prefetch = options.prefetch ?? 8;
  const root = await fetchVerified(fetch, cid, signal);
  if (cid.code === raw.code) {
    if (root.length > maxBytes) throw tooLarge(cid, root.length, maxBytes);
    yield root;
    return;
  }
  const node = decodePb(cid, root);
  const fs = unixfsOf(cid, node);
  if (fs.type !== 'file' && fs.type !== 'raw')
    throw new ContentError('ERR_BAD_DAG', `${cid}: a UnixFS ${fs.type}, not a file`, { hint: 'give the CID of a capsule or a logic module' });
  const declared = fs.fileSize();
  if (declared > BigInt(maxBytes)) throw tooLarge(cid, declared, maxBytes);

  // Every node's sizes must add up: its own data plus its children's declared sizes equal its
  // fileSize, each child really is that size, and no leaf or child is empty. So every block fetched
  // carries at least one byte of the file, and the work is bounded by the cap (a DAG of empty or
  // mis-sized links could otherwise be walked without end).
  async function* walk(n: dagPb.PBNode, u: UnixFS, at: CID, expected: bigint, depth: number): AsyncGenerator<Uint8Array> {
    if (depth > MAX_DEPTH) throw new ContentError('ERR_BAD_DAG', `${cid}: DAG deeper than ${MAX_DEPTH} levels`);
    if (u.fileSize() !== expected) throw new ContentError('ERR_BAD_DAG', `${at}: declares ${u.fileSize()} bytes where its parent says ${expected}`);
    if (u.blockSizes.length !== n.Links.length) throw new ContentError('ERR_BAD_DAG', `${at}: ${n.Links.length} links but ${u.blockSizes.length} block sizes`);
    const own = BigInt(u.data?.length ?? 0);
    let sum = own;
    for (const b of u.blockSizes) {
      if (b === 0n) throw new ContentError('ERR_BAD_DAG', `${at}: a link to an empty block`);
      sum += b;
    }
    if (sum !== expected) throw new ContentError('ERR_BAD_DAG', `${at}: its parts add up to ${sum} bytes, not ${expected}`);
    if (own > 0n) yield u.data!;
    // A sliding window of block fetches; each promise gets a handler at once, so a failure while
    // an earlier block is being consumed is reported in order, never as an unhandled rejection.
    const window: Array<Promise<Uint8Array>> = [];
    let next = 0;
    const fill = () => {
      while (window.length < prefetch && next < n.Links.length) {
        const p = fetchVerified(fetch, n.Links[next++]!.Hash, signal);
        p.catch(() => {});
        window.push(p);
      }
    };
    fill();
    for (let i = 0; i < n.Links.length; i++) {
      const link = n.Links[i]!;
      const bytes = await window.shift()!;
      fill();
      if (link.Hash.code === raw.code) {
        if (BigInt(bytes.length) !== u.blockSizes[i])
          throw new ContentError('ERR_BAD_DAG', `${link.Hash}: ${bytes.length} bytes where its parent says ${u.blockSizes[i]}`);
        yield bytes;
      } else {
        const child = decodePb(link.Hash, bytes);
        yield* walk(child, unixfsOf(link.Hash, child), link.Hash, u.blockSizes[i]!, depth + 1);
      }
    }
  }

  let seen = 0n;
  for await (const chunk of walk(node, fs, cid, declared, 0)) {
    signal?.throwIfAborted();
    seen += BigInt(chunk.length);
    if (seen > declared) throw new ContentError('ERR_CID_MISMATCH', `${cid}: more data than the declared ${declared} bytes`);
    yield chunk;
  }
  if (seen !== declared) throw new ContentError('ERR_CID_MISMATCH', `${cid}: ${seen} bytes of data, the root declares ${declared}`);
}
