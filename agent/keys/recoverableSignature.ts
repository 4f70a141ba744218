/**
 * secp256k1 helpers for what a security module hands back: its 64-byte X ‖ Y public keys made
 * compressed (33 bytes), and its raw r ‖ s signatures made low-S with a recovery id that is
 * proven, by recovering the public key with @noble/curves, to name the signer.
 *
 * Why the proof: the module returns S as it comes (half the time above n/2) with the recovery id
 * for that S; Ethereum needs low S, and flipping S flips the parity of the recovery id. Zymbit's
 * own SDKs flip both; checking the result against the key catches a module (or a binding) whose
 * recovery id means something else, before a transaction from the wrong address is broadcast.
 *
 * Deliberately not here: DER, Ethereum's v (27/28, EIP-155): the caller encodes.
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { KeyStoreError } from '../errors.ts';
import type { RecoverableSignature } from './WalletKeys.ts';

const N = secp256k1.Point.Fn.ORDER;

/**
 * A module's 64-byte X ‖ Y secp256k1 public key, compressed (33 bytes).
 * @throws KeyStoreError ERR_MODULE_CALL when the bytes are not a secp256k1 point
 */
export function compressPublicKey(xy: Uint8Array): Uint8Array {
  try {
    if (xy.length !== 64) throw new RangeError(`expected 64 bytes, got ${xy.length}`);
    const sec1 = new Uint8Array(65);
    sec1[0] = 4;
    sec1.set(xy, 1);
    return secp256k1.Point.fromBytes(sec1).toBytes(true);
  } catch (cause) {
    throw new KeyStoreError('ERR_MODULE_CALL', 'zymbit: the module exported a public key that is not a secp256k1 point', { cause });
  }
}

/**
 * `signature` (r ‖ s as the module made it, with `recovery` for that S) in low-S form, with the
 * recovery id that recovers `publicKey` (33 bytes) from `digest`.
 * @throws KeyStoreError ERR_MODULE_CALL when neither parity recovers `publicKey` (a bad signature)
 */
export function lowSRecoverable(signature: Uint8Array, recovery: number, digest: Uint8Array, publicKey: Uint8Array): RecoverableSignature {
  let sig;
  try {
    sig = secp256k1.Signature.fromBytes(signature, 'compact');
  } catch (cause) {
    throw new KeyStoreError('ERR_MODULE_CALL', `zymbit: the module returned a malformed signature (${signature.length} bytes)`, { cause });
  }
  let bit = recovery & 1;
  if (sig.hasHighS()) {
    sig = new secp256k1.Signature(sig.r, N - sig.s);
    bit ^= 1;
  }
  const expected = Buffer.from(publicKey);
  for (const candidate of [bit, bit ^ 1] as const) {
    try {
      const recovered = sig.addRecoveryBit(candidate).recoverPublicKey(digest).toBytes(true);
      if (expected.equals(recovered)) return { signature: sig.toBytes('compact'), recovery: candidate as 0 | 1 };
    } catch {
      // this parity names no point: try the other
    }
  }
  throw new KeyStoreError('ERR_MODULE_CALL', 'zymbit: the module\'s signature does not recover to the account\'s public key', {
    hint: 'the module signed with another key, or returned a corrupted signature; nothing was released',
  });
}
