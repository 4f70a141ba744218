/**
 * Sealing a payload of any size in constant memory: `seal()` (bytes out as a stream) and
 * `sealToFile()` (atomic output file).
 *
 * The header carries the payload's size and digest, so the payload is read twice: a file path is
 * simply read again (a stat() snapshot before and after catches a file that changed in between,
 * as tar does; on file systems with coarse timestamps a same-size rewrite within one tick could
 * slip through and give a capsule that fails ERR_PAYLOAD_DIGEST when opened); any other stream is
 * first spooled to a temporary file *encrypted under a throwaway key* (never plaintext on disk),
 * then replayed. `sealToFile()` of a big file with a chunked digest runs both passes on worker
 * threads instead (BulkPool). Deliberately not here: the byte format (CapsuleSealer).
 */
import { Readable } from 'node:stream';
import { CapsuleFormatError } from '../errors.ts';
import { stat } from 'node:fs/promises';
import { AtomicFile } from '../io/AtomicFile.ts';
import { bytesOf, fileSize, isPath, nameOf, type ByteSource, type PathSource } from '../io/sources.ts';
import { CapsuleSealer, DEFAULT_DIGEST, type SealOptions } from './CapsuleSealer.ts';
import { Spool } from './Spool.ts';
import { BulkPool, defaultThreads, PARALLEL_FROM } from './BulkPool.ts';
import { combineChunkDigests, digestAlgOf, isChunked } from './PayloadDigest.ts';
import { chunkCount } from '../format/layout.ts';
import { wipe } from '../crypto/secrets.ts';

/** Options of `seal()` and `sealToFile()`: the capsule's content (SealOptions) plus how to run. */
export interface SealRunOptions extends SealOptions {
  /** Aborts the run between pieces; the promise/stream then fails with the signal's reason. */
  signal?: AbortSignal;
  /** Called with (payload bytes sealed, payload size) as the second pass progresses. */
  onProgress?: (done: number, total: number) => void;
  /** Directory for the encrypted spool of a non-file stream (default: the OS temp dir). */
  spoolDir?: string;
  /** Worker threads for a big file (default: the cores, at most 4); 1 keeps to the calling thread. */
  threads?: number;
  /** Payload size from which a file is sealed on threads (default BulkPool.PARALLEL_FROM). */
  parallelFrom?: number;
}

/**
 * Seals `input` and yields the capsule's bytes as a stream, in constant memory. A file path is read
 * twice (digest, then encryption); any other stream is first spooled to a temporary file encrypted
 * under a throwaway key (in `spoolDir`), never as plaintext.
 * @param input - The payload: bytes, an (async) iterable of byte pieces (a Node stream opened
 *   without an encoding), or `{ path }` of a file.
 * @param options - Recipients and logic (required), owner, digest, … (SealRunOptions).
 * @returns A byte stream of the whole capsule. Every error below surfaces as the stream's error
 *   (on the first read), none is thrown by the call itself.
 * @throws TypeError / RangeError when options are malformed: no recipient, more than 64 stanzas, a
 *   logic hash that is not 32 bytes, an unknown digest, a header over 64 KiB, ….
 * @throws KeyError ERR_BAD_RECIPIENT for a recipient string that does not parse.
 * @throws IoError ERR_IO / ERR_NOT_FOUND when the input cannot be read; CapsuleFormatError
 *   ERR_PAYLOAD_SIZE when a file changed while it was being sealed.
 * @example
 * ```js
 * import { seal } from 'digital-capsule-engine';
 * import { createWriteStream } from 'node:fs';
 * import { pipeline } from 'node:stream/promises';
 * await pipeline(seal({ path: 'secret.pdf' }, { recipients: ['age1…'], logic: { hash: moduleSha256 } }), createWriteStream('secret.capsule'));
 * ```
 */
export function seal(input: ByteSource, options: SealRunOptions): Readable {
  return Readable.from(sealChunks(input, options), { objectMode: false });
}

/**
 * Seals `input` into `outPath`, which appears only once complete (written to a temporary name
 * beside it, fsync'ed, renamed; removed on any failure). A big file with a chunked digest (the
 * default) is sealed on worker threads (`threads`, `parallelFrom`).
 * @param input - The payload: bytes, an (async) iterable of byte pieces, or `{ path }` of a file.
 * @param outPath - Where the capsule goes; an existing file there is replaced.
 * @param options - SealRunOptions, plus `outName`: how messages name the output (default `outPath`).
 * @returns The new capsule's 16-byte id.
 * @throws TypeError / RangeError / KeyError ERR_BAD_RECIPIENT as `seal()` for malformed options
 *   (as a rejection, like every error here).
 * @throws IoError ERR_IO / ERR_NOT_FOUND when the input cannot be read or the output written;
 *   CapsuleFormatError ERR_PAYLOAD_SIZE when the input file changed while it was being sealed.
 * @example
 * ```js
 * import { sealToFile } from 'digital-capsule-engine';
 * const id = await sealToFile({ path: 'secret.pdf' }, 'secret.capsule', { recipients: [guardianRecipient], logic: { hash: moduleSha256 } });
 * console.log(Buffer.from(id).toString('hex'));
 * ```
 */
export async function sealToFile(input: ByteSource, outPath: string, options: SealRunOptions & { outName?: string }): Promise<Uint8Array> {
  const out = await AtomicFile.create(outPath, 0o644, options.outName);
  let id: Uint8Array | undefined;
  try {
    const threads = options.threads ?? defaultThreads();
    const size = threads > 1 && isPath(input) ? await fileSize(input) : undefined;
    const chunked = isChunked(digestAlgOf(options.digest ?? DEFAULT_DIGEST)!);
    if (chunked && size !== undefined && size >= (options.parallelFrom ?? PARALLEL_FROM)) {
      const sealer = new CapsuleSealer({ ...options, random: undefined }); // the public API always uses the CSPRNG
      id = sealer.id;
      await sealFileOnThreads(sealer, input as PathSource, size, out, threads, options);
    } else {
      for await (const piece of sealChunks(input, options, (i) => {
        id = i;
      }))
        await out.write(piece);
    }
    await out.commit();
  } catch (e) {
    await out.abort();
    throw e;
  }
  return id!;
}

async function* sealChunks(input: ByteSource, options: SealRunOptions, onId?: (id: Uint8Array) => void): AsyncGenerator<Buffer | Uint8Array> {
  const sealer = new CapsuleSealer({ ...options, random: undefined }); // the public API always uses the CSPRNG
  onId?.(sealer.id);
  const { signal } = options;
  let replay: () => AsyncIterable<Uint8Array>;
  let size: number;
  let digest: Uint8Array;
  let before: string | undefined;
  let spool: Spool | undefined;
  try {
    if (input instanceof Uint8Array) {
      size = input.length;
      digest = sealer.payloadDigest().update(input).digest();
      replay = () => bytesOf(input, signal);
    } else if (isPath(input) && (await fileSize(input)) !== undefined) {
      // First pass over the file: size and digest. The second pass re-reads it, and a stat()
      // snapshot before and after both catches a file that changed in between (as tar does).
      before = await snapshot(input.path);
      const h = sealer.payloadDigest();
      size = 0;
      for await (const piece of bytesOf(input, signal)) {
        size += piece.length;
        h.update(piece);
      }
      digest = h.digest();
      replay = () => bytesOf(input, signal);
    } else {
      spool = await Spool.create(options.spoolDir);
      const h = sealer.payloadDigest();
      for await (const piece of bytesOf(input, signal)) {
        h.update(piece);
        await spool.write(piece);
      }
      size = spool.size;
      digest = h.digest();
      const s = spool;
      replay = () => s.replay(signal);
    }

    yield await sealer.start(size, digest);
    let done = 0;
    for await (const piece of replay()) {
      for (const c of sealer.push(piece)) yield c;
      done += piece.length;
      options.onProgress?.(done, size);
    }
    const last = sealer.end();
    if (before !== undefined && (await snapshot((input as PathSource).path)) !== before) {
      throw new CapsuleFormatError('ERR_PAYLOAD_SIZE', `${nameOf(input as PathSource)}: the file changed while it was being sealed`);
    }
    for (const c of last) yield c;
  } finally {
    await spool?.dispose();
  }
}

/**
 * Both passes on worker threads: chunk digests of disjoint ranges, joined (SPEC.md §6.4); then the
 * header, then each range encrypted straight to its offset in the output file.
 */
async function sealFileOnThreads(
  sealer: CapsuleSealer,
  input: PathSource,
  size: number,
  out: AtomicFile,
  threads: number,
  options: SealRunOptions,
): Promise<void> {
  const before = await snapshot(input.path);
  const pool = BulkPool.start(Math.min(threads, chunkCount(size)));
  const name = nameOf(input);
  try {
    const { salt } = sealer.digestParams;
    const digest = combineChunkDigests(salt, size, await pool.chunkDigests(input.path, size, { signal: options.signal, name }));
    const { head, payloadKey, headerHash } = await sealer.startDetached(size, digest);
    try {
      await out.write(head);
      await pool.seal(input.path, size, out.tempPath, head.length, payloadKey, headerHash, { signal: options.signal, onProgress: options.onProgress, name });
    } finally {
      wipe(payloadKey);
    }
  } finally {
    await pool.close();
  }
  if ((await snapshot(input.path)) !== before) {
    throw new CapsuleFormatError('ERR_PAYLOAD_SIZE', `${name}: the file changed while it was being sealed`);
  }
}

/** Identity of a file's content version: inode, size, modification and change times (ns). */
async function snapshot(path: string): Promise<string> {
  const s = await stat(path, { bigint: true });
  return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
}
