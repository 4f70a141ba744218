/**
 * The one set of UnixFS import settings every content-store backend uses (issue #6), so that a
 * capsule gets the same CID from the embedded Helia node, from a Kubo daemon, and offline:
 * CIDv1, raw leaves, 256 KiB fixed chunks, balanced DAG of at most 174 links, a single-chunk file
 * reduced to its raw leaf. These are Kubo's classic defaults (made explicit: Kubo itself defaults
 * to CIDv0, and @helia/unixfs to 1 MiB chunks and 1024 links — docs/ipfs-research.md).
 *
 * Also: computing a capsule's CID without any node, by running the importer into a sink that keeps
 * nothing. Deliberately not here: storing or fetching (the ContentStore backends).
 */
import { importer, type ImporterOptions } from 'ipfs-unixfs-importer';
import { fixedSize } from 'ipfs-unixfs-importer/chunker';
import { balanced } from 'ipfs-unixfs-importer/layout';
import type { CID } from 'multiformats/cid';

export const CHUNK_BYTES = 262_144;
export const MAX_LINKS = 174;

export function importOptions(): Pick<ImporterOptions, 'cidVersion' | 'rawLeaves' | 'reduceSingleLeafToSelf' | 'chunker' | 'layout'> {
  return {
    cidVersion: 1,
    rawLeaves: true,
    reduceSingleLeafToSelf: true,
    chunker: fixedSize({ chunkSize: CHUNK_BYTES }),
    layout: balanced({ maxChildrenPerNode: MAX_LINKS }),
  };
}

/** The same settings as kubo-rpc-client `add` options. */
export const KUBO_ADD_OPTIONS = {
  cidVersion: 1,
  rawLeaves: true,
  chunker: `size-${CHUNK_BYTES}`,
  hashAlg: 'sha2-256',
  trickle: false,
  maxFileLinks: MAX_LINKS,
} as const;

/** The CID the content stores will give these bytes, computed without storing anything. */
export async function computeCid(content: Uint8Array | AsyncIterable<Uint8Array>, signal?: AbortSignal): Promise<CID> {
  let root: CID | undefined;
  for await (const entry of importer([{ content: owned(content, signal) }], { put: async (cid: CID) => cid }, importOptions())) root = entry.cid;
  if (!root) throw new Error('computeCid: the importer produced no entry');
  return root;
}

/**
 * Content for the importer: pieces copied (sources such as bytesOf(file) reuse their read buffer,
 * and the importer holds pieces across reads: without the copy it hashes later bytes), and the
 * signal checked between pieces (the importer takes no AbortSignal).
 */
export async function* owned(content: Uint8Array | AsyncIterable<Uint8Array>, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
  if (content instanceof Uint8Array) {
    yield* guarded(content, signal);
    return;
  }
  for await (const piece of guarded(content, signal)) yield Uint8Array.from(piece);
}

async function* guarded(content: Uint8Array | AsyncIterable<Uint8Array>, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
  signal?.throwIfAborted();
  if (content instanceof Uint8Array) {
    for (let off = 0; off < content.length || off === 0; off += CHUNK_BYTES) {
      yield content.subarray(off, off + CHUNK_BYTES);
      signal?.throwIfAborted();
      if (content.length === 0) break;
    }
    return;
  }
  for await (const piece of content) {
    signal?.throwIfAborted();
    yield piece;
  }
}
