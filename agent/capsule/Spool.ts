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

export class Spool {
  #fh: FileHandle;
  #key: Uint8Array;
  #sealer: StreamSealer;
  #pending = Buffer.alloc(CHUNK_SIZE);
  #fill = 0;
  #size = 0;
  #sealedEnd = false;

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
        await this.#append(this.#sealer.sealChunk(this.#pending, false));
        this.#fill = 0;
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
    await this.#append(this.#sealer.sealChunk(this.#pending.subarray(0, this.#fill), true));
    this.#sealedEnd = true;
    this.#pending.fill(0);
    const opener = new StreamOpener(this.#key, AAD);
    wipe(this.#key);
    const chunks = Math.max(1, Math.ceil(this.#size / CHUNK_SIZE));
    const buf = Buffer.alloc(CHUNK_SIZE + TAG_SIZE);
    let pos = 0;
    for (let i = 0; i < chunks; i++) {
      signal?.throwIfAborted();
      const len = (i < chunks - 1 ? CHUNK_SIZE : this.#size - i * CHUNK_SIZE) + TAG_SIZE;
      const { bytesRead } = await this.#fh.read(buf, 0, len, pos);
      if (bytesRead !== len) throw new Error(`Spool: short read at ${pos}`);
      pos += len;
      yield opener.openChunk(buf.subarray(0, len), i === chunks - 1);
    }
  }

  async dispose(): Promise<void> {
    wipe(this.#key, this.#pending);
    await this.#fh.close().catch(() => {});
  }

  #writePos = 0;
  async #append(b: Buffer): Promise<void> {
    const { bytesWritten } = await this.#fh.write(b, 0, b.length, this.#writePos);
    if (bytesWritten !== b.length) throw new Error('Spool: short write');
    this.#writePos += b.length;
  }
}
