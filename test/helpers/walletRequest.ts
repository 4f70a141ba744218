/**
 * Wallet signing requests as a policy sees them (contracts-as/ABI.md §4.2), for policy tests: the
 * `request` Map of an eth-tx, eth-typed-data, eth-message, btc-psbt or raw-digest decision, with
 * every hash computed by a library from the transaction it names — the unsigned EIP-1559/2930/155
 * signing hash by micro-eth-signer, ERC-20 call data by its ABI coder, the EIP-712 domain and struct
 * hashes by viem, the EIP-191 digest by the sandbox's own helper, the txid, addresses and scripts
 * of a Bitcoin transaction by @scure/btc-signer — so a request is what the guardian would present.
 * Integer encodings as §4.2: u256 quantities as 32-byte big-endian byte strings, other integers as
 * CBOR uints, Ethereum addresses as 20 bytes, Bitcoin addresses as text.
 *
 * Deliberately not here: the guardian's own decoder (agent/wallet), signing, or PSBT key metadata
 * (a policy sees no more than §4.2 lists).
 */
import { keccak_256 } from '@noble/hashes/sha3.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import * as btc from '@scure/btc-signer';
import { Transaction } from 'micro-eth-signer';
import { ERC20, createContract } from 'micro-eth-signer/abi.js';
import { hashDomain, hashStruct, type TypedDataDomain } from 'viem';
import { personalMessageDigest } from '../../agent/sandbox/ethereum.ts';

export type Request = Map<string, unknown>;

const hexOf = (b: Uint8Array) => `0x${Buffer.from(b).toString('hex')}`;

/** The 32-byte big-endian form of a uint256 (§4.2 u256). */
export function u256(v: bigint): Uint8Array {
  if (v < 0n || v >= 1n << 256n) throw new RangeError(`u256: ${v} is outside 0..2^256-1`);
  return Uint8Array.from(Buffer.from(v.toString(16).padStart(64, '0'), 'hex'));
}

/** 20 address bytes from "0x…" hex. */
export function address(hex: string): Uint8Array {
  const b = Buffer.from(hex.replace(/^0x/i, ''), 'hex');
  if (b.length !== 20) throw new RangeError(`address: expected 20 bytes of hex, got ${JSON.stringify(hex)}`);
  return Uint8Array.from(b);
}

/** A deterministic Ethereum address for test party `n` (not a real key's address). */
export function party(n: number): string {
  return `0x${n.toString(16).padStart(2, '0').repeat(20)}`;
}

interface Common {
  wallet?: string;
  path?: string;
}

function common(kind: string, hash: Uint8Array, c: Common, defaultPath: string): [string, unknown][] {
  return [
    ['kind', kind],
    ['wallet', c.wallet ?? 'hot'],
    ['path', c.path ?? defaultPath],
    ['hash', hash],
  ];
}

const ETH_PATH = "m/44'/60'/0'/0/0";
const BTC_PATH = "m/84'/0'/0'/0/0";
/** The account the Ethereum requests come from. */
export const OUR_ETH = party(0xaa);

export interface Erc20Spec {
  method: 'transfer' | 'approve' | 'transferFrom';
  /** Receiver (transfer, transferFrom) or spender (approve). */
  recipient: string;
  amount: bigint;
  /** transferFrom only (default: our account). */
  owner?: string;
}

export interface EthTxSpec extends Common {
  chainId?: number;
  txType?: 'legacy' | 'eip2930' | 'eip1559';
  /** null: contract creation. */
  to: string | null;
  value?: bigint;
  nonce?: number;
  gasLimit?: number;
  gasPrice?: bigint;
  maxFeePerGas?: bigint;
  maxPriorityFeePerGas?: bigint;
  /** Call data (ignored when erc20 is given: the call is encoded from it). */
  data?: Uint8Array;
  erc20?: Erc20Spec;
}

const erc20 = createContract(ERC20) as unknown as Record<string, { encodeInput(args: unknown): Uint8Array }>;

function erc20Data(e: Erc20Spec): Uint8Array {
  if (e.method === 'transfer') return erc20.transfer!.encodeInput({ to: e.recipient, value: e.amount });
  if (e.method === 'approve') return erc20.approve!.encodeInput({ spender: e.recipient, value: e.amount });
  return erc20.transferFrom!.encodeInput({ from: e.owner ?? OUR_ETH, to: e.recipient, value: e.amount });
}

/** An eth-tx request; the hash is the unsigned transaction's signing hash. */
export function ethTxRequest(spec: EthTxSpec): Request {
  const txType = spec.txType ?? 'eip1559';
  const chainId = spec.chainId ?? 1;
  const value = spec.value ?? 0n;
  const nonce = spec.nonce ?? 0;
  const gasLimit = spec.gasLimit ?? 21_000;
  const data = spec.erc20 ? erc20Data(spec.erc20) : (spec.data ?? new Uint8Array(0));
  const perGas = txType === 'eip1559' ? (spec.maxFeePerGas ?? 30_000_000_000n) : (spec.gasPrice ?? 20_000_000_000n);
  const fees: Record<string, bigint> =
    txType === 'eip1559' ? { maxFeePerGas: perGas, maxPriorityFeePerGas: spec.maxPriorityFeePerGas ?? 1_000_000_000n } : { gasPrice: perGas };
  const tx = Transaction.prepare(
    {
      type: txType,
      to: spec.to ?? '0x',
      value,
      nonce: BigInt(nonce),
      gasLimit: BigInt(gasLimit),
      chainId: BigInt(chainId),
      data: hexOf(data),
      ...(txType === 'eip2930' ? { accessList: [] } : {}),
      ...fees,
    } as never,
    false,
  );
  const hash = keccak_256(tx.toBytes({ includeSignature: false }));
  const entries: [string, unknown][] = [
    ...common('eth-tx', hash, spec, ETH_PATH),
    ['chain', 'ethereum'],
    ['chainId', chainId],
    ['txType', txType],
    ['from', address(OUR_ETH)],
    ['to', spec.to === null ? null : address(spec.to)],
    ['value', u256(value)],
    ['nonce', nonce],
    ['gasLimit', gasLimit],
    ...Object.entries(fees).map(([k, v]) => [k, u256(v)] as [string, unknown]),
    ['maxFee', u256(BigInt(gasLimit) * perGas)],
    ['data', data],
  ];
  if (data.length >= 4) entries.push(['selector', data.subarray(0, 4)]);
  if (spec.erc20) {
    const e = spec.erc20;
    entries.push([
      'erc20',
      new Map<string, unknown>([
        ['method', e.method],
        ['token', address(spec.to!)],
        ...(e.method === 'transferFrom' ? [['owner', address(e.owner ?? OUR_ETH)] as [string, unknown]] : []),
        ['recipient', address(e.recipient)],
        ['amount', u256(e.amount)],
      ]),
    ]);
  }
  return new Map(entries);
}

/** An eth-message (personal_sign) request; the hash is the EIP-191 digest. */
export function ethMessageRequest(text: string, c: Common = {}): Request {
  const message = new TextEncoder().encode(text);
  return new Map<string, unknown>([
    ...common('eth-message', personalMessageDigest(message), c, ETH_PATH),
    ['chain', 'ethereum'],
    ['from', address(OUR_ETH)],
    ['message', message],
  ]);
}

/** An EIP-712 request for a small "Mail" document; the domain names `chainId` unless it is undefined. */
export function ethTypedDataRequest(chainId: number | undefined, c: Common = {}): Request {
  const domain: TypedDataDomain = {
    name: 'Mail',
    version: '1',
    verifyingContract: party(0xcc) as `0x${string}`,
    ...(chainId === undefined ? {} : { chainId }),
  };
  const types = { Mail: [{ name: 'contents', type: 'string' }] } as const;
  const message = { contents: 'hello' };
  const domainFields = [
    { name: 'name', type: 'string' },
    { name: 'version', type: 'string' },
    ...(chainId === undefined ? [] : [{ name: 'chainId', type: 'uint256' }]),
    { name: 'verifyingContract', type: 'address' },
  ];
  const domainHash = Buffer.from(hashDomain({ domain, types: { EIP712Domain: domainFields, ...types } } as Parameters<typeof hashDomain>[0]).slice(2), 'hex');
  const structHash = Buffer.from(hashStruct({ data: message, primaryType: 'Mail', types }).slice(2), 'hex');
  const hash = keccak_256(Uint8Array.from([0x19, 0x01, ...domainHash, ...structHash]));
  const document = JSON.stringify({ domain, types: { EIP712Domain: domainFields, ...types }, primaryType: 'Mail', message });
  return new Map<string, unknown>([
    ...common('eth-typed-data', hash, c, ETH_PATH),
    ['chain', 'ethereum'],
    ...(chainId === undefined ? [] : [['chainId', chainId] as [string, unknown]]),
    ['from', address(OUR_ETH)],
    ['primaryType', 'Mail'],
    [
      'domain',
      new Map<string, unknown>([
        ['name', 'Mail'],
        ['version', '1'],
        ...(chainId === undefined ? [] : [['chainId', chainId] as [string, unknown]]),
        ['verifyingContract', address(party(0xcc))],
      ]),
    ],
    ['domainHash', Uint8Array.from(domainHash)],
    ['structHash', Uint8Array.from(structHash)],
    ['document', new TextEncoder().encode(document)],
  ]);
}

/** A raw-digest request (only for accounts configured with "rawDigest": true). */
export function rawDigestRequest(digest: Uint8Array, c: Common = {}): Request {
  return new Map<string, unknown>([...common('raw-digest', digest, c, ETH_PATH), ['chain', 'ethereum'], ['from', address(OUR_ETH)], ['digest', digest]]);
}

// ---- Bitcoin ----

export type BtcNetwork = 'mainnet' | 'testnet' | 'regtest';

function btcNet(n: BtcNetwork) {
  return n === 'mainnet' ? btc.NETWORK : n === 'testnet' ? btc.TEST_NETWORK : { ...btc.TEST_NETWORK, bech32: 'bcrt' };
}

/** The P2WPKH address of test key `n` (n ≥ 1) on `network` (P2TR with `taproot`). */
export function btcAddress(n: number, network: BtcNetwork = 'mainnet', taproot = false): string {
  const pub = secp256k1.getPublicKey(new Uint8Array(32).fill(n), true);
  const net = btcNet(network);
  return (taproot ? btc.p2tr(pub.subarray(1), undefined, net) : btc.p2wpkh(pub, net)).address!;
}

/** Our wallet's receiving address (key 1) and change address (key 2). */
export const OUR_BTC = (network: BtcNetwork = 'mainnet') => btcAddress(1, network);
export const OUR_CHANGE = (network: BtcNetwork = 'mainnet') => btcAddress(2, network);

export interface BtcInputSpec {
  amount: number;
  ours: boolean;
  address?: string;
}
/** address null: an OP_RETURN output carrying `data` (no address form). */
export interface BtcOutputSpec {
  address: string | null;
  amount: number;
  change?: boolean;
  data?: string;
}
export interface BtcPsbtSpec extends Common {
  network?: BtcNetwork;
  inputs: BtcInputSpec[];
  outputs: BtcOutputSpec[];
}

/** A btc-psbt request; the hash is the unsigned transaction's txid in internal byte order. */
export function btcPsbtRequest(spec: BtcPsbtSpec): Request {
  const network = spec.network ?? 'mainnet';
  const net = btcNet(network);
  const tx = new btc.Transaction({ allowUnknownOutputs: true }); // OP_RETURN outputs
  const inputs = spec.inputs.map((inp, i) => {
    const addr = inp.address ?? (inp.ours ? OUR_BTC(network) : btcAddress(100 + i, network));
    const txid = new Uint8Array(32).fill(i + 1);
    tx.addInput({ txid, index: i, witnessUtxo: { script: btc.OutScript.encode(btc.Address(net).decode(addr)), amount: BigInt(inp.amount) } });
    return new Map<string, unknown>([
      ['txid', Uint8Array.from(txid).reverse()],
      ['vout', i],
      ['amount', inp.amount],
      ['address', addr],
      ['ours', inp.ours],
      ...(inp.ours ? [['path', spec.path ?? BTC_PATH] as [string, unknown]] : []),
    ]);
  });
  const outputs = spec.outputs.map((out) => {
    const script =
      out.address === null
        ? btc.Script.encode(['RETURN', new TextEncoder().encode(out.data ?? 'memo')])
        : btc.OutScript.encode(btc.Address(net).decode(out.address));
    tx.addOutput({ script, amount: BigInt(out.amount) });
    return new Map<string, unknown>([
      ['address', out.address],
      ['script', script],
      ['amount', out.amount],
      ['change', out.change ?? false],
    ]);
  });
  const fee = spec.inputs.reduce((s, x) => s + x.amount, 0) - spec.outputs.reduce((s, x) => s + x.amount, 0);
  return new Map<string, unknown>([
    ...common('btc-psbt', Uint8Array.from(Buffer.from(tx.id, 'hex')).reverse(), spec, BTC_PATH),
    ['chain', 'bitcoin'],
    ['network', network],
    ['inputs', inputs],
    ['outputs', outputs],
    ['fee', fee],
  ]);
}

/** The request hash (what approvals name). */
export function requestHash(r: Request): Uint8Array {
  return r.get('hash') as Uint8Array;
}
