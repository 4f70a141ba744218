/**
 * Ethereum `personal_sign` (EIP-191 version 0x45) verification, so approvers can sign with a wallet:
 * digest = keccak256("\x19Ethereum Signed Message:\n" ‖ len ‖ msg); the signer is recovered from
 * the 65-byte r ‖ s ‖ v signature (low-S only) and compared with the expected 20-byte address.
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { keccak_256 } from '@noble/hashes/sha3.js';

export function personalMessageDigest(message: Uint8Array): Uint8Array {
  const prefix = new TextEncoder().encode(`\x19Ethereum Signed Message:\n${message.length}`);
  const buf = new Uint8Array(prefix.length + message.length);
  buf.set(prefix, 0);
  buf.set(message, prefix.length);
  return keccak_256(buf);
}

export function addressOf(uncompressedPublicKey: Uint8Array): Uint8Array {
  return keccak_256(uncompressedPublicKey.subarray(1)).subarray(12);
}

/** True iff `signature` (r ‖ s ‖ v, v ∈ {0, 1, 27, 28}, low-S) signs `message` for `address`. */
export function verifyPersonalSign(message: Uint8Array, signature: Uint8Array, address: Uint8Array): boolean {
  return verifyDigestSigner(personalMessageDigest(message), signature, address);
}

/**
 * The recovery step of verifyPersonalSign on a ready 32-byte digest (exported so that the
 * Wycheproof secp256k1 vectors run through this exact code): true iff the signer recovered from
 * r ‖ s ‖ v (low-S only) has `address`.
 */
export function verifyDigestSigner(digest: Uint8Array, signature: Uint8Array, address: Uint8Array): boolean {
  if (signature.length !== 65 || address.length !== 20) return false;
  let v = signature[64]!;
  if (v >= 27) v -= 27;
  if (v !== 0 && v !== 1) return false;
  try {
    const sig = secp256k1.Signature.fromBytes(signature.subarray(0, 64), 'compact');
    if (sig.hasHighS()) return false;
    const point = sig.addRecoveryBit(v).recoverPublicKey(digest);
    const recovered = addressOf(point.toBytes(false));
    let diff = 0;
    for (let i = 0; i < 20; i++) diff |= recovered[i]! ^ address[i]!;
    return diff === 0;
  } catch {
    return false;
  }
}
