/**
 * TEST TWIN of a wallet custodian (agent/wallet/WalletSigner): keys in memory, derived with
 * @scure/bip32 from a BIP39 mnemonic (or given per path, for published vectors), signing with
 * @noble/curves. It counts every signing call, so a test can prove that a refused request signed
 * nothing. Never for production: the real custodians are agent/keys' Zymbit and soft wallets.
 *
 * Deliberately not here: persistence, wallet names, any policy.
 */
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js';
import { HDKey } from '@scure/bip32';
import { mnemonicToSeedSync } from '@scure/bip39';
import { taprootTweakPrivKey } from '@scure/btc-signer/utils.js';
import type { WalletSigner } from '../../agent/wallet/WalletSigner.ts';

/** The BIP39 test mnemonic used by BIP84/BIP86 and most wallets' test suites. */
export const TEST_MNEMONIC = 'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about';

export interface TwinOptions {
  /** Offer signSchnorr (default true); false models a custodian without BIP340 (the Zymbit API). */
  schnorr?: boolean;
  /** BIP340 auxiliary randomness (default: 32 zero bytes, deterministic, as the BIP341 vectors use). */
  auxRand?: Uint8Array;
}

export class WalletTwin implements WalletSigner {
  /** Every signDigest/signSchnorr call, successful or not. */
  calls = 0;
  readonly #key: (path: string) => Uint8Array;
  readonly #aux: Uint8Array;
  declare signSchnorr?: WalletSigner['signSchnorr'];

  private constructor(key: (path: string) => Uint8Array, options: TwinOptions) {
    this.#key = key;
    this.#aux = options.auxRand ?? new Uint8Array(32);
    if (options.schnorr !== false) {
      this.signSchnorr = async (path, digest, opts) => {
        this.calls++;
        const tweaked = taprootTweakPrivKey(this.#key(path), opts.taprootTweak ?? new Uint8Array(0));
        return schnorr.sign(digest, tweaked, this.#aux);
      };
    }
  }

  /** A twin holding the BIP32 tree of `mnemonic` (default TEST_MNEMONIC, no passphrase). */
  static fromMnemonic(mnemonic = TEST_MNEMONIC, options: TwinOptions = {}): WalletTwin {
    const root = HDKey.fromMasterSeed(mnemonicToSeedSync(mnemonic));
    return new WalletTwin((path) => {
      const k = root.derive(path).privateKey;
      if (!k) throw new Error(`twin: no private key at ${path}`);
      return k;
    }, options);
  }

  /** A twin holding exactly these private keys by path (for published vectors). */
  static fromKeys(keys: Record<string, Uint8Array>, options: TwinOptions = {}): WalletTwin {
    return new WalletTwin((path) => {
      const k = keys[path];
      if (!k) throw new Error(`twin: no key at ${path}`);
      return k;
    }, options);
  }

  async publicKey(path: string): Promise<Uint8Array> {
    return secp256k1.getPublicKey(this.#key(path), true);
  }

  async signDigest(path: string, digest: Uint8Array): Promise<{ signature: Uint8Array; recovery: number }> {
    this.calls++;
    if (digest.length !== 32) throw new RangeError(`twin: digest must be 32 bytes, got ${digest.length}`);
    const rec = secp256k1.Signature.fromBytes(secp256k1.sign(digest, this.#key(path), { prehash: false, format: 'recovered' }), 'recovered');
    return { signature: rec.toBytes('compact'), recovery: rec.recovery! };
  }
}

/** A signer that answers with whatever it is told to (for custodian-fault tests). */
export class FaultySigner implements WalletSigner {
  calls = 0;
  readonly inner: WalletTwin;
  readonly fault: 'other-key' | 'high-s' | 'short' | 'bad-recovery' | 'bad-schnorr';
  constructor(inner: WalletTwin, fault: FaultySigner['fault']) {
    this.inner = inner;
    this.fault = fault;
  }
  publicKey(path: string): Promise<Uint8Array> {
    return this.inner.publicKey(path);
  }
  async signDigest(path: string, digest: Uint8Array): Promise<{ signature: Uint8Array; recovery: number }> {
    this.calls++;
    const good = await this.inner.signDigest(this.fault === 'other-key' ? "m/44'/60'/0'/0/1" : path, digest);
    if (this.fault === 'short') return { signature: good.signature.subarray(0, 63), recovery: good.recovery };
    if (this.fault === 'bad-recovery') return { signature: good.signature, recovery: 1 - good.recovery };
    if (this.fault === 'high-s') {
      const sig = secp256k1.Signature.fromBytes(good.signature, 'compact');
      const high = new secp256k1.Signature(sig.r, secp256k1.Point.Fn.ORDER - sig.s);
      return { signature: high.toBytes('compact'), recovery: 1 - good.recovery };
    }
    return good;
  }
  async signSchnorr(path: string, digest: Uint8Array, opts: { taprootTweak: Uint8Array | null }): Promise<Uint8Array> {
    this.calls++;
    const s = await this.inner.signSchnorr!(path, digest, opts);
    if (this.fault === 'bad-schnorr') s[0] = s[0]! ^ 1;
    return s;
  }
}
