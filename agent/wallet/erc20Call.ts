/**
 * ERC-20 `transfer`, `approve` and `transferFrom` call data, decoded with micro-eth-signer's ABI
 * decoder into ABI §4.2's `"erc20"` map (method, token, owner, recipient, amount).
 *
 * Call data whose selector is one of these three but whose arguments do not decode strictly (short,
 * trailing bytes, dirty address padding) is refused rather than shown to a policy without its
 * `"erc20"` map: a token contract may still execute it as a transfer, and a policy that limits
 * ERC-20 amounts must never see such a call as "not ERC-20".
 *
 * Deliberately not here: other token standards, or telling whether `to` really is a token (the
 * policy's allowlists decide that).
 */
import { Decoder, ERC20 } from 'micro-eth-signer/abi.js';
import { WalletRequestError } from '../errors.ts';
import { addressBytes, u256 } from './requestFields.ts';

const SELECTORS: Record<string, 'transfer' | 'approve' | 'transferFrom'> = {
  a9059cbb: 'transfer',
  '095ea7b3': 'approve',
  '23b872dd': 'transferFrom',
};

// The decoder looks ABIs up by contract address; one fixed key serves every token, since the
// three methods decode the same whatever contract they are sent to.
const KEY = '0x0000000000000000000000000000000000000020';
const decoder = new Decoder();
decoder.add(KEY, ERC20 as never);

interface Decoded {
  name: string;
  value: Record<string, unknown>;
}

/**
 * The §4.2 `"erc20"` map for call data to `token`, or undefined when the selector is not one of the three.
 * @throws WalletRequestError ERR_BAD_TRANSACTION (an ERC-20 selector whose arguments do not decode)
 */
export function decodeErc20Call(token: Uint8Array, data: Uint8Array): Map<string, unknown> | undefined {
  if (data.length < 4) return undefined;
  const method = SELECTORS[Buffer.from(data.subarray(0, 4)).toString('hex')];
  if (!method) return undefined;
  let decoded: Decoded;
  try {
    const d = decoder.decode(KEY, data) as Decoded | Decoded[] | undefined;
    if (!d || Array.isArray(d) || d.name !== method) throw new Error(`decoded as ${Array.isArray(d) ? 'several methods' : d?.name}`);
    decoded = d;
  } catch (cause) {
    throw new WalletRequestError(
      'ERR_BAD_TRANSACTION',
      `data: selector 0x${Buffer.from(data.subarray(0, 4)).toString('hex')} is ERC-20 ${method} but its ${data.length - 4} argument bytes do not decode as its ABI arguments`,
      { cause },
    );
  }
  const v = decoded.value;
  const entries: [string, unknown][] = [
    ['method', method],
    ['token', Uint8Array.from(token)],
  ];
  if (method === 'transfer') entries.push(['recipient', addressBytes(v.to as string)]);
  else if (method === 'approve') entries.push(['recipient', addressBytes(v.spender as string)]);
  else entries.push(['owner', addressBytes(v.from as string)], ['recipient', addressBytes(v.to as string)]);
  entries.push(['amount', u256(v.value as bigint)]);
  return new Map(entries);
}
