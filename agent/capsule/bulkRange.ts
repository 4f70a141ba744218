/**
 * The blocks of a payload's STREAM chunks, hashed, sealed or opened with synchronous positional
 * I/O, 1 MiB (16 chunks) at a time: the unit of work of BulkPool. Every thread taking part (the
 * calling thread between event-loop turns, and worker threads, bulkWorker.ts) claims the next
 * block from a shared counter until none is left, so a worker that starts late simply takes fewer.
 *
 * - `hash`: SHA-256 of each plaintext chunk (a chunked digest's `d_i`, SPEC.md §6.4), written into
 *   the shared digest buffer at 32·i.
 * - `seal`: encrypts each chunk and writes it at its final offset in the output file.
 * - `open`: decrypts and authenticates each chunk, writes the plaintext at its offset, and writes
 *   its digest, so that the caller can check the payload digest.
 * The first failure stops everyone after their current block; because blocks are claimed in
 * order, every block before the failing one was finished (or failed itself, earlier), so the
 * lowest failing chunk across threads is the one a sequential reader reports.
 * The stream ciphers keep their own copies of the key and wipe them; the task's key belongs to the
 * caller. Plaintext buffers are wiped after use.
 * Deliberately not here: threads, joining digests, the header, the output's atomicity.
 */
import { closeSync, openSync, readSync, writevSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { StreamOpener, StreamSealer } from '../crypto/StreamCipher.ts';
import { CHUNK_SIZE, TAG_SIZE } from '../format/constants.ts';
import { chunkCount, plainChunkSize } from '../format/layout.ts';
import { GarbageHint } from '../io/gcHint.ts';
import type { BulkTask } from './BulkPool.ts';

const gcHint = new GarbageHint();
/** Chunks per block: 1 MiB of plaintext per read and per write. */
export const CHUNKS_PER_BLOCK = 16;
const PROGRESS_EVERY = 16 * 1024 * 1024;
/** Slots of `BulkTask.control`: the next unclaimed block, and a stop flag. */
export const NEXT_BLOCK = 0;
export const STOP = 1;

/** Work that cannot complete for a reason other than I/O or authentication. */
export class RangeFailure extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

/** A failure, with the chunk it happened in (for choosing the first one across threads). */
export class BlockFailure extends Error {
  readonly chunk: number;
  constructor(chunk: number, cause: unknown) {
    super(`chunk ${chunk}`, { cause });
    this.chunk = chunk;
  }
}

/** Reads exactly `length` bytes at `position`, or fails: a short read means the file changed. */
function readFully(fd: number, buf: Buffer, length: number, position: number, what: string): void {
  let got = 0;
  while (got < length) {
    const n = readSync(fd, buf, got, length - got, position + got);
    if (n === 0) throw new RangeFailure('ERR_PAYLOAD_SIZE', `${what}: ended early (the file changed while it was being read)`);
    got += n;
  }
}

/**
 * Claims and processes blocks until none is left or someone failed, pausing (yield) after each.
 * Calls `progress` with payload bytes done since its last call.
 * @throws BlockFailure whose cause is CapsuleFormatError ERR_CHUNK_AUTH (open), RangeFailure
 *   ERR_PAYLOAD_SIZE (the file changed), or an fs error (with its `code`).
 */
export function* runBlocks(task: BulkTask, progress: (bytes: number) => void): Generator<void, void> {
  const { size, control } = task;
  const n = chunkCount(size);
  const blocks = Math.ceil(n / CHUNKS_PER_BLOCK);
  const sealedSize = CHUNK_SIZE + TAG_SIZE;
  const block = Buffer.allocUnsafe(CHUNKS_PER_BLOCK * sealedSize);
  const digests = task.op === 'seal' ? undefined : new Uint8Array(task.digests);
  let inFd: number | undefined;
  let outFd: number | undefined;
  let sinceProgress = 0;
  try {
    inFd = openSync(task.path, 'r');
    outFd = task.op === 'hash' ? undefined : openSync(task.out, 'r+');
    for (;;) {
      if (Atomics.load(control, STOP)) break;
      const b = Atomics.add(control, NEXT_BLOCK, 1);
      if (b >= blocks) break;
      const first = b * CHUNKS_PER_BLOCK;
      const last = Math.min(n, first + CHUNKS_PER_BLOCK);
      const plainBytes = last === n ? size - first * CHUNK_SIZE : (last - first) * CHUNK_SIZE;
      const outParts: Buffer[] = [];
      let i = first;
      try {
        if (task.op === 'open') {
          const opener = new StreamOpener(task.key, task.aad, first);
          try {
            readFully(inFd, block, plainBytes + (last - first) * TAG_SIZE, task.inOffset + first * sealedSize, 'capsule');
            for (let at = 0; i < last; i++) {
              const len = plainChunkSize(size, i) + TAG_SIZE;
              const plain = opener.openChunk(block.subarray(at, at + len), i === n - 1);
              at += len;
              outParts.push(plain);
              digests!.set(createHash('sha256').update(plain).digest(), i * 32);
            }
            i = first; // an I/O failure below is the block's, reported at its first chunk
            writevSync(outFd!, outParts, first * CHUNK_SIZE);
          } finally {
            opener.dispose();
            for (const p of outParts) p.fill(0);
          }
        } else {
          readFully(inFd, block, plainBytes, first * CHUNK_SIZE, 'payload');
          const sealer = task.op === 'seal' ? new StreamSealer(task.key, task.aad, first) : undefined;
          try {
            for (let at = 0; i < last; i++) {
              const len = plainChunkSize(size, i);
              const plain = block.subarray(at, at + len);
              at += len;
              if (sealer) outParts.push(...sealer.sealChunkParts(plain, i === n - 1));
              else digests!.set(createHash('sha256').update(plain).digest(), i * 32);
            }
            i = first;
            if (task.op === 'seal') writevSync(outFd!, outParts, task.outOffset + first * sealedSize);
          } finally {
            sealer?.dispose();
          }
        }
      } catch (e) {
        Atomics.store(control, STOP, 1);
        throw new BlockFailure(i, e);
      }
      // Each chunk from node:crypto is a fresh off-heap buffer; collect right after the write, as
      // the calling thread's writer does (gcHint.ts), or garbage piles up by the hundred MiB.
      gcHint.add(plainBytes);
      sinceProgress += plainBytes;
      if (sinceProgress >= PROGRESS_EVERY) {
        progress(sinceProgress);
        sinceProgress = 0;
      }
      yield;
    }
    if (sinceProgress) progress(sinceProgress);
  } finally {
    block.fill(0);
    if (inFd !== undefined) closeSync(inFd);
    if (outFd !== undefined) closeSync(outFd);
  }
}
