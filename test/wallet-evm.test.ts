/**
 * eth-tx against a real EVM node (issue #11, "Real components"): Hardhat's EDR engine from npm,
 * started by this suite on 127.0.0.1 and spoken to over JSON-RPC/HTTP (test/helpers/evmNode.ts).
 * The test twin's m/44'/60'/0'/0/0 account is funded in the genesis state; guardian-decoded,
 * twin-signed EIP-1559 and legacy (EIP-155) transactions, a contract creation and an ERC-20
 * transfer go through eth_sendRawTransaction and are checked as mined — sender, recipient, value,
 * balances, the token's Transfer log and balanceOf (eth_call) — and a refused transaction leaves
 * the account's nonce unchanged. The node verifies every signature itself.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeEventLog, encodeFunctionData, erc20Abi, serializeTransaction, type Hex } from 'viem';
import { decodeSignRequest } from '../agent/wallet/decodeSignRequest.ts';
import type { EthTxOutput } from '../agent/wallet/SignRequest.ts';
import { startEvmNode, type EvmNode } from './helpers/evmNode.ts';
import { ethAccount, refused } from './helpers/walletAttempt.ts';
import { WalletTwin } from './helpers/walletTwin.ts';

const CHAIN = 31337;
const OUR = '0x9858effd232b4033e47d90003d41ec34ecaeda94';
const ETHER = 10n ** 18n;
const twin = WalletTwin.fromMnemonic();
const acct = await ethAccount(twin, CHAIN);
const hex = (b: Uint8Array) => `0x${Buffer.from(b).toString('hex')}`;
const party = (n: number) => `0x${n.toString(16).padStart(2, '0').repeat(20)}`;

/**
 * A minimal ERC-20 (transfer with a Transfer log, balanceOf; balances keyed by address as the
 * storage slot), assembled here from opcodes so the suite needs no compiler. The constructor
 * credits its deployer with `supply`.
 */
function tokenInitCode(supply: bigint): string {
  const OP: Record<string, number> = {
    ADD: 0x01,
    SUB: 0x03,
    GT: 0x11,
    EQ: 0x14,
    SHR: 0x1c,
    CALLER: 0x33,
    CALLDATALOAD: 0x35,
    CODECOPY: 0x39,
    MSTORE: 0x52,
    SLOAD: 0x54,
    SSTORE: 0x55,
    JUMPI: 0x57,
    JUMPDEST: 0x5b,
    DUP1: 0x80,
    DUP2: 0x81,
    DUP3: 0x82,
    SWAP1: 0x90,
    LOG3: 0xa3,
    RETURN: 0xf3,
    REVERT: 0xfd,
  };
  type Tok = string | ['push', string] | ['label', string] | ['to', string];
  const assemble = (prog: Tok[]): number[] => {
    const labels: Record<string, number> = {};
    const out: number[] = [];
    for (let pass = 0; pass < 2; pass++) {
      out.length = 0;
      for (const t of prog) {
        if (typeof t === 'string') out.push(OP[t]!);
        else if (t[0] === 'label') {
          labels[t[1]] = out.length;
          out.push(OP.JUMPDEST!);
        } else if (t[0] === 'to') out.push(0x60, labels[t[1]] ?? 0);
        else {
          const b = Buffer.from(t[1], 'hex');
          out.push(0x5f + b.length, ...b);
        }
      }
    }
    return out;
  };
  const TRANSFER_TOPIC = 'ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef';
  const runtime = assemble([
    ['push', '00'],
    'CALLDATALOAD',
    ['push', 'e0'],
    'SHR',
    'DUP1',
    ['push', 'a9059cbb'],
    'EQ',
    ['to', 'transfer'],
    'JUMPI',
    'DUP1',
    ['push', '70a08231'],
    'EQ',
    ['to', 'balanceOf'],
    'JUMPI',
    ['push', '00'],
    'DUP1',
    'REVERT',
    ['label', 'transfer'],
    'CALLER',
    'SLOAD',
    ['push', '24'],
    'CALLDATALOAD', // amt, balFrom
    'DUP2',
    'DUP2',
    'GT',
    ['to', 'fail'],
    'JUMPI', // amt > balFrom: revert
    'DUP1',
    'DUP3',
    'SUB',
    'CALLER',
    'SSTORE', // balances[caller] = balFrom - amt
    ['push', '04'],
    'CALLDATALOAD',
    'DUP1',
    'SLOAD',
    'DUP3',
    'ADD',
    'SWAP1',
    'SSTORE', // balances[to] += amt
    'DUP1',
    ['push', '00'],
    'MSTORE',
    ['push', '04'],
    'CALLDATALOAD',
    'CALLER',
    ['push', TRANSFER_TOPIC],
    ['push', '20'],
    ['push', '00'],
    'LOG3',
    ['push', '01'],
    ['push', '00'],
    'MSTORE',
    ['push', '20'],
    ['push', '00'],
    'RETURN',
    ['label', 'balanceOf'],
    ['push', '04'],
    'CALLDATALOAD',
    'SLOAD',
    ['push', '00'],
    'MSTORE',
    ['push', '20'],
    ['push', '00'],
    'RETURN',
    ['label', 'fail'],
    ['push', '00'],
    'DUP1',
    'REVERT',
  ]);
  const init = (offset: number) =>
    assemble([
      ['push', supply.toString(16).padStart(64, '0')],
      'CALLER',
      'SSTORE',
      ['push', runtime.length.toString(16).padStart(2, '0')],
      'DUP1',
      ['push', offset.toString(16).padStart(2, '0')],
      ['push', '00'],
      'CODECOPY',
      ['push', '00'],
      'RETURN',
    ]);
  const head = init(init(0).length);
  return `0x${Buffer.from([...head, ...runtime]).toString('hex')}`;
}

let node: EvmNode;

/** Fees that the node accepts now: twice the next base fee plus a 1 gwei tip. */
async function fees(): Promise<{ maxFeePerGas: string; maxPriorityFeePerGas: string }> {
  const block = (await node.rpc('eth_getBlockByNumber', ['latest', false])) as { baseFeePerGas: string };
  return { maxFeePerGas: `0x${(BigInt(block.baseFeePerGas) * 2n + 10n ** 9n).toString(16)}`, maxPriorityFeePerGas: `0x${(10n ** 9n).toString(16)}` };
}
const nonce = async () => Number(await node.rpc('eth_getTransactionCount', [OUR, 'pending']));
const balance = async (a: string) => BigInt((await node.rpc('eth_getBalance', [a, 'latest'])) as string);

/** Decodes and signs as the guardian would, sends the raw transaction, returns its receipt. */
async function sendThroughGuardian(
  transaction: string | Record<string, unknown>,
): Promise<{ out: EthTxOutput; request: Map<string, unknown>; receipt: Record<string, unknown> }> {
  const d = decodeSignRequest({ kind: 'eth-tx', transaction }, acct);
  const out = (await d.finish(twin)) as EthTxOutput;
  const hash = await node.rpc('eth_sendRawTransaction', [out.text]);
  assert.is(hash, hex(out.transactionHash), 'the node knows the transaction by the hash the guardian reported');
  return { out, request: d.request, receipt: await node.receipt(hash as string) };
}

test.before(async () => {
  node = await startEvmNode({ chainId: CHAIN, balances: { [OUR]: 100n * ETHER } });
  assert.is(await node.rpc('eth_chainId'), `0x${CHAIN.toString(16)}`);
  assert.is(await balance(OUR), 100n * ETHER);
});

test.after(async () => {
  await node?.stop();
});

test('an EIP-1559 transfer (JSON fields) signed by the guardian is mined: sender, recipient, value and balances as decoded', async () => {
  const to = party(0x01);
  const value = 1_250_000_000_000_000_000n;
  const { request, receipt } = await sendThroughGuardian({
    type: 'eip1559',
    chainId: CHAIN,
    nonce: await nonce(),
    to,
    value: value.toString(),
    gas: 21_000,
    ...(await fees()),
  });
  assert.is(receipt.status, '0x1');
  assert.is(receipt.from, OUR);
  assert.is(receipt.to, to);
  const tx = (await node.rpc('eth_getTransactionByHash', [receipt.transactionHash])) as Record<string, string>;
  assert.equal([tx.type, BigInt(tx.value!), tx.from, tx.to], ['0x2', value, OUR, to]);
  assert.is(await balance(to), value);
  assert.equal([hex(request.get('from') as Uint8Array), hex(request.get('to') as Uint8Array)], [OUR, to]);
});

test('a legacy EIP-155 transaction (unsigned raw hex from viem) signed by the guardian is mined with v = 2·chainId + 35 + parity', async () => {
  const to = party(0x02);
  const gasPrice = BigInt((await fees()).maxFeePerGas);
  const unsigned = serializeTransaction({ type: 'legacy', chainId: CHAIN, nonce: await nonce(), to: to as Hex, value: 777n, gas: 21_000n, gasPrice });
  const { out, request, receipt } = await sendThroughGuardian(unsigned);
  assert.is(request.get('txType'), 'legacy');
  assert.is(receipt.status, '0x1');
  assert.is(receipt.from, OUR);
  assert.is(receipt.to, to);
  const tx = (await node.rpc('eth_getTransactionByHash', [receipt.transactionHash])) as Record<string, string>;
  assert.equal([tx.type, BigInt(tx.value!), BigInt(tx.v!)], ['0x0', 777n, BigInt(2 * CHAIN + 35 + out.signature[64]!)]);
  assert.is(await balance(to), 777n);
});

test('a contract creation and an ERC-20 transfer, both guardian-signed: the token is deployed, "erc20" names recipient and amount, the node logs Transfer and balanceOf agrees', async () => {
  const supply = 1_000_000n;
  const deploy = await sendThroughGuardian({ chainId: CHAIN, nonce: await nonce(), to: null, gas: 300_000, data: tokenInitCode(supply), ...(await fees()) });
  assert.is(deploy.request.get('to'), null);
  assert.is(deploy.receipt.status, '0x1');
  const token = deploy.receipt.contractAddress as string;
  assert.match(token, /^0x[0-9a-f]{40}$/);
  const balanceOf = async (who: string) =>
    BigInt(
      (await node.rpc('eth_call', [
        { to: token, data: encodeFunctionData({ abi: erc20Abi, functionName: 'balanceOf', args: [who as Hex] }) },
        'latest',
      ])) as string,
    );
  assert.is(await balanceOf(OUR), supply);

  const recipient = party(0x03);
  const data = encodeFunctionData({ abi: erc20Abi, functionName: 'transfer', args: [recipient as Hex, 250n] });
  const { request, receipt } = await sendThroughGuardian({ chainId: CHAIN, nonce: await nonce(), to: token, gas: 100_000, data, ...(await fees()) });
  const erc20 = request.get('erc20') as Map<string, unknown>;
  assert.equal(
    [erc20.get('method'), hex(erc20.get('token') as Uint8Array), hex(erc20.get('recipient') as Uint8Array), BigInt(hex(erc20.get('amount') as Uint8Array))],
    ['transfer', token, recipient, 250n],
  );
  assert.is(receipt.status, '0x1');
  const logs = receipt.logs as { address: string; topics: Hex[]; data: Hex }[];
  assert.is(logs.length, 1);
  const ev = decodeEventLog({ abi: erc20Abi, topics: logs[0]!.topics as [Hex, ...Hex[]], data: logs[0]!.data });
  assert.is(ev.eventName, 'Transfer');
  assert.equal(
    [(ev.args as { from: string }).from.toLowerCase(), (ev.args as { to: string }).to.toLowerCase(), (ev.args as { value: bigint }).value],
    [OUR, recipient, 250n],
  );
  assert.is(await balanceOf(recipient), 250n);
  assert.is(await balanceOf(OUR), supply - 250n);
});

test("a transaction for another chain is refused before signing: nothing reaches the node, the account's nonce is unchanged", async () => {
  const before = await nonce();
  await refused(
    { kind: 'eth-tx', transaction: { chainId: 1, nonce: before, to: party(0x04), value: 1, gas: 21_000, ...(await fees()) } },
    acct,
    twin,
    'ERR_WRONG_CHAIN',
    422,
    /transaction\.chainId: this account signs for chain 31337, got 1/,
  );
  assert.is(await nonce(), before);
  assert.is(await balance(party(0x04)), 0n);
});

test.run();
