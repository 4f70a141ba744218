/**
 * The adapter from a key custodian's wallets (agent/keys' WalletKeys: the Zymbit module's or the
 * soft store's) to the WalletSigner the decoders finish a request with, bound to one wallet.
 *
 * Deliberately not here: checks of names, paths and digests (WalletKeys does them at its boundary,
 * before any key is touched) and verifying signatures (finish() checks each against the account's key).
 */
import type { WalletKeys } from '../keys/WalletKeys.ts';
import type { WalletSigner } from './WalletSigner.ts';

/**
 * A WalletSigner over wallet `name` of `keys`; signSchnorr only where the custodian can
 * (capabilities.schnorr), so that finish() refuses a Taproot spend before signing anything.
 * Every method throws what the WalletKeys method it calls throws (WalletError ERR_NO_WALLET,
 * ERR_BAD_WALLET_PATH, …; KeyStoreError ERR_UNSUPPORTED_BY_MODEL, ERR_MODULE_CALL).
 */
export function keyStoreSigner(keys: WalletKeys, name: string): WalletSigner {
  const signer: WalletSigner = {
    publicKey: (path) => keys.publicKey(name, path),
    signDigest: (path, digest) => keys.signDigest(name, path, digest),
  };
  if (keys.capabilities.schnorr) signer.signSchnorr = (path, digest, opts) => keys.signSchnorr(name, path, digest, { taprootTweak: opts.taprootTweak });
  return signer;
}
