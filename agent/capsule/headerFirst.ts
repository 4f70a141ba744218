/**
 * Reading a capsule's header before deciding how to open it, without reading the input twice:
 * returns the parsed header and a byte stream that replays what was consumed, then continues.
 *
 * Needed where the file key comes from an asynchronous custodian (a security module, a remote
 * guardian), because the push parser asks for the key synchronously once the header is complete.
 * Works for stdin as for files. Deliberately not here: unwrapping (the guardian) and decryption.
 */
import { bytesOf, type ByteSource } from '../io/sources.ts';
import { CapsuleReader, type ParsedHeader } from './CapsuleReader.ts';
import { feedReader } from './feedReader.ts';

/** A capsule whose header has been read: the header, and the whole capsule again as bytes. */
export interface HeaderFirst {
  /** The checked header. */
  parsed: ParsedHeader;
  /** The whole capsule again, from its first byte. Iterate it once. */
  bytes: AsyncIterable<Uint8Array>;
  /** Releases the input (closes the file) when `bytes` will not be iterated to its end. */
  close(): Promise<void>;
}

/**
 * Reads a capsule's header before deciding how to open it, without reading the input twice (works
 * for stdin as for files): for a file key that comes from an asynchronous custodian (a guardian,
 * a security module), which the synchronous Unwrapper cannot wait for.
 * @param capsule - The capsule: bytes, an (async) iterable of byte pieces, or `{ path }` of a file.
 * @param signal - Aborts the read.
 * @returns The parsed header and a byte stream replaying the capsule from its first byte; iterate it
 *   once, or call `close()`.
 * @throws CapsuleFormatError / IoError as `readHeader()`.
 * @example
 * ```js
 * import { readHeaderFirst } from 'digital-capsule-engine/capsule';
 * import { openWithKey } from 'digital-capsule-engine';
 * const { parsed, bytes } = await readHeaderFirst(process.stdin);
 * const fileKey = await askMyCustodian(parsed.header); // asynchronous
 * openWithKey(bytes, () => fileKey).pipe(process.stdout);
 * ```
 */
export async function readHeaderFirst(capsule: ByteSource, signal?: AbortSignal): Promise<HeaderFirst> {
  const it = bytesOf(capsule, signal)[Symbol.asyncIterator]();
  const reader = new CapsuleReader();
  // Copies: a source may reuse its read buffers, and these are held across the next read.
  const held: Uint8Array[] = [];
  while (!reader.parsed) {
    const next = await it.next();
    if (next.done) {
      reader.end(); // throws the right error (truncated, bad magic, …)
      break;
    }
    held.push(Uint8Array.from(next.value));
    feedReader(reader, next.value, () => !!reader.parsed);
  }
  async function* replay(): AsyncGenerator<Uint8Array> {
    try {
      yield* held.splice(0);
      for (let n = await it.next(); !n.done; n = await it.next()) yield n.value;
    } finally {
      await it.return?.(undefined); // a consumer that stops early still closes the file
    }
  }
  return { parsed: reader.parsed!, bytes: replay(), close: async () => { await it.return?.(undefined); } };
}
