/**
 * Loads a verified OCI archive into the container engine (docs/IMAGES.md §4.3): the engine is
 * found first (podman, else docker, on PATH), then the archive is copied into a fresh private
 * directory (mode 0700) while it is verified (verifyOciArchive.ts with `copyTo`), the copy's bytes are
 * hashed once more against what was verified, and only then is `ENGINE [engineArgs] load -i COPY`
 * run — on the copy, which no other user can reach, so the engine cannot be handed bytes swapped
 * after verification. The private directory is removed whatever happens.
 *
 * Deliberately not here: running containers, tagging, removing old images, and engine
 * configuration (storage driver, root): pass those as `engineArgs` or in the engine's own config.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants, createReadStream } from 'node:fs';
import { access, chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, isAbsolute, join } from 'node:path';
import { ImageError } from '../errors.ts';
import { verifyOciArchive, type VerifiedArchive, type VerifyOptions } from './verifyOciArchive.ts';

export type EngineName = 'podman' | 'docker';
export const ENGINES: readonly EngineName[] = ['podman', 'docker'];

export interface Engine {
  name: EngineName;
  path: string;
}

/**
 * The first of `candidates` that is an executable file in a PATH directory of `env`.
 * @throws ImageError ERR_ENGINE_MISSING
 */
export async function findEngine(env: NodeJS.ProcessEnv, candidates: readonly EngineName[] = ENGINES): Promise<Engine> {
  const dirs = (env.PATH ?? '').split(delimiter).filter((d) => d !== '' && isAbsolute(d));
  for (const name of candidates) {
    for (const dir of dirs) {
      const path = join(dir, name);
      try {
        await access(path, constants.X_OK);
        return { name, path };
      } catch {
        // not here; try the next directory
      }
    }
  }
  throw new ImageError('ERR_ENGINE_MISSING', `no container engine: ${candidates.join(' or ')} not found on PATH`, {
    hint: 'install podman (apt-get install podman), or put it on PATH; nothing was loaded',
  });
}

export interface LoadOptions extends Omit<VerifyOptions, 'copyTo'> {
  env?: NodeJS.ProcessEnv;
  /** Arguments put before `load` (e.g. `--root DIR`, `--storage-driver=vfs`). */
  engineArgs?: string[];
  /** Only these engines, in this order (default podman, then docker). */
  engines?: readonly EngineName[];
  /** Where the private copy is made (default os.tmpdir()): it needs room for the archive. */
  tmpDir?: string;
}

export interface LoadResult {
  verified: VerifiedArchive;
  engine: Engine;
  /** What the engine reported loading ("Loaded image: …" lines). */
  loaded: string[];
}

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

/**
 * Verifies `archive` into a private copy and loads that copy.
 * @throws ImageError ERR_ENGINE_MISSING, ERR_ENGINE, and everything verifyOciArchive throws; IoError
 */
export async function loadImage(archive: string, o: LoadOptions): Promise<LoadResult> {
  const env = o.env ?? process.env;
  const engine = await findEngine(env, o.engines);
  const dir = await mkdtemp(join(o.tmpDir ?? tmpdir(), 'capsule-image-'));
  try {
    await chmod(dir, 0o700);
    const copy = join(dir, 'image.tar');
    const verified = await verifyOciArchive(archive, { ...o, copyTo: copy });
    // The copy is private, so this only catches a disk or a bug; it costs one read at ~2 GB/s.
    if ((await sha256File(copy)) !== verified.sha256) {
      throw new ImageError('ERR_BLOB_MISMATCH', 'archive: the private copy does not hash to the bytes verified', {
        hint: 'the disk under the temporary directory is failing, or something else writes there; nothing was loaded',
      });
    }
    o.signal?.throwIfAborted();
    const { code, stdout, stderr } = await run(engine.path, [...(o.engineArgs ?? []), 'load', '-i', copy], env, o.signal);
    if (code !== 0) {
      const last = stderr.trim().split('\n').pop()?.slice(0, 300) ?? '';
      throw new ImageError('ERR_ENGINE', `${engine.name} load exited with ${code} after the archive verified`, {
        cause: new Error(stderr.slice(-4000)),
        hint: last ? `${engine.name} said: ${last}` : `run \`${engine.name} load -i ARCHIVE\` by hand to see why`,
      });
    }
    const loaded = stdout
      .split('\n')
      .map((l) => l.match(/^Loaded image(?:\(s\))?:\s*(.+)$/)?.[1])
      .filter((x): x is string => !!x);
    return { verified, engine, loaded };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, signal?: AbortSignal): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'], signal });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      if (stdout.length < 1 << 20) stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      if (stderr.length < 1 << 20) stderr += d;
    });
    child.on('error', (cause) =>
      reject(
        cause.name === 'AbortError'
          ? cause
          : new ImageError('ERR_ENGINE', `cannot run ${cmd}`, { cause, hint: 'check the engine is installed and executable' }),
      ),
    );
    child.on('close', (code, sig) => resolve({ code: code ?? (sig ? 128 : 1), stdout, stderr }));
  });
}
