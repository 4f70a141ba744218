/**
 * The standard wallet contracts (contracts-as/contracts/wallet) and the wallet SDK under them
 * (contracts-as/sdk/wallet.ts, u256.ts), compiled with the project's asc settings and run in the
 * real in-process sandbox with contexts whose "request" follows ABI.md §4.2 (built by
 * helpers/walletRequest.ts with real hashes). For every contract the tests flip the verdict with
 * exactly the input that should (the amount at the cap and one unit more, a recipient on and off
 * the list, the M-th approval, the window edge, …) and check what must not flip it (a duplicate or
 * forged approval, an approval of another hash, a denied decision's spend). Misconfigured params
 * and malformed requests are errors (never verdicts); a kind a contract does not judge is denied.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ed25519 } from '@noble/curves/ed25519.js';
import {
  NOW,
  build,
  coSignerKeys,
  coSignerSecrets,
  edApproval,
  ethApproval,
  ethCoSigner,
  evaluate,
  expectVerdict,
  hex,
  keyHex,
  run,
  selftestLog,
  spendRecords,
  strangerSecret,
  traps,
  type Run,
} from './helpers/walletPolicyRig.ts';
import {
  OUR_CHANGE,
  btcAddress,
  btcPsbtRequest,
  ethMessageRequest,
  ethTxRequest,
  ethTypedDataRequest,
  party,
  rawDigestRequest,
  requestHash,
  type Request,
} from './helpers/walletRequest.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ABI_IMPORTS = ['now_ms', 'input_size', 'input_read', 'set_reason', 'log', 'state_get', 'state_set', 'state_delete', 'verify_ed25519', 'verify_eip191'];
const WALLET_CONTRACTS = ['recipient-allowlist', 'tx-cap', 'daily-limit', 'chain-allowlist', 'co-signers', 'time-window', 'contract-calls', 'policy'];
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const ETH = 10n ** 18n;
const A = party(0x0a),
  B = party(0x0b),
  C = party(0x0c);
const TOKEN = party(0x7a),
  OTHER_TOKEN = party(0x7b),
  ROUTER = party(0x7c);
const PAYEE = btcAddress(50),
  STRANGER = btcAddress(51);

/** An eth-tx paying `value` wei to `to`. */
const pay = (value: bigint, to = A, extra: object = {}) => ethTxRequest({ to, value, ...extra });
/** A PSBT spending our 100 000 sat: `external` to PAYEE, the rest but `fee` back as change. */
const spendBtc = (external: number, fee = 1000, network: 'mainnet' | 'testnet' = 'mainnet') =>
  btcPsbtRequest({
    network,
    inputs: [{ amount: 100_000, ours: true }],
    outputs: [
      { address: btcAddress(50, network), amount: external },
      { address: OUR_CHANGE(network), amount: 100_000 - external - fee, change: true },
    ],
  });
/** A copy of `q` with `key` set (or deleted when `value` is undefined): for malformed requests. */
function edit(q: Request, key: string, value: unknown): Request {
  const m = new Map(q);
  if (value === undefined) m.delete(key);
  else m.set(key, value);
  return m;
}

// ---- build ----

test('every wallet contract compiles and imports only capsule_v1 functions', async () => {
  for (const name of WALLET_CONTRACTS) {
    const r = await build(`contracts/wallet/${name}`);
    assert.ok(r.report.bytes < 128 * 1024, `${name}: ${r.report.bytes} bytes`);
    assert.is(r.report.memory.maxPages, 16);
    for (const i of r.report.imports) assert.ok(ABI_IMPORTS.includes(i), `${name} imports ${i}`);
  }
});

// ---- SDK ----

test('SDK: request() reads every field of every kind exactly as the host encoded it; U256 helpers pass their vectors', async () => {
  const { wasm } = await build('test/wallet-selftest');
  const requests: Request[] = [
    ethTxRequest({ to: TOKEN, value: 3n, nonce: 7, gasLimit: 60_000, erc20: { method: 'transferFrom', owner: B, recipient: C, amount: (1n << 200n) + 5n } }),
    ethTxRequest({ to: TOKEN, txType: 'legacy', chainId: 5, erc20: { method: 'approve', recipient: ROUTER, amount: (1n << 256n) - 1n } }),
    ethTxRequest({ to: null, txType: 'eip2930', chainId: 10, gasPrice: 7n, data: Uint8Array.of(0x60, 0x80, 0x60, 0x40, 0x52), gasLimit: 100_000 }),
    ethTxRequest({ to: A, value: 123n * ETH, data: Uint8Array.of(1, 2) }),
    ethTypedDataRequest(137, { wallet: 'cold', path: "m/44'/60'/0'/0/3" }),
    ethTypedDataRequest(undefined),
    ethMessageRequest('hello from the guardian'),
    btcPsbtRequest({
      network: 'testnet',
      inputs: [
        { amount: 70_000, ours: true },
        { amount: 50_000, ours: false },
        { amount: 30_000, ours: true, address: btcAddress(1, 'testnet', true) },
      ],
      outputs: [
        { address: btcAddress(60, 'testnet'), amount: 90_000 },
        { address: null, amount: 0, data: 'memo' },
        { address: OUR_CHANGE('testnet'), amount: 58_500, change: true },
      ],
    }),
    new Map([...rawDigestRequest(new Uint8Array(32).fill(0xd1)), ['chain', 'bitcoin'], ['from', btcAddress(1)]]),
  ];
  for (const q of requests) {
    const r = evaluate(wasm, { request: q });
    expectVerdict(r, 'allow', 'wallet self-test passed');
    assert.equal(r.logs, selftestLog(q), q.get('kind') as string);
  }
});

test('SDK: a malformed request is an error naming the field, never a verdict', async () => {
  const q = pay(1n);
  const cases: [Request, RegExp][] = [
    [edit(q, 'value', new Uint8Array(31)), /^context\.request\.value: CBOR at byte \d+: expected a 32-byte string, found 31 bytes$/],
    [edit(q, 'nonce', undefined), /^context\.request\.nonce: required for eth-tx$/],
    [edit(q, 'kind', undefined), /^context\.request\.kind: required$/],
    [edit(q, 'maxFeePerGas', undefined), /^context\.request\.maxFeePerGas: required for a eip1559 transaction$/],
    [edit(q, 'txType', 'eip4844'), /^context\.request\.txType: expected legacy, eip2930 or eip1559$/],
    [edit(q, 'chain', 'bitcoin'), /^context\.request\.chain: expected "ethereum" for eth-tx$/],
    [edit(q, 'nonce', -1), /^context\.request\.nonce: CBOR at byte \d+: expected unsigned integer, found negative integer$/],
    [edit(q, 'hash', new Uint8Array(20)), /^context\.request\.hash: CBOR at byte \d+: expected a 32-byte string, found 20 bytes$/],
    [
      edit(pay(1n, A, { data: Uint8Array.of(1, 2, 3, 4, 5) }), 'selector', Uint8Array.of(1, 2, 3, 5)),
      /^context\.request\.selector: not the first 4 bytes of data$/,
    ],
    [edit(q, 'selector', Uint8Array.of(1, 2, 3, 4)), /^context\.request\.selector: present iff data has 4 bytes or more$/],
    [
      edit(ethTxRequest({ to: TOKEN, erc20: { method: 'transfer', recipient: A, amount: 1n } }), 'to', Buffer.from(A.slice(2), 'hex')),
      /^context\.request\.erc20\.token: not the transaction's to$/,
    ],
    [edit(spendBtc(60_000), 'fee', 999), /^context\.request\.fee: 999 is not Σ inputs − Σ outputs \(1000\)$/],
    [edit(spendBtc(60_000), 'network', 'signet'), /^context\.request\.network: expected mainnet, testnet or regtest$/],
    [
      edit(spendBtc(60_000), 'outputs', [
        (spendBtc(60_000).get('outputs') as Map<string, unknown>[])[0],
        new Map<string, unknown>([
          ['address', null],
          ['amount', '1'],
          ['change', false],
          ['script', new Uint8Array(0)],
        ]),
      ]),
      /^context\.request\.outputs\[1\]: CBOR at byte \d+: expected unsigned integer, found text string$/,
    ],
    [
      edit(spendBtc(60_000), 'inputs', [
        new Map<string, unknown>([
          ['txid', new Uint8Array(32)],
          ['vout', 0],
          ['amount', 1],
          ['address', null],
          ['ours', true],
        ]),
      ]),
      /^context\.request\.inputs\[0\]: CBOR at byte \d+: path: present iff ours$/,
    ],
    [edit(rawDigestRequest(new Uint8Array(32).fill(1)), 'digest', new Uint8Array(32).fill(2)), /^context\.request\.digest: not equal to hash$/],
  ];
  for (const [request, why] of cases) await traps('tx-cap', { params: { value: 10 }, request }, why);
  const erc = ethTxRequest({ to: TOKEN, erc20: { method: 'transfer', recipient: A, amount: 1n } });
  const badAmount = new Map(erc.get('erc20') as Map<string, unknown>).set('amount', new Uint8Array(33));
  await traps(
    'tx-cap',
    { params: { value: 10 }, request: edit(erc, 'erc20', badAmount) },
    /^context\.request\.erc20\.amount: CBOR at byte \d+: expected a 32-byte string, found 33 bytes$/,
  );
});

test('SDK: keys the ABI may add later are ignored', async () => {
  const q = edit(pay(10n), 'zzFuture', new Map([['x', 1]]));
  expectVerdict(await run('tx-cap', { params: { value: 10 }, request: q }), 'allow', 'value 10 wei within the cap of 10 wei');
});

// ---- recipient allowlist ----

const recipientParams = { ethereum: [A, B.toUpperCase().replace('0X', '0x')], tokens: [TOKEN], bitcoin: [PAYEE.toUpperCase()] };

test('recipient-allowlist: to on the list allows, off the list denies; a contract creation is denied', async () => {
  expectVerdict(await run('recipient-allowlist', { params: recipientParams, request: pay(1n, A) }), 'allow', `recipient ${A} is on the allowlist`);
  expectVerdict(await run('recipient-allowlist', { params: recipientParams, request: pay(1n, B) }), 'allow', /is on the allowlist/);
  expectVerdict(await run('recipient-allowlist', { params: recipientParams, request: pay(1n, C) }), 'deny', `recipient ${C} is not on the allowlist`);
  const creation = ethTxRequest({ to: null, data: Uint8Array.of(0x60, 0) });
  expectVerdict(await run('recipient-allowlist', { params: recipientParams, request: creation }), 'deny', 'a contract creation has no recipient');
});

test('recipient-allowlist: an ERC-20 call needs a listed token and a listed recipient (approve: spender); value to the token needs it listed', async () => {
  const erc = (method: 'transfer' | 'approve', recipient: string, token = TOKEN, value = 0n) =>
    ethTxRequest({ to: token, value, erc20: { method, recipient, amount: 5n } });
  expectVerdict(
    await run('recipient-allowlist', { params: recipientParams, request: erc('transfer', A) }),
    'allow',
    `ERC-20 transfer recipient ${A} and token ${TOKEN} are listed`,
  );
  expectVerdict(
    await run('recipient-allowlist', { params: recipientParams, request: erc('transfer', C) }),
    'deny',
    `ERC-20 transfer recipient ${C} is not on the allowlist`,
  );
  expectVerdict(
    await run('recipient-allowlist', { params: recipientParams, request: erc('approve', C) }),
    'deny',
    `ERC-20 approve spender ${C} is not on the allowlist`,
  );
  expectVerdict(
    await run('recipient-allowlist', { params: recipientParams, request: erc('transfer', A, OTHER_TOKEN) }),
    'deny',
    `token ${OTHER_TOKEN} is not on the tokens list`,
  );
  expectVerdict(
    await run('recipient-allowlist', { params: recipientParams, request: erc('transfer', A, TOKEN, 1n) }),
    'deny',
    `value sent to token ${TOKEN}, which is not on the allowlist`,
  );
  // The token contract as a plain recipient (undecoded call data) must be on the ethereum list.
  expectVerdict(
    await run('recipient-allowlist', { params: recipientParams, request: ethTxRequest({ to: TOKEN, data: Uint8Array.of(0x39, 0x50, 0x93, 0x51) }) }),
    'deny',
    `recipient ${TOKEN} is not on the allowlist`,
  );
});

test('recipient-allowlist: every PSBT output but our change pays a listed address (bech32 in any case); OP_RETURN only with 0 sat', async () => {
  expectVerdict(await run('recipient-allowlist', { params: recipientParams, request: spendBtc(60_000) }), 'allow', /^1 output\(s\) pay listed addresses/);
  const psbt = (extra: { address: string | null; amount: number }) =>
    btcPsbtRequest({
      inputs: [{ amount: 100_000, ours: true }],
      outputs: [{ address: PAYEE, amount: 50_000 }, extra, { address: OUR_CHANGE(), amount: 49_000 - extra.amount, change: true }],
    });
  expectVerdict(
    await run('recipient-allowlist', { params: recipientParams, request: psbt({ address: STRANGER, amount: 1000 }) }),
    'deny',
    `output #1 pays ${STRANGER}, which is not on the allowlist`,
  );
  expectVerdict(await run('recipient-allowlist', { params: recipientParams, request: psbt({ address: null, amount: 0 }) }), 'allow', /^1 output/);
  expectVerdict(
    await run('recipient-allowlist', { params: recipientParams, request: psbt({ address: null, amount: 1 }) }),
    'deny',
    'output #1 pays 1 sat to a script with no address',
  );
  const regtest = btcPsbtRequest({
    network: 'regtest',
    inputs: [{ amount: 10_000, ours: true }],
    outputs: [{ address: btcAddress(50, 'regtest'), amount: 9_000 }],
  });
  expectVerdict(await run('recipient-allowlist', { params: { bitcoin: [btcAddress(50, 'regtest').toUpperCase()] }, request: regtest }), 'allow', /^1 output/);
  expectVerdict(
    await run('recipient-allowlist', { params: { bitcoin: [btcAddress(50, 'regtest').slice(0, -1) + 'q'] }, request: regtest }),
    'deny',
    /^output #0 pays bcrt1/,
  );
  // Change needs no listing; an Ethereum-only list pays no Bitcoin address.
  expectVerdict(
    await run('recipient-allowlist', { params: { ethereum: [A] }, request: spendBtc(60_000) }),
    'deny',
    `output #0 pays ${PAYEE}, which is not on the allowlist`,
  );
});

test('recipient-allowlist: other kinds and non-wallet decisions are denied; bad params are errors', async () => {
  expectVerdict(
    await run('recipient-allowlist', { params: recipientParams, request: ethMessageRequest('hi') }),
    'deny',
    'cannot judge kind eth-message (judges eth-tx and btc-psbt)',
  );
  expectVerdict(
    await run('recipient-allowlist', { params: recipientParams, request: rawDigestRequest(new Uint8Array(32)) }),
    'deny',
    /^cannot judge kind raw-digest/,
  );
  expectVerdict(await run('recipient-allowlist', { params: recipientParams }), 'deny', 'not a wallet signing request');
  await traps('recipient-allowlist', { params: {}, request: pay(1n) }, /^params: give ethereum, bitcoin or both$/);
  await traps('recipient-allowlist', { params: { bitcoin: [PAYEE], tokens: [TOKEN] }, request: pay(1n) }, /^params\.tokens: needs ethereum/);
  await traps('recipient-allowlist', { params: { ethereum: ['0x1234'] }, request: pay(1n) }, /^params\.ethereum\[0\]: expected 20 bytes/);
  await traps('recipient-allowlist', { params: { ethereum: [] }, request: pay(1n) }, /^params\.ethereum: must not be empty/);
  await traps('recipient-allowlist', { params: { ethereum: [A], to: [A] }, request: pay(1n) }, /^params\.to: unknown parameter/);
});

// ---- per-transaction cap ----

test('tx-cap: value at the cap allows, one wei more denies (amounts beyond 2^64 and 2^128 too)', async () => {
  const params = { value: String(ETH) };
  expectVerdict(await run('tx-cap', { params, request: pay(ETH) }), 'allow', `value ${ETH} wei within the cap of ${ETH} wei`);
  expectVerdict(await run('tx-cap', { params, request: pay(ETH + 1n) }), 'deny', `value ${ETH + 1n} wei is above the cap of ${ETH} wei`);
  const big = 1n << 128n;
  expectVerdict(await run('tx-cap', { params: { value: String(big) }, request: pay(big) }), 'allow', /within the cap/);
  expectVerdict(
    await run('tx-cap', { params: { value: String(big) }, request: pay(big + 1n) }),
    'deny',
    `value ${big + 1n} wei is above the cap of ${big} wei`,
  );
  expectVerdict(await run('tx-cap', { params, request: pay(0n, A, { data: Uint8Array.of(1, 2, 3, 4) }) }), 'allow', 'moves no value');
});

test('tx-cap: ERC-20 amounts per token (approve and transferFrom too); a moved asset without a cap is denied', async () => {
  const params = { tokens: { [TOKEN]: '5000000' } };
  const erc = (method: 'transfer' | 'approve' | 'transferFrom', amount: bigint, token = TOKEN, value = 0n) =>
    ethTxRequest({ to: token, value, erc20: { method, recipient: A, amount } });
  expectVerdict(
    await run('tx-cap', { params, request: erc('transfer', 5_000_000n) }),
    'allow',
    `ERC-20 transfer of 5000000 (token ${TOKEN}) within the cap of 5000000`,
  );
  expectVerdict(
    await run('tx-cap', { params, request: erc('transfer', 5_000_001n) }),
    'deny',
    `ERC-20 transfer of 5000001 (token ${TOKEN}) is above the cap of 5000000`,
  );
  expectVerdict(await run('tx-cap', { params, request: erc('approve', 5_000_001n) }), 'deny', /^ERC-20 approve of 5000001 .* is above the cap/);
  expectVerdict(await run('tx-cap', { params, request: erc('transferFrom', 5_000_001n) }), 'deny', /^ERC-20 transferFrom of 5000001 .* is above the cap/);
  expectVerdict(
    await run('tx-cap', { params, request: erc('transfer', 1n, OTHER_TOKEN) }),
    'deny',
    `ERC-20 transfer of 1 (token ${OTHER_TOKEN}): no cap for this asset`,
  );
  expectVerdict(await run('tx-cap', { params, request: erc('transfer', 1n, TOKEN, 1n) }), 'deny', 'value 1 wei: no cap for this asset');
  expectVerdict(
    await run('tx-cap', { params: { ...params, value: 1 }, request: erc('transfer', 1n, TOKEN, 1n) }),
    'allow',
    /^value 1 wei within the cap of 1 wei; ERC-20 transfer of 1/,
  );
});

test('tx-cap: the bitcoin outflow is our inputs minus our change (fee included, foreign inputs not counted)', async () => {
  const params = { sats: 61_000 };
  expectVerdict(await run('tx-cap', { params, request: spendBtc(60_000, 1000) }), 'allow', 'outflow of 61000 sat (fee included) within the cap of 61000 sat');
  expectVerdict(await run('tx-cap', { params, request: spendBtc(60_000, 1001) }), 'deny', 'outflow of 61001 sat (fee included) is above the cap of 61000 sat');
  const payjoin = btcPsbtRequest({
    inputs: [
      { amount: 100_000, ours: true },
      { amount: 50_000, ours: false },
    ],
    outputs: [
      { address: PAYEE, amount: 110_000 },
      { address: OUR_CHANGE(), amount: 39_000, change: true },
    ],
  });
  expectVerdict(await run('tx-cap', { params, request: payjoin }), 'allow', /^outflow of 61000 sat/);
  expectVerdict(await run('tx-cap', { params: { value: 1 }, request: spendBtc(1) }), 'deny', 'outflow of 1001 sat (fee included): no cap for this asset');
});

test('tx-cap: kinds without amounts are denied; bad amounts are errors', async () => {
  for (const q of [rawDigestRequest(new Uint8Array(32)), ethMessageRequest('x'), ethTypedDataRequest(1)]) {
    expectVerdict(await run('tx-cap', { params: { value: 1 }, request: q }), 'deny', `cannot judge kind ${q.get('kind')} (judges eth-tx and btc-psbt)`);
  }
  await traps('tx-cap', { params: {}, request: pay(1n) }, /^params: give value, tokens, sats or several$/);
  await traps('tx-cap', { params: { value: '01' }, request: pay(1n) }, /^params\.value: leading zero \(an amount is decimal text of the smallest unit\)$/);
  await traps('tx-cap', { params: { value: 1.5 }, request: pay(1n) }, /^params\.value: expected an amount \(unsigned integer or decimal text\), found float$/);
  await traps('tx-cap', { params: { value: String(1n << 256n) }, request: pay(1n) }, /^params\.value: above 2\^256 - 1/);
  await traps('tx-cap', { params: { tokens: { '0x12': 1 } }, request: pay(1n) }, /^params\.tokens\["0x12"\]: a token address is 20 bytes as hex text$/);
  await traps('tx-cap', { params: { tokens: { [TOKEN]: 1, [TOKEN.toUpperCase().replace('0X', '0x')]: 2 } }, request: pay(1n) }, /token listed twice$/);
});

// ---- rolling daily limit ----

const SPENT = keyHex('spent.value');

test('daily-limit: spends accumulate in state across decisions; the limit itself allows, one wei more denies', async () => {
  const params = { value: '1000' };
  const first = await run('daily-limit', { params, request: pay(600n) });
  expectVerdict(first, 'allow', 'value 600 wei: 600 wei of 1000 wei spent in the last 24 h');
  assert.equal(first.changed, [SPENT]);
  assert.equal(spendRecords(first.state.get(SPENT)), [[NOW, 600n]]);
  const second = await run('daily-limit', { params, request: pay(400n), now: NOW + HOUR, state: first.state });
  expectVerdict(second, 'allow', 'value 400 wei: 1000 wei of 1000 wei spent in the last 24 h');
  assert.equal(spendRecords(second.state.get(SPENT)), [
    [NOW, 600n],
    [NOW + HOUR, 400n],
  ]);
  const third = await run('daily-limit', { params, request: pay(1n), now: NOW + 2 * HOUR, state: second.state });
  expectVerdict(third, 'deny', 'value 1 wei would exceed the limit: 1000 wei of 1000 wei already spent in the last 24 h');
  const zero = await run('daily-limit', { params, request: pay(0n), now: NOW + 2 * HOUR, state: second.state });
  expectVerdict(zero, 'allow', 'moves no value');
  assert.equal(zero.changed, []);
});

test('daily-limit: a denied decision spends nothing; the window rolls exactly 24 h after each spend', async () => {
  const params = { value: '1000' };
  const a = await run('daily-limit', { params, request: pay(600n) });
  const b = await run('daily-limit', { params, request: pay(400n), now: NOW + HOUR, state: a.state });
  const denied = await run('daily-limit', { params, request: pay(300n), now: NOW + 2 * HOUR, state: b.state });
  assert.is(denied.verdict, 'deny');
  assert.equal(denied.changed, []);
  assert.equal(spendRecords(denied.state.get(SPENT)), spendRecords(b.state.get(SPENT)));
  // One ms before the first spend leaves the window, it still counts; at 24 h it does not.
  expectVerdict(await run('daily-limit', { params, request: pay(1n), now: NOW + DAY - 1, state: b.state }), 'deny', /1000 wei of 1000 wei already spent/);
  expectVerdict(await run('daily-limit', { params, request: pay(601n), now: NOW + DAY, state: b.state }), 'deny', /400 wei of 1000 wei already spent/);
  const rolled = await run('daily-limit', { params, request: pay(600n), now: NOW + DAY, state: b.state });
  expectVerdict(rolled, 'allow', 'value 600 wei: 1000 wei of 1000 wei spent in the last 24 h');
  assert.equal(spendRecords(rolled.state.get(SPENT)), [
    [NOW + HOUR, 400n],
    [NOW + DAY, 600n],
  ]); // expired record dropped
  expectVerdict(
    await run('daily-limit', { params: { ...params, windowMs: HOUR }, request: pay(1000n), now: NOW + HOUR, state: a.state }),
    'allow',
    /in the last 1 h$/,
  );
});

test('daily-limit: tokens and bitcoin keep their own state; more than 12 spends merge the oldest without under-counting', async () => {
  const erc = (amount: bigint) => ethTxRequest({ to: TOKEN, erc20: { method: 'transfer', recipient: A, amount } });
  const t = await run('daily-limit', { params: { tokens: { [TOKEN]: 10 } }, request: erc(10n) });
  assert.equal(t.changed, [keyHex(`spent.${TOKEN.slice(2)}`)]);
  expectVerdict(
    await run('daily-limit', { params: { tokens: { [TOKEN]: 10 } }, request: erc(1n), state: t.state }),
    'deny',
    /would exceed the limit: 10 of 10 already spent/,
  );
  const s = await run('daily-limit', { params: { sats: 61_000 }, request: spendBtc(60_000) });
  assert.equal(s.changed, [keyHex('spent.sats')]);
  expectVerdict(
    await run('daily-limit', { params: { sats: 61_000 }, request: spendBtc(1, 1), state: s.state }),
    'deny',
    'outflow of 2 sat (fee included) would exceed the limit: 61000 sat of 61000 sat already spent in the last 24 h',
  );

  const params = { value: 20 };
  let state = new Map<string, Uint8Array>();
  for (let i = 0; i < 13; i++) state = (await run('daily-limit', { params, request: pay(1n), now: NOW + i * 1000, state })).state;
  const records = spendRecords(state.get(SPENT));
  assert.is(records.length, 12);
  assert.equal(records[0], [NOW + 1000, 2n]); // the two oldest merged, at the later time
  assert.is(
    records.reduce((sum, [, v]) => sum + v, 0n),
    13n,
  );
  expectVerdict(await run('daily-limit', { params, request: pay(7n), now: NOW + 20_000, state }), 'allow', /20 wei of 20 wei/);
  expectVerdict(await run('daily-limit', { params, request: pay(8n), now: NOW + 20_000, state }), 'deny', /13 wei of 20 wei already spent/);
});

test('daily-limit: kinds without amounts are denied; bad params and corrupt state are errors', async () => {
  expectVerdict(await run('daily-limit', { params: { value: 1 }, request: ethMessageRequest('x') }), 'deny', /^cannot judge kind eth-message/);
  expectVerdict(
    await run('daily-limit', { params: { value: 1 }, request: spendBtc(1) }),
    'deny',
    'outflow of 1001 sat (fee included): no daily limit for this asset',
  );
  await traps('daily-limit', { params: { value: 1, windowMs: 0 }, request: pay(1n) }, /^params\.windowMs: must be at least 1$/);
  await traps('daily-limit', { params: { windowMs: 5 }, request: pay(1n) }, /^params: give value, tokens, sats or several$/);
  await traps(
    'daily-limit',
    { params: { value: 5 }, request: pay(1n), state: new Map([[SPENT, new Uint8Array(39)]]) },
    /^state "spent\.value": expected 40-byte records, found 39 bytes$/,
  );
});

// ---- chain allowlist ----

test('chain-allowlist: chain id, typed-data domain chain id and bitcoin network on/off the list; messages are denied', async () => {
  const params = { chainIds: [1, 10], networks: ['mainnet'] };
  expectVerdict(await run('chain-allowlist', { params, request: pay(1n, A, { chainId: 10 }) }), 'allow', 'chain id 10 is on the allowlist');
  expectVerdict(await run('chain-allowlist', { params, request: pay(1n, A, { chainId: 5 }) }), 'deny', 'chain id 5 is not on the allowlist');
  expectVerdict(await run('chain-allowlist', { params, request: ethTypedDataRequest(1) }), 'allow', 'chain id 1 is on the allowlist');
  expectVerdict(await run('chain-allowlist', { params, request: ethTypedDataRequest(137) }), 'deny', 'chain id 137 is not on the allowlist');
  expectVerdict(await run('chain-allowlist', { params, request: ethTypedDataRequest(undefined) }), 'deny', "the typed data's domain names no chain id");
  expectVerdict(await run('chain-allowlist', { params, request: spendBtc(1) }), 'allow', 'bitcoin network mainnet is on the allowlist');
  expectVerdict(await run('chain-allowlist', { params, request: spendBtc(1, 1000, 'testnet') }), 'deny', 'bitcoin network testnet is not on the allowlist');
  expectVerdict(await run('chain-allowlist', { params: { networks: ['mainnet'] }, request: pay(1n) }), 'deny', 'chain id 1 is not on the allowlist');
  expectVerdict(
    await run('chain-allowlist', { params, request: ethMessageRequest('x') }),
    'deny',
    'cannot judge kind eth-message (judges eth-tx, eth-typed-data and btc-psbt)',
  );
  await traps('chain-allowlist', { params: { networks: ['main'] }, request: pay(1n) }, /^params\.networks\[0\]: expected mainnet, testnet or regtest$/);
  await traps('chain-allowlist', { params: { chainIds: ['1'] }, request: pay(1n) }, /^params\.chainIds\[0\]: expected unsigned integer, found text string$/);
  await traps('chain-allowlist', { params: {}, request: pay(1n) }, /^params: give chainIds, networks or both$/);
});

// ---- co-signers above a threshold ----

const coParams = {
  threshold: 2,
  approvers: [
    { scheme: 'ed25519', key: coSignerKeys[0] },
    { scheme: 'ed25519', key: hex(coSignerKeys[1]!) },
    { scheme: 'eip191', key: `0x${hex(ethCoSigner)}` },
  ],
  above: { value: String(ETH) },
};

test('co-signers: at the threshold no approvals are needed; above it M-1 approvals deny and M allow', async () => {
  expectVerdict(
    await run('co-signers', { params: coParams, request: pay(ETH) }),
    'allow',
    `value ${ETH} wei within the co-signing threshold of ${ETH} wei: no co-signers needed`,
  );
  const q = pay(ETH + 1n);
  const h = requestHash(q);
  expectVerdict(
    await run('co-signers', { params: coParams, request: q }),
    'deny',
    `value ${ETH + 1n} wei is above the co-signing threshold of ${ETH} wei: approved by only 0 of 3 co-signers (threshold 2)`,
  );
  expectVerdict(
    await run('co-signers', { params: coParams, request: q, evidence: [edApproval(0, h)] }),
    'deny',
    /approved by only 1 of 3 co-signers \(threshold 2\)$/,
  );
  expectVerdict(
    await run('co-signers', { params: coParams, request: q, evidence: [edApproval(0, h), edApproval(1, h)] }),
    'allow',
    /: approved by 2 of 3 co-signers \(threshold 2\)$/,
  );
  expectVerdict(await run('co-signers', { params: coParams, request: q, evidence: [ethApproval(h), edApproval(1, h)] }), 'allow', /approved by 2 of 3/);
});

test('co-signers: a duplicate approver, a forged signature, an approval of another hash or by an unlisted key counts nothing', async () => {
  const q = pay(ETH + 1n);
  const h = requestHash(q);
  const otherHash = requestHash(pay(ETH + 1n, A, { nonce: 1 }));
  const upperHex = new TextEncoder().encode(`capsule/v1 approve-sign ${hex(h).toUpperCase()}`);
  const strangerKey = ed25519.getPublicKey(strangerSecret);
  const capsuleStyle = new TextEncoder().encode(`capsule-approval:v1:${'00'.repeat(16)}:x`);
  const cases = [
    edApproval(0, h), // duplicate of the first
    edApproval(1, h, strangerSecret), // forged: claims co-signer 1
    edApproval(1, otherHash), // approves another request
    edApproval(1, h, coSignerSecrets[1], upperHex), // not the exact message
    { ...edApproval(1, h, strangerSecret), signer: strangerKey }, // valid signature by an unlisted key
    edApproval(1, h, coSignerSecrets[1], capsuleStyle), // a capsule approval is not a signing approval
    { ...ethApproval(h), signature: flip(ethApproval(h).signature) },
  ];
  for (const ev of cases) {
    expectVerdict(await run('co-signers', { params: coParams, request: q, evidence: [edApproval(0, h), ev] }), 'deny', /approved by only 1 of 3/);
  }
});
function flip(sig: Uint8Array): Uint8Array {
  const s = Uint8Array.from(sig);
  s[10] = s[10]! ^ 1;
  return s;
}

test('co-signers: without "above" every request needs M; requests without amounts always do; assets "above" omits need M; unknown kinds are denied', async () => {
  const { above: _, ...always } = coParams;
  const small = pay(1n);
  expectVerdict(await run('co-signers', { params: always, request: small }), 'deny', 'approved by only 0 of 3 co-signers (threshold 2)');
  expectVerdict(
    await run('co-signers', { params: always, request: small, evidence: [edApproval(0, requestHash(small)), ethApproval(requestHash(small))] }),
    'allow',
    'approved by 2 of 3 co-signers (threshold 2)',
  );
  for (const q of [ethMessageRequest('x'), ethTypedDataRequest(1), rawDigestRequest(new Uint8Array(32).fill(5))]) {
    expectVerdict(
      await run('co-signers', { params: coParams, request: q }),
      'deny',
      `kind ${q.get('kind')} has no amount: approved by only 0 of 3 co-signers (threshold 2)`,
    );
    expectVerdict(
      await run('co-signers', { params: coParams, request: q, evidence: [edApproval(0, requestHash(q)), edApproval(1, requestHash(q))] }),
      'allow',
      /approved by 2 of 3/,
    );
  }
  const token = ethTxRequest({ to: TOKEN, erc20: { method: 'transfer', recipient: A, amount: 1n } });
  expectVerdict(
    await run('co-signers', { params: coParams, request: token }),
    'deny',
    /^ERC-20 transfer of 1 \(token .*\): no co-signing threshold for this asset: approved by only 0/,
  );
  expectVerdict(await run('co-signers', { params: { ...coParams, above: { sats: 61_000 } }, request: spendBtc(60_000) }), 'allow', /no co-signers needed$/);
  expectVerdict(
    await run('co-signers', { params: { ...coParams, above: { sats: 61_000 } }, request: spendBtc(60_001) }),
    'deny',
    /^outflow of 61001 sat \(fee included\) is above/,
  );
  expectVerdict(await run('co-signers', { params: coParams, request: edit(pay(1n), 'kind', 'eth-blob') }), 'deny', /^cannot judge kind eth-blob/);
  expectVerdict(await run('co-signers', { params: coParams }), 'deny', 'not a wallet signing request');
  await traps('co-signers', { params: { ...coParams, threshold: 4 }, request: small }, /^params\.threshold: must be 1\.\.3/);
  await traps('co-signers', { params: { ...coParams, above: { value: 1, cap: 2 } }, request: small }, /^params\.above\.cap: unknown parameter/);
});

// ---- time windows ----

const hours = { windows: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '09:00', to: '17:00' }], utcOffset: '+02:00' };
const MON = Date.UTC(2030, 0, 7); // a Monday, 00:00 UTC

test('time-window: from is inside, to is outside, in the local time of the offset; weekends are outside', async () => {
  const at = async (now: number, params: object = hours) => run('time-window', { params, request: pay(1n), now });
  expectVerdict(await at(MON + 7 * HOUR), 'allow', 'Mon 09:00 (UTC+02:00) is inside window #0');
  expectVerdict(await at(MON + 7 * HOUR - 1), 'deny', 'Mon 08:59 (UTC+02:00) is outside the allowed time windows');
  expectVerdict(await at(MON + 15 * HOUR - 1), 'allow', 'Mon 16:59 (UTC+02:00) is inside window #0');
  expectVerdict(await at(MON + 15 * HOUR), 'deny', 'Mon 17:00 (UTC+02:00) is outside the allowed time windows');
  expectVerdict(await at(MON + 5 * DAY + 10 * HOUR), 'deny', /^Sat 12:00 \(UTC\+02:00\) is outside/);
  // The offset moves the day: Sunday 23:00 UTC is Monday 01:00 at +02:00, Monday 03:00 UTC is Sunday 22:00 at -05:00.
  const night = { windows: [{ days: ['Mon'], from: '00:00', to: '02:00' }], utcOffset: 120 };
  expectVerdict(await at(MON - HOUR, night), 'allow', 'Mon 01:00 (UTC+02:00) is inside window #0');
  const west = {
    windows: [
      { days: ['sat'], from: '00:00', to: '01:00' },
      { days: ['sun'], from: '21:00', to: '24:00' },
    ],
    utcOffset: '-05:00',
  };
  expectVerdict(await at(MON + 3 * HOUR, west), 'allow', 'Sun 22:00 (UTC-05:00) is inside window #1');
  expectVerdict(await at(MON + 5 * HOUR, west), 'deny', /^Mon 00:00 \(UTC-05:00\) is outside/);
  expectVerdict(await at(MON + 7 * HOUR, { windows: hours.windows }), 'deny', /^Mon 07:00 \(UTC\+00:00\) is outside/);
  // It judges only the time, so it also applies to a decision without a request.
  expectVerdict(await run('time-window', { params: hours, now: MON + 8 * HOUR }), 'allow', /inside window #0$/);
});

test('time-window: bad windows, days, clocks or offsets are errors', async () => {
  const w = (x: object) => ({ windows: [{ days: ['mon'], from: '09:00', to: '17:00', ...x }] });
  await traps(
    'time-window',
    { params: w({ from: '17:00', to: '09:00' }) },
    /^params\.windows\[0\]\.to: must be after from \(split a window past midnight in two\)$/,
  );
  await traps('time-window', { params: w({ from: '9:00' }) }, /^params\.windows\[0\]\.from: expected "HH:MM" from 00:00 to 24:00$/);
  await traps('time-window', { params: w({ days: ['monday'] }) }, /^params\.windows\[0\]\.days\[0\]: expected mon, tue/);
  await traps('time-window', { params: { ...w({}), utcOffset: '+15:00' } }, /^params\.utcOffset: must be within -14:00\.\.\+14:00$/);
  await traps('time-window', { params: { ...w({}), utcOffset: '02:00' } }, /^params\.utcOffset: expected "\+HH:MM" or "-HH:MM"/);
  await traps('time-window', { params: { windows: [] } }, /^params\.windows: must not be empty$/);
});

// ---- deny unknown contract calls ----

const callParams = { contracts: [{ address: TOKEN, selectors: ['0xa9059cbb'] }, { address: ROUTER }] };

test('contract-calls: plain transfers pass; a call needs a listed contract and, where listed, a listed selector; creation is denied', async () => {
  const call = (to: string, data: Uint8Array) => ethTxRequest({ to, data });
  expectVerdict(await run('contract-calls', { params: callParams, request: pay(5n, C) }), 'allow', 'not a contract call (no call data)');
  expectVerdict(await run('contract-calls', { params: callParams, request: call(C, Uint8Array.of(1, 2, 3, 4)) }), 'deny', `call to unknown contract ${C}`);
  const transfer = ethTxRequest({ to: TOKEN, erc20: { method: 'transfer', recipient: A, amount: 1n } });
  expectVerdict(await run('contract-calls', { params: callParams, request: transfer }), 'allow', `call to allowed contract ${TOKEN}, selector 0xa9059cbb`);
  const approve = ethTxRequest({ to: TOKEN, erc20: { method: 'approve', recipient: A, amount: 1n } });
  expectVerdict(await run('contract-calls', { params: callParams, request: approve }), 'deny', `selector 0x095ea7b3 is not allowed on ${TOKEN}`);
  expectVerdict(
    await run('contract-calls', { params: callParams, request: call(TOKEN, Uint8Array.of(0xa9, 0x05)) }),
    'deny',
    `call data to ${TOKEN} is shorter than a selector`,
  );
  expectVerdict(
    await run('contract-calls', { params: callParams, request: call(ROUTER, Uint8Array.of(9, 9, 9, 9, 9)) }),
    'allow',
    `call to allowed contract ${ROUTER}`,
  );
  expectVerdict(
    await run('contract-calls', { params: callParams, request: ethTxRequest({ to: null, data: Uint8Array.of(0x60, 0) }) }),
    'deny',
    'contract creation is not allowed',
  );
  expectVerdict(await run('contract-calls', { params: { contracts: [] }, request: transfer }), 'deny', `call to unknown contract ${TOKEN}`);
  expectVerdict(await run('contract-calls', { params: callParams, request: spendBtc(1) }), 'deny', 'cannot judge kind btc-psbt (judges eth-tx)');
  await traps('contract-calls', { params: {}, request: transfer }, /^params\.contracts: required/);
  await traps(
    'contract-calls',
    { params: { contracts: [{ address: TOKEN, selectors: ['0xa905'] }] }, request: transfer },
    /^params\.contracts\[0\]\.selectors\[0\]: expected 4 bytes/,
  );
  await traps(
    'contract-calls',
    { params: { contracts: [{ address: TOKEN }, { address: TOKEN }] }, request: transfer },
    /^params\.contracts\[1\]\.address: listed twice/,
  );
});

// ---- combined policy ----

const combined = {
  all: [
    { dailyLimit: { value: String(3n * ETH) } },
    { recipients: { ethereum: [A, B] } },
    { any: [{ txCap: { value: String(ETH) } }, { coSigners: { threshold: 2, approvers: coParams.approvers } }] },
  ],
};

test('wallet policy: daily limit AND allowlist AND (below the cap OR M co-signers); a co-signed spend still counts', async () => {
  const spent = keyHex('0:spent.value');
  const small = await run('policy', { params: combined, request: pay(ETH) });
  expectVerdict(small, 'allow', 'all: 3 of 3 rules allow');
  assert.equal(small.changed, [spent]);
  const offList = await run('policy', { params: combined, request: pay(ETH, C), state: small.state });
  expectVerdict(offList, 'deny', `all: denied by recipients#1 (recipient ${C} is not on the allowlist)`);
  assert.equal(offList.changed, []);
  const large = pay(2n * ETH, B);
  const unapproved = await run('policy', { params: combined, request: large, state: small.state, now: NOW + 1 });
  expectVerdict(unapproved, 'deny', /^all: denied by any#2 \(any: none allow: txCap#0 \(value 2000000000000000000 wei is above the cap/);
  assert.equal(unapproved.changed, []);
  const h = requestHash(large);
  const approved = await run('policy', { params: combined, request: large, state: small.state, now: NOW + 1, evidence: [edApproval(0, h), ethApproval(h)] });
  expectVerdict(approved, 'allow', 'all: 3 of 3 rules allow');
  assert.equal(spendRecords(approved.state.get(spent)), [
    [NOW, ETH],
    [NOW + 1, 2n * ETH],
  ]);
  const over = await run('policy', { params: combined, request: pay(1n), state: approved.state, now: NOW + 2 });
  expectVerdict(over, 'deny', /^all: denied by dailyLimit#0 \(value 1 wei would exceed the limit: 3000000000000000000 wei of 3000000000000000000 wei/);

  // Above the daily limit only with co-signers: the co-signed spend is recorded although the limit denied it.
  const limitOrCoSigned = { any: [{ dailyLimit: { value: String(ETH) } }, { coSigners: { threshold: 2, approvers: coParams.approvers } }] };
  const coSigned = await run('policy', { params: limitOrCoSigned, request: large, evidence: [edApproval(0, h), edApproval(1, h)] });
  expectVerdict(coSigned, 'allow', /^any: allowed by coSigners#1 /);
  assert.equal(spendRecords(coSigned.state.get(spent)), [[NOW, 2n * ETH]]);
  expectVerdict(
    await run('policy', { params: limitOrCoSigned, request: pay(1n), state: coSigned.state, now: NOW + 1 }),
    'deny',
    /^any: none allow: dailyLimit#0 \(value 1 wei would exceed the limit: 2000000000000000000 wei of 1000000000000000000 wei/,
  );
});

test('wallet policy: the capsule rules combine with wallet rules (requester allowlist, time lock); an unknown rule lists all rules', async () => {
  const params = { all: [{ allowlist: { requesters: ['age1alice'] } }, { timeLock: { notBefore: NOW } }, { txCap: { value: 10 } }] };
  expectVerdict(await run('policy', { params, request: pay(10n), requester: 'age1alice' }), 'allow', 'all: 3 of 3 rules allow');
  expectVerdict(
    await run('policy', { params, request: pay(10n), requester: 'age1bob' }),
    'deny',
    'all: denied by allowlist#0 (requester is not on the allowlist)',
  );
  expectVerdict(await run('policy', { params, request: pay(10n), requester: 'age1alice', now: NOW - 1 }), 'deny', /^all: denied by timeLock#1 /);
  await traps(
    'policy',
    { params: { all: [{ cap: {} }] }, request: pay(1n) },
    /^params\.all\[0\]\.cap: unknown rule \(expected one of recipients, txCap, dailyLimit, chains, coSigners, timeWindow, contractCalls, timeLock, deadMan, mOfN, allowlist, expiry, all, any\)$/,
  );
});

test('README: every JSON params example of a wallet contract is accepted (a verdict, not an error)', async () => {
  const text = readFileSync(join(ROOT, 'contracts-as/contracts/README.md'), 'utf8');
  let checked = 0;
  for (const section of text.split(/^## /m).slice(1)) {
    const m = /^wallet\/([\w-]+)/.exec(section);
    if (!m || !WALLET_CONTRACTS.includes(m[1]!)) continue;
    for (const [, json] of section.matchAll(/```json\n([\s\S]*?)```/g)) {
      for (const request of [pay(ETH), spendBtc(60_000)]) {
        const r = await run(m[1]!, { params: JSON.parse(json!) as unknown, request });
        assert.ok(r.verdict === 'allow' || r.verdict === 'deny', m[1]);
      }
      checked++;
    }
  }
  assert.ok(checked >= WALLET_CONTRACTS.length, `${checked} examples`);
});

test('the same decision twice: identical verdict, reason, fuel, state and inputs digest', async () => {
  const q = pay(2n * ETH, B);
  const r: Run = { params: combined, request: q, evidence: [edApproval(0, requestHash(q)), ethApproval(requestHash(q))] };
  const a = await run('policy', r);
  const b = await run('policy', r);
  const view = (d: typeof a) => [d.verdict, d.reason, d.fuel, d.inputsSha256, d.changed, [...d.state].map(([k, v]) => [k, hex(v)])];
  assert.equal(view(a), view(b));
});

test('fuel: every wallet contract decides well inside the default fuel limit', async () => {
  const h = (q: Request) => requestHash(q);
  const big = pay(2n * ETH, B);
  const fuel: Record<string, number> = {
    'recipient-allowlist (eth-tx)': (await run('recipient-allowlist', { params: recipientParams, request: pay(1n) })).fuel,
    'recipient-allowlist (btc-psbt)': (await run('recipient-allowlist', { params: recipientParams, request: spendBtc(60_000) })).fuel,
    'tx-cap (eth-tx)': (await run('tx-cap', { params: { value: String(ETH) }, request: pay(ETH) })).fuel,
    'tx-cap (ERC-20)': (
      await run('tx-cap', { params: { tokens: { [TOKEN]: 5 } }, request: ethTxRequest({ to: TOKEN, erc20: { method: 'transfer', recipient: A, amount: 5n } }) })
    ).fuel,
    'daily-limit (eth-tx, 12 records)': await (async () => {
      let state = new Map<string, Uint8Array>();
      for (let i = 0; i < 12; i++) state = (await run('daily-limit', { params: { value: 100 }, request: pay(1n), now: NOW + i, state })).state;
      return (await run('daily-limit', { params: { value: 100 }, request: pay(1n), now: NOW + 20, state })).fuel;
    })(),
    'chain-allowlist (eth-tx)': (await run('chain-allowlist', { params: { chainIds: [1] }, request: pay(1n) })).fuel,
    'co-signers (below threshold)': (await run('co-signers', { params: coParams, request: pay(1n) })).fuel,
    'co-signers (Ed25519 + EIP-191 approvals)': (
      await run('co-signers', { params: coParams, request: big, evidence: [edApproval(0, h(big)), ethApproval(h(big))] })
    ).fuel,
    'time-window': (await run('time-window', { params: hours, request: pay(1n), now: MON + 8 * HOUR })).fuel,
    'contract-calls (ERC-20)': (
      await run('contract-calls', { params: callParams, request: ethTxRequest({ to: TOKEN, erc20: { method: 'transfer', recipient: A, amount: 1n } }) })
    ).fuel,
    'policy (combined, below cap)': (await run('policy', { params: combined, request: pay(ETH) })).fuel,
    'policy (combined, co-signed)': (await run('policy', { params: combined, request: big, evidence: [edApproval(0, h(big)), ethApproval(h(big))] })).fuel,
  };
  // A tenth of the default limit at most (signature checks are priced at their CPU cost: ABI.md §6).
  for (const [name, f] of Object.entries(fuel)) assert.ok(f > 0 && f < 5_000_000, `${name}: ${f}`);
  if (process.env.CONTRACTS_FUEL) console.log(JSON.stringify(fuel, null, 1));
});

test.run();
