/**
 * Kind `eth-tx`: an Ethereum transaction — EIP-1559, EIP-2930, or legacy with an EIP-155 chain id —
 * given as unsigned raw hex or as JSON fields, parsed and encoded by micro-eth-signer's Transaction,
 * presented as ABI §4.2's eth-tx map, its signing hash (keccak256 of the library's unsigned
 * EIP-2718 encoding) signed through the WalletSigner and assembled by the same library.
 *
 * Refused: a chain id other than the account's, a legacy transaction without one (replayable on
 * every chain), an already signed transaction, a `from` that is not our account, EIP-4844 blob and
 * EIP-7702 set-code transactions (a policy could not see what they do), raw hex that does not
 * re-encode to the same bytes.
 *
 * JSON fields: a missing chainId is the account's (the signature commits to it either way), a
 * missing value is 0, missing data is empty, `to` null or absent is a contract creation; nonce,
 * gas limit and fees are required.
 *
 * Deliberately not here: filling in nonces or fees from a node (the guardian has none: the caller
 * sends complete transactions), broadcasting.
 */
import { keccak_256 } from '@noble/hashes/sha3.js';
import { addr, Transaction, type TxType } from 'micro-eth-signer';
import { WalletRequestError } from '../errors.ts';
import { decodeErc20Call } from './erc20Call.ts';
import { addressBytes, hex0x, hexBytes, quantity, safeUint, shown, u256 } from './requestFields.ts';
import type { DecodedSignRequest, EthTxOutput } from './SignRequest.ts';
import { signEcdsa } from './signEcdsa.ts';
import { ethereumAddress } from './keyFacts.ts';
import type { EthereumAccount } from './WalletAccount.ts';

type Supported = 'legacy' | 'eip2930' | 'eip1559';
/** A micro-eth-signer transaction of any type (the package exports the class as a value only). */
type Tx = ReturnType<typeof Transaction.fromBytes>;
const FIELDS = new Set([
  'type',
  'chainId',
  'nonce',
  'to',
  'value',
  'gas',
  'gasLimit',
  'gasPrice',
  'maxFeePerGas',
  'maxPriorityFeePerGas',
  'data',
  'input',
  'accessList',
  'from',
]);
const TYPE_NAMES: Record<string, TxType> = {
  legacy: 'legacy',
  eip2930: 'eip2930',
  eip1559: 'eip1559',
  eip4844: 'eip4844',
  eip7702: 'eip7702',
  '0x0': 'legacy',
  '0x1': 'eip2930',
  '0x2': 'eip1559',
  '0x3': 'eip4844',
  '0x4': 'eip7702',
  '0x00': 'legacy',
  '0x01': 'eip2930',
  '0x02': 'eip1559',
  '0x03': 'eip4844',
  '0x04': 'eip7702',
  0: 'legacy',
  1: 'eip2930',
  2: 'eip1559',
  3: 'eip4844',
  4: 'eip7702',
} as Record<string, TxType>;

const bad = (message: string, cause?: unknown): never => {
  throw new WalletRequestError('ERR_BAD_TRANSACTION', message, cause === undefined ? {} : { cause });
};

/** Which fields the library's validation refused (names only: its reasons stay in `cause`). */
function refusedFields(e: unknown): string {
  const errs = (e as { errors?: { field: string }[] })?.errors;
  if (Array.isArray(errs) && errs.length > 0) return `the library refused field(s) ${errs.map((x) => x.field).join(', ')}`;
  return 'the library refused it';
}

function fromJson(fields: Record<string, unknown>, account: EthereumAccount, ours: Uint8Array): Tx {
  for (const k of Object.keys(fields)) {
    if (!FIELDS.has(k)) bad(`transaction.${k}: unknown field (expected ${[...FIELDS].join(', ')})`);
  }
  if (fields.from !== undefined) {
    const from = hexBytes(fields.from, 'transaction.from', 'ERR_BAD_TRANSACTION');
    if (Buffer.compare(Buffer.from(from), Buffer.from(ours)) !== 0) {
      throw new WalletRequestError(
        'ERR_WRONG_ACCOUNT',
        `transaction.from: expected this account's address ${hex0x(ours)} (${account.path}), got ${shown(fields.from)}`,
      );
    }
  }
  let type: TxType | undefined;
  if (fields.type !== undefined) {
    type = TYPE_NAMES[String(fields.type).toLowerCase()];
    if (!type) bad(`transaction.type: expected legacy, eip2930 or eip1559 (or 0x0, 0x1, 0x2), got ${shown(fields.type)}`);
  } else if (fields.maxFeePerGas !== undefined || fields.maxPriorityFeePerGas !== undefined) type = 'eip1559';
  else if (fields.gasPrice !== undefined) type = fields.accessList !== undefined ? 'eip2930' : 'legacy';
  else bad('transaction: expected maxFeePerGas and maxPriorityFeePerGas (EIP-1559) or gasPrice (legacy, EIP-2930), got neither');
  unsupported(type!);
  const t = type as Supported;
  const need = (k: string): unknown => (fields[k] === undefined ? bad(`transaction.${k}: required for a ${t} transaction, absent`) : fields[k]);
  const gas = fields.gasLimit ?? fields.gas;
  if (gas === undefined) bad('transaction.gasLimit: required (or "gas"), absent');
  if (fields.gas !== undefined && fields.gasLimit !== undefined) bad('transaction: give gasLimit or gas, not both');
  if (fields.data !== undefined && fields.input !== undefined) bad('transaction: give data or input, not both');
  const data = fields.data ?? fields.input;
  const raw: Record<string, unknown> = {
    type: t,
    chainId: fields.chainId === undefined ? BigInt(account.chainId) : quantity(fields.chainId, 'transaction.chainId'),
    nonce: quantity(need('nonce'), 'transaction.nonce'),
    gasLimit: quantity(gas, `transaction.${fields.gasLimit !== undefined ? 'gasLimit' : 'gas'}`),
    to: fields.to === undefined || fields.to === null ? '0x' : hex0x(toAddress(fields.to)),
    value: fields.value === undefined ? 0n : quantity(fields.value, 'transaction.value'),
    data: data === undefined ? '' : hex0x(hexBytes(data, `transaction.${fields.data !== undefined ? 'data' : 'input'}`, 'ERR_BAD_TRANSACTION')),
  };
  if (t === 'eip1559') {
    raw.maxFeePerGas = quantity(need('maxFeePerGas'), 'transaction.maxFeePerGas');
    raw.maxPriorityFeePerGas = quantity(need('maxPriorityFeePerGas'), 'transaction.maxPriorityFeePerGas');
    if (fields.gasPrice !== undefined) bad('transaction.gasPrice: not a field of an eip1559 transaction (use maxFeePerGas)');
  } else {
    raw.gasPrice = quantity(need('gasPrice'), 'transaction.gasPrice');
    for (const k of ['maxFeePerGas', 'maxPriorityFeePerGas']) if (fields[k] !== undefined) bad(`transaction.${k}: not a field of a ${t} transaction`);
  }
  if (t !== 'legacy') raw.accessList = fields.accessList ?? [];
  else if (fields.accessList !== undefined) bad('transaction.accessList: not a field of a legacy transaction (use type eip2930)');
  try {
    return Transaction.prepare(raw as never, false) as Tx;
  } catch (cause) {
    return bad(`transaction: expected valid ${t} fields; ${refusedFields(cause)} (reason in cause)`, cause);
  }
}

function toAddress(v: unknown): Uint8Array {
  const b = hexBytes(v, 'transaction.to', 'ERR_BAD_TRANSACTION');
  if (b.length !== 20) bad(`transaction.to: expected a 20-byte address or null, got ${shown(v)}`);
  // Mixed case is an EIP-55 checksum: a typo in it must not send funds elsewhere.
  if (/[a-f]/.test(v as string) && /[A-F]/.test((v as string).slice(2)) && !addr.isValid(v as string)) {
    bad(`transaction.to: the EIP-55 checksum of ${shown(v)} does not match (a mistyped address?)`);
  }
  return b;
}

function fromHex(text: string): Tx {
  const bytes = hexBytes(text, 'transaction', 'ERR_BAD_TRANSACTION');
  if (bytes.length === 0) bad('transaction: expected an unsigned EIP-2718 transaction, got no bytes');
  let tx: Tx;
  try {
    tx = Transaction.fromBytes(bytes, false);
  } catch (cause) {
    return bad(`transaction: expected an RLP-encoded EIP-2718 transaction, got ${bytes.length} bytes that do not decode as one (reason in cause)`, cause);
  }
  unsupported(tx.type);
  if (tx.isSigned) bad('transaction: expected an unsigned transaction, got a signed one (the guardian signs it)');
  const again = tx.toBytes({ includeSignature: false });
  if (Buffer.compare(Buffer.from(again), Buffer.from(bytes)) !== 0) {
    bad(`transaction: ${bytes.length} bytes re-encode to ${again.length} different bytes (not the canonical unsigned encoding)`);
  }
  return tx;
}

function unsupported(type: TxType): void {
  if (type === 'eip4844' || type === 'eip7702') {
    throw new WalletRequestError(
      'ERR_UNSUPPORTED_TRANSACTION',
      `transaction.type: ${type} transactions are not signed by this guardian (expected legacy, eip2930 or eip1559)`,
    );
  }
}

/**
 * Decodes an eth-tx request for `account`.
 * @throws WalletRequestError ERR_BAD_TRANSACTION, ERR_WRONG_CHAIN, ERR_WRONG_ACCOUNT, ERR_UNSUPPORTED_TRANSACTION
 */
export function decodeEthTx(input: string | Record<string, unknown>, account: EthereumAccount): DecodedSignRequest {
  const ours = ethereumAddress(account.publicKey);
  let tx: Tx;
  if (typeof input === 'string') tx = fromHex(input);
  else if (typeof input === 'object' && input !== null && !Array.isArray(input) && !(input instanceof Uint8Array)) tx = fromJson(input, account, ours);
  else return bad(`transaction: expected unsigned raw hex or an object of fields, got ${shown(input)}`);

  const raw = tx.raw as Record<string, unknown>;
  if (raw.chainId === undefined) {
    throw new WalletRequestError(
      'ERR_WRONG_CHAIN',
      `transaction.chainId: a legacy transaction without an EIP-155 chain id is valid on every chain; expected chain id ${account.chainId}`,
    );
  }
  const chainId = raw.chainId as bigint;
  if (chainId !== BigInt(account.chainId)) {
    throw new WalletRequestError('ERR_WRONG_CHAIN', `transaction.chainId: this account signs for chain ${account.chainId}, got ${chainId}`);
  }
  const unsigned = tx.toBytes({ includeSignature: false });
  const hash = keccak_256(unsigned);
  const data = hexBytes(raw.data ?? '', 'transaction.data', 'ERR_BAD_TRANSACTION');
  const to = raw.to === '0x' || raw.to === undefined ? null : addressBytes(raw.to as string);
  const type = tx.type as Supported;
  const entries: [string, unknown][] = [
    ['kind', 'eth-tx'],
    ['wallet', account.wallet],
    ['path', account.path],
    ['hash', hash],
    ['chain', 'ethereum'],
    ['chainId', safeUint(chainId, 'transaction.chainId', 'ERR_BAD_TRANSACTION')],
    ['txType', type],
    ['from', ours],
    ['to', to],
    ['value', u256(raw.value as bigint)],
    ['nonce', safeUint(raw.nonce as bigint, 'transaction.nonce', 'ERR_BAD_TRANSACTION')],
    ['gasLimit', safeUint(raw.gasLimit as bigint, 'transaction.gasLimit', 'ERR_BAD_TRANSACTION')],
  ];
  if (type === 'eip1559') entries.push(['maxFeePerGas', u256(raw.maxFeePerGas as bigint)], ['maxPriorityFeePerGas', u256(raw.maxPriorityFeePerGas as bigint)]);
  else entries.push(['gasPrice', u256(raw.gasPrice as bigint)]);
  entries.push(['maxFee', u256(tx.fee)], ['data', data]);
  if (data.length >= 4) entries.push(['selector', data.slice(0, 4)]);
  const erc20 = to ? decodeErc20Call(to, data) : undefined;
  if (erc20) entries.push(['erc20', erc20]);

  return {
    kind: 'eth-tx',
    request: new Map(entries),
    hash,
    signatures: [{ path: account.path, digest: hash, scheme: 'ecdsa' }],
    needsSchnorr: false,
    async finish(signer): Promise<EthTxOutput> {
      const sig = await signEcdsa(signer, account.path, hash, account.publicKey);
      let signed: Tx;
      try {
        signed = new Transaction(tx.type, { ...tx.raw, r: sig.r, s: sig.s, yParity: sig.recovery } as never, { strict: false });
      } catch (cause) {
        throw new WalletRequestError('ERR_SIGNER_FAULT', `signer: the signature for ${account.path} does not fit the transaction (reason in cause)`, { cause });
      }
      // No second recovery from the assembled transaction (micro-eth-signer's `sender`): signEcdsa
      // proved (r, s, recovery) against our key over `hash`, the library's own unsigned hash, and
      // the assembly is checked by viem's recovery and a real EVM node in the tests. Each recovery
      // costs ~1.2 ms here, the largest part of a wallet signature (BENCHMARKS.md "Wallet signing").
      const rawTransaction = signed.toBytes();
      const signature = new Uint8Array(65);
      signature.set(sig.signature, 0);
      signature[64] = sig.recovery;
      return { kind: 'eth-tx', rawTransaction, transactionHash: keccak_256(rawTransaction), signature, text: hex0x(rawTransaction) };
    },
  };
}
