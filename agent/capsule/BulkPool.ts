/**
 * Threads for the bulk passes of a big file: the chunk digests of a seal's first pass, the seal's
 * encryption pass, and a whole decrypt (decryption plus chunk digests). Each pass splits the
 * payload's chunks into 1 MiB blocks that the threads claim one by one (bulkRange.ts): the calling
 * thread between event-loop turns, and worker threads (bulkWorker.ts) — one worker fewer than
 * threads, as each costs ~20 MiB of memory. The chunked digest
 * (SPEC.md §6.4) is what makes hashing splittable, STREAM's per-chunk nonces what make encryption
 * splittable. Threads are started once per operation and stopped by `close()`.
 *
 * Errors come back typed: the first failing chunk's ERR_CHUNK_AUTH exactly as a sequential reader
 * reports it (the lowest index across threads, bulkRange.ts says why that is exact),
 * ERR_PAYLOAD_SIZE when the file changed, I/O errors as IoError. An abort stops every thread after
 * its current block and throws the signal's reason.
 * Deliberately not here: deciding when this is worth it (seal.ts, open.ts), headers, atomic output.
 */
import { availableParallelism } from 'node:os';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { CapsuleFormatError, type CapsuleErrorCode } from '../errors.ts';
import { chunkCount } from '../format/layout.ts';
import { ioError } from '../io/sources.ts';
import { runBlocks, STOP, type BlockFailure } from './bulkRange.ts';

/**
 * Below this many payload bytes (32 MiB) a file is sealed or decrypted on the calling thread: the
 * default of the `parallelFrom` option of sealToFile() and decryptToFile().
 */
export const PARALLEL_FROM = 32 * 1024 * 1024;

/**
 * Threads used by default: `CAPSULE_THREADS` when it is a positive integer (1 keeps everything on
 * the calling thread: for a device that must stay responsive), else the cores, at most 4 (beyond
 * that the disk or the memory bus is the limit). The default of the `threads` option of
 * sealToFile() and decryptToFile().
 * @returns The thread count, at least 1.
 * @example
 * ```js
 * await sealToFile(input, out, { ...options, threads: Math.min(2, defaultThreads()) });
 * ```
 */
export function defaultThreads(): number {
  const env = Number(process.env.CAPSULE_THREADS);
  return Number.isInteger(env) && env >= 1 ? env : Math.min(availableParallelism(), 4);
}

interface Common {
  path: string;
  size: number;
  /** Int32Array over a SharedArrayBuffer: [next block to claim, stop flag] (bulkRange.ts). */
  control: Int32Array;
}
/** The work of one pass, shared by every thread (internal protocol with bulkRange.ts). */
export type BulkTask =
  | (Common & { op: 'hash'; digests: SharedArrayBuffer })
  | (Common & { op: 'seal'; out: string; outOffset: number; key: Uint8Array; aad: Uint8Array })
  | (Common & { op: 'open'; out: string; inOffset: number; key: Uint8Array; aad: Uint8Array; digests: SharedArrayBuffer });
/** A worker's message back (internal protocol with bulkWorker.ts). */
export type BulkReply = { progress: number } | { done: true } | { error: { name: string; code: string; message: string; chunk: number } };

const WORKER_URL = new URL(`./bulkWorker${extname(fileURLToPath(import.meta.url))}`, import.meta.url);

export interface BulkRunOptions {
  signal?: AbortSignal;
  /** Called with (payload bytes done so far, payload size). */
  onProgress?: (done: number, total: number) => void;
  /** How messages name the input file. */
  name?: string;
}

export class BulkPool {
  readonly #workers: Worker[];

  private constructor(workers: Worker[]) {
    this.#workers = workers;
  }

  /**
   * Ready to run `threads` ranges at a time: starts `threads − 1` workers.
   * @throws RangeError unless `threads` is an integer ≥ 1.
   */
  static start(threads: number): BulkPool {
    if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`threads: expected an integer ≥ 1, got ${threads}`);
    // Small young generations: the workers allocate little besides the 1 MiB block they reuse.
    return new BulkPool(Array.from({ length: threads - 1 }, () => new Worker(WORKER_URL, { resourceLimits: { maxYoungGenerationSizeMb: 4 } })));
  }

  /** SHA-256 of each plaintext chunk of the file at `path` (`size` bytes), concatenated in order. */
  async chunkDigests(path: string, size: number, o: BulkRunOptions = {}): Promise<Uint8Array> {
    const digests = new SharedArrayBuffer(chunkCount(size) * 32);
    await this.#run({ op: 'hash', path, size, control: control(), digests }, o);
    return new Uint8Array(digests).slice();
  }

  /** Encrypts the file at `path` into `out` (which already exists), chunk i at `outOffset` + i·65552. */
  async seal(path: string, size: number, out: string, outOffset: number, key: Uint8Array, aad: Uint8Array, o: BulkRunOptions = {}): Promise<void> {
    await this.#run({ op: 'seal', path, size, control: control(), out, outOffset, key, aad }, o);
  }

  /**
   * Decrypts the chunks of the capsule at `path` (payload from `inOffset`) into `out` (which
   * already exists); returns the plaintext chunk digests, concatenated in order.
   */
  async open(path: string, size: number, inOffset: number, out: string, key: Uint8Array, aad: Uint8Array, o: BulkRunOptions = {}): Promise<Uint8Array> {
    const digests = new SharedArrayBuffer(chunkCount(size) * 32);
    await this.#run({ op: 'open', path, size, control: control(), out, inOffset, key, aad, digests }, o);
    return new Uint8Array(digests).slice();
  }

  /** Stops the workers. */
  async close(): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.terminate()));
  }

  /** Runs `task` on this thread and every worker; throws the failure of the lowest chunk. */
  async #run(task: BulkTask, o: BulkRunOptions): Promise<void> {
    o.signal?.throwIfAborted();
    const total = task.size;
    const name = o.name ?? task.path;
    let done = 0;
    const onProgress = (bytes: number) => o.onProgress?.((done += bytes), total);
    const failures: { chunk: number; error: Error }[] = [];
    const stop = () => Atomics.store(task.control, STOP, 1);
    o.signal?.addEventListener('abort', stop, { once: true });
    const here = async (): Promise<void> => {
      const it = runBlocks(task, onProgress);
      try {
        for (let step = it.next(); !step.done; step = it.next()) await new Promise((resolve) => setImmediate(resolve));
      } catch (e) {
        const f = e as BlockFailure;
        const cause = f.cause as Error & { code?: string };
        failures.push({
          chunk: f.chunk,
          error: cause instanceof CapsuleFormatError ? cause : toError({ name: cause.name, code: cause.code ?? 'ERR_IO', message: cause.message }, name, cause),
        });
      }
    };
    const there = (w: Worker) =>
      new Promise<void>((resolve) => {
        const finish = () => {
          w.off('message', onMessage).off('error', onError).off('exit', onExit);
          resolve();
        };
        const fail = (chunk: number, error: Error) => {
          stop();
          failures.push({ chunk, error });
          finish();
        };
        const onMessage = (m: BulkReply) => {
          if ('progress' in m) onProgress(m.progress);
          else if ('done' in m) finish();
          else fail(m.error.chunk, toError(m.error, name));
        };
        const onError = (e: Error) => fail(Number.MAX_SAFE_INTEGER, e);
        const onExit = (code: number) => fail(Number.MAX_SAFE_INTEGER, new Error(`bulk worker stopped (exit code ${code})`));
        w.on('message', onMessage).on('error', onError).on('exit', onExit);
        w.postMessage(task);
      });
    try {
      await Promise.all([here(), ...this.#workers.map(there)]);
    } finally {
      o.signal?.removeEventListener('abort', stop);
    }
    o.signal?.throwIfAborted();
    if (failures.length) throw failures.sort((a, b) => a.chunk - b.chunk)[0]!.error;
  }
}

function control(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(8));
}

/** The typed error for a range's failure, from its parts (what survives a worker's message). */
function toError(e: { name: string; code: string; message: string }, name: string, cause?: unknown): Error {
  if (e.name === 'CapsuleFormatError' || e.code === 'ERR_PAYLOAD_SIZE') {
    return new CapsuleFormatError(e.code as CapsuleErrorCode, e.code === 'ERR_PAYLOAD_SIZE' ? `${name}: the file changed while it was being read` : e.message, {
      cause,
    });
  }
  return ioError(name, 'read or write', cause ?? Object.assign(new Error(e.message), { code: e.code }));
}
