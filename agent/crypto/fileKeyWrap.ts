/**
 * The step every ECDH stanza shares (SPEC.md §5.1, §5.2): the 32-byte file key sealed with
 * AES-256-GCM under a single-use wrap key, nonce 00 × 12, the capsule id as associated data.
 * The all-zero nonce is safe only because each wrap key is used once (a fresh ephemeral per stanza).
 *
 * Deliberately not here: deriving the wrap key (each stanza's own ECDH and HKDF label).
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { FILE_KEY_SIZE, TAG_SIZE } from '../format/constants.ts';

const ZERO_NONCE = new Uint8Array(12);

/** encrypted file key ‖ tag (48 bytes). */
export function sealFileKey(wrapKey: Uint8Array, fileKey: Uint8Array, capsuleId: Uint8Array): Uint8Array {
  const c = createCipheriv('aes-256-gcm', wrapKey, ZERO_NONCE);
  c.setAAD(capsuleId);
  return new Uint8Array(Buffer.concat([c.update(fileKey), c.final(), c.getAuthTag()]));
}

/** The file key from `sealed` (48 bytes), or undefined when the tag fails (another recipient's). */
export function openFileKey(wrapKey: Uint8Array, sealed: Uint8Array, capsuleId: Uint8Array): Uint8Array | undefined {
  const d = createDecipheriv('aes-256-gcm', wrapKey, ZERO_NONCE);
  d.setAAD(capsuleId);
  d.setAuthTag(sealed.subarray(FILE_KEY_SIZE, FILE_KEY_SIZE + TAG_SIZE));
  const key = d.update(sealed.subarray(0, FILE_KEY_SIZE));
  try {
    d.final();
  } catch {
    key.fill(0);
    return undefined;
  }
  return new Uint8Array(key.buffer, key.byteOffset, key.length);
}
