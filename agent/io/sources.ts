/**
 * Uniform byte sources: a buffer, any async iterable of bytes (Node streams included), or a file
 * path read in 1 MiB pieces. Honors AbortSignal between pieces.
 *
 * A file is read with two reused 1 MiB buffers (the next read runs while the consumer works on the
 * current piece): allocating a buffer per read costs more than the read itself here. So a piece
 * is valid only until the consumer asks for the next one — consumers copy what they keep.
 * Deliberately not here: parsing.
 */
import { open, stat } from 'node:fs/promises';
import { IoError } from '../errors.ts';

/** A file to read; `name` (default: `path`) is how messages refer to it, e.g. as the user typed it. */
export interface PathSource {
  path: string;
  name?: string;
}

export type ByteSource = Uint8Array | AsyncIterable<Uint8Array> | Iterable<Uint8Array> | PathSource;

const READ_SIZE = 1024 * 1024;

export async function* bytesOf(source: ByteSource, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
  signal?.throwIfAborted();
  if (source instanceof Uint8Array) {
    yield source;
    return;
  }
  if (isPath(source)) {
    yield* readFile(source.path, signal, source.name);
    return;
  }
  if (source && (Symbol.asyncIterator in source || Symbol.iterator in source)) {
    for await (const piece of source as AsyncIterable<unknown>) {
      signal?.throwIfAborted();
      if (!(piece instanceof Uint8Array)) {
        throw new TypeError(
          `source: expected pieces of type Uint8Array, got ${typeof piece === 'string' ? 'a string (open streams without an encoding)' : typeof piece}`,
        );
      }
      yield piece;
    }
    return;
  }
  throw new TypeError(`source: expected a Uint8Array, an (async) iterable of Uint8Array or { path }, got ${typeof source}`);
}

export function isPath(source: unknown): source is PathSource {
  return typeof source === 'object' && source !== null && typeof (source as { path?: unknown }).path === 'string';
}

/** Size of a path source when it is a regular file; undefined otherwise (pipes, devices). */
export async function fileSize(source: PathSource): Promise<number | undefined> {
  try {
    const s = await stat(source.path);
    return s.isFile() ? s.size : undefined;
  } catch (cause) {
    throw ioError(source.name ?? source.path, 'read', cause);
  }
}

export function nameOf(source: PathSource): string {
  return source.name ?? source.path;
}

export function ioError(path: string, verb: string, cause: unknown): IoError {
  const code = (cause as NodeJS.ErrnoException)?.code;
  if (code === 'ENOENT' && verb === 'create') {
    return new IoError('ERR_NOT_FOUND', `${path}: cannot create: its directory does not exist`, {
      cause,
      hint: 'create the directory first, or check the path',
    });
  }
  if (code === 'ENOENT') {
    return new IoError('ERR_NOT_FOUND', `${path}: no such file`, { cause, hint: 'check the path' });
  }
  if (code === 'EISDIR') {
    return new IoError('ERR_IO', `${path}: is a directory, expected a file`, { cause, hint: 'give a file name' });
  }
  if (cause instanceof Error && cause.name === 'AbortError') throw cause;
  return new IoError('ERR_IO', `${path}: cannot ${verb} (${code ?? 'error'})`, { cause });
}

async function* readFile(path: string, signal?: AbortSignal, name = path): AsyncGenerator<Uint8Array> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (cause) {
    throw ioError(name, 'read', cause);
  }
  const bufs = [Buffer.allocUnsafe(READ_SIZE), Buffer.allocUnsafe(READ_SIZE)];
  const read = (b: Buffer) => {
    const p = fh.read(b, 0, READ_SIZE, null).then(
      (r) => r.bytesRead,
      (cause) => {
        throw ioError(name, 'read', cause);
      },
    );
    // Observed now: a read-ahead may fail while the consumer is busy; the error is rethrown when
    // the consumer awaits it, instead of killing the process as an unhandled rejection.
    p.catch(() => {});
    return p;
  };
  let pending: Promise<number> | undefined;
  try {
    let which = 0;
    pending = read(bufs[0]!);
    for (;;) {
      const n = await pending;
      if (n === 0) return;
      signal?.throwIfAborted();
      const cur = bufs[which]!;
      which ^= 1;
      pending = read(bufs[which]!);
      yield cur.subarray(0, n);
    }
  } finally {
    await pending?.catch(() => {}); // never close under an outstanding read
    for (const b of bufs) b.fill(0); // the pieces may have been plaintext
    await fh.close().catch(() => {});
  }
}
