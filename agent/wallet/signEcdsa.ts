/**
 * One ECDSA signature from the custodian, checked before it leaves the guardian: 64 bytes, low S,
 * recovery id 0|1, and recovering (with @noble/curves) to the public key we expect at that path.
 * A custodian that signs with another key, or returns a recovery id meaning something else, is
 * caught here instead of producing a transaction from the wrong address.
 *
 * Deliberately not here: normalising a high S (the WalletSigner contract promises low S; a high S
 * is a fault to report, not to paper over), DER and Ethereum's v (the callers encode).
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { WalletRequestError } from '../errors.ts';
import type { WalletSigner } from './WalletSigner.ts';

export interface CheckedEcdsa {
  /** r ‖ s, 64 bytes, low S. */
  signature: Uint8Array;
  recovery: 0 | 1;
  r: bigint;
  s: bigint;
}

/**
 * Signs `digest` with the key at `path` and proves the result names `publicKey`.
 * @throws WalletRequestError ERR_SIGNER_FAULT; the signer's own errors pass through unchanged
 */
export async function signEcdsa(signer: WalletSigner, path: string, digest: Uint8Array, publicKey: Uint8Array): Promise<CheckedEcdsa> {
  const out = await signer.signDigest(path, digest);
  const fault = (what: string, cause?: unknown): never => {
    throw new WalletRequestError('ERR_SIGNER_FAULT', `signer: the signature for ${path} ${what}`, { cause });
  };
  if (!(out?.signature instanceof Uint8Array) || out.signature.length !== 64)
    fault(`is not 64 bytes r ‖ s (got ${out?.signature instanceof Uint8Array ? out.signature.length : typeof out?.signature})`);
  if (out.recovery !== 0 && out.recovery !== 1) fault(`has recovery id ${String(out.recovery)}, expected 0 or 1`);
  let sig: InstanceType<typeof secp256k1.Signature>;
  try {
    sig = secp256k1.Signature.fromBytes(out.signature, 'compact');
  } catch (cause) {
    return fault('is not a valid secp256k1 (r, s) pair', cause);
  }
  if (sig.hasHighS()) fault('has a high S (the custodian must return low S)');
  let recovered: Uint8Array | undefined;
  try {
    recovered = sig.addRecoveryBit(out.recovery).recoverPublicKey(digest).toBytes(true);
  } catch (cause) {
    fault('recovers no public key', cause);
  }
  if (!recovered || Buffer.compare(Buffer.from(recovered), Buffer.from(publicKey)) !== 0) {
    fault("does not recover to the account's public key (wrong key or wrong recovery id)");
  }
  return { signature: Uint8Array.from(out.signature), recovery: out.recovery as 0 | 1, r: sig.r, s: sig.s };
}

/** The 65-byte r ‖ s ‖ v form wallets return for messages and typed data (v = 27 + recovery id). */
export function rsv(sig: CheckedEcdsa): Uint8Array {
  const out = new Uint8Array(65);
  out.set(sig.signature, 0);
  out[64] = 27 + sig.recovery;
  return out;
}
