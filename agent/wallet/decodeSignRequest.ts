/**
 * The entry point of agent/wallet: a signing request as the caller sent it (SignInput) and the
 * account it is for, checked and dispatched to the decoder of its kind. What comes back carries the
 * ABI §4.2 "request" map for the policy, the digests the guardian computed itself, and finish()
 * to sign them once the policy allowed.
 *
 * Deliberately not here: the policy evaluation, audit and HTTP (the daemon's Decider/api), and
 * keys (WalletSigner).
 */
import { WalletRequestError } from '../errors.ts';
import { decodeBtcPsbt } from './decodeBtcPsbt.ts';
import { decodeEthMessage } from './decodeEthMessage.ts';
import { decodeEthTx } from './decodeEthTx.ts';
import { decodeEthTypedData } from './decodeEthTypedData.ts';
import { decodeRawDigest } from './decodeRawDigest.ts';
import { shown } from './requestFields.ts';
import { SIGN_KINDS, type DecodedSignRequest, type SignKind } from './SignRequest.ts';
import { checkAccount, type WalletAccount } from './WalletAccount.ts';

const CHAIN_OF: Record<SignKind, 'ethereum' | 'bitcoin' | undefined> = {
  'eth-tx': 'ethereum',
  'eth-typed-data': 'ethereum',
  'eth-message': 'ethereum',
  'btc-psbt': 'bitcoin',
  'raw-digest': undefined,
};
const PAYLOAD: Record<SignKind, string> = {
  'eth-tx': 'transaction',
  'eth-typed-data': 'typedData',
  'eth-message': 'message',
  'btc-psbt': 'psbt',
  'raw-digest': 'digest',
};

/**
 * Decodes `input` for `account`. Nothing is signed here; on any error nothing will be.
 * @throws WalletRequestError ERR_BAD_SIGN_REQUEST (not an object), ERR_UNKNOWN_KIND, ERR_WRONG_CHAIN
 *   (an Ethereum kind for a Bitcoin account or the reverse), ERR_BAD_ACCOUNT, and each kind's codes:
 *   ERR_BAD_TRANSACTION, ERR_UNSUPPORTED_TRANSACTION, ERR_WRONG_ACCOUNT, ERR_BAD_TYPED_DATA,
 *   ERR_BAD_MESSAGE, ERR_BAD_PSBT, ERR_NOTHING_TO_SIGN, ERR_BAD_DIGEST, ERR_RAW_DIGEST_NOT_ALLOWED
 */
export function decodeSignRequest(input: unknown, account: WalletAccount): DecodedSignRequest {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new WalletRequestError('ERR_BAD_SIGN_REQUEST', `request: expected an object with "kind" and its payload, got ${shown(input)}`);
  }
  const r = input as Record<string, unknown>;
  const kind = r.kind;
  if (typeof kind !== 'string' || !(SIGN_KINDS as readonly string[]).includes(kind)) {
    throw new WalletRequestError('ERR_UNKNOWN_KIND', `kind: expected one of ${SIGN_KINDS.join(', ')}, got ${shown(kind)}`);
  }
  const k = kind as SignKind;
  checkAccount(account);
  const chain = CHAIN_OF[k];
  if (chain !== undefined && chain !== account.chain) {
    throw new WalletRequestError('ERR_WRONG_CHAIN', `kind: ${k} signs for ${chain}, but ${account.wallet} ${account.path} is a ${account.chain} account`);
  }
  const field = PAYLOAD[k];
  const payload = r[field];
  if (payload === undefined) throw new WalletRequestError('ERR_BAD_SIGN_REQUEST', `${field}: required for kind ${k}, absent`);
  for (const extra of Object.keys(r)) {
    if (extra !== 'kind' && extra !== field)
      throw new WalletRequestError('ERR_BAD_SIGN_REQUEST', `${extra}: not a field of a ${k} request (expected kind and ${field})`);
  }
  switch (k) {
    case 'eth-tx':
      return decodeEthTx(payload as never, account as never);
    case 'eth-typed-data':
      return decodeEthTypedData(payload as never, account as never);
    case 'eth-message':
      return decodeEthMessage(payload as never, account as never);
    case 'btc-psbt':
      return decodeBtcPsbt(payload as never, account as never);
    case 'raw-digest':
      return decodeRawDigest(payload as never, account);
  }
}
