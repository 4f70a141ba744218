/**
 * One async critical section per key (a capsule's header hash, a signing slot's or a wallet
 * account's state scope): functions run for one key never interleave, functions for different keys
 * run concurrently. A key's entry is dropped once its last function settles, so the map holds only
 * keys in use. Deliberately not here: timeouts or fairness between keys (a key's functions run in
 * arrival order), and locking across processes (one agent per data directory: Store.ts).
 */

export class KeyedLock {
  readonly #tails = new Map<string, Promise<unknown>>();

  /**
   * Runs `fn` once every function run before it for `key` has settled; resolves or rejects as `fn`
   * does (a rejection does not stop the functions queued after it).
   */
  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#tails.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => {});
    this.#tails.set(key, tail);
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return next;
  }
}
