/**
 * agent/wallet's Ethereum kinds and raw digests (issue #11, build item 2): eth-tx (EIP-1559,
 * EIP-2930, legacy EIP-155; JSON fields or unsigned raw hex), eth-typed-data (EIP-712),
 * eth-message (personal_sign), raw-digest — the ABI §4.2 "request" map field by field, every
 * digest and signature checked by viem (an independent implementation: serializeTransaction,
 * recoverTransactionAddress, hashTypedData, recoverTypedDataAddress, hashMessage,
 * recoverMessageAddress) and the published EIP-712 example; then every refusal — malformed
 * RLP/hex/JSON, wrong chain, wrong account, documents that do not hash, unknown kinds, digests of
 * the wrong length, custodian faults — with its code, HTTP status and message, and nothing signed.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { RLP } from 'micro-eth-signer/core/rlp.js';
import {
  encodeFunctionData,
  erc20Abi,
  hashDomain,
  hashMessage,
  hashStruct,
  hashTypedData,
  keccak256,
  parseTransaction,
  recoverMessageAddress,
  recoverTransactionAddress,
  recoverTypedDataAddress,
  serializeTransaction,
  type Hex,
} from 'viem';
import { decodeCanonical, encodeCanonical } from '../agent/format/cbor.ts';
import { decodeSignRequest } from '../agent/wallet/decodeSignRequest.ts';
import type { EthSignatureOutput, EthTxOutput, RawDigestOutput } from '../agent/wallet/SignRequest.ts';
import { bitcoinAddress } from '../agent/wallet/WalletAccount.ts';
import { expectError } from './helpers/assertError.ts';
import { BOB, MAIL } from './helpers/eip712Mail.ts';
import { ETH_PATH, btcAccount, ethAccount, refused, signRequest } from './helpers/walletAttempt.ts';
import { FaultySigner, WalletTwin } from './helpers/walletTwin.ts';
import { statusOf } from '../agent/daemon/statusByCode.ts';

const twin = WalletTwin.fromMnemonic();
const acct = await ethAccount(twin, 1);
const OUR = '0x9858EfFD232B4033E47d90003D41EC34EcaEda94';
const TOKEN = '0x6B175474E89094C44Da98b954EedeAC495271d0F';
const hex = (b: Uint8Array) => `0x${Buffer.from(b).toString('hex')}`;
const bytesOf = (h: string) => Uint8Array.from(Buffer.from(h.replace(/^0x/, ''), 'hex'));
const u256 = (v: bigint) => bytesOf(v.toString(16).padStart(64, '0'));
const roundTrips = (r: Map<string, unknown>) => assert.equal(decodeCanonical(encodeCanonical(r), 'request'), r, 'deterministic CBOR round trip');

const tx1559 = {
  type: 'eip1559' as const,
  chainId: 1,
  nonce: 7,
  to: BOB as Hex,
  value: 1_500_000_000_000_000_000n,
  gas: 21_000n,
  maxFeePerGas: 30_000_000_000n,
  maxPriorityFeePerGas: 1_000_000_000n,
};

test('the twin derives the published addresses of the BIP39 test mnemonic (so the suites sign with known keys)', async () => {
  assert.is(hex(acct.publicKey).length, 68);
  const btc = await btcAccount(twin, 'mainnet', { path: "m/84'/0'/0'/0/0", publicKey: await twin.publicKey("m/84'/0'/0'/0/0") });
  assert.is(bitcoinAddress(btc), 'bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu', 'BIP84 vector');
  const tap = { ...btc, path: "m/86'/0'/0'/0/0", publicKey: await twin.publicKey("m/86'/0'/0'/0/0") };
  assert.is(bitcoinAddress(tap), 'bc1p5cyxnuxmeuwuvkwfem96lqzszd02n6xdcjrs20cac6yqjjwudpxqkedrcr', 'BIP86 vector');
  const d = decodeSignRequest({ kind: 'eth-message', message: 'x' }, acct);
  assert.is(hex(d.request.get('from') as Uint8Array), OUR.toLowerCase());
});

test("eth-tx EIP-1559 from JSON fields: the §4.2 map field by field; its hash is viem's keccak of the unsigned serialization; the signed transaction recovers (viem) to our address", async () => {
  const d = decodeSignRequest(
    {
      kind: 'eth-tx',
      transaction: {
        type: '0x2',
        chainId: '0x1',
        nonce: 7,
        to: BOB,
        value: '1500000000000000000',
        gas: '0x5208',
        maxFeePerGas: '30000000000',
        maxPriorityFeePerGas: 1_000_000_000,
        from: OUR,
      },
    },
    acct,
  );
  const r = d.request;
  const unsigned = serializeTransaction(tx1559);
  assert.equal(
    [...r.keys()],
    [
      'kind',
      'wallet',
      'path',
      'hash',
      'chain',
      'chainId',
      'txType',
      'from',
      'to',
      'value',
      'nonce',
      'gasLimit',
      'maxFeePerGas',
      'maxPriorityFeePerGas',
      'maxFee',
      'data',
    ],
  );
  assert.equal(
    [r.get('kind'), r.get('wallet'), r.get('path'), r.get('chain'), r.get('chainId'), r.get('txType'), r.get('nonce'), r.get('gasLimit')],
    ['eth-tx', 'hot', ETH_PATH, 'ethereum', 1, 'eip1559', 7, 21_000],
  );
  assert.is(hex(r.get('hash') as Uint8Array), keccak256(unsigned));
  assert.is(hex(d.hash), keccak256(unsigned));
  assert.equal(r.get('from'), bytesOf(OUR));
  assert.equal(r.get('to'), bytesOf(BOB));
  assert.equal(r.get('value'), u256(1_500_000_000_000_000_000n));
  assert.equal(r.get('maxFeePerGas'), u256(30_000_000_000n));
  assert.equal(r.get('maxPriorityFeePerGas'), u256(1_000_000_000n));
  assert.equal(r.get('maxFee'), u256(21_000n * 30_000_000_000n));
  assert.equal(r.get('data'), new Uint8Array(0));
  roundTrips(r);
  // The same transaction as unsigned raw hex (serialized by viem) decodes to the same request.
  assert.equal(decodeSignRequest({ kind: 'eth-tx', transaction: unsigned }, acct).request, r);
  const out = (await d.finish(twin)) as EthTxOutput;
  assert.is(await recoverTransactionAddress({ serializedTransaction: out.text as never }), OUR);
  const parsed = parseTransaction(out.text as Hex);
  assert.equal(
    [parsed.type, parsed.chainId, parsed.nonce, parsed.to, parsed.value, parsed.gas],
    ['eip1559', 1, 7, BOB.toLowerCase(), 1_500_000_000_000_000_000n, 21_000n],
  );
  assert.is(hex(out.transactionHash), keccak256(out.text as Hex));
  assert.equal(out.signature.length, 65);
});

test('eth-tx legacy with an EIP-155 chain id and EIP-2930, as unsigned raw hex serialized by viem: decoded, signed, v = 2·chainId + 35 + parity', async () => {
  const legacy = serializeTransaction({ type: 'legacy', chainId: 1, nonce: 1, to: BOB, value: 5n, gas: 21_000n, gasPrice: 20_000_000_000n });
  const d = decodeSignRequest({ kind: 'eth-tx', transaction: legacy }, acct);
  assert.is(d.request.get('txType'), 'legacy');
  assert.equal(d.request.get('gasPrice'), u256(20_000_000_000n));
  assert.not.ok(d.request.has('maxFeePerGas'));
  assert.equal(d.request.get('maxFee'), u256(21_000n * 20_000_000_000n));
  assert.is(hex(d.hash), keccak256(legacy));
  const out = (await d.finish(twin)) as EthTxOutput;
  assert.is(await recoverTransactionAddress({ serializedTransaction: out.text as never }), OUR);
  const p = parseTransaction(out.text as Hex);
  assert.is(p.v, 37n + BigInt(out.signature[64]!));

  const t2930 = serializeTransaction({
    type: 'eip2930',
    chainId: 1,
    nonce: 2,
    to: BOB,
    value: 0n,
    gas: 30_000n,
    gasPrice: 1n,
    accessList: [{ address: TOKEN, storageKeys: [`0x${'00'.repeat(31)}01`] }],
  });
  const d2 = decodeSignRequest({ kind: 'eth-tx', transaction: t2930 }, acct);
  assert.is(d2.request.get('txType'), 'eip2930');
  assert.is(hex(d2.hash), keccak256(t2930));
  const out2 = (await d2.finish(twin)) as EthTxOutput;
  assert.is(await recoverTransactionAddress({ serializedTransaction: out2.text as never }), OUR);
});

test('eth-tx ERC-20 transfer, approve and transferFrom (call data by viem) decode into "erc20"; other call data gives the selector only; a creation has "to" null', async () => {
  const call = (data: Hex) =>
    decodeSignRequest({ kind: 'eth-tx', transaction: { chainId: 1, nonce: 0, to: TOKEN, gas: 60_000, maxFeePerGas: 2, maxPriorityFeePerGas: 1, data } }, acct)
      .request;
  const t = call(encodeFunctionData({ abi: erc20Abi, functionName: 'transfer', args: [BOB, 10n ** 18n] }));
  assert.equal(t.get('selector'), bytesOf('a9059cbb'));
  assert.equal(
    t.get('erc20'),
    new Map<string, unknown>([
      ['method', 'transfer'],
      ['token', bytesOf(TOKEN)],
      ['recipient', bytesOf(BOB)],
      ['amount', u256(10n ** 18n)],
    ]),
  );
  const a = call(encodeFunctionData({ abi: erc20Abi, functionName: 'approve', args: [BOB, 2n ** 256n - 1n] }));
  assert.equal(
    a.get('erc20'),
    new Map<string, unknown>([
      ['method', 'approve'],
      ['token', bytesOf(TOKEN)],
      ['recipient', bytesOf(BOB)],
      ['amount', u256(2n ** 256n - 1n)],
    ]),
  );
  const f = call(encodeFunctionData({ abi: erc20Abi, functionName: 'transferFrom', args: [TOKEN, BOB, 3n] }));
  assert.equal(
    f.get('erc20'),
    new Map<string, unknown>([
      ['method', 'transferFrom'],
      ['token', bytesOf(TOKEN)],
      ['owner', bytesOf(TOKEN)],
      ['recipient', bytesOf(BOB)],
      ['amount', u256(3n)],
    ]),
  );
  roundTrips(f);
  const other = call(encodeFunctionData({ abi: erc20Abi, functionName: 'balanceOf', args: [BOB] }));
  assert.equal(other.get('selector'), bytesOf('70a08231'));
  assert.not.ok(other.has('erc20'));
  assert.not.ok(call('0x010203').has('selector'), 'no selector below 4 bytes');
  const create = decodeSignRequest(
    { kind: 'eth-tx', transaction: { chainId: 1, nonce: 0, to: null, gas: 100_000, maxFeePerGas: 2, maxPriorityFeePerGas: 1, data: '0x6000' } },
    acct,
  ).request;
  assert.is(create.get('to'), null);
  roundTrips(create);
});

test("eth-typed-data: the EIP-712 specification's Mail example hashes to its published digest and to viem's; the signature recovers with viem's recoverTypedDataAddress", async () => {
  const text = JSON.stringify(MAIL);
  const d = decodeSignRequest({ kind: 'eth-typed-data', typedData: text }, acct);
  const r = d.request;
  // Published in EIP-712's reference example (Example.js / Example.sol).
  assert.is(hex(r.get('domainHash') as Uint8Array), '0xf2cee375fa42b42143804025fc449deafd50cc031ca257e0b194a650a912090f');
  assert.is(hex(r.get('structHash') as Uint8Array), '0xc52c0ee5d84264471806290a3f2c4cecfc5490626bf912d01f240d7a274b371e');
  assert.is(hex(d.hash), '0xbe609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2');
  assert.is(hex(d.hash), hashTypedData(MAIL as never));
  assert.is(hex(r.get('domainHash') as Uint8Array), hashDomain({ domain: MAIL.domain, types: MAIL.types } as never));
  assert.is(hex(r.get('structHash') as Uint8Array), hashStruct({ data: MAIL.message, primaryType: 'Mail', types: MAIL.types } as never));
  assert.equal([r.get('kind'), r.get('chain'), r.get('chainId'), r.get('primaryType')], ['eth-typed-data', 'ethereum', 1, 'Mail']);
  assert.equal(
    r.get('domain'),
    new Map<string, unknown>([
      ['name', 'Ether Mail'],
      ['version', '1'],
      ['chainId', 1],
      ['verifyingContract', bytesOf(MAIL.domain.verifyingContract)],
    ]),
  );
  assert.equal(r.get('document'), new TextEncoder().encode(text), 'the document as received');
  roundTrips(r);
  const out = (await d.finish(twin)) as EthSignatureOutput;
  assert.is(out.signature.length, 65);
  assert.ok(out.signature[64] === 27 || out.signature[64] === 28);
  assert.is(await recoverTypedDataAddress({ ...(MAIL as never as Parameters<typeof recoverTypedDataAddress>[0]), signature: out.text as Hex }), OUR);
});

test("eth-typed-data: a permit with uint256 as text, bytes32 salt, arrays and no chain id — every hash equal to viem's, the signature recovers", async () => {
  const doc = {
    types: {
      EIP712Domain: [
        { name: 'name', type: 'string' },
        { name: 'salt', type: 'bytes32' },
      ],
      Permit: [
        { name: 'owner', type: 'address' },
        { name: 'spender', type: 'address' },
        { name: 'value', type: 'uint256' },
        { name: 'nonces', type: 'uint64[]' },
        { name: 'tag', type: 'bytes' },
      ],
    },
    primaryType: 'Permit',
    domain: { name: 'Token', salt: `0x${'ab'.repeat(32)}` },
    message: {
      owner: OUR,
      spender: BOB,
      value: '115792089237316195423570985008687907853269984665640564039457584007913129639935',
      nonces: [1, 2, 3],
      tag: '0xdeadbeef',
    },
  };
  const d = decodeSignRequest({ kind: 'eth-typed-data', typedData: doc }, acct);
  assert.is(hex(d.hash), hashTypedData(doc as never));
  assert.not.ok(d.request.has('chainId'));
  assert.equal(
    d.request.get('domain'),
    new Map<string, unknown>([
      ['name', 'Token'],
      ['salt', bytesOf('ab'.repeat(32))],
    ]),
  );
  const out = (await d.finish(twin)) as EthSignatureOutput;
  assert.is(await recoverTypedDataAddress({ ...(doc as never as Parameters<typeof recoverTypedDataAddress>[0]), signature: out.text as Hex }), OUR);
});

test("eth-message: text is its UTF-8 bytes (never hex), bytes are bytes; digest = viem's hashMessage; signatures recover with viem's recoverMessageAddress", async () => {
  const d = decodeSignRequest({ kind: 'eth-message', message: '0x1234 hello ✓' }, acct);
  assert.is(hex(d.hash), hashMessage('0x1234 hello ✓'));
  assert.equal(d.request.get('message'), new TextEncoder().encode('0x1234 hello ✓'));
  assert.equal([...d.request.keys()], ['kind', 'wallet', 'path', 'hash', 'chain', 'from', 'message']);
  roundTrips(d.request);
  const out = (await d.finish(twin)) as EthSignatureOutput;
  assert.is(await recoverMessageAddress({ message: '0x1234 hello ✓', signature: out.text as Hex }), OUR);
  const raw = Uint8Array.from([0, 1, 2, 255]);
  const out2 = (await signRequest({ kind: 'eth-message', message: raw }, acct, twin)) as EthSignatureOutput;
  assert.is(await recoverMessageAddress({ message: { raw }, signature: out2.text as Hex }), OUR);
});

test('raw-digest on an account configured for it: the digest signed as given (low S, recovery id proven); a Bitcoin account names itself by address', async () => {
  const digest = Uint8Array.from({ length: 32 }, (_, i) => i);
  const allowed = await ethAccount(twin, 1, { rawDigest: true });
  const d = decodeSignRequest({ kind: 'raw-digest', digest: hex(digest) }, allowed);
  assert.equal(
    [d.request.get('kind'), d.request.get('chain'), d.request.get('digest'), d.request.get('hash'), d.request.get('from')],
    ['raw-digest', 'ethereum', digest, digest, bytesOf(OUR)],
  );
  const out = (await d.finish(twin)) as RawDigestOutput;
  const sig = secp256k1.Signature.fromBytes(out.signature, 'compact');
  assert.not.ok(sig.hasHighS());
  assert.equal(sig.addRecoveryBit(out.recovery).recoverPublicKey(digest).toBytes(true), allowed.publicKey);
  const btcAcct = await btcAccount(twin, 'testnet', { rawDigest: true });
  const b = decodeSignRequest({ kind: 'raw-digest', digest }, btcAcct).request;
  assert.equal([b.get('chain'), b.get('from')], ['bitcoin', bitcoinAddress(btcAcct)]);
  assert.match(b.get('from') as string, /^tb1q/);
});

test('refusals of the request envelope: not an object, unknown or missing kind, missing or extra payload, a bad account — code, status, message, nothing signed', async () => {
  await refused('eth-tx', acct, twin, 'ERR_BAD_SIGN_REQUEST', 400, /request: expected an object with "kind" and its payload, got "eth-tx"/);
  await refused(null, acct, twin, 'ERR_BAD_SIGN_REQUEST', 400, /got null/);
  await refused(
    { kind: 'btc-tx', psbt: 'x' },
    acct,
    twin,
    'ERR_UNKNOWN_KIND',
    400,
    /kind: expected one of eth-tx, eth-typed-data, eth-message, btc-psbt, raw-digest, got "btc-tx"/,
  );
  await refused({ transaction: '0x00' }, acct, twin, 'ERR_UNKNOWN_KIND', 400, /got undefined/);
  await refused({ kind: 7 }, acct, twin, 'ERR_UNKNOWN_KIND', 400, /got number 7/);
  await refused({ kind: 'eth-tx' }, acct, twin, 'ERR_BAD_SIGN_REQUEST', 400, /transaction: required for kind eth-tx, absent/);
  await refused(
    { kind: 'eth-message', message: 'hi', digest: '00' },
    acct,
    twin,
    'ERR_BAD_SIGN_REQUEST',
    400,
    /digest: not a field of a eth-message request \(expected kind and message\)/,
  );
  await refused(
    { kind: 'eth-message', message: 'hi' },
    { ...acct, publicKey: new Uint8Array(33) },
    twin,
    'ERR_BAD_ACCOUNT',
    500,
    /account: publicKey of m\/44'\/60'\/0'\/0\/0: not a secp256k1 point/,
  );
  await refused(
    { kind: 'eth-message', message: 'hi' },
    { ...acct, chainId: 0 },
    twin,
    'ERR_BAD_ACCOUNT',
    500,
    /account: chainId: expected a positive integer, got 0/,
  );
  await refused({ kind: 'eth-message', message: 'hi' }, { ...acct, path: 'm/44/x' }, twin, 'ERR_BAD_ACCOUNT', 500, /account: path: expected a BIP32 path/);
});

test('eth-tx refusals: malformed hex and RLP, signed or non-canonical bytes, unsupported types — ERR_BAD_TRANSACTION / ERR_UNSUPPORTED_TRANSACTION, nothing signed', async () => {
  const good = serializeTransaction(tx1559);
  const tx = (transaction: unknown) => ({ kind: 'eth-tx', transaction });
  await refused(
    tx('0xzz'),
    acct,
    twin,
    'ERR_BAD_TRANSACTION',
    400,
    /transaction: expected an even number of hex digits \(optionally 0x-prefixed\), got "0xzz"/,
  );
  await refused(tx('0x123'), acct, twin, 'ERR_BAD_TRANSACTION', 400, /even number of hex digits/);
  await refused(tx('0x'), acct, twin, 'ERR_BAD_TRANSACTION', 400, /expected an unsigned EIP-2718 transaction, got no bytes/);
  await refused(
    tx(good.slice(0, -4)),
    acct,
    twin,
    'ERR_BAD_TRANSACTION',
    400,
    /transaction: expected an RLP-encoded EIP-2718 transaction, got \d+ bytes that do not decode as one/,
  );
  await refused(tx(`${good}00`), acct, twin, 'ERR_BAD_TRANSACTION', 400, /do not decode as one/);
  await refused(tx('0x02c0'), acct, twin, 'ERR_BAD_TRANSACTION', 400, /do not decode as one/);
  await refused(tx(`0x${Buffer.from(RLP.encode([1, 2, 3])).toString('hex')}`), acct, twin, 'ERR_BAD_TRANSACTION', 400, /do not decode as one/);
  await refused(tx('0xff00'), acct, twin, 'ERR_BAD_TRANSACTION', 400, /do not decode as one/);
  const signed = ((await signRequest(tx(good), acct, twin)) as EthTxOutput).text;
  await refused(tx(signed), acct, twin, 'ERR_BAD_TRANSACTION', 400, /transaction: expected an unsigned transaction, got a signed one/);
  // Nonce 0x00 (one byte) where RLP requires the empty string 0x80: not the canonical encoding.
  const fields = [1, '0x00', 1, 2, 21_000, BOB, 0, '0x', []].map((x) => (typeof x === 'string' ? bytesOf(x) : x));
  const nonCanonical = `0x02${Buffer.from(RLP.encode(fields as never)).toString('hex')}`;
  await refused(
    tx(nonCanonical),
    acct,
    twin,
    'ERR_BAD_TRANSACTION',
    400,
    /transaction: expected an RLP-encoded EIP-2718 transaction, got 33 bytes that do not decode as one/,
  );
  const blob = `0x03${Buffer.from(RLP.encode([1, 0, 1, 2, 21_000, bytesOf(BOB.slice(2)), 0, new Uint8Array(0), [], 1, [bytesOf(`01${'00'.repeat(31)}`)]] as never)).toString('hex')}`;
  await refused(tx(blob), acct, twin, 'ERR_UNSUPPORTED_TRANSACTION', 422, /transaction\.type: eip4844 transactions are not signed by this guardian/);
  await refused(tx({ type: '0x4', nonce: 0 }), acct, twin, 'ERR_UNSUPPORTED_TRANSACTION', 422, /eip7702/);
  await refused(tx(42), acct, twin, 'ERR_BAD_TRANSACTION', 400, /transaction: expected unsigned raw hex or an object of fields, got number 42/);
  await refused(tx([1, 2]), acct, twin, 'ERR_BAD_TRANSACTION', 400, /got an array/);
});

test('eth-tx refusals: JSON fields — unknown, missing, not quantities, bad addresses, a from that is not ours, an ERC-20 selector whose arguments do not decode', async () => {
  const base = { chainId: 1, nonce: 0, to: BOB, gas: 21_000, maxFeePerGas: 2, maxPriorityFeePerGas: 1 };
  const tx = (over: Record<string, unknown>, drop: string[] = []) => {
    const t: Record<string, unknown> = { ...base, ...over };
    for (const k of drop) delete t[k];
    return { kind: 'eth-tx', transaction: t };
  };
  await refused(tx({ gasLimitt: 1 }), acct, twin, 'ERR_BAD_TRANSACTION', 400, /transaction\.gasLimitt: unknown field \(expected type, chainId, nonce/);
  await refused(tx({}, ['nonce']), acct, twin, 'ERR_BAD_TRANSACTION', 400, /transaction\.nonce: required for a eip1559 transaction, absent/);
  await refused(tx({}, ['gas']), acct, twin, 'ERR_BAD_TRANSACTION', 400, /transaction\.gasLimit: required \(or "gas"\), absent/);
  await refused(
    tx({}, ['maxFeePerGas', 'maxPriorityFeePerGas']),
    acct,
    twin,
    'ERR_BAD_TRANSACTION',
    400,
    /expected maxFeePerGas and maxPriorityFeePerGas \(EIP-1559\) or gasPrice \(legacy, EIP-2930\), got neither/,
  );
  await refused(
    tx({}, ['maxPriorityFeePerGas']),
    acct,
    twin,
    'ERR_BAD_TRANSACTION',
    400,
    /transaction\.maxPriorityFeePerGas: required for a eip1559 transaction, absent/,
  );
  await refused(tx({ value: -1 }), acct, twin, 'ERR_BAD_TRANSACTION', 400, /transaction\.value: expected a non-negative integer below 2\^256 .*got number -1/);
  await refused(tx({ value: 1.5 }), acct, twin, 'ERR_BAD_TRANSACTION', 400, /transaction\.value: .*got number 1\.5/);
  await refused(tx({ value: 'ten' }), acct, twin, 'ERR_BAD_TRANSACTION', 400, /transaction\.value: .*got "ten"/);
  await refused(
    tx({ value: `0x1${'0'.repeat(64)}` }),
    acct,
    twin,
    'ERR_BAD_TRANSACTION',
    400,
    /transaction\.value: expected a non-negative integer below 2\^256/,
  );
  await refused(
    tx({ nonce: '0x20000000000000' }),
    acct,
    twin,
    'ERR_BAD_TRANSACTION',
    400,
    /transaction\.nonce: expected an integer from 0 to 2\^53-1, got 9007199254740992/,
  );
  await refused(tx({ to: `0x${'ab'.repeat(19)}` }), acct, twin, 'ERR_BAD_TRANSACTION', 400, /transaction\.to: expected a 20-byte address or null/);
  await refused(tx({ to: BOB.replace('bBbB', 'BbBb') }), acct, twin, 'ERR_BAD_TRANSACTION', 400, /transaction\.to: the EIP-55 checksum of .* does not match/);
  await refused(tx({ gasPrice: 1 }), acct, twin, 'ERR_BAD_TRANSACTION', 400, /transaction\.gasPrice: not a field of an eip1559 transaction/);
  await refused(
    tx({ type: 'legacy', gasPrice: 1, accessList: [] }, ['maxFeePerGas', 'maxPriorityFeePerGas']),
    acct,
    twin,
    'ERR_BAD_TRANSACTION',
    400,
    /transaction\.accessList: not a field of a legacy transaction/,
  );
  await refused(tx({ type: 'eip1560' }), acct, twin, 'ERR_BAD_TRANSACTION', 400, /transaction\.type: expected legacy, eip2930 or eip1559 .*got "eip1560"/);
  await refused(tx({ gas: 21_000, gasLimit: 21_000 }), acct, twin, 'ERR_BAD_TRANSACTION', 400, /give gasLimit or gas, not both/);
  await refused(
    tx({ maxPriorityFeePerGas: 3 }),
    acct,
    twin,
    'ERR_BAD_TRANSACTION',
    400,
    /transaction: expected valid eip1559 fields; the library refused field\(s\) maxPriorityFeePerGas/,
  );
  await refused(
    tx({ from: BOB }),
    acct,
    twin,
    'ERR_WRONG_ACCOUNT',
    422,
    /transaction\.from: expected this account's address 0x9858effd232b4033e47d90003d41ec34ecaeda94 \(m\/44'\/60'\/0'\/0\/0\), got "0xbBbB/,
  );
  const transfer = encodeFunctionData({ abi: erc20Abi, functionName: 'transfer', args: [BOB, 1n] });
  await refused(
    tx({ to: TOKEN, gas: 60_000, data: transfer.slice(0, -2) }),
    acct,
    twin,
    'ERR_BAD_TRANSACTION',
    400,
    /data: selector 0xa9059cbb is ERC-20 transfer but its 63 argument bytes do not decode as its ABI arguments/,
  );
  await refused(tx({ to: TOKEN, gas: 60_000, data: `${transfer}00` }), acct, twin, 'ERR_BAD_TRANSACTION', 400, /ERC-20 transfer but its 65 argument bytes/);
  await refused(
    tx({ to: TOKEN, gas: 60_000, data: `0xa9059cbbff${transfer.slice(12)}` }),
    acct,
    twin,
    'ERR_BAD_TRANSACTION',
    400,
    /ERC-20 transfer but its 64 argument bytes do not decode/,
  );
});

test("eth-tx refusals: a chain id other than the account's (JSON, raw hex, legacy without EIP-155) — ERR_WRONG_CHAIN 422, nothing signed", async () => {
  await refused(
    { kind: 'eth-tx', transaction: { chainId: 5, nonce: 0, to: BOB, gas: 21_000, maxFeePerGas: 2, maxPriorityFeePerGas: 1 } },
    acct,
    twin,
    'ERR_WRONG_CHAIN',
    422,
    /transaction\.chainId: this account signs for chain 1, got 5/,
  );
  await refused(
    { kind: 'eth-tx', transaction: serializeTransaction({ ...tx1559, chainId: 31337 }) },
    acct,
    twin,
    'ERR_WRONG_CHAIN',
    422,
    /signs for chain 1, got 31337/,
  );
  const pre155 = `0x${Buffer.from(RLP.encode([0, 1, 21_000, bytesOf(BOB), 5, new Uint8Array(0)] as never)).toString('hex')}`;
  await refused(
    { kind: 'eth-tx', transaction: pre155 },
    acct,
    twin,
    'ERR_WRONG_CHAIN',
    422,
    /a legacy transaction without an EIP-155 chain id is valid on every chain; expected chain id 1/,
  );
  await refused(
    { kind: 'eth-tx', transaction: serializeTransaction(tx1559) },
    await btcAccount(twin),
    twin,
    'ERR_WRONG_CHAIN',
    422,
    /kind: eth-tx signs for ethereum, but hot m\/84'\/1'\/0'\/0\/0 is a bitcoin account/,
  );
});

test('eth-typed-data refusals: not JSON, not a document, a document that does not hash, unsafe numbers, another chain — code, status, message, nothing signed', async () => {
  const td = (typedData: unknown) => ({ kind: 'eth-typed-data', typedData });
  const mail = (f: (d: Record<string, any>) => void) => {
    const d = structuredClone(MAIL) as Record<string, any>;
    f(d);
    return d;
  };
  await refused(td('{"types":'), acct, twin, 'ERR_BAD_TYPED_DATA', 400, /typedData: expected JSON text, got 9 characters that do not parse/);
  await refused(td(Uint8Array.from([0xff, 0xfe])), acct, twin, 'ERR_BAD_TYPED_DATA', 400, /expected UTF-8 JSON text, got 2 bytes that are not UTF-8/);
  await refused(td('[1,2]'), acct, twin, 'ERR_BAD_TYPED_DATA', 400, /typedData: expected a JSON object, got an array/);
  await refused(td(7), acct, twin, 'ERR_BAD_TYPED_DATA', 400, /typedData: expected an EIP-712 document \(JSON text or object\), got number 7/);
  await refused(
    td({ ...MAIL, message: { ...MAIL.message, n: 1n } }),
    acct,
    twin,
    'ERR_BAD_TYPED_DATA',
    400,
    /typedData: expected a JSON-serialisable document \(no bigint, no cycles\)/,
  );
  await refused(
    td(
      mail((d) => {
        delete d.types;
      }),
    ),
    acct,
    twin,
    'ERR_BAD_TYPED_DATA',
    400,
    /typedData\.types: expected an object, got undefined/,
  );
  await refused(
    td(
      mail((d) => {
        d.primaryType = 'Letter';
      }),
    ),
    acct,
    twin,
    'ERR_BAD_TYPED_DATA',
    400,
    /typedData\.primaryType: "Letter" is not declared in typedData\.types/,
  );
  await refused(
    td(
      mail((d) => {
        d.primaryType = 'EIP712Domain';
      }),
    ),
    acct,
    twin,
    'ERR_BAD_TYPED_DATA',
    400,
    /EIP712Domain signs a domain with no message/,
  );
  // Documents that do not hash: an undeclared type, a field the type does not declare, a value that does not fit.
  await refused(
    td(
      mail((d) => {
        d.types.Mail[2].type = 'Strang';
      }),
    ),
    acct,
    twin,
    'ERR_BAD_TYPED_DATA',
    400,
    /expected a document that hashes as EIP-712 .*micro-eth-signer refuses this one/,
  );
  await refused(
    td(
      mail((d) => {
        d.message.cc = 'x';
      }),
    ),
    acct,
    twin,
    'ERR_BAD_TYPED_DATA',
    400,
    /does not hash|hashes as EIP-712/,
  );
  await refused(
    td(
      mail((d) => {
        d.types.Mail.push({ name: 'n', type: 'uint8' });
        d.message.n = 300;
      }),
    ),
    acct,
    twin,
    'ERR_BAD_TYPED_DATA',
    400,
    /hashes as EIP-712/,
  );
  await refused(
    td(
      mail((d) => {
        d.message.from.wallet = '0x1234';
      }),
    ),
    acct,
    twin,
    'ERR_BAD_TYPED_DATA',
    400,
    /hashes as EIP-712/,
  );
  await refused(
    td('{"types":{"M":[{"name":"v","type":"uint256"}]},"primaryType":"M","domain":{},"message":{"v":123456789012345678901}}'),
    acct,
    twin,
    'ERR_BAD_TYPED_DATA',
    400,
    /the JSON number at "v" is not an integer below 2\^53 \(123456789012345680000\); send large or fractional values as text/,
  );
  await refused(
    td(
      mail((d) => {
        d.domain.chainId = 5;
      }),
    ),
    acct,
    twin,
    'ERR_WRONG_CHAIN',
    422,
    /typedData\.domain\.chainId: this account signs for chain 1, got 5/,
  );
  await refused(
    td(
      mail((d) => {
        d.domain.verifyingContract = '0x1234';
      }),
    ),
    acct,
    twin,
    'ERR_BAD_TYPED_DATA',
    400,
    /typedData\.domain\.verifyingContract: expected a 20-byte address, got "0x1234"/,
  );
  await refused(
    td(
      mail((d) => {
        d.domain.name = 5;
      }),
    ),
    acct,
    twin,
    'ERR_BAD_TYPED_DATA',
    400,
    /typedData\.domain\.name: expected text, got number 5/,
  );
});

test('eth-message and raw-digest refusals: a message neither text nor bytes; raw digests not allowed or of the wrong length — code, status, message, nothing signed', async () => {
  await refused({ kind: 'eth-message', message: 12 }, acct, twin, 'ERR_BAD_MESSAGE', 400, /message: expected text or bytes, got number 12/);
  await refused({ kind: 'eth-message', message: { raw: '0x00' } }, acct, twin, 'ERR_BAD_MESSAGE', 400, /got an object/);
  await refused(
    { kind: 'raw-digest', digest: `0x${'00'.repeat(32)}` },
    acct,
    twin,
    'ERR_RAW_DIGEST_NOT_ALLOWED',
    403,
    /kind: raw-digest is refused for hot m\/44'\/60'\/0'\/0\/0: the account is not configured with "rawDigest": true/,
  );
  const allowed = await ethAccount(twin, 1, { rawDigest: true });
  await refused(
    { kind: 'raw-digest', digest: new Uint8Array(31) },
    allowed,
    twin,
    'ERR_BAD_DIGEST',
    400,
    /digest: expected exactly 32 bytes \(64 hex digits\), got 31 bytes/,
  );
  await refused({ kind: 'raw-digest', digest: new Uint8Array(33) }, allowed, twin, 'ERR_BAD_DIGEST', 400, /got 33 bytes/);
  await refused({ kind: 'raw-digest', digest: '00'.repeat(31) }, allowed, twin, 'ERR_BAD_DIGEST', 400, /got 31 bytes from "0000/);
  await refused({ kind: 'raw-digest', digest: 'xyz' }, allowed, twin, 'ERR_BAD_DIGEST', 400, /digest: expected an even number of hex digits/);
  await refused({ kind: 'raw-digest', digest: 5 }, allowed, twin, 'ERR_BAD_DIGEST', 400, /digest: expected hex text, got number 5/);
});

test('a custodian that signs with another key, returns a high S, a short signature or a wrong recovery id: ERR_SIGNER_FAULT (500), no transaction returned', async () => {
  const input = { kind: 'eth-tx', transaction: serializeTransaction(tx1559) };
  const cases: [ConstructorParameters<typeof FaultySigner>[1], RegExp][] = [
    ['other-key', /does not recover to the account's public key/],
    ['high-s', /has a high S \(the custodian must return low S\)/],
    ['short', /is not 64 bytes r ‖ s \(got 63\)/],
    ['bad-recovery', /does not recover to the account's public key \(wrong key or wrong recovery id\)/],
  ];
  for (const [fault, message] of cases) {
    let out: unknown;
    let e: unknown;
    try {
      out = await signRequest(input, acct, new FaultySigner(twin, fault));
    } catch (x) {
      e = x;
    }
    assert.is(out, undefined, fault);
    expectError(e, 'WalletRequestError', 'ERR_SIGNER_FAULT', message);
    assert.is(statusOf((e as { code: string }).code), 500, 'HTTP status (agent/daemon/statusByCode.ts)');
  }
});

test.run();
