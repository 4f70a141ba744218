/**
 * What the transaction decoders need from a key custodian to finish a signing request: one
 * wallet's public keys and signatures by BIP32 path. The decoders compute every digest themselves
 * (contracts-as/ABI.md §4.2) and hand the custodian only 32-byte digests.
 *
 * Deliberately not here: which wallet (an implementation is bound to one wallet), creating or
 * restoring wallets, and the KeyStore itself — an adapter over agent/keys' WalletKeys is one line
 * per method, and tests use an in-memory twin (test/helpers/walletTwin.ts).
 */

export interface WalletSigner {
  /** 33-byte compressed secp256k1 public key of the account at BIP32 path. */
  publicKey(path: string): Promise<Uint8Array>;
  /** ECDSA over a 32-byte digest: 64-byte r‖s, low S, and recovery id 0|1. */
  signDigest(path: string, digest: Uint8Array): Promise<{ signature: Uint8Array; recovery: number }>;
  /** BIP340 Schnorr for a BIP341 key-path spend (key tweaked with merkleRoot, null = no script tree); absent where the custodian cannot. */
  signSchnorr?(path: string, digest: Uint8Array, opts: { taprootTweak: Uint8Array | null }): Promise<Uint8Array>;
}
