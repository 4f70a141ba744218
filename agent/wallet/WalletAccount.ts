/**
 * The account a signing request is decoded for: which wallet and BIP32 path signs, its public key,
 * and the chain it is configured for (an Ethereum chain id; a Bitcoin network). Supplied by the
 * caller (the daemon's configuration), checked here once so that every decoder can rely on it.
 *
 * Deliberately not here: deriving keys (the custodian does, WalletSigner.publicKey) or choosing the
 * policy (configuration binds one per account).
 */
import * as btc from '@scure/btc-signer';
import { WalletRequestError } from '../errors.ts';
import { isPublicKey } from './keyFacts.ts';

export type BitcoinNetworkName = 'mainnet' | 'testnet' | 'regtest';

/** One key of a wallet by path: a PSBT input paying it is ours, an output paying it is change. */
export interface AccountKey {
  path: string;
  /** 33-byte compressed secp256k1 public key. */
  publicKey: Uint8Array;
}

interface AccountCommon {
  /** The wallet's name on this guardian (ABI §4.2 "wallet"). */
  wallet: string;
  /** BIP32 path of the signing account (ABI §4.2 "path"). */
  path: string;
  /** 33-byte compressed public key at `path`. */
  publicKey: Uint8Array;
  /** The account was configured with "rawDigest": true (ABI §4.2); otherwise raw-digest is refused. */
  rawDigest?: boolean;
}

export interface EthereumAccount extends AccountCommon {
  chain: 'ethereum';
  /** The EIP-155 chain id this account signs for. */
  chainId: number;
}

export interface BitcoinAccount extends AccountCommon {
  chain: 'bitcoin';
  network: BitcoinNetworkName;
  /**
   * Every key of this wallet a PSBT may spend from or send change to; the account's own
   * (path, publicKey) is always included. An input is ours when its previous output's script pays
   * one of these keys (P2WPKH, or P2TR key path with the PSBT's Merkle root): see decodeBtcPsbt.
   */
  keys?: AccountKey[];
}

export type WalletAccount = EthereumAccount | BitcoinAccount;

const NETWORKS: Record<BitcoinNetworkName, typeof btc.NETWORK> = {
  mainnet: btc.NETWORK,
  testnet: btc.TEST_NETWORK,
  // Regtest differs from testnet only in its bech32 prefix (Bitcoin Core chainparams).
  regtest: { ...btc.TEST_NETWORK, bech32: 'bcrt' },
};

/** @scure/btc-signer's network parameters for a network name. */
export function bitcoinNetwork(name: BitcoinNetworkName): typeof btc.NETWORK {
  return NETWORKS[name];
}

/**
 * The account's Bitcoin address: P2TR for a BIP86 path (m/86'/…), P2WPKH otherwise (BIP84).
 * Used where ABI §4.2 names the account by address (raw-digest "from").
 */
export function bitcoinAddress(account: BitcoinAccount): string {
  const net = bitcoinNetwork(account.network);
  if (/^m\/86'/.test(account.path)) return btc.p2tr(account.publicKey.subarray(1), undefined, net).address!;
  return btc.p2wpkh(account.publicKey, net).address!;
}

/**
 * Checks an account context before any decoding.
 * @throws WalletRequestError ERR_BAD_ACCOUNT (a configuration fault: 500)
 */
export function checkAccount(account: WalletAccount): void {
  const bad = (message: string): never => {
    throw new WalletRequestError('ERR_BAD_ACCOUNT', `account: ${message}`);
  };
  if (typeof account !== 'object' || account === null) bad(`expected an account object, got ${account === null ? 'null' : typeof account}`);
  if (typeof account.wallet !== 'string' || account.wallet.length === 0) bad('wallet: expected a non-empty name');
  checkKey(account.path, account.publicKey, bad);
  if (account.chain === 'ethereum') {
    if (!Number.isSafeInteger(account.chainId) || account.chainId < 1) bad(`chainId: expected a positive integer, got ${String(account.chainId)}`);
  } else if (account.chain === 'bitcoin') {
    if (!Object.hasOwn(NETWORKS, account.network)) bad(`network: expected mainnet, testnet or regtest, got ${JSON.stringify(account.network)}`);
    for (const k of account.keys ?? []) checkKey(k?.path, k?.publicKey, bad);
  } else {
    bad(`chain: expected "ethereum" or "bitcoin", got ${JSON.stringify((account as { chain?: unknown }).chain)}`);
  }
}

function checkKey(path: unknown, publicKey: unknown, bad: (m: string) => never): void {
  if (typeof path !== 'string' || !/^m(\/\d+'?)*$/.test(path)) bad(`path: expected a BIP32 path like m/44'/60'/0'/0/0, got ${JSON.stringify(path)}`);
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 33) bad(`publicKey of ${String(path)}: expected 33 bytes (compressed secp256k1)`);
  if (!isPublicKey(publicKey)) bad(`publicKey of ${String(path)}: not a secp256k1 point`);
}

/** The keys that make a PSBT input ours: the account's own first, then `keys`, without repeats. */
export function ownKeys(account: BitcoinAccount): AccountKey[] {
  const all = [{ path: account.path, publicKey: account.publicKey }, ...(account.keys ?? [])];
  const seen = new Set<string>();
  return all.filter((k) => {
    const id = Buffer.from(k.publicKey).toString('hex');
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}
