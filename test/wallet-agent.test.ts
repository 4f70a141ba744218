/**
 * The wallet in the agent (issue #11, build items 4–5): a real `capsule agent` process on 127.0.0.1
 * with the HSM6 simulator as its module (the production koffi binding), a wallet created with
 * `capsule wallet create`, the standard combined wallet policy (contracts-as/contracts/wallet/
 * policy.ts: daily limit AND recipient allowlist AND (under a cap OR 2 of 3 co-signers)) pushed and
 * bound to m/44'/60'/0'/0/0 with the chain id of a real EVM node (EDR, test/helpers/evmNode.ts).
 * Signed transactions go through eth_sendRawTransaction and are checked as mined; refusals are 403
 * with the policy's reason and leave the account's nonce unchanged; `capsule audit verify --replay`
 * re-runs every decision from its audited input (the request map included). Also: the config
 * schema's errors, the request map's byte-exact audit round trip, and the HTTP error paths.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HDKey } from '@scure/bip32';
import * as ecc from '@bitcoinerlab/secp256k1';
import * as bitcoin from 'bitcoinjs-lib';
import { mnemonicToSeedSync } from '@scure/bip39';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { publicKeyToAddress } from 'viem/accounts';
import { evidenceJson } from '../agent/client/GuardianClient.ts';
import { loadConfig } from '../agent/daemon/config.ts';
import type { Json } from '../agent/daemon/AuditLog.ts';
import { inputFromJson, inputToJson } from '../agent/daemon/evaluationJson.ts';
import { encodeCanonical } from '../agent/format/cbor.ts';
import type { EvaluationInput } from '../agent/sandbox/inputs.ts';
import { startEvmNode } from './helpers/evmNode.ts';
import { run, type Device } from './helpers/guardianDevice.ts';
import { identityOf, post, provisioned, startAgent, withAuth } from './helpers/runningAgent.ts';
import { build, coSignerKeys, edApproval, ethApproval, ethCoSigner, hex } from './helpers/walletPolicyRig.ts';

const PATH = "m/44'/60'/0'/0/0";
const ETH = 10n ** 18n;
const A = '0x' + 'a1'.repeat(20);
const B = '0x' + 'b2'.repeat(20);
const C = '0x' + 'c3'.repeat(20);
const q = (n: bigint) => `0x${n.toString(16)}`;

const POLICY = {
  all: [
    { dailyLimit: { value: String(3n * ETH) } },
    { recipients: { ethereum: [A, B] } },
    {
      any: [
        { txCap: { value: String(ETH) } },
        {
          coSigners: {
            threshold: 2,
            approvers: [
              { scheme: 'ed25519', key: hex(coSignerKeys[0]!) },
              { scheme: 'ed25519', key: hex(coSignerKeys[1]!) },
              { scheme: 'eip191', key: `0x${hex(ethCoSigner)}` },
            ],
          },
        },
      ],
    },
  ],
};

function tx(nonce: number, to: string, value: bigint, chainId: number): Record<string, unknown> {
  return { type: 'eip1559', chainId, nonce, to, value: q(value), gas: 21000, maxFeePerGas: q(2_000_000_000n), maxPriorityFeePerGas: q(1_000_000_000n) };
}

function walletSign(d: Device, url: string, args: string[]) {
  return run(d, ['wallet', 'sign', '--guardian', url, '--wallet', 'hot', '--path', PATH, '--identity', 'me.key', ...args]);
}

test('wallet create/show/address through the CLI; a real agent signs under the policy, refuses over it, and every decision replays', async () => {
  const { d, cleanup } = await provisioned({ policy: false });
  const node0 = { stop: async () => {} };
  let agent: Awaited<ReturnType<typeof startAgent>> | undefined;
  let node: Awaited<ReturnType<typeof startEvmNode>> | typeof node0 = node0;
  try {
    // The words go only to a terminal unless asked: a pipe is refused and nothing is created.
    const refused = run(d, ['wallet', 'create', 'hot', '--data-dir', d.data]);
    assert.is(refused.code, 1);
    assert.match(refused.stderr, /capsule: error: refusing to write the recovery words to a stdout that is not a terminal/);
    assert.is(run(d, ['wallet', 'show', '--data-dir', d.data]).stdout, '');

    const created = run(d, ['wallet', 'create', 'hot', '--data-dir', d.data, '--mnemonic-to-stdout']);
    assert.is(created.code, 0, created.stderr);
    const words = created.stdout.trim();
    assert.is(words.split(' ').length, 24);
    assert.match(created.stderr, /wallet hot created/);
    assert.not.match(created.stderr, new RegExp(words.split(' ')[0]! + ' ' + words.split(' ')[1]!));
    const again = run(d, ['wallet', 'create', 'hot', '--data-dir', d.data, '--mnemonic-to-stdout']);
    assert.is(again.code, 1);
    assert.match(again.stderr, /^capsule: error: wallet: a wallet named "hot" already exists on this module\n/);
    assert.match(run(d, ['wallet', 'show', '--data-dir', d.data]).stdout, /^hot \(master slot \d+\)\n$/);
    assert.match(run(d, ['wallet', '--help']).stdout, /capsule wallet sign --guardian URL/);
    assert.match(run(d, ['wallet', 'sign', '--help']).stdout, /^usage: capsule wallet sign /);

    // The address from the words, by independent libraries (@scure/bip32, viem).
    const key = HDKey.fromMasterSeed(mnemonicToSeedSync(words)).derive(PATH);
    const expected = publicKeyToAddress(`0x${hex(secp256k1.Point.fromBytes(key.publicKey!).toBytes(false))}`);
    const shown = run(d, ['wallet', 'address', 'hot', PATH, '--data-dir', d.data]);
    assert.is(shown.code, 0, shown.stderr);
    assert.is(shown.stdout.trim(), expected);

    // Restore: the same words give the same account under another name; bad words are refused by position.
    const restored = run(d, ['wallet', 'restore', 'copy', '--data-dir', d.data], words + '\n');
    assert.is(restored.code, 0, restored.stderr);
    assert.is(run(d, ['wallet', 'address', 'copy', PATH, '--data-dir', d.data]).stdout.trim(), expected);
    const badWords = run(d, ['wallet', 'restore', 'bad', '--data-dir', d.data], words.replace(/^\S+/, 'notaword'));
    assert.is(badWords.code, 1);
    assert.match(badWords.stderr, /capsule: error: mnemonic: word 1 is not in the BIP39 English word list/);

    node = await startEvmNode({ balances: { [expected]: 10n * ETH } });
    const evm = node as Awaited<ReturnType<typeof startEvmNode>>;
    const chainId = evm.chainId;
    const { wasm } = await build('contracts/wallet/policy');
    const logic = createHash('sha256').update(wasm).digest('hex');
    agent = await startAgent(d, {
      ratePerSecond: 0,
      wallet: { accounts: [{ wallet: 'hot', path: PATH, chain: 'ethereum', chainId, logic, params: POLICY }] },
    });
    const url = agent.url;
    const pushed = await fetch(url + '/v1/modules', { method: 'POST', headers: { 'content-type': 'application/wasm' }, body: new Uint8Array(wasm) });
    assert.is(pushed.status, 201);

    const accounts = (await (await fetch(url + '/v1/wallet/accounts')).json()) as { accounts: Record<string, unknown>[] };
    assert.equal(accounts.accounts, [{ wallet: 'hot', path: PATH, chain: 'ethereum', chainId, address: expected }]);

    const me = identityOf(d, 'me.key');
    const nonce = async () => Number(await evm.rpc('eth_getTransactionCount', [expected, 'latest']));
    const balance = async (a: string) => BigInt((await evm.rpc('eth_getBalance', [a, 'latest'])) as string);

    // 1. Under the cap, to a listed recipient: signed (HTTP 200 with the signed transaction), mined.
    const small = await post(
      url,
      '/v1/wallet/sign',
      await withAuth(
        url,
        '/v1/wallet/sign',
        { kind: 'eth-tx', transaction: tx(0, A, ETH / 2n, chainId), wallet: 'hot', path: PATH, requester: me.recipient },
        me,
      ),
    );
    assert.is(small.status, 200, JSON.stringify(small.json));
    assert.is(small.json.verdict, 'allow');
    assert.is(small.json.reason, 'all: 3 of 3 rules allow');
    assert.is(small.json.kind, 'eth-tx');
    assert.match(small.json.signature, /^[0-9a-f]{130}$/);
    assert.is(small.json.receipt.seq, small.json.audit);
    const raw = small.json.output as string;
    assert.match(raw, /^0x02[0-9a-f]+$/);
    const h1 = (await evm.rpc('eth_sendRawTransaction', [raw])) as string;
    assert.is(small.json.transactionHash, h1);
    const r1 = await evm.receipt(h1);
    assert.is(r1.status, '0x1');
    assert.is((r1.from as string).toLowerCase(), expected.toLowerCase());
    assert.is(await balance(A), ETH / 2n);

    // 2. Over the cap without co-signers: 403 with the policy's reason, nothing signed (CLI and HTTP).
    const big = tx(1, B, 2n * ETH, chainId);
    const denied = walletSign(d, url, ['--eth-tx', JSON.stringify(big)]);
    assert.is(denied.code, 1);
    assert.is(denied.stdout, '');
    assert.match(
      denied.stderr,
      /^capsule: error: denied by the signing policy: all: denied by any#2 \(any: none allow: txCap#0 \(value 2000000000000000000 wei is above the cap/,
    );
    const body = await withAuth(url, '/v1/wallet/sign', { kind: 'eth-tx', transaction: big, wallet: 'hot', path: PATH, requester: me.recipient }, me);
    const d403 = await post(url, '/v1/wallet/sign', body);
    assert.is(d403.status, 403);
    assert.is(d403.json.verdict, 'deny');
    assert.is(d403.json.error.code, 'ERR_DENIED');
    assert.match(d403.json.error.message, /^denied by the signing policy: all: denied by any#2 /);
    assert.is(d403.json.output, undefined);
    assert.is(d403.json.signature, undefined);
    assert.match(d403.json.hash, /^[0-9a-f]{64}$/);
    assert.is(await nonce(), 1);

    // 3. Off the allowlist: 403 naming the recipient.
    const off = await post(
      url,
      '/v1/wallet/sign',
      await withAuth(url, '/v1/wallet/sign', { kind: 'eth-tx', transaction: tx(1, C, 1n, chainId), wallet: 'hot', path: PATH, requester: me.recipient }, me),
    );
    assert.is(off.status, 403);
    assert.is(off.json.reason, `all: denied by recipients#1 (recipient ${C} is not on the allowlist)`);

    // 4. The same large transfer with 2 of 3 co-signer approvals of its hash: signed (CLI), mined.
    const hash = Uint8Array.from(Buffer.from(d403.json.hash, 'hex'));
    writeFileSync(join(d.dir, 'a0.json'), JSON.stringify(evidenceJson(edApproval(0, hash))));
    writeFileSync(join(d.dir, 'a1.json'), JSON.stringify(evidenceJson(ethApproval(hash))));
    const cosigned = walletSign(d, url, ['--eth-tx', JSON.stringify(big), '--approval', 'a0.json', '--approval', 'a1.json']);
    assert.is(cosigned.code, 0, cosigned.stderr);
    const r2 = await evm.receipt((await evm.rpc('eth_sendRawTransaction', [cosigned.stdout.trim()])) as string);
    assert.is(r2.status, '0x1');
    assert.is(await balance(B), 2n * ETH);

    // 5. The daily limit (3 ETH; 2.5 spent): 0.6 ETH more is refused though under the cap and listed.
    const over = walletSign(d, url, ['--eth-tx', JSON.stringify(tx(2, A, (6n * ETH) / 10n, chainId))]);
    assert.is(over.code, 1);
    assert.match(
      over.stderr,
      /^capsule: error: denied by the signing policy: all: denied by dailyLimit#0 \(value 600000000000000000 wei would exceed the limit: 2500000000000000000 wei of 3000000000000000000 wei/,
    );
    assert.is(await nonce(), 2);

    // 6. Error paths, each with its code and status; none signs.
    const unauth = await post(url, '/v1/wallet/sign', {
      kind: 'eth-tx',
      transaction: tx(2, A, 1n, chainId),
      wallet: 'hot',
      path: PATH,
      requester: me.recipient,
    });
    assert.is(unauth.status, 401);
    assert.is(unauth.json.error.code, 'ERR_UNAUTHENTICATED');
    assert.match(unauth.json.error.message, /^wallet-sign: this decision would change the logic's state/);
    const noAccount = await post(url, '/v1/wallet/sign', {
      kind: 'eth-message',
      message: 'hi',
      wallet: 'hot',
      path: "m/44'/60'/0'/0/1",
      requester: me.recipient,
    });
    assert.is(noAccount.status, 404);
    assert.is(noAccount.json.error.code, 'ERR_NOT_FOUND');
    assert.match(noAccount.json.error.message, /no account "hot" "m\/44'\/60'\/0'\/0\/1" is configured/);
    const wrongChain = await post(url, '/v1/wallet/sign', { kind: 'btc-psbt', psbt: 'cHNidP8=', wallet: 'hot', path: PATH, requester: me.recipient });
    assert.is(wrongChain.status, 422);
    assert.is(wrongChain.json.error.code, 'ERR_WRONG_CHAIN');
    assert.match(wrongChain.json.error.message, /^kind: btc-psbt signs for bitcoin, but hot m\/44'\/60'\/0'\/0\/0 is a ethereum account$/);
    const rawDigest = await post(url, '/v1/wallet/sign', { kind: 'raw-digest', digest: '11'.repeat(32), wallet: 'hot', path: PATH, requester: me.recipient });
    assert.is(rawDigest.status, 403);
    assert.is(rawDigest.json.error.code, 'ERR_RAW_DIGEST_NOT_ALLOWED');
    const badTx = await post(url, '/v1/wallet/sign', {
      kind: 'eth-tx',
      transaction: { ...tx(2, A, 1n, chainId), nonce: -1 },
      wallet: 'hot',
      path: PATH,
      requester: me.recipient,
    });
    assert.is(badTx.status, 400);
    assert.is(badTx.json.error.code, 'ERR_BAD_TRANSACTION');
    assert.match(badTx.json.error.message, /^transaction\.nonce: expected a non-negative integer/);
    const twoPayloads = await post(url, '/v1/wallet/sign', {
      kind: 'eth-message',
      message: 'hi',
      digest: '11'.repeat(32),
      wallet: 'hot',
      path: PATH,
      requester: me.recipient,
    });
    assert.is(twoPayloads.status, 400);
    assert.is(twoPayloads.json.error.code, 'ERR_BAD_SIGN_REQUEST');
    assert.match(twoPayloads.json.error.message, /^digest: not a field of a eth-message request/);
    const schema = await post(url, '/v1/wallet/sign', { kind: 'eth-tx', transaction: 5, wallet: 'hot', path: PATH, requester: me.recipient });
    assert.is(schema.status, 400);
    assert.is(schema.json.error.code, 'ERR_BAD_REQUEST');
    assert.is(await nonce(), 2);

    // The audit log: each decision a wallet-sign entry naming kind, account and hash; the allowed ones what was signed.
    const entries = readFileSync(join(d.data, 'audit.log'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, any>)
      .filter((e) => e.kind === 'wallet-sign');
    assert.equal(
      entries.map((e) => e.verdict),
      ['allow', 'deny', 'deny', 'deny', 'allow', 'deny', 'error'],
    );
    assert.equal(
      entries.map((e) => e.requestKind),
      Array(7).fill('eth-tx'),
    );
    assert.is(entries[0]!.output, raw);
    assert.is(entries[0]!.transactionHash, h1.slice(2));
    assert.is(entries[0]!.signature, small.json.signature);
    assert.is(entries[0]!.seq, small.json.audit);
    assert.is(entries[4]!.hash, d403.json.hash);
    assert.is(entries[1]!.output, undefined);
    assert.is(entries[6]!.error, 'ERR_UNAUTHENTICATED');
    assert.ok(entries.every((e) => e.wallet === 'hot' && e.path === PATH && e.logic === logic && typeof e.input?.request === 'string'));

    assert.is(await agent.stop(), 0);
    agent = undefined;
    const v = run(d, ['audit', 'verify', '--data-dir', d.data, '--replay']);
    assert.is(v.code, 0, v.stderr);
    assert.match(v.stdout, /; 7 decisions replayed with the same verdict and fuel\n$/);
  } finally {
    await agent?.stop();
    await node.stop();
    cleanup();
  }
});

test('bitcoin through the agent: a PSBT spending our P2WPKH output is signed under the cap (CLI, --psbt FILE) and verifies with bitcoinjs-lib; over the cap it is denied; a configured wallet not on the module is 404 ERR_NO_WALLET', async () => {
  bitcoin.initEccLib(ecc);
  const { d, cleanup } = await provisioned({ policy: false });
  let agent: Awaited<ReturnType<typeof startAgent>> | undefined;
  const BTC = "m/84'/1'/0'/0/0";
  try {
    const created = run(d, ['wallet', 'create', 'hot', '--data-dir', d.data, '--mnemonic-to-stdout']);
    assert.is(created.code, 0, created.stderr);
    const words = created.stdout.trim();
    const ours = HDKey.fromMasterSeed(mnemonicToSeedSync(words)).derive(BTC).publicKey!;
    const regtest = bitcoin.networks.regtest;
    const pay = bitcoin.payments.p2wpkh({ pubkey: ours, network: regtest });
    assert.is(run(d, ['wallet', 'address', 'hot', BTC, '--data-dir', d.data, '--network', 'regtest']).stdout.trim(), pay.address);

    const { wasm } = await build('contracts/wallet/tx-cap');
    const logic = createHash('sha256').update(wasm).digest('hex');
    agent = await startAgent(d, {
      ratePerSecond: 0,
      wallet: {
        accounts: [
          { wallet: 'hot', path: BTC, chain: 'bitcoin', network: 'regtest', logic, params: { sats: 50_000 } },
          { wallet: 'ghost', path: PATH, chain: 'ethereum', chainId: 1, logic },
        ],
      },
    });
    const url = agent.url;
    assert.is((await fetch(url + '/v1/modules', { method: 'POST', headers: { 'content-type': 'application/wasm' }, body: new Uint8Array(wasm) })).status, 201);
    const listed = (await (await fetch(url + '/v1/wallet/accounts')).json()) as { accounts: Record<string, unknown>[] };
    assert.equal(listed.accounts, [
      { wallet: 'hot', path: BTC, chain: 'bitcoin', network: 'regtest', address: pay.address },
      {
        wallet: 'ghost',
        path: PATH,
        chain: 'ethereum',
        chainId: 1,
        error: { code: 'ERR_NO_WALLET', message: 'wallet: no wallet named "ghost" on this module' },
      },
    ]);

    const bob = bitcoin.payments.p2wpkh({ pubkey: HDKey.fromMasterSeed(new Uint8Array(32).fill(9)).publicKey!, network: regtest });
    const psbtPaying = (amount: number) => {
      const p = new bitcoin.Psbt({ network: regtest });
      p.addInput({ hash: '11'.repeat(32), index: 0, witnessUtxo: { script: pay.output!, value: 100_000n } });
      p.addOutput({ script: bob.output!, value: BigInt(amount) });
      p.addOutput({ script: pay.output!, value: BigInt(100_000 - amount - 1_000) }); // change to ourselves
      return p;
    };
    writeFileSync(join(d.dir, 'small.psbt'), psbtPaying(40_000).toBuffer()); // binary PSBT file
    writeFileSync(join(d.dir, 'big.psbt'), psbtPaying(60_000).toBase64()); // base64 text file
    const btcSign = (file: string) => run(d, ['wallet', 'sign', '--guardian', url, '--wallet', 'hot', '--path', BTC, '--identity', 'me.key', '--psbt', file]);

    const signed = btcSign('small.psbt');
    assert.is(signed.code, 0, signed.stderr);
    const back = bitcoin.Psbt.fromBase64(signed.stdout.trim(), { network: regtest });
    const tx = back.extractTransaction(); // finalized by the guardian: every input signed
    assert.is(tx.outs[0]!.value, 40_000n);
    const [sigDer, pub] = tx.ins[0]!.witness;
    assert.equal(Uint8Array.from(pub!), ours);
    const { signature, hashType } = bitcoin.script.signature.decode(sigDer!);
    assert.is(hashType, bitcoin.Transaction.SIGHASH_ALL);
    const sighash = tx.hashForWitnessV0(0, bitcoin.payments.p2pkh({ pubkey: ours }).output!, 100_000n, hashType);
    assert.ok(ecc.verify(sighash, ours, signature), 'BIP143 signature verifies (bitcoinjs-lib)');

    const denied = btcSign('big.psbt');
    assert.is(denied.code, 1);
    assert.is(denied.stdout, '');
    assert.match(denied.stderr, /^capsule: error: denied by the signing policy: .*61000 sat.* above the cap/m);

    const ghost = await post(url, '/v1/wallet/sign', {
      kind: 'eth-message',
      message: 'hi',
      wallet: 'ghost',
      path: PATH,
      requester: identityOf(d, 'me.key').recipient,
    });
    assert.is(ghost.status, 404);
    assert.is(ghost.json.error.code, 'ERR_NO_WALLET');
    assert.is(ghost.json.error.message, 'wallet: no wallet named "ghost" on this module');
  } finally {
    await agent?.stop();
    cleanup();
  }
});

test('evaluationJson: the request map round-trips byte for byte (u256 bytes stay bytes, uints stay numbers); inputs without one are unchanged', () => {
  const request = new Map<string, unknown>([
    ['kind', 'eth-tx'],
    ['value', new Uint8Array(32).fill(7)],
    ['nonce', 3],
    ['gas', 2 ** 53 - 1],
    ['to', null],
    ['list', [new Map([['a', true]])]],
  ]);
  const base: EvaluationInput = {
    now: 5,
    requester: 'age1x',
    capsule: { id: new Uint8Array(16), created: 0, owner: null, logic: new Uint8Array(32), size: 0, digest: new Uint8Array(32) },
    evidence: [],
    state: new Map(),
    authenticated: true,
  };
  const json = inputToJson({ ...base, request });
  assert.is((json as Record<string, unknown>).request, hex(encodeCanonical(request)));
  const back = inputFromJson(JSON.parse(JSON.stringify(json)), 'x');
  assert.equal(encodeCanonical(back.request), encodeCanonical(request));
  assert.instance(back.request!.get('value'), Uint8Array);
  assert.is(back.request!.get('nonce'), 3);
  const plain = inputToJson(base) as { [k: string]: Json };
  assert.not.ok('request' in plain);
  assert.is(inputFromJson(plain, 'x').request, undefined);
  assert.throws(
    () => inputFromJson({ ...plain, request: 'zz' }, 'e'),
    (e: Error) => e instanceof TypeError && e.message === 'e.request: expected lowercase hex',
  );
  assert.throws(
    () => inputFromJson({ ...plain, request: '01' }, 'e'),
    (e: Error) => e instanceof TypeError && e.message === 'e.request: expected a CBOR map, got number',
  );
  assert.throws(
    () => inputFromJson({ ...plain, request: 'a1616118' + '01' }, 'e'),
    (e: Error) => e instanceof TypeError && /^e\.request: (expected the hex of one well-formed CBOR map|not deterministic CBOR)/.test(e.message),
  );
});

test('config: wallet.accounts are checked with messages naming the key, the expectation and what came', async () => {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'wallet-config-'));
  const logic = 'ab'.repeat(32);
  const ok = { wallet: 'hot', path: PATH, chain: 'ethereum', chainId: 1, logic };
  const load = (wallet: unknown) => {
    writeFileSync(join(dir, 'c.json'), JSON.stringify({ wallet }));
    return loadConfig({ file: join(dir, 'c.json'), env: {} });
  };
  const fails = async (wallet: unknown, message: string) => {
    try {
      await load(wallet);
    } catch (e) {
      assert.is((e as { code?: string }).code, 'ERR_CONFIG');
      assert.is((e as Error).message, `${join(dir, 'c.json')}: ${message}`);
      return;
    }
    assert.unreachable(`accepted ${JSON.stringify(wallet)}`);
  };
  try {
    const c = await load({
      accounts: [
        { ...ok, params: { txCap: { value: '1' } } },
        { wallet: 'hot', path: "m/84'/0'/0'/0/0", chain: 'bitcoin', network: 'regtest', keys: ["m/84'/0'/0'/1/0"], logic, rawDigest: true },
      ],
    });
    assert.equal(c.wallet.accounts[0]!.params, encodeCanonical({ txCap: { value: '1' } }));
    assert.equal(c.wallet.accounts[1], {
      wallet: 'hot',
      path: "m/84'/0'/0'/0/0",
      chain: 'bitcoin',
      network: 'regtest',
      keys: ["m/84'/0'/0'/1/0"],
      logic,
      params: undefined,
      rawDigest: true,
    });
    await fails([], 'wallet: expected an object {accounts: [...]}, got []');
    await fails({ accounts: [ok], extra: 1 }, 'wallet.extra: expected no such key (accounts), got 1');
    await fails({ accounts: [{ ...ok, chain: 'solana' }] }, 'wallet.accounts[0].chain: expected "ethereum" or "bitcoin", got "solana"');
    await fails(
      { accounts: [{ ...ok, network: 'mainnet' }] },
      'wallet.accounts[0].network: expected no such key for a ethereum account (wallet, path, chain, logic, params, rawDigest, chainId), got "mainnet"',
    );
    await fails({ accounts: [{ ...ok, path: 'm/44h/60' }] }, "wallet.accounts[0].path: expected a BIP32 path like m/44'/60'/0'/0/0, got \"m/44h/60\"");
    await fails({ accounts: [ok, ok] }, `wallet.accounts[1].path: expected one policy per account (wallet and path), got "${PATH}"`);
    await fails({ accounts: [{ ...ok, chainId: 0 }] }, 'wallet.accounts[0].chainId: expected a positive integer (EIP-155 chain id), got 0');
    await fails({ accounts: [{ ...ok, logic: 'AB' }] }, 'wallet.accounts[0].logic: expected the policy module\'s SHA-256 as 64 lowercase hex digits, got "AB"');
    await fails({ accounts: [{ ...ok, wallet: '' }] }, 'wallet.accounts[0].wallet: expected a wallet name (1-64 of A-Z a-z 0-9 . _ -), got ""');
    await fails(
      { accounts: [{ wallet: 'hot', path: PATH, chain: 'bitcoin', network: 'signet', logic }] },
      'wallet.accounts[0].network: expected "mainnet", "testnet" or "regtest", got "signet"',
    );
    await fails(
      { accounts: [{ wallet: 'hot', path: PATH, chain: 'bitcoin', network: 'mainnet', keys: ['x'], logic }] },
      'wallet.accounts[0].keys: expected an array of BIP32 paths, got ["x"]',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
