/**
 * Fuzz target: the wallet's request decoding (agent/wallet/decodeSignRequest.ts) — the path every
 * `POST /v1/wallet/sign` body takes before a policy sees it — on byte-mutated unsigned Ethereum
 * transactions and PSBTs (P2WPKH and P2TR inputs of the account), field-mutated EIP-1559 JSON and
 * EIP-712 documents, messages, digests and arbitrary request objects.
 *
 * Properties (issue 11 "Bad input"; issue 18 Build 6):
 * - a decoded request or a typed DceError (WalletRequestError by code); no untyped error, no hang;
 * - what the policy sees is what gets signed: the request map is deterministic CBOR that
 *   round-trips; a raw transaction that decodes hashes to keccak256 of exactly the bytes sent;
 *   a PSBT's fee is Σinputs − Σoutputs of the amounts the map shows, every amount an exact integer
 *   (a lossy Number would show the policy another amount than the one signed);
 * - finish() with a signer either signs (its signatures checked inside) or throws a typed error.
 * A violation counts as wrong output. Deliberately not here: policies and HTTP (the http api target).
 */
import fc from 'fast-check';
import { keccak_256 } from '@noble/hashes/sha3.js';
import * as btc from '@scure/btc-signer';
import { Transaction as EthTransaction } from 'micro-eth-signer';
import { decodeCanonical, encodeCanonical } from '../../agent/format/cbor.ts';
import { decodeSignRequest } from '../../agent/wallet/decodeSignRequest.ts';
import type { DecodedSignRequest } from '../../agent/wallet/SignRequest.ts';
import type { BitcoinAccount, EthereumAccount } from '../../agent/wallet/WalletAccount.ts';
import { BOB, MAIL } from '../../test/helpers/eip712Mail.ts';
import { WalletTwin } from '../../test/helpers/walletTwin.ts';
import { drive, equalBytes, hexOf, mutate, mutationArb, type FuzzOptions, type FuzzResult, type Verdict } from '../drive.ts';

const ETH_PATH = "m/44'/60'/0'/0/0";
const BTC_PATH = "m/84'/1'/0'/0/0";
const TAP_PATH = "m/86'/1'/0'/0/0";
const TOKEN = '0x6B175474E89094C44Da98b954EedeAC495271d0F';

const TX_JSON = {
  type: 'eip1559',
  chainId: 1,
  nonce: 7,
  to: BOB,
  value: '1500000000000000000',
  gas: 21000,
  maxFeePerGas: '30000000000',
  maxPriorityFeePerGas: 1_000_000_000,
};

/** Unsigned raw transactions: legacy (EIP-155), EIP-2930, EIP-1559 with an ERC-20 transfer. */
function rawTransactions(): Uint8Array[] {
  const transfer = '0xa9059cbb' + BOB.slice(2).toLowerCase().padStart(64, '0') + (10n ** 18n).toString(16).padStart(64, '0');
  const txs = [
    { type: 'legacy', chainId: 1n, nonce: 1n, to: BOB, value: 5n, gasLimit: 21000n, gasPrice: 10n ** 9n },
    { type: 'eip2930', chainId: 1n, nonce: 2n, to: BOB, value: 5n, gasLimit: 30000n, gasPrice: 10n ** 9n, accessList: [] },
    {
      type: 'eip1559',
      chainId: 1n,
      nonce: 3n,
      to: TOKEN,
      value: 0n,
      gasLimit: 60000n,
      maxFeePerGas: 3n * 10n ** 10n,
      maxPriorityFeePerGas: 10n ** 9n,
      data: transfer,
    },
  ];
  return txs.map((t) => EthTransaction.prepare(t as never, false).toBytes({ includeSignature: false }));
}

/** PSBTs spending the account's P2WPKH key and its Taproot key, paying Bob and change. */
function psbts(account: BitcoinAccount, bobKey: Uint8Array): Uint8Array[] {
  const net = { bech32: 'bcrt', pubKeyHash: 0x6f, scriptHash: 0xc4, wif: 0xef };
  const ours = btc.p2wpkh(account.publicKey, net);
  const tap = btc.p2tr(account.keys![0]!.publicKey.subarray(1), undefined, net);
  const bob = btc.p2wpkh(bobKey, net);
  const make = (inputs: { script: Uint8Array; amount: bigint; tapInternalKey?: Uint8Array }[], outs: bigint[]) => {
    const tx = new btc.Transaction({ allowUnknownOutputs: true });
    inputs.forEach((inp, i) =>
      tx.addInput({
        txid: new Uint8Array(32).fill(i + 1),
        index: i,
        witnessUtxo: { script: inp.script, amount: inp.amount },
        ...(inp.tapInternalKey ? { tapInternalKey: inp.tapInternalKey } : {}),
      }),
    );
    outs.forEach((amount, j) => tx.addOutput({ script: j === 0 ? bob.script : ours.script, amount }));
    return tx.toPSBT();
  };
  return [
    make([{ script: ours.script, amount: 100_000n }], [60_000n, 39_000n]),
    make(
      [
        { script: ours.script, amount: 50_000n },
        { script: tap.script, amount: 70_000n, tapInternalKey: account.keys![0]!.publicKey.subarray(1) },
      ],
      [100_000n],
    ),
  ];
}

/** Checks what a decoded request promises; a string names the broken promise. */
function promises(kind: string, sent: unknown, d: DecodedSignRequest): string | undefined {
  const cbor = encodeCanonical(d.request);
  if (!equalBytes(encodeCanonical(decodeCanonical(cbor, 'request') as never), cbor)) return 'the request map does not round-trip as deterministic CBOR';
  if (d.hash.length !== 32) return `a ${d.hash.length}-byte hash`;
  if (kind === 'eth-tx' && sent instanceof Uint8Array && !equalBytes(d.hash, keccak_256(sent))) return 'the hash is not keccak256 of the bytes sent';
  if (kind === 'btc-psbt') {
    const amounts = (list: unknown) => (list as Map<string, unknown>[]).map((m) => m.get('amount'));
    const all = [...amounts(d.request.get('inputs')), ...amounts(d.request.get('outputs')), d.request.get('fee')];
    if (!all.every((a) => Number.isSafeInteger(a) && (a as number) >= 0))
      return `an amount the policy sees is not an exact non-negative integer: ${all.join(', ')}`;
    const sum = (xs: unknown[]) => xs.reduce<number>((s, a) => s + (a as number), 0);
    if (sum(amounts(d.request.get('inputs'))) - sum(amounts(d.request.get('outputs'))) !== d.request.get('fee')) return 'fee is not Σinputs − Σoutputs';
  }
  return undefined;
}

export async function run(opts: FuzzOptions): Promise<FuzzResult> {
  const twin = WalletTwin.fromMnemonic();
  const eth: EthereumAccount = { chain: 'ethereum', wallet: 'hot', path: ETH_PATH, publicKey: await twin.publicKey(ETH_PATH), chainId: 1 };
  const bitcoin: BitcoinAccount = {
    chain: 'bitcoin',
    wallet: 'hot',
    path: BTC_PATH,
    publicKey: await twin.publicKey(BTC_PATH),
    network: 'regtest',
    keys: [{ path: TAP_PATH, publicKey: await twin.publicKey(TAP_PATH) }],
  };
  const raws = rawTransactions();
  const ps = psbts(bitcoin, await twin.publicKey("m/84'/1'/9'/0/0"));

  const muts = fc.array(mutationArb(), { minLength: 1, maxLength: 4 });
  const anyValue = fc.oneof(
    fc.jsonValue({ maxDepth: 2 }),
    fc.constantFrom('0x', '0x00', '-1', '1e3', 2 ** 53, -1, 1.5, '0x' + 'ff'.repeat(33), BOB, ''),
    fc.anything({ maxDepth: 1 }),
  );
  const fieldsOf = (base: Record<string, unknown>, keys: string[]) =>
    fc.array(fc.tuple(fc.constantFrom(...keys, '__proto__', 'extra'), anyValue, fc.boolean()), { minLength: 1, maxLength: 3 }).map((changes) => {
      const o: Record<string, unknown> = structuredClone(base);
      for (const [k, v, del] of changes) {
        if (del) delete o[k];
        else Object.defineProperty(o, k, { value: v, enumerable: true, configurable: true, writable: true });
      }
      return o;
    });
  type Case = { kind: string; account: 'eth' | 'btc'; body: Record<string, unknown>; sent: unknown };
  const req = (kind: string, account: 'eth' | 'btc', field: string, payload: unknown): Case => ({
    kind,
    account,
    body: { kind, [field]: payload },
    sent: payload,
  });
  const arb: fc.Arbitrary<Case> = fc.oneof(
    {
      weight: 5,
      arbitrary: fc.tuple(fc.nat({ max: raws.length - 1 }), muts, fc.boolean()).map(([i, m, asHex]) => {
        const b = mutate(raws[i]!, m);
        return { ...req('eth-tx', 'eth', 'transaction', asHex ? '0x' + Buffer.from(b).toString('hex') : b), sent: b };
      }),
    },
    {
      weight: 5,
      arbitrary: fc.tuple(fc.nat({ max: ps.length - 1 }), muts, fc.constantFrom('bytes', 'base64', 'hex')).map(([i, m, form]) => {
        const b = mutate(ps[i]!, m);
        return req('btc-psbt', 'btc', 'psbt', form === 'bytes' ? b : Buffer.from(b).toString(form as 'hex'));
      }),
    },
    {
      weight: 3,
      arbitrary: fieldsOf(TX_JSON, Object.keys(TX_JSON).concat('data', 'accessList', 'gasPrice', 'from')).map((t) => req('eth-tx', 'eth', 'transaction', t)),
    },
    {
      weight: 3,
      arbitrary: fc
        .tuple(
          fieldsOf(MAIL.message as never, ['from', 'to', 'contents']),
          fieldsOf(MAIL.domain, ['name', 'version', 'chainId', 'verifyingContract', 'salt']),
          fc.boolean(),
        )
        .map(([message, domain, text]) => {
          const doc = { ...MAIL, message, domain };
          return req('eth-typed-data', 'eth', 'typedData', text ? JSON.stringify(doc) : doc);
        }),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.oneof(fc.string({ maxLength: 64 }), fc.uint8Array({ maxLength: 64 }), anyValue))
        .map(([m]) => req('eth-message', 'eth', 'message', m)),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(
          fc.oneof(
            fc.uint8Array({ maxLength: 35 }).map((b) => Buffer.from(b).toString('hex')),
            fc.uint8Array({ maxLength: 40 }),
            anyValue,
          ),
          fc.boolean(),
        )
        .map(([g, e]) => req('raw-digest', e ? 'eth' : 'btc', 'digest', g)),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.dictionary(fc.constantFrom('kind', 'transaction', 'psbt', 'message', 'digest', 'typedData', 'x'), anyValue), fc.boolean())
        .map(([body, e]) => ({ kind: String(body.kind), account: e ? ('eth' as const) : ('btc' as const), body, sent: undefined })),
    },
  );
  const evaluate = async (c: Case): Promise<Verdict> => {
    const account = c.account === 'eth' ? { ...eth, rawDigest: true } : { ...bitcoin, rawDigest: true };
    const d = decodeSignRequest(c.body, account);
    let broken: string | undefined;
    try {
      broken = promises(c.kind, c.sent, d);
    } catch (e) {
      broken = `checking the decoded request threw ${(e as Error).name}: ${(e as Error).message}`;
    }
    if (broken) return { wrong: broken };
    await d.finish(twin);
    return 'ok';
  };
  const show = (c: Case) => `${c.account} ${c.kind} ${c.sent instanceof Uint8Array ? hexOf(c.sent) : safeJson(c.body)}`;
  return drive('wallet request decoding', arb, evaluate, opts, show);
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? `${x}n` : x instanceof Uint8Array ? Buffer.from(x).toString('hex') : x)) ?? String(v);
  } catch {
    return String(v);
  }
}
