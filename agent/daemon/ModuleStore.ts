/**
 * Logic modules by SHA-256, as files `modules/<hex>.wasm` in the data directory: content-addressed,
 * so anyone may add one (it is checked against capsule_v1 and capped in size) and a capsule names
 * the one it needs by hash. Kept in memory once read (modules are small and immutable).
 *
 * Deliberately not here: fetching modules by CID (IPFS, a later issue).
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256 } from '../crypto/kdf.ts';
import { AtomicFile } from '../io/AtomicFile.ts';
import { DEFAULT_LIMITS } from '../sandbox/limits.ts';

export const MAX_MODULE_SIZE = DEFAULT_LIMITS.maxModuleBytes;
const CACHE_SIZE = 64;

export class ModuleStore {
  readonly dir: string;
  readonly #cache = new Map<string, Uint8Array>();

  /** `dir`: the modules directory (the agent uses <data dir>/modules). */
  constructor(dir: string) {
    this.dir = dir;
  }

  /** Validates and stores `bytes`; returns its SHA-256 (hex). Idempotent. */
  async add(bytes: Uint8Array): Promise<string> {
    if (bytes.length > MAX_MODULE_SIZE) throw new RangeError(`module: expected at most ${MAX_MODULE_SIZE} bytes, got ${bytes.length}`);
    const hash = Buffer.from(sha256(bytes)).toString('hex');
    if (this.#cache.has(hash) || (await this.get(hash))) return hash; // already validated and stored
    // Loaded on first use: Binaryen costs ~350 ms to load, which the agent's start should not pay.
    const { validateModule } = await import('../sandbox/validate.ts');
    validateModule(bytes, DEFAULT_LIMITS); // throws SandboxError ERR_INVALID_MODULE with the reason
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const f = await AtomicFile.create(join(this.dir, `${hash}.wasm`), 0o644);
    try {
      await f.write(Uint8Array.from(bytes));
      await f.commit();
    } catch (e) {
      await f.abort();
      throw e;
    }
    this.#remember(hash, Uint8Array.from(bytes));
    return hash;
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
