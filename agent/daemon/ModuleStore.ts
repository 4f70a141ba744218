/**
 * Logic modules by SHA-256, as files `modules/<hex>.wasm` (mode 0600) in the data directory:
 * content-addressed, so anyone may add one (it is checked against capsule_v1 and capped in size)
 * and a capsule names the one it needs by hash. Kept in memory once read (modules are small and
 * immutable).
 *
 * Because anyone may add modules, the store has a quota (bytes and count, 507 ERR_QUOTA beyond it)
 * and refuses new modules when the disk is below its free-space reserve (507 ERR_DISK_FULL). A write
 * that fails anyway (disk full, I/O) is a StoreError (503) whose message names no path: the path
 * goes to the agent's log. Deliberately not here: fetching modules by CID (CapsuleFetcher.ts).
 */
import { chmod, mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { AgentError, StoreError } from '../errors.ts';
import { sha256 } from '../crypto/kdf.ts';
import { AtomicFile } from '../io/AtomicFile.ts';
import { DEFAULT_LIMITS } from '../sandbox/limits.ts';
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
}

export class ModuleStore {
  readonly dir: string;
  readonly #o: ModuleStoreOptions;
  readonly #cache = new Map<string, Uint8Array>();
  /** What the directory holds plus what is being written: read from the disk on first add. */
  #usage: Promise<{ bytes: number; count: number }> | undefined;
  readonly #writing = new Map<string, Promise<string>>();

  /** `dir`: the modules directory (the agent uses <data dir>/modules). */
  constructor(dir: string, options: ModuleStoreOptions = {}) {
    this.dir = dir;
    this.#o = options;
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
      throw new AgentError('ERR_QUOTA', `module ${hash}: the module store holds ${usage.count} modules, the most this guardian keeps (maxModules ${o.maxModules})`, {
        status: 507, hint: 'the operator can raise maxModules; a module a capsule needs can also come from IPFS (logic.cid)',
      });
    }
    if (o.maxBytes !== undefined && usage.bytes + bytes.length > o.maxBytes) {
      throw new AgentError('ERR_QUOTA', `module ${hash}: ${bytes.length} bytes would take the module store to ${usage.bytes + bytes.length}, above maxModuleStoreBytes ${o.maxBytes}`, {
        status: 507, hint: 'the operator can raise maxModuleStoreBytes; a module a capsule needs can also come from IPFS (logic.cid)',
      });
    }
    // Counted before the slow parts, so concurrent pushes cannot pass the quota together.
    usage.bytes += bytes.length;
    usage.count += 1;
    let stored = false;
    try {
      await o.reserve?.require(`module ${hash}`, bytes.length);
      // Off the main thread, in a worker retired after failures (Binaryen's heap dies with it):
      // throws SandboxError ERR_INVALID_MODULE with the reason (issue 18 D10).
      const { checkIsolated } = await import('../sandbox/ModuleChecker.ts');
      await checkIsolated(bytes, DEFAULT_LIMITS);
      await this.#write(hash, bytes);
      stored = true;
    } finally {
      if (!stored) {
        usage.bytes -= bytes.length;
        usage.count -= 1;
      }
    }
    this.#remember(hash, bytes);
    return hash;
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
        throw new StoreError('ERR_STORE_FULL', `module ${hash}: not stored: the guardian's disk is full`, { cause, hint: 'retry later; the operator must free space on the data directory (no restart needed)' });
      }
      throw new StoreError('ERR_STORE', `module ${hash}: not stored: the module store cannot be written`, { cause, hint: 'the operator should check the data directory (see the agent\'s log)' });
    }
  }

  /** Bytes and count of the module files on disk (read once; 0644 files of older versions made 0600). */
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
        if (!NAME.test(n)) continue;
        try {
          const s = await stat(join(this.dir, n));
          u.bytes += s.size;
          u.count += 1;
          if ((s.mode & 0o077) !== 0) await chmod(join(this.dir, n), 0o600);
        } catch {
          // gone meanwhile, or unreadable: not counted
        }
      }
      return u;
    })();
    return this.#usage;
  }

  /** Bytes and count of modules stored (for /v1/status and tests). */
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
