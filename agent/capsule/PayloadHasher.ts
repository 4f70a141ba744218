/**
 * SHA-256 over a payload, inline or on a worker thread.
 *
 * Opening a large capsule must both decrypt and hash every byte; OpenSSL's SHA-256 is about half
 * the speed of its AES-GCM here, so above WORKER_THRESHOLD the hash runs on a second core. Batches
 * of 1 MiB are transferred (not copied) and recycled, with at most MAX_IN_FLIGHT outstanding so that
 * memory stays flat when the hash is the slower side. Deliberately not here: what is being hashed.
 */
import { createHash, type Hash } from 'node:crypto';
import { Worker } from 'node:worker_threads';

export interface PayloadHasher {
  /** Adds bytes (the caller may reuse `data` after the call). May ask the caller to wait. */
  update(data: Uint8Array): void | Promise<void>;
  digest(): Promise<Uint8Array>;
  /** Releases the worker, if any (safe to call more than once). */
  close(): void;
}

export const WORKER_THRESHOLD = 16 * 1024 * 1024;
const BATCH = 1024 * 1024;
const MAX_IN_FLIGHT = 4;

export function createPayloadHasher(prefix: Uint8Array, expectedSize: number): PayloadHasher {
  const h = expectedSize >= WORKER_THRESHOLD ? new WorkerHasher() : new InlineHasher();
  if (prefix.length) h.update(prefix);
  return h;
}

export class InlineHasher implements PayloadHasher {
  readonly #h: Hash = createHash('sha256');
  update(data: Uint8Array): void {
    this.#h.update(data);
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.#h.digest());
  }
  close(): void {}
}

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const h = require('node:crypto').createHash('sha256');
parentPort.on('message', (m) => {
  if (m.len !== undefined) {
    h.update(new Uint8Array(m.buf, 0, m.len));
    parentPort.postMessage({ buf: m.buf }, [m.buf]);
  } else {
    parentPort.postMessage({ digest: h.digest() });
  }
});`;

export class WorkerHasher implements PayloadHasher {
  readonly #worker = new Worker(WORKER_SOURCE, { eval: true });
  readonly #free: ArrayBuffer[] = [];
  #batch = new Uint8Array(BATCH);
  #fill = 0;
  #inFlight = 0;
  #waiting: (() => void) | undefined;
  #done: ((d: Uint8Array) => void) | undefined;
  #failed: ((e: unknown) => void) | undefined;
  #error: unknown;

  constructor() {
    this.#worker.on('message', (m: { buf?: ArrayBuffer; digest?: Uint8Array }) => {
      if (m.buf) {
        this.#inFlight--;
        this.#free.push(m.buf);
        const w = this.#waiting;
        this.#waiting = undefined;
        w?.();
      } else if (m.digest) {
        this.#done?.(new Uint8Array(m.digest));
      }
    });
    this.#worker.on('error', (e) => {
      this.#error = e;
      this.#failed?.(e);
      this.#waiting?.();
    });
  }

  update(data: Uint8Array): void | Promise<void> {
    if (this.#error) throw this.#error;
    let off = 0;
    while (off < data.length) {
      const take = Math.min(BATCH - this.#fill, data.length - off);
      this.#batch.set(data.subarray(off, off + take), this.#fill);
      this.#fill += take;
      off += take;
      if (this.#fill === BATCH) this.#post();
    }
    if (this.#inFlight >= MAX_IN_FLIGHT) return new Promise<void>((resolve) => { this.#waiting = resolve; });
  }

  async digest(): Promise<Uint8Array> {
    if (this.#error) throw this.#error;
    if (this.#fill > 0) this.#post();
    return new Promise<Uint8Array>((resolve, reject) => {
      this.#done = resolve;
      this.#failed = reject;
      this.#worker.postMessage({});
    });
  }

  close(): void {
    void this.#worker.terminate();
  }

  #post(): void {
    const buf = this.#batch.buffer as ArrayBuffer;
    this.#worker.postMessage({ buf, len: this.#fill }, [buf]);
    this.#inFlight++;
    const reuse = this.#free.pop();
    this.#batch = reuse ? new Uint8Array(reuse) : new Uint8Array(BATCH);
    this.#fill = 0;
  }
}
