/**
 * The proof that a presented header is the sealer's (SPEC.md §11.7): the first sealed chunk must
 * open with the payload key derived from the file key the header's stanzas give; only a holder of
 * the file key could have sealed it under this header's hash. The chunk's plaintext is wiped.
 *
 * Deliberately not here: unwrapping the file key (the guardian's), and what follows the proof
 * (CapsuleRegistry.register, Releaser's decisions).
 */
import { derivePayloadKey } from '../crypto/kdf.ts';
import { constantTimeEqual, wipe } from '../crypto/secrets.ts';
import { shareCommitment } from '../capsule/shares.ts';
import { GuardianSetError } from '../format/guardianSet.ts';
import type { CapsuleHeader } from '../format/header.ts';
import { StreamOpener } from '../crypto/StreamCipher.ts';
import { CapsuleFormatError } from '../errors.ts';
import { chunkCount } from '../format/layout.ts';
import { firstChunkSize } from '../capsule/prefix.ts';
import type { Presented } from './present.ts';

/**
 * Opens `p`'s first chunk with `fileKey` (and forgets the plaintext). For a header with a guardian
 * set (SPEC.md §5.6), what this guardian's stanza gave is its Shamir share, not the file key: the
 * proof is then the share's commitment in the header (which covers the whole header but the
 * commitments), and the result is the share's index in the set.
 * @param p - The presented capsule.
 * @param fileKey - The file key (or, with a guardian set, the share) its stanzas gave (the caller wipes it).
 * @returns The share's index for a header with a guardian set; undefined otherwise.
 * @throws CapsuleFormatError ERR_TRUNCATED (the first chunk's length is wrong), ERR_CHUNK_AUTH (it does not open);
 *   GuardianSetError ERR_GUARDIAN_SET_MISMATCH (the share matches none of the set's commitments)
 */
export function authenticateHeader(p: Presented, fileKey: Uint8Array): number | undefined {
  const h = p.parsed.header;
  if (h.guardianSet) return shareIndex(h, fileKey, Buffer.from(p.stateKey, 'hex')); // present() keyed a set capsule by its set hash
  const payloadKey = derivePayloadKey(fileKey, h.id);
  const opener = new StreamOpener(payloadKey, p.parsed.headerHash);
  try {
    const expected = firstChunkSize(h.payload.size);
    if (p.firstChunk.length !== expected)
      throw new CapsuleFormatError('ERR_TRUNCATED', `capsule: first chunk is ${p.firstChunk.length} bytes, expected ${expected}`);
    opener.openChunk(p.firstChunk, chunkCount(h.payload.size) === 1).fill(0);
  } finally {
    opener.dispose();
    wipe(payloadKey);
  }
}

/** The index whose commitment `share` matches (each is computed: at most 16, one SHA-256 each). */
function shareIndex(h: CapsuleHeader, share: Uint8Array, hash: Uint8Array): number {
  for (let i = 0; i < h.guardianSet!.guardians.length; i++) {
    if (constantTimeEqual(shareCommitment(h, i, share, hash), h.shareCommitments![i]!)) return i;
  }
  throw new GuardianSetError(
    'ERR_GUARDIAN_SET_MISMATCH',
    `capsule: this guardian's share matches none of the ${h.guardianSet!.guardians.length} share commitments: the header was changed after sealing`,
  );
}
