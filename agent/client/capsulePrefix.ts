/**
 * The part of a capsule a guardian needs to decide and to authenticate the header: preamble,
 * header and first sealed chunk (at most 16 + 65536 + 65552 bytes), read from a file without
 * reading the payload. Deliberately not here: the request (GuardianClient).
 */
import { open } from 'node:fs/promises';
import { readHeader } from '../capsule/inspect.ts';
import type { CapsuleHeader } from '../format/header.ts';
import { prefixSize } from '../capsule/prefix.ts';
import { ioError, type PathSource } from '../io/sources.ts';

/**
 * The part of a capsule file a release request sends: preamble, header and first sealed chunk,
 * read without reading the rest of the payload.
 * @param src - The capsule file (`name`: how messages name it).
 * @returns The prefix bytes, the capsule id (hex) and the decoded header.
 * @throws CapsuleFormatError for a damaged header (as readHeader()); IoError when the file cannot be read.
 * @example
 * ```js
 * import { capsulePrefix, GuardianClient } from 'digital-capsule-engine/client';
 * const { prefix } = await capsulePrefix({ path: 'secret.capsule' });
 * const answer = await new GuardianClient(url).release(prefix, me.recipient, []);
 * ```
 */
export async function capsulePrefix(src: PathSource): Promise<{ prefix: Uint8Array; id: string; header: CapsuleHeader }> {
  const parsed = await readHeader(src);
  const want = prefixSize(parsed.headerBytes.length, parsed.header.payload.size);
  let fh;
  try {
    fh = await open(src.path, 'r');
    const buf = new Uint8Array(want);
    const { bytesRead } = await fh.read(buf, 0, want, 0);
    return { prefix: buf.subarray(0, bytesRead), id: Buffer.from(parsed.header.id).toString('hex'), header: parsed.header };
  } catch (cause) {
    throw ioError(src.name ?? src.path, 'read', cause);
  } finally {
    await fh?.close();
  }
}
