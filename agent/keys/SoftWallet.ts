/**
 * The `soft` backend's wallet (DEVELOPMENT ONLY, like the soft store): WalletKeys with
 * @scure/bip39 (words, seed) and @scure/bip32 (derivation), @noble/curves (ECDSA, low S, recovery
 * id) and @scure/btc-signer (BIP341 tweak, BIP340 Schnorr). Each wallet's 64-byte BIP39 seed is
 * kept only locked by the soft store (its AES-GCM device key, itself sealed under the store's
 * passphrase), bound to the wallet's name; it is unlocked for one operation and wiped after it.
 *
 * Deliberately not here: where the sealed seeds live (the vault: SoftKeyStore's file), removing
 * wallets, xpub export.
 */
import { randomBytes } from 'node:crypto';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { HDKey } from '@scure/bip32';
import { generateMnemonic, mnemonicToSeedSync } from '@scure/bip39';
import { wordlist } from '@scure/bip39/wordlists/english.js';
import { signSchnorr, taprootTweakPrivKey } from '@scure/btc-signer/utils.js';
import { KeyStoreError, WalletError } from '../errors.ts';
import { wipe } from '../crypto/secrets.ts';
import { parseWalletPath } from './bip32Path.ts';
import { SerialQueue } from './KeyStore.ts';
import {
  checkDigest,
  checkWalletName,
  walletMnemonic,
  walletPassphrase,
  type CreatedWallet,
  type RecoverableSignature,
  type SchnorrOptions,
  type WalletCapabilities,
  type WalletInfo,
  type WalletKeys,
  type WalletOptions,
} from './WalletKeys.ts';

/** A wallet as stored: its name and its seed locked by the store (base64 of the lock blob). */
export interface SealedWallet {
  name: string;
  sealed: string;
}

/** Where SoftWallet keeps sealed seeds: the soft store's lock and its file. */
export interface SoftWalletVault {
  lock(data: Uint8Array): Promise<Uint8Array>;
  unlock(blob: Uint8Array): Promise<Uint8Array>;
  /** The stored wallets, in creation order. */
  load(): Promise<SealedWallet[]>;
  /** Replaces the stored wallets (atomically). */
  save(wallets: SealedWallet[]): Promise<void>;
}

const SEED_BYTES = 64;

export class SoftWallet implements WalletKeys {
  readonly capabilities: WalletCapabilities = { supported: true, schnorr: true };
  readonly #vault: SoftWalletVault;
  /** Creating and restoring read, extend and write the list: one at a time. */
  readonly #writes = new SerialQueue();

  constructor(vault: SoftWalletVault) {
    this.#vault = vault;
  }

  async create(name: string, options?: WalletOptions): Promise<CreatedWallet> {
    const wallet = checkWalletName(name);
    const passphrase = walletPassphrase(options);
    const mnemonic = generateMnemonic(wordlist, 256);
    const { masterSlot } = await this.#add(wallet, mnemonic, passphrase);
    return { mnemonic, masterSlot };
  }

  async restore(name: string, mnemonic: string, options?: WalletOptions): Promise<{ masterSlot: number }> {
    const wallet = checkWalletName(name);
    const words = walletMnemonic(mnemonic);
    return this.#add(wallet, words, walletPassphrase(options));
  }

  async list(): Promise<WalletInfo[]> {
    const stored = await this.#vault.load();
    return stored.map((w, i) => ({ name: w.name, masterSlot: i })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async publicKey(name: string, path: string): Promise<Uint8Array> {
    const wallet = checkWalletName(name);
    const p = parseWalletPath(path);
    return this.#withKey(wallet, p.text, (_, publicKey) => Uint8Array.from(publicKey));
  }

  async signDigest(name: string, path: string, digest: Uint8Array): Promise<RecoverableSignature> {
    const wallet = checkWalletName(name);
    const p = parseWalletPath(path);
    const d = checkDigest(digest);
    return this.#withKey(wallet, p.text, (privateKey) => {
      // Signed as given (no hashing: prehash false), RFC 6979 nonce, S normalised low.
      const sig = secp256k1.sign(d, privateKey, { prehash: false, lowS: true, format: 'recovered' });
      return { signature: sig.slice(1), recovery: (sig[0]! & 1) as 0 | 1 };
    });
  }

  async signSchnorr(name: string, path: string, digest: Uint8Array, options: SchnorrOptions): Promise<Uint8Array> {
    const wallet = checkWalletName(name);
    const p = parseWalletPath(path);
    const d = checkDigest(digest);
    const merkleRoot = options?.taprootTweak === null ? new Uint8Array(0) : checkDigest(options?.taprootTweak, 'taprootTweak');
    return this.#withKey(wallet, p.text, (privateKey) => {
      const tweaked = taprootTweakPrivKey(privateKey, merkleRoot);
      try {
        return signSchnorr(d, tweaked, randomBytes(32));
      } finally {
        wipe(tweaked);
      }
    });
  }

  async #add(wallet: string, mnemonic: string, passphrase: string): Promise<{ masterSlot: number }> {
    return this.#writes.run(async () => {
      const stored = await this.#vault.load();
      if (stored.some((w) => w.name === wallet)) {
        throw new WalletError('ERR_WALLET_EXISTS', `wallet: a wallet named ${JSON.stringify(wallet)} already exists in this soft store`, {
          hint: "choose another name; a wallet's accounts are addressed by name, so names are unique",
        });
      }
      const seed = mnemonicToSeedSync(mnemonic, passphrase);
      const plain = bindName(wallet, seed);
      try {
        const blob = await this.#vault.lock(plain);
        await this.#vault.save([...stored, { name: wallet, sealed: Buffer.from(blob).toString('base64') }]);
        return { masterSlot: stored.length };
      } finally {
        wipe(seed, plain);
      }
    });
  }

  /** Runs `use` with the account's private and compressed public key, wiping every secret after. */
  async #withKey<T>(wallet: string, path: string, use: (privateKey: Uint8Array, publicKey: Uint8Array) => T): Promise<T> {
    const stored = (await this.#vault.load()).find((w) => w.name === wallet);
    if (!stored) {
      throw new WalletError('ERR_NO_WALLET', `wallet: no wallet named ${JSON.stringify(wallet)} in this soft store`, {
        hint: 'create it (capsule wallet create) or restore it from its words (capsule wallet restore)',
      });
    }
    const plain = await this.#vault.unlock(Buffer.from(stored.sealed, 'base64'));
    let root: HDKey | undefined;
    let node: HDKey | undefined;
    try {
      const seed = unbindName(wallet, plain);
      root = HDKey.fromMasterSeed(seed);
      node = root.derive(path);
      if (!node.privateKey || !node.publicKey) throw new KeyStoreError('ERR_MODULE_CALL', 'soft key store: derivation gave no key');
      return use(node.privateKey, node.publicKey);
    } finally {
      node?.wipePrivateData();
      root?.wipePrivateData();
      wipe(plain);
    }
  }
}

/** name ‖ 0x00 ‖ seed: the lock authenticates the name, so a sealed seed cannot be moved to another. */
function bindName(wallet: string, seed: Uint8Array): Uint8Array {
  const name = Buffer.from(wallet, 'utf8');
  const out = new Uint8Array(name.length + 1 + seed.length);
  out.set(name, 0);
  out.set(seed, name.length + 1);
  return out;
}

/** The seed inside `plain` (a view: wiping `plain` wipes it), after checking the bound name. */
function unbindName(wallet: string, plain: Uint8Array): Uint8Array {
  const name = Buffer.from(wallet, 'utf8');
  const ok = plain.length === name.length + 1 + SEED_BYTES && Buffer.from(plain.subarray(0, name.length)).equals(name) && plain[name.length] === 0;
  if (!ok) {
    throw new KeyStoreError('ERR_LOCK_INTEGRITY', `soft key store: the sealed seed stored for wallet ${JSON.stringify(wallet)} belongs to another wallet`, {
      hint: 'the store file was edited: restore the wallet from its words',
    });
  }
  return plain.subarray(name.length + 1);
}
