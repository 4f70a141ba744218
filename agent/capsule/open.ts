/**
 * Decrypting a capsule with a local key: `openWithKey()` streams verified plaintext,
 * `decryptToFile()` writes it atomically (temp name, renamed only after the last chunk and the
 * payload digest verify; removed on any failure).
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
import { bytesOf, type ByteSource } from '../io/sources.ts';
import { CapsuleOpener, type Unwrapper } from './CapsuleOpener.ts';
import type { ParsedHeader } from './CapsuleReader.ts';
import type { PayloadDigest } from './PayloadDigest.ts';
import { identityUnwrapper } from './unwrap.ts';
import { Spool } from './Spool.ts';

export interface OpenOptions {
  /** How messages name the output file (default: its path). */
  outName?: string;
  signal?: AbortSignal;
  onHeader?: (p: ParsedHeader) => void;
  onProgress?: (done: number, total: number) => void;
}

export type KeySource = Identity | Identity[] | Unwrapper;

/** Verified plaintext of `capsule`, as a stream. */
export function openWithKey(capsule: ByteSource, key: KeySource, options: OpenOptions = {}): Readable {
  return Readable.from(plaintextOf(capsule, toUnwrapper(key), options), { objectMode: false });
}

/**
 * Verified plaintext of `capsule`, none of it before the whole capsule (every chunk, the end, the
 * payload digest) verified. Costs a second pass over an encrypted temporary copy in `spoolDir`
 * (default the OS temporary directory; it needs the payload's size free). Throws the opener's
 * typed errors (CapsuleFormatError ERR_PAYLOAD_DIGEST, ERR_TRUNCATED, ERR_TRAILING_DATA, …)
 * before yielding anything.
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

/** Decrypts into `outPath`; the file exists only if everything verified. */
export async function decryptToFile(capsule: ByteSource, key: KeySource, outPath: string, options: OpenOptions = {}): Promise<ParsedHeader> {
  const unwrap = toUnwrapper(key);
  let parsed: ParsedHeader | undefined;
  const out = await AtomicFile.create(outPath, 0o600, options.outName);
  try {
    for await (const piece of plaintextOf(capsule, unwrap, { ...options, onHeader: (p) => { parsed = p; options.onHeader?.(p); } })) {
      await out.write(piece);
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
      const plain = opener.push(piece);
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

function toUnwrapper(key: KeySource): Unwrapper {
  if (typeof key === 'function') return key;
  return identityUnwrapper(Array.isArray(key) ? key : [key]);
}
