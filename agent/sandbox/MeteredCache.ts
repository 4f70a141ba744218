/**
 * Metered binaries by module SHA-256 and the limits that shape metering: from memory (most
 * recently used last, at most `maxBytes` together), else from a disk layer (ModuleStore's
 * `.metered` files), else from a check (validation and metering off the main thread, ModuleChecker),
 * whose result is then written to the disk layer. Concurrent callers for one module share one
 * lookup; a failure is not cached. So a module is validated and metered once — at push, or at its
 * first decision after an upgrade that changed the key — and the sandbox workers only compile
 * the result (issue 15; issue 18 D12).
 *
 * Deliberately not here: the checker (ModuleChecker.ts), the file format (meteredFile.ts) and
 * where the files are and what they count against (ModuleStore.ts).
 */
import { createHash } from 'node:crypto';
import type { Limits } from './limits.ts';
import type { ModuleReport } from './validate.ts';

/** A module's validation report and its metered binary. */
export interface Checked {
  report: ModuleReport;
  metered: Uint8Array;
}

/** Where metered binaries persist (ModuleStore's files). Implementations never throw. */
export interface MeteredDisk {
  /** The stored result for module `sha256` (hex) under `limits`, or undefined (absent, or not trusted). */
  read(sha256: string, limits: Limits): Promise<Checked | undefined>;
  /** Stores the result (best effort: a failure is logged by the implementation, not thrown). */
  write(sha256: string, limits: Limits, checked: Checked): Promise<void>;
}

export interface MeteredCacheOptions {
  /** Validates and meters (ModuleChecker.check: off the main thread). */
  check(bytes: Uint8Array, limits: Limits): Promise<Checked>;
  disk?: MeteredDisk;
  /** Bytes of metered binaries kept in memory (default METERED_CACHE_BYTES). */
  maxBytes?: number;
}

/** Default memory bound of a MeteredCache. */
export const METERED_CACHE_BYTES = 64 * 2 ** 20;

export class MeteredCache {
  readonly #o: MeteredCacheOptions;
  readonly #max: number;
  readonly #memory = new Map<string, Promise<Checked>>();
  readonly #sizes = new Map<string, number>();
  #bytes = 0;
  /** Where answers came from so far (tests and the bench read it). */
  readonly served = { memory: 0, disk: 0, checked: 0 };

  /** @throws RangeError when maxBytes is not a non-negative integer */
  constructor(options: MeteredCacheOptions) {
    const max = options.maxBytes ?? METERED_CACHE_BYTES;
    if (!Number.isSafeInteger(max) || max < 0) throw new RangeError(`maxBytes: expected a non-negative integer, got ${max}`);
    this.#o = options;
    this.#max = max;
  }

  /**
   * The module's report and metered binary. `persist: false` leaves the disk layer unwritten (the
   * module store writes the module first, then calls persist()).
   * @throws SandboxError ERR_INVALID_MODULE, ERR_TIMEOUT, ERR_SANDBOX (from the check)
   */
  get(bytes: Uint8Array, limits: Limits, options: { persist?: boolean } = {}): Promise<Checked> {
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const key = `${sha256}/${limits.maxMemoryPages}/${limits.maxModuleBytes}/${limits.maxTableElements}`;
    const hit = this.#memory.get(key);
    if (hit) {
      this.served.memory++;
      this.#memory.delete(key); // most recently used last
      this.#memory.set(key, hit);
      return hit;
    }
    const p = this.#load(bytes, sha256, limits, options.persist !== false);
    this.#memory.set(key, p);
    p.then(
      (c) => {
        if (this.#memory.get(key) !== p) return;
        this.#sizes.set(key, c.metered.length);
        this.#bytes += c.metered.length;
        for (const [k] of this.#memory) {
          if (this.#bytes <= this.#max || k === key) break;
          this.#bytes -= this.#sizes.get(k) ?? 0;
          this.#sizes.delete(k);
          this.#memory.delete(k);
        }
      },
      () => {
        if (this.#memory.get(key) === p) this.#memory.delete(key);
      },
    ); // a failure is not cached
    return p;
  }

  /** Writes a result obtained with `persist: false` to the disk layer (never throws). */
  persist(bytes: Uint8Array, limits: Limits, checked: Checked): Promise<void> {
    return this.#o.disk?.write(createHash('sha256').update(bytes).digest('hex'), limits, checked) ?? Promise.resolve();
  }

  async #load(bytes: Uint8Array, sha256: string, limits: Limits, persist: boolean): Promise<Checked> {
    const stored = await this.#o.disk?.read(sha256, limits);
    if (stored) {
      this.served.disk++;
      return stored;
    }
    const checked = await this.#o.check(bytes, limits);
    this.served.checked++;
    if (persist) await this.#o.disk?.write(sha256, limits, checked);
    return checked;
  }
}
