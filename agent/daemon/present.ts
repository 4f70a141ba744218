/**
 * A presented capsule: the bytes a release, check-in or approval names a capsule by (preamble ‖
 * header ‖ first sealed chunk, or a whole capsule), parsed. The first chunk is kept because opening
 * it with the file key is what proves the header is the sealer's (SPEC.md §11.7, Releaser.ts).
 * Deliberately not here: that proof (it needs the guardian's key), and looking capsules up by id
 * or header hash (Releaser.capsuleOf).
 */
import { CapsuleFormatError } from '../errors.ts';
import { CapsuleReader, type ParsedHeader } from '../capsule/CapsuleReader.ts';
import { feedReader } from '../capsule/feedReader.ts';
import { setHash } from '../capsule/shares.ts';

export interface Presented {
  parsed: ParsedHeader;
  /** preamble ‖ header ‖ first sealed chunk */
  prefix: Uint8Array;
  firstChunk: Uint8Array;
  /** The capsule id (hex). */
  id: string;
  /** SHA-256 of preamble ‖ header (hex): what names this capsule (D2). */
  headerHash: string;
  /**
   * What the guardian keeps this capsule's state under (logic state, approvals, check-in replays,
   * the decision lock): the header hash, or for a capsule with a guardian set its set hash (SPEC.md
   * §5.6). A guardian of a set can only check its own share's commitment, and the set hash covers
   * the whole header but the signatures and the commitments, so a copy of the header with another
   * guardian's commitment altered (or a signature stripped) is the same capsule here, with the same
   * counted opens and check-ins — not a new one with empty state.
   */
  stateKey: string;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/**
 * Parses preamble ‖ header ‖ first chunk (more bytes, e.g. a whole capsule, are ignored).
 * @throws CapsuleFormatError ERR_TRUNCATED when the bytes end before the first chunk does; the
 *   header's own format errors (CapsuleReader)
 */
export function present(bytes: Uint8Array): Presented {
  const reader = new CapsuleReader();
  let first: Uint8Array | undefined;
  feedReader(
    reader,
    bytes,
    () => !!first,
    (sealed, index) => {
      if (index === 0) first = Uint8Array.from(sealed);
    },
  );
  const parsed = reader.parsed;
  if (!parsed || !first) {
    throw new CapsuleFormatError('ERR_TRUNCATED', `capsule: ${bytes.length} bytes given; a release needs the preamble, the header and the first chunk`, {
      hint: 'send the capsule (capsule open does), or at least its first 16 + header + 65552 bytes',
    });
  }
  const size = parsed.headerBytes.length + first.length; // headerBytes is preamble ‖ header
  const headerHash = hex(parsed.headerHash);
  const stateKey = parsed.header.guardianSet ? hex(setHash(parsed.header)) : headerHash;
  return { parsed, prefix: Uint8Array.from(bytes.subarray(0, size)), firstChunk: first, id: hex(parsed.header.id), headerHash, stateKey };
}
