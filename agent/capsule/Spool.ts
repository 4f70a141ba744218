/**
 * A temporary, encrypted, unlinked file: lets a one-pass stream be read twice without ever putting
 * its plaintext on disk. Data is sealed with STREAM under a random key that lives only in memory;
 * the file is unlinked as soon as it is opened, so nothing survives a crash.
 *
 * Deliberately not here: reuse across processes, or any persistence at all.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { wipe } from '../crypto/secrets.ts';
import { StreamOpener, StreamSealer } from '../crypto/StreamCipher.ts';
import { CHUNK_SIZE, TAG_SIZE } from '../format/constants.ts';

const AAD = new Uint8Array(32);
/** Sealed chunks are written (and read back) 16 at a time: one syscall per ~1 MiB, not per chunk. */
const BATCH = 16;

export class Spool {
  #fh: FileHandle;
  #key: Uint8Array;
  #sealer: StreamSealer;
  #pending = Buffer.alloc(CHUNK_SIZE);
  #fill = 0;
  #size = 0;
  #sealedEnd = false;
  #batch: Buffer[] = [];

  private constructor(fh: FileHandle, key: Uint8Array) {
    this.#fh = fh;
    this.#key = key;
    this.#sealer = new StreamSealer(key, AAD);
  }

  static async create(dir = tmpdir()): Promise<Spool> {
    const d = await mkdtemp(join(dir, 'capsule-spool-'));
    try {
      const fh = await open(join(d, 'spool'), 'wx+', 0o600);
      return new Spool(fh, randomBytes(32));
    } finally {
      await rm(d, { recursive: true, force: true }); // unlinked while open: nothing outlives us
    }
  }

  get size(): number {
    return this.#size;
  }

  async write(data: Uint8Array): Promise<void> {
    let off = 0;
    while (off < data.length) {
      if (this.#fill === CHUNK_SIZE) {
        this.#batch.push(this.#sealer.sealChunk(this.#pending, false));
        this.#fill = 0;
        if (this.#batch.length >= BATCH) await this.#flush();
      }
      const take = Math.min(CHUNK_SIZE - this.#fill, data.length - off);
      this.#pending.set(data.subarray(off, off + take), this.#fill);
      this.#fill += take;
      off += take;
    }
    this.#size += data.length;
  }

  /** Yields the spooled plaintext once, authenticated chunk by chunk. */
  async *replay(signal?: AbortSignal): AsyncGenerator<Uint8Array> {
    if (this.#sealedEnd) throw new Error('Spool: replay() may be called once');
    this.#batch.push(this.#sealer.sealChunk(this.#pending.subarray(0, this.#fill), true));
    await this.#flush();
    this.#sealedEnd = true;
    this.#pending.fill(0);
    const opener = new StreamOpener(this.#key, AAD);
    wipe(this.#key);
    const chunks = Math.max(1, Math.ceil(this.#size / CHUNK_SIZE));
    const wire = CHUNK_SIZE + TAG_SIZE;
    const buf = Buffer.alloc(wire * BATCH);
    let pos = 0;
    for (let i = 0; i < chunks; ) {
      signal?.throwIfAborted();
      const n = Math.min(BATCH, chunks - i);
      const len = (n - 1) * wire + (i + n < chunks ? wire : this.#size - (chunks - 1) * CHUNK_SIZE + TAG_SIZE);
      for (let got = 0; got < len; ) {
        const { bytesRead } = await this.#fh.read(buf, got, len - got, pos + got);
        if (bytesRead <= 0) throw new Error(`Spool: short read at ${pos + got}`);
        got += bytesRead;
      }
      pos += len;
      for (let j = 0; j < n; j++, i++) {
        const start = j * wire;
        yield opener.openChunk(buf.subarray(start, Math.min(start + wire, len)), i === chunks - 1);
      }
    }
  }

  async dispose(): Promise<void> {
    wipe(this.#key, this.#pending);
    await this.#fh.close().catch(() => {});
  }

  #writePos = 0;
  async #flush(): Promise<void> {
    const parts = this.#batch;
    this.#batch = [];
    if (!parts.length) return;
    const all = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    for (let off = 0; off < all.length; ) {
      const { bytesWritten } = await this.#fh.write(all, off, all.length - off, this.#writePos + off);
      if (bytesWritten <= 0) throw new Error('Spool: short write');
      off += bytesWritten;
    }
    this.#writePos += all.length;
  }
}
