/**
 * Test helpers for agent/wallet: account contexts for the twin's keys (test/helpers/walletTwin.ts),
 * a full attempt (decode, then finish) and the assertion that a refusal is the typed error with
 * its code, HTTP status and message — and that the custodian signed nothing.
 *
 * Deliberately not here: expectations about any particular kind (each suite states its own).
 */
import * as assert from 'uvu/assert';
import { WalletRequestError } from '../../agent/errors.ts';
import { decodeSignRequest } from '../../agent/wallet/decodeSignRequest.ts';
import type { SignOutput } from '../../agent/wallet/SignRequest.ts';
import type { BitcoinAccount, BitcoinNetworkName, EthereumAccount } from '../../agent/wallet/WalletAccount.ts';
import type { WalletSigner } from '../../agent/wallet/WalletSigner.ts';
import { expectError } from './assertError.ts';
import { statusOf } from '../../agent/daemon/statusByCode.ts';

export const ETH_PATH = "m/44'/60'/0'/0/0";
export const BTC_PATH = "m/84'/1'/0'/0/0";
export const BTC_CHANGE_PATH = "m/84'/1'/0'/1/0";
export const TAP_PATH = "m/86'/1'/0'/0/0";

/** The Ethereum account m/44'/60'/0'/0/0 of `signer` on `chainId`. */
export async function ethAccount(signer: WalletSigner, chainId = 1, extra: Partial<EthereumAccount> = {}): Promise<EthereumAccount> {
  return { chain: 'ethereum', wallet: 'hot', path: ETH_PATH, publicKey: await signer.publicKey(ETH_PATH), chainId, ...extra };
}

/** The Bitcoin account BIP84 m/84'/1'/0'/0/0 with its change key and a BIP86 Taproot key. */
export async function btcAccount(signer: WalletSigner, network: BitcoinNetworkName = 'regtest', extra: Partial<BitcoinAccount> = {}): Promise<BitcoinAccount> {
  return {
    chain: 'bitcoin',
    wallet: 'hot',
    path: BTC_PATH,
    publicKey: await signer.publicKey(BTC_PATH),
    network,
    keys: [
      { path: BTC_CHANGE_PATH, publicKey: await signer.publicKey(BTC_CHANGE_PATH) },
      { path: TAP_PATH, publicKey: await signer.publicKey(TAP_PATH) },
    ],
    ...extra,
  };
}

/** Decodes and finishes `input`, as the daemon would after an allow. */
export async function signRequest(input: unknown, account: EthereumAccount | BitcoinAccount, signer: WalletSigner): Promise<SignOutput> {
  return decodeSignRequest(input, account).finish(signer);
}

/**
 * Asserts that `input` is refused with WalletRequestError `code`/`status`, a one-line message
 * matching `message`, and that `signer.calls` did not move (nothing was signed).
 */
export async function refused(
  input: unknown,
  account: EthereumAccount | BitcoinAccount,
  signer: WalletSigner & { calls: number },
  code: string,
  status: number,
  message: RegExp,
): Promise<WalletRequestError> {
  const before = signer.calls;
  let thrown: unknown;
  try {
    await signRequest(input, account, signer);
  } catch (e) {
    thrown = e;
  }
  assert.ok(thrown !== undefined, `expected ${code}, but the request was signed`);
  expectError(thrown, 'WalletRequestError', code, message);
  assert.is(statusOf((thrown as WalletRequestError).code), status, 'HTTP status (agent/daemon/statusByCode.ts)');
  assert.is(signer.calls, before, 'nothing was signed');
  return thrown as WalletRequestError;
}
