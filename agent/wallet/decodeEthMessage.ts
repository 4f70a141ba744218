/**
 * Kind `eth-message`: Ethereum `personal_sign` (EIP-191 version 0x45) — the digest computed by
 * micro-eth-signer's eip191Signer, presented as ABI §4.2's eth-message map and signed as a
 * 65-byte r ‖ s ‖ v (v 27|28), the form wallets return and viem/ethers recover.
 *
 * A text message is its UTF-8 bytes, never hex: "0x1234" is six characters to sign, because
 * guessing would let the same request mean two different messages.
 *
 * Deliberately not here: EIP-191 versions 0x00 and 0x01 (0x01 is eth-typed-data).
 */
import { eip191Signer } from 'micro-eth-signer';
import { WalletRequestError } from '../errors.ts';
import { hex0x, shown } from './requestFields.ts';
import type { DecodedSignRequest, EthSignatureOutput } from './SignRequest.ts';
import { rsv, signEcdsa } from './signEcdsa.ts';
import { ethereumAddress } from './keyFacts.ts';
import type { EthereumAccount } from './WalletAccount.ts';

/**
 * Decodes an eth-message request for `account`.
 * @throws WalletRequestError ERR_BAD_MESSAGE (neither text nor bytes)
 */
export function decodeEthMessage(input: string | Uint8Array, account: EthereumAccount): DecodedSignRequest {
  let message: Uint8Array;
  if (typeof input === 'string') message = new TextEncoder().encode(input);
  else if (input instanceof Uint8Array) message = Uint8Array.from(input);
  else throw new WalletRequestError('ERR_BAD_MESSAGE', `message: expected text or bytes, got ${shown(input)}`);
  const hash = Uint8Array.from(Buffer.from(eip191Signer.getHash(message).slice(2), 'hex'));
  const request = new Map<string, unknown>([
    ['kind', 'eth-message'],
    ['wallet', account.wallet],
    ['path', account.path],
    ['hash', hash],
    ['chain', 'ethereum'],
    ['from', ethereumAddress(account.publicKey)],
    ['message', message],
  ]);
  return {
    kind: 'eth-message',
    request,
    hash,
    signatures: [{ path: account.path, digest: hash, scheme: 'ecdsa' }],
    needsSchnorr: false,
    async finish(signer): Promise<EthSignatureOutput> {
      const signature = rsv(await signEcdsa(signer, account.path, hash, account.publicKey));
      return { kind: 'eth-message', signature, text: hex0x(signature) };
    },
  };
}
