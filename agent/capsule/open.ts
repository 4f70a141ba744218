/**
 * Decrypting a capsule with a local key: `openWithKey()` streams verified plaintext,
 * `decryptToFile()` writes it atomically (temp name, renamed only after the last chunk and the
 * payload digest verify; removed on any failure); a big capsule file with a chunked digest is
 * decrypted on worker threads (BulkPool), each decrypting and hashing its own range.
 *
 * For the streaming form, each chunk is released only after its tag verifies, but the payload
 * digest (and truncation at a chunk boundary, and trailing bytes) can only be checked at the end:
 * a consumer MUST treat a late error as "discard all". `openVerified()` closes that gap for
 * consumers that cannot discard (a pipe): it spools the verified plaintext through an encrypted,
 * unlinked temporary file (Spool.ts, ephemeral key) and yields nothing until the whole capsule
 * verified.
 * Deliberately not here: release by a remote guardian (the agent, a later issue).
 */
import { Readable } from 'node:stream';
import type { Identity } from '../crypto/identity.ts';
import { AtomicFile } from '../io/AtomicFile.ts';
import { bytesOf, fileSize, isPath, nameOf, type ByteSource, type PathSource } from '../io/sources.ts';
import { deriveCommitmentSalt, derivePayloadKey } from '../crypto/kdf.ts';
import { wipe } from '../crypto/secrets.ts';
import { PREAMBLE_SIZE } from '../format/constants.ts';
import { capsuleLength, chunkCount } from '../format/layout.ts';
import { BulkPool, defaultThreads, PARALLEL_FROM } from './BulkPool.ts';
import { readHeader } from './inspect.ts';
import { checkPayloadDigest, combineChunkDigests, isChunked, isSalted } from './PayloadDigest.ts';
import { CapsuleOpener, unwrapKey, type Unwrapper } from './CapsuleOpener.ts';
import type { ParsedHeader } from './CapsuleReader.ts';
import type { PayloadDigest } from './PayloadDigest.ts';
import { identityUnwrapper } from './unwrap.ts';
import { Spool } from './Spool.ts';

/** Options of `openWithKey()`, `openVerified()` and `decryptToFile()`. */
export interface OpenOptions {
  /** How messages name the output file (default: its path). */
  outName?: string;
  /** Aborts between pieces; the stream or promise then fails with the signal's reason. */
  signal?: AbortSignal;
  /** Called once the header is read and checked, before any plaintext. */
  onHeader?: (p: ParsedHeader) => void;
  /** Called with (plaintext bytes so far, payload size) as decryption progresses. */
  onProgress?: (done: number, total: number) => void;
  /** decryptToFile: worker threads for a big file (default: the cores, at most 4); 1 = none. */
  threads?: number;
  /** decryptToFile: capsule size from which a file is decrypted on threads (default BulkPool.PARALLEL_FROM). */
  parallelFrom?: number;
}

/**
 * What opens a capsule: an X25519 identity (tried against every `x25519` stanza), several of them,
 * or an Unwrapper that returns the file key itself (e.g. one a guardian released).
 */
export type KeySource = Identity | Identity[] | Unwrapper;

/**
 * Verified plaintext of `capsule`, as a stream: each 64 KiB chunk is released only after its tag
 * verified, but the payload digest, a truncation at a chunk boundary and trailing bytes can only be
 * checked at the end, so a consumer MUST treat a late error as "discard everything". Use
 * `openVerified()` or `decryptToFile()` where that is not possible.
 * @param capsule - The capsule: bytes, an (async) iterable of byte pieces, or `{ path }` of a file.
 * @param key - An identity, identities, or an Unwrapper (KeySource).
 * @param options - signal, onHeader, onProgress.
 * @returns A byte stream of the plaintext. Errors surface as the stream's error, except the TypeError
 *   for a malformed `key`, which the call throws.
 * @throws CapsuleFormatError ERR_NO_MATCHING_STANZA when no stanza opens with the key; ERR_CHUNK_AUTH
 *   (tampered), ERR_TRUNCATED, ERR_TRAILING_DATA, ERR_PAYLOAD_DIGEST, ERR_BAD_MAGIC, ERR_MALFORMED_HEADER,
 *   ERR_BAD_SIGNATURE, … for a damaged capsule; IoError ERR_IO / ERR_NOT_FOUND when it cannot be read.
 * @throws TypeError when `key` is not an identity or a function.
 * @example
 * ```js
 * import { openWithKey, parseIdentityFile } from 'digital-capsule-engine';
 * import { readFileSync, createWriteStream } from 'node:fs';
 * import { pipeline } from 'node:stream/promises';
 * const ids = parseIdentityFile(readFileSync('me.key', 'utf8'));
 * await pipeline(openWithKey({ path: 'secret.capsule' }, ids), createWriteStream('secret.pdf'));
 * ```
 */
export function openWithKey(capsule: ByteSource, key: KeySource, options: OpenOptions = {}): Readable {
  return Readable.from(plaintextOf(capsule, toUnwrapper(key), options), { objectMode: false });
}

/**
 * Verified plaintext of `capsule`, none of it before the whole capsule (every chunk, the end, the
 * payload digest) verified. Costs a second pass over an encrypted temporary copy in `spoolDir`
 * (default the OS temporary directory; it needs the payload's size free). Throws the opener's
 * typed errors (CapsuleFormatError ERR_PAYLOAD_DIGEST, ERR_TRUNCATED, ERR_TRAILING_DATA, …)
 * before yielding anything.
 * @param capsule - The capsule: bytes, an (async) iterable of byte pieces, or `{ path }` of a file.
 * @param key - An identity, identities, or an Unwrapper (KeySource).
 * @param options - OpenOptions, plus `spoolDir` for the encrypted temporary copy.
 * @returns An async iterable of plaintext pieces, yielded only after everything verified.
 * @throws CapsuleFormatError / IoError as `openWithKey()`, all before the first piece.
 * @example
 * ```js
 * import { openVerified } from 'digital-capsule-engine';
 * for await (const piece of openVerified(capsuleBytes, identity)) process.stdout.write(piece);
 * ```
 */
export async function* openVerified(capsule: ByteSource, key: KeySource, options: OpenOptions & { spoolDir?: string } = {}): AsyncGenerator<Uint8Array> {
  const spool = await Spool.create(options.spoolDir);
  try {
    for await (const piece of plaintextOf(capsule, toUnwrapper(key), options)) {
      await spool.write(piece);
      piece.fill(0);
    }
    yield* spool.replay(options.signal);
  } finally {
    await spool.dispose();
  }
}

/**
 * Decrypts into `outPath` (mode 0600); the file exists only if everything verified: plaintext goes
 * to a temporary name beside it, renamed after the last chunk and the payload digest verified,
 * removed on any failure. A big capsule file with a chunked digest is decrypted on worker threads.
 * @param capsule - The capsule: bytes, an (async) iterable of byte pieces, or `{ path }` of a file.
 * @param key - An identity, identities, or an Unwrapper (KeySource).
 * @param outPath - Where the plaintext goes; an existing file there is replaced.
 * @param options - OpenOptions (threads, parallelFrom, outName, signal, onHeader, onProgress).
 * @returns The capsule's parsed header.
 * @throws CapsuleFormatError / IoError as `openWithKey()`; IoError also when `outPath` cannot be written.
 * @example
 * ```js
 * import { decryptToFile, parseIdentityFile } from 'digital-capsule-engine';
 * const ids = parseIdentityFile(await readFile('me.key', 'utf8'));
 * const { header } = await decryptToFile({ path: 'secret.capsule' }, ids, 'secret.pdf');
 * ```
 */
export async function decryptToFile(capsule: ByteSource, key: KeySource, outPath: string, options: OpenOptions = {}): Promise<ParsedHeader> {
  const unwrap = toUnwrapper(key);
  let parsed: ParsedHeader | undefined;
  const out = await AtomicFile.create(outPath, 0o600, options.outName);
  try {
    const threads = options.threads ?? defaultThreads();
    const total = threads > 1 && isPath(capsule) ? await fileSize(capsule) : undefined;
    if (total !== undefined && total >= (options.parallelFrom ?? PARALLEL_FROM)) {
      parsed = await decryptOnThreads(capsule as PathSource, total, unwrap, out, threads, options);
    }
    if (!parsed) {
      for await (const piece of plaintextOf(capsule, unwrap, {
        ...options,
        onHeader: (p) => {
          parsed = p;
          options.onHeader?.(p);
        },
      })) {
        await out.write(piece);
      }
    }
    await out.commit();
  } catch (e) {
    await out.abort();
    throw e;
  }
  return parsed!;
}

async function* plaintextOf(capsule: ByteSource, unwrap: Unwrapper, options: OpenOptions): AsyncGenerator<Buffer> {
  const opener = new CapsuleOpener(unwrap);
  // The sequential path: any source, any digest_alg. decryptToFile() takes a parallel path
  // (parallelBulk.ts) for big chunked-digest files.
  let hash: PayloadDigest | undefined;
  let done = 0;
  try {
    for await (const piece of bytesOf(capsule, options.signal)) {
      const plain = await opener.push(piece);
      if (!hash && opener.parsed) {
        hash = opener.payloadDigest();
        options.onHeader?.(opener.parsed);
      }
      for (const p of plain) {
        hash!.update(p);
        done += p.length;
        yield p;
      }
      if (plain.length) options.onProgress?.(done, opener.parsed!.header.payload.size);
    }
    opener.finish(hash ? hash.digest() : new Uint8Array(32));
  } finally {
    opener.dispose(); // an early end (error, truncation, consumer gone) still wipes the keys
  }
}

/**
 * The whole decrypt on worker threads, each range decrypted, authenticated, written at its offset
 * and hashed; the chunk digests joined and checked. Returns undefined, having done nothing, when
 * the capsule does not qualify (a single-stream digest, or a length that does not match its
 * header: the sequential reader then reports exactly what is wrong).
 */
async function decryptOnThreads(
  capsule: PathSource,
  total: number,
  unwrap: Unwrapper,
  out: AtomicFile,
  threads: number,
  options: OpenOptions,
): Promise<ParsedHeader | undefined> {
  const parsed = await readHeader(capsule, options.signal);
  const { header, headerBytes, headerHash } = parsed;
  const { size, digestAlg, digest } = header.payload;
  if (!isChunked(digestAlg) || total !== capsuleLength(headerBytes.length - PREAMBLE_SIZE, size)) return undefined;
  const fileKey = await unwrapKey(unwrap, header);
  let payloadKey: Uint8Array | undefined;
  let salt: Uint8Array | undefined;
  try {
    payloadKey = derivePayloadKey(fileKey, header.id);
    salt = isSalted(digestAlg) ? deriveCommitmentSalt(fileKey, header.id) : new Uint8Array(0);
  } finally {
    wipe(fileKey);
  }
  options.onHeader?.(parsed);
  const pool = BulkPool.start(Math.min(threads, chunkCount(size)));
  try {
    const digests = await pool.open(capsule.path, size, headerBytes.length, out.tempPath, payloadKey, headerHash, {
      signal: options.signal,
      onProgress: options.onProgress,
      name: nameOf(capsule),
    });
    checkPayloadDigest(combineChunkDigests(salt, size, digests), digest);
  } finally {
    wipe(payloadKey, salt);
    await pool.close();
  }
  return parsed;
}

function toUnwrapper(key: KeySource): Unwrapper {
  if (typeof key === 'function') return key;
  return identityUnwrapper(Array.isArray(key) ? key : [key]);
}
