/**
 * Logic modules by SHA-256, as files `modules/<hex>.wasm` (mode 0600) in the data directory:
 * content-addressed, so anyone may add one (it is checked against capsule_v1 and capped in size)
 * and a capsule names the one it needs by hash. Kept in memory once read (modules are small and
 * immutable).
 *
 * Because anyone may add modules, the store has a quota (bytes and count, 507 ERR_QUOTA beyond it)
 * and refuses new modules when the disk is below its free-space reserve (507 ERR_DISK_FULL). A write
 * that fails anyway (disk full, I/O) is a StoreError (503) whose message names no path: the path
 * goes to the agent's log.
 *
 * With `meteredCache` (the agent) each module's metered binary is kept beside it,
 * `modules/<hex>.<key id>.metered` (meteredFile.ts: versioned, keyed by what metering depends on,
 * checked when read), written when the module enters the store and read by metered() on later
 * decisions and after restarts: Binaryen runs once per module, in the module checker's short-lived
 * worker, never at a decision of a known module. These files count toward maxBytes (they are disk
 * the agent spends for whoever pushed the module) but not toward maxModules; one that would pass
 * the quota or the free-space reserve is not written (the module is then metered again after a
 * restart), never refused.
 *
 * Deliberately not here: fetching modules by CID (CapsuleFetcher.ts), metering (validate.ts, in
 * ModuleChecker's worker) and the metered file's layout (meteredFile.ts).
 */
import { chmod, mkdir, readdir, readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { AgentError, StoreError } from '../errors.ts';
import { sha256 } from '../crypto/kdf.ts';
import { AtomicFile } from '../io/AtomicFile.ts';
import { DEFAULT_LIMITS, type Limits } from '../sandbox/limits.ts';
import { MeteredCache, type Checked } from '../sandbox/MeteredCache.ts';
import { decodeMeteredFile, encodeMeteredFile, MAX_METERED_FILE_BYTES, meteredFileName, METERED_NAME } from '../sandbox/meteredFile.ts';
import { isDiskFull, type DiskReserve } from './DiskSpace.ts';

export const MAX_MODULE_SIZE = DEFAULT_LIMITS.maxModuleBytes;
const CACHE_SIZE = 64;
const NAME = /^[0-9a-f]{64}\.wasm$/;

export interface ModuleStoreOptions {
  /** All module files together (bytes); a module that would pass it is refused (507 ERR_QUOTA). */
  maxBytes?: number;
  /** Number of modules; one more is refused (507 ERR_QUOTA). */
  maxModules?: number;
  /** The data directory's free-space reserve, checked before each new module. */
  reserve?: DiskReserve;
  /** Where paths and OS errors go (never to clients). */
  log?: (event: string, fields: Record<string, unknown>) => void;
  /**
   * Keep metered binaries on disk beside the modules (see the header). `true`: checks run in the
   * process's shared ModuleChecker; or the check to use (a ModuleChecker's, in tests).
   */
  meteredCache?: boolean | { check(bytes: Uint8Array, limits: Limits): Promise<Checked> };
}

export class ModuleStore {
  readonly dir: string;
  readonly #o: ModuleStoreOptions;
  readonly #cache = new Map<string, Uint8Array>();
  /** What the directory holds plus what is being written: read from the disk on first add. */
  #usage: Promise<{ bytes: number; count: number }> | undefined;
  readonly #writing = new Map<string, Promise<string>>();
  /** Sizes of the metered files on disk, by file name (found by the first #used(), then kept). */
  readonly #meteredFiles = new Map<string, number>();
  /** With meteredCache: memory, then the .metered files, then the checker. */
  readonly #metered: MeteredCache | undefined;

  /** `dir`: the modules directory (the agent uses <data dir>/modules). */
  constructor(dir: string, options: ModuleStoreOptions = {}) {
    this.dir = dir;
    this.#o = options;
    const mc = options.meteredCache;
    if (mc) {
      const check =
        mc === true ? async (b: Uint8Array, l: Limits) => (await import('../sandbox/ModuleChecker.ts')).sharedChecker().check(b, l) : mc.check.bind(mc);
      this.#metered = new MeteredCache({ check, disk: { read: (h, l) => this.#readMetered(h, l), write: (h, l, c) => this.#writeMetered(h, l, c) } });
    }
  }

  /** Where metered() answers came from so far (memory, disk, checked); undefined without meteredCache. */
  get meteredServed(): Readonly<{ memory: number; disk: number; checked: number }> | undefined {
    return this.#metered ? { ...this.#metered.served } : undefined;
  }

  /**
   * The metered binary of `bytes` (a module, normally one of this store's) under `limits`: with
   * meteredCache from memory, else its .metered file, else checked now (off the main thread) and
   * then written beside it; without, from the process's checkIsolated (memory only).
   * @throws SandboxError ERR_INVALID_MODULE, ERR_TIMEOUT, ERR_SANDBOX (from the check)
   */
  async metered(bytes: Uint8Array, limits: Limits = DEFAULT_LIMITS): Promise<Checked> {
    if (this.#metered) return this.#metered.get(bytes, limits);
    const { checkIsolated } = await import('../sandbox/ModuleChecker.ts');
    return checkIsolated(bytes, limits);
  }

  /**
   * Validates and stores `bytes`; returns its SHA-256 (hex). Idempotent.
   * @throws RangeError above MAX_MODULE_SIZE; SandboxError ERR_INVALID_MODULE; AgentError ERR_QUOTA
   *   or ERR_DISK_FULL (507); StoreError ERR_STORE_FULL / ERR_STORE (503) when the write fails
   */
  async add(bytes: Uint8Array): Promise<string> {
    if (bytes.length > MAX_MODULE_SIZE) throw new RangeError(`module: expected at most ${MAX_MODULE_SIZE} bytes, got ${bytes.length}`);
    const hash = Buffer.from(sha256(bytes)).toString('hex');
    if (this.#cache.has(hash) || (await this.get(hash))) return hash; // already validated and stored
    const same = this.#writing.get(hash);
    if (same) return same;
    const p = this.#add(hash, Uint8Array.from(bytes));
    this.#writing.set(hash, p);
    try {
      return await p;
    } finally {
      this.#writing.delete(hash);
    }
  }

  async #add(hash: string, bytes: Uint8Array): Promise<string> {
    const usage = await this.#used();
    const o = this.#o;
    if (o.maxModules !== undefined && usage.count + 1 > o.maxModules) {
      throw new AgentError(
        'ERR_QUOTA',
        `module ${hash}: the module store holds ${usage.count} modules, the most this guardian keeps (maxModules ${o.maxModules})`,
        {
          hint: 'the operator can raise maxModules; a module a capsule needs can also come from IPFS (logic.cid)',
        },
      );
    }
    if (o.maxBytes !== undefined && usage.bytes + bytes.length > o.maxBytes) {
      throw new AgentError(
        'ERR_QUOTA',
        `module ${hash}: ${bytes.length} bytes would take the module store to ${usage.bytes + bytes.length}, above maxModuleStoreBytes ${o.maxBytes}`,
        {
          hint: 'the operator can raise maxModuleStoreBytes; a module a capsule needs can also come from IPFS (logic.cid)',
        },
      );
    }
    // Counted before the slow parts, so concurrent pushes cannot pass the quota together.
    usage.bytes += bytes.length;
    usage.count += 1;
    let stored = false;
    try {
      await o.reserve?.require(`module ${hash}`, bytes.length);
      // Off the main thread, in a worker retired after failures (Binaryen's heap dies with it):
      // throws SandboxError ERR_INVALID_MODULE with the reason (issue 18 D10). The metered binary
      // is written after the module, so that no .metered file is left without its module.
      const checked = this.#metered ? await this.#metered.get(bytes, DEFAULT_LIMITS, { persist: false }) : await this.metered(bytes, DEFAULT_LIMITS);
      await this.#write(hash, bytes);
      stored = true;
      await this.#metered?.persist(bytes, DEFAULT_LIMITS, checked);
    } finally {
      if (!stored) {
        usage.bytes -= bytes.length;
        usage.count -= 1;
      }
    }
    this.#remember(hash, bytes);
    return hash;
  }

  /** The module's .metered file, if it is there and exactly what #writeMetered wrote (meteredFile.ts). */
  async #readMetered(hash: string, limits: Limits): Promise<Checked | undefined> {
    const name = meteredFileName(hash, limits);
    const path = join(this.dir, name);
    let file: Uint8Array;
    try {
      if ((await stat(path)).size > MAX_METERED_FILE_BYTES) {
        this.#o.log?.('metered-cache-ignored', { path, why: `larger than ${MAX_METERED_FILE_BYTES} bytes` });
        return undefined;
      }
      file = new Uint8Array(await readFile(path));
    } catch {
      return undefined; // absent (not yet metered, or written by no version with the cache)
    }
    const got = decodeMeteredFile(file, hash, limits);
    if (got.ok) return { report: got.report, metered: got.metered };
    // Not trusted: metered again, and the file replaced (#writeMetered).
    this.#o.log?.('metered-cache-ignored', { path, why: got.why });
    return undefined;
  }

  /**
   * Writes the module's .metered file atomically, within the quota and the free-space reserve, and
   * removes the module's files of other keys (an older fuel table or Binaryen). Never throws: a
   * metered binary that is not written is computed again after a restart.
   */
  async #writeMetered(hash: string, limits: Limits, checked: Checked): Promise<void> {
    const name = meteredFileName(hash, limits);
    const path = join(this.dir, name);
    const usage = await this.#used();
    try {
      await stat(join(this.dir, `${hash}.wasm`));
    } catch {
      return; // not one of this store's modules: no file that nothing would ever remove
    }
    let file: Uint8Array;
    try {
      file = encodeMeteredFile(hash, limits, checked);
    } catch (e) {
      this.#o.log?.('metered-not-cached', { path, why: (e as Error).message });
      return;
    }
    const stale = [...this.#meteredFiles].filter(([n]) => n.startsWith(`${hash}.`));
    const freed = stale.reduce((n, [, size]) => n + size, 0);
    const o = this.#o;
    if (o.maxBytes !== undefined && usage.bytes - freed + file.length > o.maxBytes) {
      this.#o.log?.('metered-not-cached', {
        path,
        why: `would take the module store to ${usage.bytes - freed + file.length} bytes, above maxModuleStoreBytes ${o.maxBytes}`,
      });
      return;
    }
    usage.bytes += file.length; // counted before the write, so that concurrent writes respect the quota
    let written = false;
    try {
      await o.reserve?.require(`the metered binary of module ${hash}`, file.length);
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      const f = await AtomicFile.create(path, 0o600);
      try {
        await f.write(file);
        await f.commit();
      } catch (e) {
        await f.abort();
        throw e;
      }
      written = true;
    } catch (cause) {
      this.#o.log?.('metered-not-cached', { path, full: isDiskFull(cause), why: String((cause as Error)?.message ?? cause) });
    } finally {
      if (!written) usage.bytes -= file.length;
    }
    if (!written) return;
    // The same name was replaced by the rename; other keys' files are removed.
    for (const [n, size] of stale) {
      if (n !== name) {
        try {
          await unlink(join(this.dir, n));
        } catch {
          continue; // still there: still counted
        }
      }
      usage.bytes -= size;
      this.#meteredFiles.delete(n);
    }
    this.#meteredFiles.set(name, file.length);
  }

  async #write(hash: string, bytes: Uint8Array): Promise<void> {
    const path = join(this.dir, `${hash}.wasm`);
    try {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      const f = await AtomicFile.create(path, 0o600);
      try {
        await f.write(Uint8Array.from(bytes));
        await f.commit();
      } catch (e) {
        await f.abort();
        throw e;
      }
    } catch (cause) {
      // The path and the OS error go to the agent's log; the client learns only what happened.
      const full = isDiskFull(cause);
      this.#o.log?.('module-write-failed', { path, full, error: String((cause as Error)?.message ?? cause) });
      if (full) {
        throw new StoreError('ERR_STORE_FULL', `module ${hash}: not stored: the guardian's disk is full`, {
          cause,
          hint: 'retry later; the operator must free space on the data directory (no restart needed)',
        });
      }
      throw new StoreError('ERR_STORE', `module ${hash}: not stored: the module store cannot be written`, {
        cause,
        hint: "the operator should check the data directory (see the agent's log)",
      });
    }
  }

  /**
   * Bytes (modules and their metered files) and count (modules) on disk, read once; 0644 files of
   * older versions made 0600.
   */
  #used(): Promise<{ bytes: number; count: number }> {
    this.#usage ??= (async () => {
      const u = { bytes: 0, count: 0 };
      let names: string[] = [];
      try {
        names = await readdir(this.dir);
      } catch {
        return u; // no directory yet: nothing stored
      }
      for (const n of names) {
        const metered = METERED_NAME.test(n);
        if (!NAME.test(n) && !metered) continue;
        try {
          const s = await stat(join(this.dir, n));
          u.bytes += s.size;
          if (metered)
            this.#meteredFiles.set(n, s.size); // counted in bytes, not as a module
          else u.count += 1;
          if ((s.mode & 0o077) !== 0) await chmod(join(this.dir, n), 0o600);
        } catch {
          // gone meanwhile, or unreadable: not counted
        }
      }
      return u;
    })();
    return this.#usage;
  }

  /** Bytes of module and metered files, and the number of modules stored (for /v1/status and tests). */
  usage(): Promise<{ bytes: number; count: number }> {
    return this.#used().then((u) => ({ ...u }));
  }

  /** The module with this SHA-256, or undefined. A file whose content does not match is ignored. */
  async get(hash: string): Promise<Uint8Array | undefined> {
    if (!/^[0-9a-f]{64}$/.test(hash)) return undefined;
    const hit = this.#cache.get(hash);
    if (hit) {
      this.#remember(hash, hit);
      return hit;
    }
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await readFile(join(this.dir, `${hash}.wasm`)));
    } catch {
      return undefined;
    }
    if (Buffer.from(sha256(bytes)).toString('hex') !== hash) return undefined;
    this.#remember(hash, bytes);
    return bytes;
  }

  /** At most CACHE_SIZE modules in memory (anyone may upload modules; the disk keeps them all). */
  #remember(hash: string, bytes: Uint8Array): void {
    this.#cache.delete(hash);
    this.#cache.set(hash, bytes);
    if (this.#cache.size > CACHE_SIZE) this.#cache.delete(this.#cache.keys().next().value!);
  }
}
