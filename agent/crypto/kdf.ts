/**
 * HKDF-SHA256 and the two derivations from a capsule's file key (SPEC.md §6).
 *
 * Uses node:crypto (OpenSSL). Callers own and wipe the returned keys.
 */
import { createHash, hkdfSync } from 'node:crypto';
import { LABEL_COMMITMENT_SALT, LABEL_PAYLOAD_KEY } from '../format/constants.ts';

export function hkdf(ikm: Uint8Array, salt: Uint8Array, info: string, length: number): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', ikm, salt, info, length));
}

/** payload_key = HKDF(file_key, salt = capsule id, "capsule/v1 payload", 32). */
export function derivePayloadKey(fileKey: Uint8Array, capsuleId: Uint8Array): Uint8Array {
  return hkdf(fileKey, capsuleId, LABEL_PAYLOAD_KEY, 32);
}

/** Salt of the salted-sha256 payload commitment; known only to holders of the file key. */
export function deriveCommitmentSalt(fileKey: Uint8Array, capsuleId: Uint8Array): Uint8Array {
  return hkdf(fileKey, capsuleId, LABEL_COMMITMENT_SALT, 32);
}

export function sha256(...parts: Uint8Array[]): Uint8Array {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}
