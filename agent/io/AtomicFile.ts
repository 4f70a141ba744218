/**
 * An output file that appears only when complete: written to a temporary name beside the target
 * (mode 0600, exclusive create), fsync'ed, then renamed. On abort the temporary file is removed, so
 * a failed decrypt never leaves partial plaintext behind. A process killed outright (SIGKILL,
 * power loss) cannot remove it: the temporary name records the writer (partials.ts), and creating
 * any AtomicFile in a directory first sweeps the temporary files there whose writer is dead.
 *
 * Deliberately not here: directory fsync policy beyond a best effort, and Windows semantics.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { GarbageHint } from './gcHint.ts';
import { partialName, sweepPartials } from './partials.ts';
import { ioError } from './sources.ts';

const FLUSH_AT = 1024 * 1024;

export class AtomicFile {
  readonly path: string;
  readonly tempPath: string;
  readonly #name: string;
  #fh: FileHandle | undefined;
  #queue: Uint8Array[] = [];
  #queued = 0;
  #closed = false;
  /** The one write in flight: the next batch is built while it runs (2 cores, threadpool I/O). */
  #inFlight: Promise<void> | undefined;
  /** Collects just after a batch was handed to the kernel, when almost nothing is live (gcHint.ts). */
  readonly #gc = new GarbageHint();

  private constructor(path: string, tempPath: string, fh: FileHandle, name: string) {
    this.path = path;
    this.#name = name;
    this.tempPath = tempPath;
    this.#fh = fh;
  }

  /** `name` is how messages refer to the file (default: `path`). */
  static async create(path: string, mode = 0o600, name = path): Promise<AtomicFile> {
    const dir = dirname(path);
    await sweepPartials(dir);
    const tempPath = join(dir, partialName(basename(path), randomBytes(6).toString('hex')));
    try {
      return new AtomicFile(path, tempPath, await open(tempPath, 'wx', mode), name);
    } catch (cause) {
      throw ioError(name, 'create', cause);
    }
  }

  /**
   * Queues bytes (kept by reference until written: do not reuse the buffer). Resolves at once
   * unless a full batch must wait for the previous write, which bounds memory to two batches.
   */
  async write(data: Uint8Array): Promise<void> {
    this.#queue.push(data);
    this.#queued += data.length;
    if (this.#queued >= FLUSH_AT) {
      if (this.#inFlight) await this.#inFlight;
      this.#inFlight = this.#flush();
      this.#inFlight.catch(() => {}); // observed by the next write() or commit()
    }
  }

  async commit(): Promise<void> {
    if (this.#closed) throw new Error('AtomicFile: already closed');
    try {
      if (this.#inFlight) await this.#inFlight;
      await this.#flush();
      await this.#fh!.sync();
      await this.#fh!.close();
      this.#closed = true;
      await rename(this.tempPath, this.path);
    } catch (cause) {
      await this.abort();
      throw ioError(this.#name, 'write', cause);
    }
  }

  /** Removes the temporary file; safe to call at any point and more than once. */
  async abort(): Promise<void> {
    for (const q of this.#queue) if (q instanceof Uint8Array) q.fill(0);
    this.#queue = [];
    await this.#inFlight?.catch(() => {});
    if (!this.#closed) {
      this.#closed = true;
      await this.#fh?.close().catch(() => {});
    }
    await unlink(this.tempPath).catch(() => {});
  }

  async #flush(): Promise<void> {
    const q = this.#queue;
    this.#gc.add(this.#queued);
    this.#queue = [];
    this.#queued = 0;
    if (q.length === 0) return;
    try {
      let total = 0;
      for (const b of q) total += b.length;
      let written = 0;
      let parts = q;
      while (written < total) {
        const { bytesWritten } = await this.#fh!.writev(parts);
        written += bytesWritten;
        if (written < total) parts = remaining(q, written);
      }
    } catch (cause) {
      throw ioError(this.#name, 'write', cause);
    }
  }
}

function remaining(parts: Uint8Array[], skip: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const p of parts) {
    if (skip >= p.length) {
      skip -= p.length;
      continue;
    }
    out.push(skip > 0 ? p.subarray(skip) : p);
    skip = 0;
  }
  return out;
}
