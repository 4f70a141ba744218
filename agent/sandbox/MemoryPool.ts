/**
 * Guest memories for the imported-memory form of metered modules (importedMemory.ts): every
 * evaluation still gets a fresh instance, and its memory is either new or one that an earlier
 * evaluation used, was not grown by it, and has been zeroed since. A memory's only state is its
 * size and its bytes, so such a memory cannot be told apart from a new one: nothing of one
 * evaluation reaches the next (test/sandbox.test.ts checks it across verdicts, traps and growth).
 *
 * Zeroing is deferred: release() only marks a memory used; acquire() zeroes one before handing it
 * out, and tidy() zeroes all of them (the sandbox worker calls it after it has answered, so the
 * zeroing is off the decision's path). A memory that grew is dropped (a memory cannot shrink).
 *
 * Deliberately not here: instances, globals and the host (MeteredSandbox.ts).
 */
import type { MemoryShape } from './importedMemory.ts';

const PAGE = 65536;
/** Bytes of memories kept for reuse, together (enough for a few memories of the default 16-page cap). */
const POOL_BYTES = 4 * 2 ** 20;
/** Memories kept for reuse, together (bounds the count when memories are 0 pages). */
const POOL_COUNT = 64;

export class MemoryPool {
  /** Zeroed memories, by shape. */
  readonly #clean = new Map<string, WebAssembly.Memory[]>();
  /** Used memories, not zeroed yet (never handed out before they are). */
  readonly #used: { key: string; memory: WebAssembly.Memory }[] = [];
  #bytes = 0;
  #count = 0;

  /** A memory of `shape`'s size, all zeros, that no evaluation is using. */
  acquire(shape: MemoryShape): WebAssembly.Memory {
    const key = keyOf(shape);
    const clean = this.#clean.get(key)?.pop();
    if (clean) {
      this.#bytes -= shape.initial * PAGE;
      this.#count--;
      return clean;
    }
    const i = this.#used.findIndex((u) => u.key === key);
    if (i >= 0) {
      const { memory } = this.#used.splice(i, 1)[0]!;
      this.#bytes -= shape.initial * PAGE;
      this.#count--;
      zero(memory);
      return memory;
    }
    return new WebAssembly.Memory({ initial: shape.initial, maximum: shape.maximum });
  }

  /**
   * Takes back a memory acquired for `shape` once nothing will run on it any more (its instance is
   * dropped): kept, to be zeroed before reuse, unless it grew or the pool is full.
   */
  release(memory: WebAssembly.Memory, shape: MemoryShape): void {
    const size = shape.initial * PAGE;
    if (memory.buffer.byteLength !== size || this.#bytes + size > POOL_BYTES || this.#count >= POOL_COUNT) return;
    this.#bytes += size;
    this.#count++;
    this.#used.push({ key: keyOf(shape), memory });
  }

  /** Zeroes every released memory now (call when idle). */
  tidy(): void {
    for (const { key, memory } of this.#used.splice(0)) {
      zero(memory);
      let list = this.#clean.get(key);
      if (!list) this.#clean.set(key, (list = []));
      list.push(memory);
    }
  }
}

function keyOf(shape: MemoryShape): string {
  return `${shape.initial}/${shape.maximum}`;
}

function zero(memory: WebAssembly.Memory): void {
  new Uint8Array(memory.buffer).fill(0);
}
