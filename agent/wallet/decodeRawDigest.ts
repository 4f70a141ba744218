/**
 * Kind `raw-digest`: a bare 32-byte digest, signed as given. Only for accounts configured with
 * "rawDigest": true (ABI §4.2): the policy of any other account never sees an undecoded request.
 *
 * Deliberately not here: hashing (the caller's digest is signed as it is), Schnorr raw digests.
 */
import { WalletRequestError } from '../errors.ts';
import { hexBytes, shown } from './requestFields.ts';
import type { DecodedSignRequest, RawDigestOutput } from './SignRequest.ts';
import { signEcdsa } from './signEcdsa.ts';
import { ethereumAddress } from './keyFacts.ts';
import { bitcoinAddress, type WalletAccount } from './WalletAccount.ts';

/**
 * Decodes a raw-digest request for `account`.
 * @throws WalletRequestError ERR_RAW_DIGEST_NOT_ALLOWED (account not configured for it), ERR_BAD_DIGEST
 */
export function decodeRawDigest(input: string | Uint8Array, account: WalletAccount): DecodedSignRequest {
  if (account.rawDigest !== true) {
    throw new WalletRequestError(
      'ERR_RAW_DIGEST_NOT_ALLOWED',
      `kind: raw-digest is refused for ${account.wallet} ${account.path}: the account is not configured with "rawDigest": true`,
    );
  }
  const digest = input instanceof Uint8Array ? Uint8Array.from(input) : hexBytes(input, 'digest', 'ERR_BAD_DIGEST');
  if (digest.length !== 32) {
    throw new WalletRequestError(
      'ERR_BAD_DIGEST',
      `digest: expected exactly 32 bytes (64 hex digits), got ${typeof input === 'string' ? `${digest.length} bytes from ${shown(input)}` : shown(input)}`,
    );
  }
  const from = account.chain === 'ethereum' ? ethereumAddress(account.publicKey) : bitcoinAddress(account);
  const request = new Map<string, unknown>([
    ['kind', 'raw-digest'],
    ['wallet', account.wallet],
    ['path', account.path],
    ['hash', digest],
    ['chain', account.chain],
    ['from', from],
    ['digest', digest],
  ]);
  return {
    kind: 'raw-digest',
    request,
    hash: digest,
    signatures: [{ path: account.path, digest, scheme: 'ecdsa' }],
    needsSchnorr: false,
    async finish(signer): Promise<RawDigestOutput> {
      const sig = await signEcdsa(signer, account.path, digest, account.publicKey);
      return { kind: 'raw-digest', signature: sig.signature, recovery: sig.recovery, text: Buffer.from(sig.signature).toString('hex') };
    },
  };
}
