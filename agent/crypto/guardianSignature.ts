/**
 * The guardian's header signature (SPEC.md §7.2): ECDSA P-256 by a security-module slot key over
 * SHA-256("capsule/v1 guardian signature" ‖ 00 ‖ header without key 10), raw r ‖ s with S
 * normalised low on our side (modules sign with either S), verified offline against header key 9.
 *
 * Deliberately not here: which slot signs (the guardian) and pinning the key to a known guardian
 * (verify's --guardian-key): a valid signature only says "whoever holds key 9 sealed this".
 */
import { CapsuleFormatError } from '../errors.ts';
import { guardianSignedMessage, type CapsuleHeader } from '../format/header.ts';
import { sha256 } from './kdf.ts';
import { isP256Point, normaliseLowS, verifyP256 } from './p256.ts';

export interface HeaderSigner {
  /** Compressed P-256 public key (33 bytes): header key 9. */
  publicKey: Uint8Array;
  /** Raw r ‖ s over a 32-byte digest (any S; it is normalised here). */
  sign(digest: Uint8Array): Promise<Uint8Array>;
}

/** Signs `header` (whose `guardian` is already set to signer.publicKey); returns key 10. */
export async function signAsGuardian(header: CapsuleHeader, signer: HeaderSigner): Promise<Uint8Array> {
  const sig = normaliseLowS(await signer.sign(sha256(guardianSignedMessage(header))));
  // A module returning a signature that does not verify is a fault: never write such a header.
  if (!verifyP256(sig, sha256(guardianSignedMessage(header)), header.guardian!)) {
    throw new CapsuleFormatError('ERR_BAD_SIGNATURE', "header.guardian_signature: the module's signature does not verify against its own public key");
  }
  return sig;
}

export function checkGuardianSignature(header: CapsuleHeader): void {
  if (!header.guardian) return;
  if (!isP256Point(header.guardian)) {
    throw new CapsuleFormatError('ERR_BAD_SIGNATURE', 'header.guardian: not a compressed P-256 point');
  }
  if (!verifyP256(header.guardianSignature!, sha256(guardianSignedMessage(header)), header.guardian)) {
    throw new CapsuleFormatError('ERR_BAD_SIGNATURE', 'header.guardian_signature: does not verify against header.guardian (ECDSA P-256, low S)', {
      hint: 'the header is not what its guardian signed: do not trust this capsule',
    });
  }
}
