/**
 * secp256k1 helpers for what a security module hands back: its 64-byte X ‖ Y public keys made
 * compressed (33 bytes), and its raw r ‖ s signatures made low-S with the recovery id to match.
 *
 * Why the flip: the module returns S as it comes (half the time above n/2) with the recovery id
 * for that S; Ethereum needs low S, and negating S flips the parity of the recovery id. Zymbit's
 * own SDKs flip both.
 *
 * Deliberately not here: proving that the signature names the account's key. Every signature the
 * guardian hands out passes agent/wallet/signEcdsa.ts, which recovers the key once and refuses a
 * mismatch (ERR_SIGNER_FAULT) — a module or binding whose recovery id means something else is
 * caught there, before anything is broadcast. Proving it here too cost a second (often a third)
 * public-key recovery per signature, ~1.2 ms each on this machine. Also not here: DER, Ethereum's
 * v (27/28, EIP-155): the caller encodes.
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
 * recovery id's parity flipped when S was.
 * @throws KeyStoreError ERR_MODULE_CALL when the bytes are no secp256k1 (r, s) pair
 */
export function lowS(signature: Uint8Array, recovery: number): RecoverableSignature {
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
  return { signature: sig.toBytes('compact'), recovery: bit as 0 | 1 };
}
