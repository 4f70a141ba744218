/**
 * A cache of built policies: `capsule logic build` and `capsule logic test` of an unchanged source
 * reuse the module instead of running asc again (seconds per build: issue 19's 1,000-case run).
 *
 * An entry is keyed by the entry file's path, the compiler's version and the build flags, and
 * records every file asc asked for during the build — the ones it read with their SHA-256, and the
 * ones it probed that did not exist (asc tries several names per import, and a file that appears
 * later, such as an SDK installed into the project's node_modules, would change what is built). A
 * lookup is a hit only when every recorded file still has its hash and every absent one is still
 * absent, and the stored module still has the SHA-256 recorded with it; anything else is a miss
 * and a fresh build replaces the entry. So the cache can be stale only if a file changes between
 * the check and its use, as with any build tool.
 *
 * Failed builds are not cached. Writes go to a temporary name and are renamed, so a concurrent
 * or interrupted build leaves either the old entry or the new one. The directory is
 * `$XDG_CACHE_HOME/digital-capsule-engine/build-cache` (or `~/.cache/…`); CAPSULE_BUILD_CACHE
 * names another one, or `off`.
 *
 * Deliberately not here: compiling (build.ts) and validating the module (done again on a hit).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

const FORMAT = 1;

/** One file asc asked for: its SHA-256 (hex), or null when it did not exist. */
export interface ReadRecord {
  path: string;
  sha256: string | null;
}

interface Entry {
  format: number;
  files: ReadRecord[];
  wasm: string;
}

const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

function hashOf(path: string): string | null {
  try {
    return sha256(readFileSync(path));
  } catch {
    return null;
  }
}

/** Built modules by source, checked against every file the build read. */
export class BuildCache {
  /** The cache directory. */
  readonly dir: string;

  /** @param dir - The directory (created at the first store). */
  constructor(dir: string) {
    if (typeof dir !== 'string' || dir === '') throw new TypeError(`dir: expected a directory path, got ${JSON.stringify(dir)}`);
    this.dir = dir;
  }

  /**
   * The user's cache: CAPSULE_BUILD_CACHE (a directory, or `off`), else
   * `$XDG_CACHE_HOME/digital-capsule-engine/build-cache`, else `~/.cache/…`.
   * @returns The cache, or undefined when turned off or there is no home directory.
   */
  static forUser(env: NodeJS.ProcessEnv = process.env): BuildCache | undefined {
    const named = env.CAPSULE_BUILD_CACHE;
    if (named === 'off') return undefined;
    if (named) return new BuildCache(named);
    let home: string | undefined;
    try {
      home = homedir();
    } catch {
      home = undefined; // no HOME and no passwd entry: build without a cache
    }
    const base = env.XDG_CACHE_HOME || (home && join(home, '.cache'));
    return base ? new BuildCache(join(base, 'digital-capsule-engine', 'build-cache')) : undefined;
  }

  /**
   * The module built from `entry` with `settings`, if no file the build read has changed since.
   * @param entry - The entry file's absolute path.
   * @param settings - What else decides the output (compiler version, flags), as one string.
   * @returns The module, or undefined (a miss; unreadable or damaged entries are misses too).
   */
  get(entry: string, settings: string): Uint8Array | undefined {
    const base = join(this.dir, this.#key(entry, settings));
    let e: Entry;
    try {
      e = JSON.parse(readFileSync(`${base}.json`, 'utf8')) as Entry;
    } catch {
      return undefined;
    }
    if (e.format !== FORMAT || !Array.isArray(e.files) || typeof e.wasm !== 'string') return undefined;
    for (const f of e.files) if (hashOf(f.path) !== f.sha256) return undefined;
    let wasm: Uint8Array;
    try {
      wasm = new Uint8Array(readFileSync(`${base}.wasm`));
    } catch {
      return undefined;
    }
    return sha256(wasm) === e.wasm ? wasm : undefined;
  }

  /**
   * Stores a successful build. Failures to write only cost speed: they are ignored.
   * @param entry - The entry file's absolute path.
   * @param settings - As for get().
   * @param paths - Every file the build asked for (read or absent); each is hashed now.
   * @param wasm - The module.
   */
  put(entry: string, settings: string, paths: Iterable<string>, wasm: Uint8Array): void {
    const files: ReadRecord[] = [...new Set(paths)].map((path) => ({ path, sha256: hashOf(path) }));
    const base = join(this.dir, this.#key(entry, settings));
    const tmp = `.${randomBytes(6).toString('hex')}.tmp`;
    try {
      mkdirSync(this.dir, { recursive: true });
      writeFileSync(`${base}${tmp}`, wasm);
      renameSync(`${base}${tmp}`, `${base}.wasm`);
      const entry_: Entry = { format: FORMAT, files, wasm: sha256(wasm) };
      writeFileSync(`${base}${tmp}`, JSON.stringify(entry_));
      renameSync(`${base}${tmp}`, `${base}.json`);
    } catch {
      rmSync(`${base}${tmp}`, { force: true });
    }
  }

  #key(entry: string, settings: string): string {
    return sha256(`${FORMAT}\0${entry}\0${settings}`);
  }
}
