/**
 * Deterministic "random" bytes for vectors and reproducible tests: SHA-256(seed ‖ counter) blocks.
 * Never use outside tests: it is a pure function of its seed.
 */
import { createHash } from 'node:crypto';

export function drbg(seed: string): (n: number) => Uint8Array {
  let counter = 0;
  let pool = new Uint8Array(0);
  return (n: number) => {
    while (pool.length < n) {
      const block = createHash('sha256').update(seed).update(String(counter++)).digest();
      const next = new Uint8Array(pool.length + block.length);
      next.set(pool, 0);
      next.set(block, pool.length);
      pool = next;
    }
    const out = pool.slice(0, n);
    pool = pool.slice(n);
    return out;
  };
}
