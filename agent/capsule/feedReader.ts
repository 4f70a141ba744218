/**
 * Feeding a CapsuleReader only as far as the caller needs: the bytes go in 4096-byte steps and the
 * feeding stops at the first step after which `enough()` holds, so a reader asked for the header
 * (or the first chunk) does not go on to parse, and a caller does not go on to read, the payload
 * behind it. Used by readHeader (inspect.ts), CapsuleOpener (waiting for the key at the header) and the agent's
 * present() (daemon/present.ts).
 *
 * Deliberately not here: where the bytes come from (the callers read files, streams or buffers).
 */
import type { CapsuleReader, ChunkSink } from './CapsuleReader.ts';

/** The step: small enough that a header ending mid-piece is followed by at most this many bytes. */
export const FEED_STEP = 4096;

/**
 * Pushes `bytes` into `reader` in FEED_STEP-byte steps until all are in or `enough()` holds.
 * @param reader - The reader to feed.
 * @param bytes - The next piece of the capsule.
 * @param enough - Checked before each step; true stops the feeding (e.g. `() => !!reader.parsed`).
 * @param sink - Receives sealed chunks, as CapsuleReader.push's.
 * @returns How many bytes of `bytes` were pushed.
 * @throws CapsuleFormatError from CapsuleReader.push.
 */
export function feedReader(reader: CapsuleReader, bytes: Uint8Array, enough: () => boolean, sink?: ChunkSink): number {
  let off = 0;
  while (off < bytes.length && !enough()) {
    const step = Math.min(bytes.length - off, FEED_STEP);
    reader.push(bytes.subarray(off, off + step), sink);
    off += step;
  }
  return off;
}
