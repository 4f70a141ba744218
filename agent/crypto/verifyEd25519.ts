/**
 * Ed25519 signature verification (RFC 8032) through OpenSSL, for evidence: the sandbox's host call
 * (sandbox/Host.ts) and the agent's checks of approvals and check-ins (crypto/verifyEvidence.ts).
 *
 * Deliberately not here: signing (cli/commands/sign*.ts), and Ed25519 over other encodings
 * (keys are the 32 raw bytes of RFC 8032).
 */
import { createPublicKey, verify as verifySignature } from 'node:crypto';

/**
 * Whether `sig` is a valid Ed25519 signature of `msg` by the raw 32-byte public key `key`.
 * OpenSSL: ~0.12 ms against ~1.3 ms for @noble/curves here, which matters when a policy checks
 * many approvals; it refuses S ≥ L and undecodable keys.
 * @param msg - The signed message.
 * @param sig - The 64-byte signature.
 * @param key - The 32-byte public key.
 * @returns True when it verifies; false for a bad signature, key or length (never throws).
 */
export function verifyEd25519(msg: Uint8Array, sig: Uint8Array, key: Uint8Array): boolean {
  try {
    const pk = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(key).toString('base64url') }, format: 'jwk' });
    return verifySignature(null, msg, pk, sig);
  } catch {
    return false;
  }
}
