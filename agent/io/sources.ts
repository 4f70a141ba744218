/**
 * Uniform byte sources: a buffer, any async iterable of bytes (Node streams included), or a file
 * path read in 1 MiB pieces. Honors AbortSignal between pieces.
 *
 * Deliberately not here: parsing. Pieces handed out are fresh buffers the consumer may keep.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { IoError } from '../errors.ts';

export type ByteSource = Uint8Array | AsyncIterable<Uint8Array> | Iterable<Uint8Array> | { path: string };

const READ_SIZE = 1024 * 1024;

export async function* bytesOf(source: ByteSource, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
  signal?.throwIfAborted();
  if (source instanceof Uint8Array) {
    yield source;
    return;
  }
  if (isPath(source)) {
    const stream = createReadStream(source.path, { highWaterMark: READ_SIZE, signal });
    try {
      for await (const piece of stream) yield piece as Buffer;
    } catch (cause) {
      throw ioError(source.path, 'read', cause);
    }
    return;
  }
  if (source && (Symbol.asyncIterator in source || Symbol.iterator in source)) {
    for await (const piece of source as AsyncIterable<unknown>) {
      signal?.throwIfAborted();
      if (!(piece instanceof Uint8Array)) {
        throw new TypeError(`source: expected pieces of type Uint8Array, got ${typeof piece === 'string' ? 'a string (open streams without an encoding)' : typeof piece}`);
      }
      yield piece;
    }
    return;
  }
  throw new TypeError(`source: expected a Uint8Array, an (async) iterable of Uint8Array or { path }, got ${typeof source}`);
}

export function isPath(source: unknown): source is { path: string } {
  return typeof source === 'object' && source !== null && typeof (source as { path?: unknown }).path === 'string';
}

/** Size of a path source when it is a regular file; undefined otherwise (pipes, devices). */
export async function fileSize(path: string): Promise<number | undefined> {
  try {
    const s = await stat(path);
    return s.isFile() ? s.size : undefined;
  } catch (cause) {
    throw ioError(path, 'read', cause);
  }
}

export function ioError(path: string, verb: string, cause: unknown): IoError {
  const code = (cause as NodeJS.ErrnoException)?.code;
  if (code === 'ENOENT') {
    return new IoError('ERR_NOT_FOUND', `${path}: no such file`, { cause, hint: 'check the path' });
  }
  if (cause instanceof Error && cause.name === 'AbortError') throw cause;
  return new IoError('ERR_IO', `${path}: cannot ${verb} (${code ?? 'error'})`, { cause });
}
