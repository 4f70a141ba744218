/**
 * The hot wallet's keys behind a KeyStore (DESIGN.md "The hot wallet"): named BIP32 wallets of
 * secp256k1 keys, created with 24 BIP39 words shown once or restored from words, whose accounts
 * are addressed by BIP32 path. Backends: the Zymbit module's wallet (HSM6/SCM; keys never leave
 * it) and `soft` (@scure/bip32, the seed kept locked by the soft store; development only).
 * Both enforce the argument checks below at their boundary, before any key is touched.
 *
 * Deliberately not here: transactions, digests and addresses (the caller computes what it signs),
 * which accounts a guardian serves (configuration), removing wallets, SLIP39 shares.
 */
import { mnemonicToEntropy } from '@scure/bip39';
import { wordlist } from '@scure/bip39/wordlists/english.js';
import { KeyError, WalletError } from '../errors.ts';

export interface WalletCapabilities {
  /** The custodian can hold wallets at all (false on a ZYMKEY4/HSM4: every call then refuses). */
  supported: boolean;
  /** BIP340 Schnorr signing, for Taproot key-path spends (soft: yes; Zymbit: no such call). */
  schnorr: boolean;
}

export interface WalletOptions {
  /** The BIP39 passphrase ("25th word"); '' or absent for none. NFKD-normalised before use. */
  passphrase?: string;
}

export interface WalletInfo {
  name: string;
  /** The module slot of the wallet's master seed (soft: the wallet's position in its store). */
  masterSlot: number;
}

export interface CreatedWallet {
  /** 24 English BIP39 words: returned once, never stored by the guardian in the clear. */
  mnemonic: string;
  masterSlot: number;
}

export interface RecoverableSignature {
  /** r ‖ s, 64 bytes, S low (≤ n/2) as Ethereum and Bitcoin require. */
  signature: Uint8Array;
  /** Recovers the signer's public key from (signature, digest): Ethereum's y-parity. */
  recovery: 0 | 1;
}

export interface SchnorrOptions {
  /**
   * BIP341 key-path tweak: the script tree's 32-byte Merkle root, or null for an output with no
   * script tree (BIP86: the key is tweaked with its own hash only).
   */
  taprootTweak: Uint8Array | null;
}

export interface WalletKeys {
  readonly capabilities: WalletCapabilities;
  /**
   * A new wallet from 24 fresh BIP39 words.
   * @throws WalletError ERR_BAD_WALLET_NAME, ERR_WALLET_EXISTS; KeyStoreError ERR_UNSUPPORTED_BY_MODEL, ERR_MODULE_CALL
   */
  create(name: string, options?: WalletOptions): Promise<CreatedWallet>;
  /**
   * A wallet from its words (12, 15, 18, 21 or 24; any spacing or case): the same keys as before.
   * @throws KeyError ERR_BAD_MNEMONIC (never echoing a word); WalletError ERR_BAD_WALLET_NAME,
   *   ERR_WALLET_EXISTS; KeyStoreError ERR_UNSUPPORTED_BY_MODEL, ERR_MODULE_CALL
   */
  restore(name: string, mnemonic: string, options?: WalletOptions): Promise<{ masterSlot: number }>;
  /** Every wallet, by name. @throws KeyStoreError ERR_UNSUPPORTED_BY_MODEL, ERR_MODULE_CALL */
  list(): Promise<WalletInfo[]>;
  /**
   * The account's 33-byte compressed secp256k1 public key (deriving the path on first use).
   * @throws WalletError ERR_BAD_WALLET_NAME, ERR_NO_WALLET, ERR_BAD_WALLET_PATH, ERR_PATH_OUTSIDE_WALLET;
   *   KeyStoreError ERR_UNSUPPORTED_BY_MODEL, ERR_MODULE_CALL
   */
  publicKey(name: string, path: string): Promise<Uint8Array>;
  /**
   * ECDSA over a 32-byte digest (signed as given, not hashed again) with low S and its recovery id
   * (as the custodian reports it: callers that hand the signature out prove it against the key,
   * as agent/wallet/signEcdsa.ts does).
   * @throws TypeError (digest not 32 bytes) and as publicKey
   */
  signDigest(name: string, path: string, digest: Uint8Array): Promise<RecoverableSignature>;
  /**
   * BIP340 Schnorr over a 32-byte digest (a BIP341 sighash) with the BIP341-tweaked key: 64 bytes.
   * @throws KeyStoreError ERR_UNSUPPORTED_BY_MODEL where capabilities.schnorr is false; TypeError
   *   (digest or Merkle root not 32 bytes) and as publicKey
   */
  signSchnorr(name: string, path: string, digest: Uint8Array, options: SchnorrOptions): Promise<Uint8Array>;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const MAX_PASSPHRASE_BYTES = 1024;
const WORD_COUNTS = [12, 15, 18, 21, 24];
const WORDS = new Set(wordlist);

/**
 * A wallet name: 1–64 of A–Z a–z 0–9 . _ - starting with a letter or digit (it appears in audit
 * entries, file names and the module's node table).
 * @throws WalletError ERR_BAD_WALLET_NAME
 */
export function checkWalletName(name: unknown): string {
  if (typeof name !== 'string' || !NAME.test(name)) {
    const got = typeof name === 'string' ? `${JSON.stringify(name.slice(0, 80))}${name.length > 80 ? '…' : ''}` : name === null ? 'null' : typeof name;
    throw new WalletError('ERR_BAD_WALLET_NAME', `name: expected 1-64 characters of A-Z a-z 0-9 . _ - starting with a letter or digit, got ${got}`);
  }
  return name;
}

/** @throws TypeError unless `digest` is 32 bytes */
export function checkDigest(digest: unknown, what = 'digest'): Uint8Array {
  if (!(digest instanceof Uint8Array) || digest.length !== 32) {
    throw new TypeError(
      `${what}: expected 32 bytes, got ${digest instanceof Uint8Array ? `${digest.length} bytes` : digest === null ? 'null' : typeof digest}`,
    );
  }
  return digest;
}

/**
 * The BIP39 passphrase, NFKD-normalised ('' when absent).
 * @throws TypeError (not a string), RangeError (over 1024 bytes)
 */
export function walletPassphrase(options: WalletOptions | undefined): string {
  const p = options?.passphrase ?? '';
  if (typeof p !== 'string') throw new TypeError(`passphrase: expected a string, got ${p === null ? 'null' : typeof p}`);
  const nfkd = p.normalize('NFKD');
  const bytes = Buffer.byteLength(nfkd, 'utf8');
  if (bytes > MAX_PASSPHRASE_BYTES) throw new RangeError(`passphrase: expected at most ${MAX_PASSPHRASE_BYTES} bytes (UTF-8), got ${bytes}`);
  return nfkd;
}

/**
 * BIP39 words normalised (NFKD, lower case, single spaces) after checking count, words and
 * checksum. Messages name positions and counts, never a word.
 * @throws KeyError ERR_BAD_MNEMONIC
 */
export function walletMnemonic(text: unknown): string {
  if (typeof text !== 'string') throw new KeyError('ERR_BAD_MNEMONIC', `mnemonic: expected a string of words, got ${text === null ? 'null' : typeof text}`);
  const words = text.normalize('NFKD').toLowerCase().trim().split(/\s+/).filter(Boolean);
  if (!WORD_COUNTS.includes(words.length)) {
    throw new KeyError('ERR_BAD_MNEMONIC', `mnemonic: expected 12, 15, 18, 21 or 24 words, got ${words.length}`, {
      hint: 'type the words of the backup in order, separated by spaces',
    });
  }
  const unknown = words.findIndex((w) => !WORDS.has(w));
  if (unknown >= 0) {
    throw new KeyError('ERR_BAD_MNEMONIC', `mnemonic: word ${unknown + 1} is not in the BIP39 English word list`, {
      hint: 'check the spelling of that word on the backup (the first four letters identify it)',
    });
  }
  const joined = words.join(' ');
  try {
    mnemonicToEntropy(joined, wordlist).fill(0);
  } catch (cause) {
    throw new KeyError('ERR_BAD_MNEMONIC', 'mnemonic: checksum does not match (a word is wrong or two are swapped)', {
      cause,
      hint: 'compare every word and its position with the backup',
    });
  }
  return joined;
}
