/**
 * Threads for the bulk passes of a big file: the chunk digests of a seal's first pass, the seal's
 * encryption pass, and a whole decrypt (decryption plus chunk digests). Each pass splits the
 * payload's chunks into one contiguous range per thread (bulkRange.ts): the first runs on the
 * calling thread, in 1 MiB steps between event-loop turns, the others on worker threads
 * (bulkWorker.ts) — one worker fewer than threads, as each costs ~20 MiB of memory. The chunked digest
 * (SPEC.md §6.4) is what makes hashing splittable, STREAM's per-chunk nonces what make encryption
 * splittable. Threads are started once per operation and stopped by `close()`.
 *
 * Errors come back typed: the first failing chunk's ERR_CHUNK_AUTH exactly as a sequential reader
 * reports it (the lowest index across ranges: a range that failed stopped at its first failure,
 * every range before it succeeded), ERR_PAYLOAD_SIZE when the file changed, I/O errors as IoError.
 * Deliberately not here: deciding when this is worth it (seal.ts, open.ts), headers, atomic output.
 */
import { availableParallelism } from 'node:os';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { CapsuleFormatError, type CapsuleErrorCode } from '../errors.ts';
import { chunkCount } from '../format/layout.ts';
import { ioError } from '../io/sources.ts';
import { runRange } from './bulkRange.ts';

/** Below this many payload bytes a file is sealed or decrypted on the calling thread. */
export const PARALLEL_FROM = 32 * 1024 * 1024;

/**
 * Threads used by default: `CAPSULE_THREADS` when it is a positive integer (1 keeps everything on
 * the calling thread: for a device that must stay responsive), else the cores, at most 4 (beyond
 * that the disk or the memory bus is the limit).
 */
export function defaultThreads(): number {
  const env = Number(process.env.CAPSULE_THREADS);
  return Number.isInteger(env) && env >= 1 ? env : Math.min(availableParallelism(), 4);
}

interface Range {
  path: string;
  size: number;
  /** First chunk index of the range. */
  from: number;
  /** One past the last chunk index. */
  to: number;
}
/** A task for one worker (internal protocol with bulkWorker.ts). */
export type BulkTask =
  | Range & { op: 'hash' }
  | Range & { op: 'seal'; out: string; outOffset: number; key: Uint8Array; aad: Uint8Array }
  | Range & { op: 'open'; out: string; inOffset: number; key: Uint8Array; aad: Uint8Array };
/** A worker's message back (internal protocol with bulkWorker.ts). */
export type BulkReply =
  | { progress: number }
  | { done: true; digests: Uint8Array | undefined }
  | { error: { name: string; code: string; message: string } };

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
    return concatDigests(await this.#run(this.#split(size).map(([from, to]) => ({ op: 'hash' as const, path, size, from, to })), size, o));
  }

  /** Encrypts the file at `path` into `out` (which already exists), chunk i at `outOffset` + i·65552. */
  async seal(path: string, size: number, out: string, outOffset: number, key: Uint8Array, aad: Uint8Array, o: BulkRunOptions = {}): Promise<void> {
    await this.#run(this.#split(size).map(([from, to]) => ({ op: 'seal' as const, path, size, from, to, out, outOffset, key, aad })), size, o);
  }

  /**
   * Decrypts the chunks of the capsule at `path` (payload from `inOffset`) into `out` (which
   * already exists); returns the plaintext chunk digests, concatenated in order.
   */
  async open(path: string, size: number, inOffset: number, out: string, key: Uint8Array, aad: Uint8Array, o: BulkRunOptions = {}): Promise<Uint8Array> {
    return concatDigests(await this.#run(this.#split(size).map(([from, to]) => ({ op: 'open' as const, path, size, from, to, out, inOffset, key, aad })), size, o));
  }

  /** Stops the workers. */
  async close(): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.terminate()));
  }

  /** Contiguous chunk ranges, one per worker, as even as whole chunks allow. */
  #split(size: number): [number, number][] {
    const n = chunkCount(size);
    const k = Math.min(this.#workers.length + 1, n);
    return Array.from({ length: k }, (_, i) => [Math.floor((n * i) / k), Math.floor((n * (i + 1)) / k)] as [number, number]);
  }

  async #run(tasks: BulkTask[], total: number, o: BulkRunOptions): Promise<(Uint8Array | undefined)[]> {
    o.signal?.throwIfAborted();
    let done = 0;
    const failures: { from: number; error: Error }[] = [];
    const local = async (task: BulkTask): Promise<Uint8Array | undefined> => {
      const it = runRange(task, (bytes) => o.onProgress?.((done += bytes), total));
      try {
        for (let step = it.next(); ; step = it.next()) {
          if (step.done) return step.value;
          if (o.signal?.aborted) return void it.return(undefined); // its finally closes the files
          await new Promise((resolve) => setImmediate(resolve));
        }
      } catch (e) {
        const err = e as Error & { code?: string };
        failures.push({ from: task.from, error: e instanceof CapsuleFormatError ? e : toError({ name: err.name, code: err.code ?? 'ERR_IO', message: err.message }, o.name ?? task.path, e) });
        return undefined;
      }
    };
    const results = await Promise.all(tasks.map((task, i) => i === 0 ? local(task) : new Promise<Uint8Array | undefined>((resolve) => {
      const w = this.#workers[i - 1]!;
      const finish = (r: Uint8Array | undefined) => {
        w.off('message', onMessage).off('error', onError).off('exit', onExit);
        o.signal?.removeEventListener('abort', onAbort);
        resolve(r);
      };
      const fail = (error: Error) => {
        failures.push({ from: task.from, error });
        finish(undefined);
      };
      const onMessage = (m: BulkReply) => {
        if ('progress' in m) {
          done += m.progress;
          o.onProgress?.(done, total);
        } else if ('done' in m) {
          finish(m.digests);
        } else {
          fail(toError(m.error, o.name ?? task.path));
        }
      };
      const onError = (e: Error) => fail(e);
      const onExit = (code: number) => fail(new Error(`bulk worker stopped (exit code ${code})`));
      // Stopping the workers makes each pending range fail; the abort reason is what is thrown.
      const onAbort = () => void this.close();
      w.on('message', onMessage).on('error', onError).on('exit', onExit);
      o.signal?.addEventListener('abort', onAbort, { once: true });
      w.postMessage(task);
    })));
    o.signal?.throwIfAborted();
    if (failures.length) throw failures.sort((a, b) => a.from - b.from)[0]!.error;
    return results;
  }
}

/** The typed error for a range's failure, from its parts (what survives a worker's message). */
function toError(e: { name: string; code: string; message: string }, name: string, cause?: unknown): Error {
  if (e.name === 'CapsuleFormatError' || e.code === 'ERR_PAYLOAD_SIZE') {
    return new CapsuleFormatError(e.code as CapsuleErrorCode, e.code === 'ERR_PAYLOAD_SIZE' ? `${name}: the file changed while it was being read` : e.message, { cause });
  }
  return ioError(name, 'read or write', cause ?? Object.assign(new Error(e.message), { code: e.code }));
}

function concatDigests(parts: (Uint8Array | undefined)[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p!.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p!, at);
    at += p!.length;
  }
  return out;
}
