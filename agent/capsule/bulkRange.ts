/**
 * One contiguous range of a payload's STREAM chunks, hashed, sealed or opened with synchronous
 * positional I/O, 1 MiB at a time: the unit of work of BulkPool, run on a worker thread
 * (bulkWorker.ts) or, for the first range, on the calling thread between event-loop turns.
 *
 * - `hash`: SHA-256 of each plaintext chunk of the range (a chunked digest's `d_i`, SPEC.md §6.4).
 * - `seal`: encrypts the range's chunks and writes each at its final offset in the output file.
 * - `open`: decrypts and authenticates the range's chunks, writes the plaintext at its offset and
 *   returns the chunk digests, so that the caller can check the payload digest.
 * `runRange` is a generator that pauses after each block, so that a caller on the main thread can
 * let other work run. The stream cipher keeps its own copy of the key and wipes it at its end;
 * the task's key belongs to the caller. Plaintext buffers are wiped after use.
 * Deliberately not here: splitting the work, joining digests, the header, the output's atomicity.
 */
import { closeSync, openSync, readSync, writevSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { StreamOpener, StreamSealer } from '../crypto/StreamCipher.ts';
import { CHUNK_SIZE, TAG_SIZE } from '../format/constants.ts';
import { chunkCount, plainChunkSize } from '../format/layout.ts';
import { GarbageHint } from '../io/gcHint.ts';
import type { BulkTask } from './BulkPool.ts';

const gcHint = new GarbageHint();
const CHUNKS_PER_BLOCK = 16; // 1 MiB of plaintext per read and per write
const PROGRESS_EVERY = 16 * 1024 * 1024;

/** A range that cannot complete for a reason other than I/O or authentication. */
export class RangeFailure extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
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
 * Works through `task`, pausing (yield) after each block; returns the chunk digests for `hash` and
 * `open`. Calls `progress` with payload bytes done since its last call.
 * @throws CapsuleFormatError ERR_CHUNK_AUTH (open), RangeFailure ERR_PAYLOAD_SIZE (the file
 *   changed), and fs errors (with their `code`).
 */
export function* runRange(task: BulkTask, progress: (bytes: number) => void): Generator<void, Uint8Array | undefined> {
  const { size, from, to } = task;
  const n = chunkCount(size);
  const inFd = openSync(task.path, 'r');
  const outFd = task.op === 'hash' ? undefined : openSync(task.out, 'r+');
  const sealedSize = CHUNK_SIZE + TAG_SIZE;
  const block = Buffer.allocUnsafe(CHUNKS_PER_BLOCK * sealedSize);
  const digests = task.op === 'seal' ? undefined : new Uint8Array((to - from) * 32);
  const sealer = task.op === 'seal' ? new StreamSealer(task.key, task.aad, from) : undefined;
  const opener = task.op === 'open' ? new StreamOpener(task.key, task.aad, from) : undefined;
  let sinceProgress = 0;
  try {
    for (let first = from; first < to; first += CHUNKS_PER_BLOCK) {
      const last = Math.min(to, first + CHUNKS_PER_BLOCK);
      const plainBytes = last === n ? size - first * CHUNK_SIZE : (last - first) * CHUNK_SIZE;
      const outParts: Buffer[] = [];
      if (task.op === 'open') {
        const sealedBytes = plainBytes + (last - first) * TAG_SIZE;
        readFully(inFd, block, sealedBytes, task.inOffset + first * sealedSize, 'capsule');
        for (let i = first, at = 0; i < last; i++) {
          const len = plainChunkSize(size, i) + TAG_SIZE;
          const plain = opener!.openChunk(block.subarray(at, at + len), i === n - 1);
          at += len;
          digests!.set(createHash('sha256').update(plain).digest(), (i - from) * 32);
          outParts.push(plain);
        }
        writevSync(outFd!, outParts, first * CHUNK_SIZE);
      } else {
        readFully(inFd, block, plainBytes, first * CHUNK_SIZE, 'payload');
        for (let i = first, at = 0; i < last; i++) {
          const len = plainChunkSize(size, i);
          const plain = block.subarray(at, at + len);
          at += len;
          if (digests) digests.set(createHash('sha256').update(plain).digest(), (i - from) * 32);
          else outParts.push(...sealer!.sealChunkParts(plain, i === n - 1));
        }
        if (task.op === 'seal') writevSync(outFd!, outParts, task.outOffset + first * sealedSize);
      }
      for (const p of task.op === 'open' ? outParts : []) p.fill(0);
      // Each chunk from node:crypto is a fresh off-heap buffer; collect right after the write, as
      // the calling thread's writer does (gcHint.ts), or garbage piles up by the hundred MiB.
      gcHint.add(plainBytes);
      sinceProgress += plainBytes;
      yield;
      if (sinceProgress >= PROGRESS_EVERY) {
        progress(sinceProgress);
        sinceProgress = 0;
      }
    }
    if (sinceProgress) progress(sinceProgress);
    return digests;
  } finally {
    block.fill(0);
    sealer?.dispose();
    opener?.dispose();
    closeSync(inFd);
    if (outFd !== undefined) closeSync(outFd);
  }
}

