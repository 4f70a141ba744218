/**
 * btc-psbt (issue #11, build item 2): PSBTs built by bitcoinjs-lib (an independent implementation)
 * decoded by agent/wallet with @scure/btc-signer, signed through finish() with the test twin's
 * keys, and checked by bitcoinjs-lib again — BIP143/BIP341 sighashes recomputed and every witness
 * verified with @bitcoinerlab/secp256k1, validateSignaturesOfAllInputs, finalize, extract —; the
 * published BIP174 (valid and invalid PSBTs) and BIP341 (key-path signing) vectors through our
 * decoding path; and every refusal with its code, status and message, and nothing signed.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import * as ecc from '@bitcoinerlab/secp256k1';
import * as bitcoin from 'bitcoinjs-lib';
import * as btc from '@scure/btc-signer';
import { decodeCanonical, encodeCanonical } from '../agent/format/cbor.ts';
import { decodeSignRequest } from '../agent/wallet/decodeSignRequest.ts';
import type { BtcPsbtOutput } from '../agent/wallet/SignRequest.ts';
import type { BitcoinAccount } from '../agent/wallet/WalletAccount.ts';
import { expectError } from './helpers/assertError.ts';
import { BTC_CHANGE_PATH, BTC_PATH, TAP_PATH, btcAccount, ethAccount, refused, signRequest } from './helpers/walletAttempt.ts';
import { FaultySigner, WalletTwin } from './helpers/walletTwin.ts';
import { statusOf } from '../agent/daemon/statusByCode.ts';

bitcoin.initEccLib(ecc);
const VECTORS = fileURLToPath(new URL('./vectors/', import.meta.url));
const regtest = bitcoin.networks.regtest;
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const bytes = (h: string) => Uint8Array.from(Buffer.from(h, 'hex'));

const twin = WalletTwin.fromMnemonic();
const account = await btcAccount(twin);
const ourPub = account.publicKey;
const changePub = await twin.publicKey(BTC_CHANGE_PATH);
const tapPub = await twin.publicKey(TAP_PATH);
const foreignPriv = new Uint8Array(32).fill(0x11);
const foreignPub = secp256k1.getPublicKey(foreignPriv, true);

const p2wpkh = (pubkey: Uint8Array) => bitcoin.payments.p2wpkh({ pubkey, network: regtest });
const p2tr = (pubkey: Uint8Array) => bitcoin.payments.p2tr({ internalPubkey: pubkey.subarray(1), network: regtest });
const TXID = (n: number) => n.toString(16).padStart(2, '0').repeat(32);
const validator = (pub: Uint8Array, msg: Uint8Array, sig: Uint8Array) => (pub.length === 32 ? ecc.verifySchnorr(msg, pub, sig) : ecc.verify(msg, pub, sig));

interface InputSpec {
  pub: Uint8Array;
  taproot?: boolean;
  amount: bigint;
  utxo?: boolean;
  sighashType?: number;
}
/** A PSBT built by bitcoinjs-lib: inputs spending P2WPKH/P2TR outputs of `pub`, outputs as given. */
function psbtOf(inputs: InputSpec[], outputs: { script: Uint8Array; amount: bigint }[]): bitcoin.Psbt {
  const psbt = new bitcoin.Psbt({ network: regtest });
  inputs.forEach((inp, i) => {
    const pay = inp.taproot ? p2tr(inp.pub) : p2wpkh(inp.pub);
    psbt.addInput({
      hash: TXID(i + 1),
      index: i,
      ...(inp.utxo === false ? {} : { witnessUtxo: { script: pay.output!, value: inp.amount } }),
      ...(inp.taproot ? { tapInternalKey: inp.pub.subarray(1) } : {}),
      ...(inp.sighashType === undefined ? {} : { sighashType: inp.sighashType }),
    });
  });
  for (const o of outputs) psbt.addOutput({ script: o.script, value: o.amount });
  return psbt;
}

const pay = (pub: Uint8Array, amount: bigint) => ({ script: p2wpkh(pub).output!, amount });

/** Verifies every witness of `raw` against sighashes bitcoinjs-lib computes itself (BIP143 / BIP341). */
function verifyWitnesses(raw: Uint8Array, prevouts: { script: Uint8Array; value: bigint }[]): void {
  const tx = bitcoin.Transaction.fromBuffer(raw);
  tx.ins.forEach((inp, i) => {
    const prev = prevouts[i]!;
    if (prev.script.length === 34 && prev.script[0] === 0x51) {
      assert.is(inp.witness.length, 1, `input ${i}: a key-path witness is one signature`);
      const sig = inp.witness[0]!;
      const hashType = sig.length === 65 ? sig[64]! : bitcoin.Transaction.SIGHASH_DEFAULT;
      const h = tx.hashForWitnessV1(
        i,
        prevouts.map((p) => p.script),
        prevouts.map((p) => p.value),
        hashType,
      );
      assert.ok(ecc.verifySchnorr(h, prev.script.subarray(2), sig.subarray(0, 64)), `input ${i}: Schnorr signature verifies under the output key`);
    } else {
      assert.is(inp.witness.length, 2, `input ${i}: P2WPKH witness is signature and key`);
      const { signature, hashType } = bitcoin.script.signature.decode(inp.witness[0]!);
      assert.is(hashType, bitcoin.Transaction.SIGHASH_ALL);
      const pkh = bitcoin.payments.p2pkh({ pubkey: inp.witness[1]! }).output!;
      const h = tx.hashForWitnessV0(i, pkh, prev.value, hashType);
      assert.ok(ecc.verify(h, inp.witness[1]!, signature), `input ${i}: ECDSA signature verifies`);
      assert.equal(hex(p2wpkh(inp.witness[1]!).output!), hex(prev.script), `input ${i}: the key is the one the output pays`);
    }
  });
}

test('P2WPKH and P2TR inputs of ours: decoded for the policy, signed, finalized; bitcoinjs-lib recomputes BIP143/BIP341 sighashes that verify every witness', async () => {
  const psbt = psbtOf(
    [
      { pub: ourPub, amount: 100_000n },
      { pub: tapPub, taproot: true, amount: 50_000n },
    ],
    [pay(foreignPub, 120_000n), pay(changePub, 29_000n), { script: bitcoin.payments.embed({ data: [bytes('6d656d6f')] }).output!, amount: 0n }],
  );
  const d = decodeSignRequest({ kind: 'btc-psbt', psbt: psbt.toBase64() }, account);
  const r = d.request;
  assert.equal(
    [r.get('kind'), r.get('chain'), r.get('network'), r.get('wallet'), r.get('path'), r.get('fee')],
    ['btc-psbt', 'bitcoin', 'regtest', 'hot', BTC_PATH, 1_000],
  );
  const unsigned = psbt.data.globalMap.unsignedTx.toBuffer();
  const txid = bitcoin.Transaction.fromBuffer(unsigned).getHash(); // internal byte order, as hashed
  assert.is(hex(r.get('hash') as Uint8Array), hex(txid));
  const inputs = r.get('inputs') as Map<string, unknown>[];
  assert.equal(
    inputs.map((m) => [hex(m.get('txid') as Uint8Array), m.get('vout'), m.get('amount'), m.get('address'), m.get('ours'), m.get('path')]),
    [
      [hex(Uint8Array.from(bytes(TXID(1))).reverse()), 0, 100_000, p2wpkh(ourPub).address, true, BTC_PATH],
      [hex(Uint8Array.from(bytes(TXID(2))).reverse()), 1, 50_000, p2tr(tapPub).address, true, TAP_PATH],
    ],
  );
  const outputs = r.get('outputs') as Map<string, unknown>[];
  assert.equal(
    outputs.map((m) => [m.get('address'), m.get('amount'), m.get('change')]),
    [
      [p2wpkh(foreignPub).address, 120_000, false],
      [p2wpkh(changePub).address, 29_000, true],
      [null, 0, false],
    ],
  );
  assert.is(hex(outputs[2]!.get('script') as Uint8Array), '6a046d656d6f');
  assert.equal(decodeCanonical(encodeCanonical(r), 'request'), r, 'deterministic CBOR round trip');
  assert.is(d.needsSchnorr, true);
  // The digests the guardian computed are the ones bitcoinjs-lib computes independently.
  const utx = bitcoin.Transaction.fromBuffer(unsigned);
  const scripts = [p2wpkh(ourPub).output!, p2tr(tapPub).output!];
  assert.is(hex(d.signatures[0]!.digest), hex(utx.hashForWitnessV0(0, bitcoin.payments.p2pkh({ pubkey: ourPub }).output!, 100_000n, 1)));
  assert.is(hex(d.signatures[1]!.digest), hex(utx.hashForWitnessV1(1, scripts, [100_000n, 50_000n], 0)));

  const before = twin.calls;
  const out = (await d.finish(twin)) as BtcPsbtOutput;
  assert.is(twin.calls - before, 2, 'one signature per input of ours');
  assert.is(out.complete, true);
  verifyWitnesses(out.transaction!, [
    { script: scripts[0]!, value: 100_000n },
    { script: scripts[1]!, value: 50_000n },
  ]);
  const back = bitcoin.Psbt.fromBase64(out.text, { network: regtest });
  assert.is(back.extractTransaction().toHex(), hex(out.transaction!), 'bitcoinjs-lib extracts the same transaction from our PSBT');
  assert.is(back.extractTransaction().getId(), hex(Uint8Array.from(txid).reverse()), 'the txid is the one the policy saw (segwit: witnesses do not change it)');
});

test('with a foreign input: ours signed, the PSBT comes back partial; bitcoinjs-lib as the other signer validates all signatures, finalizes and extracts', async () => {
  const psbt = psbtOf(
    [
      { pub: foreignPub, amount: 70_000n },
      { pub: ourPub, amount: 40_000n },
      { pub: tapPub, taproot: true, amount: 30_000n },
    ],
    [pay(foreignPub, 139_000n)],
  );
  const d = decodeSignRequest({ kind: 'btc-psbt', psbt: Uint8Array.from(psbt.toBuffer()) }, account);
  assert.equal(
    (d.request.get('inputs') as Map<string, unknown>[]).map((m) => [m.get('ours'), m.has('path')]),
    [
      [false, false],
      [true, true],
      [true, true],
    ],
  );
  assert.equal(
    d.signatures.map((s) => s.input),
    [1, 2],
  );
  const out = (await d.finish(twin)) as BtcPsbtOutput;
  assert.is(out.complete, false);
  assert.is(out.transaction, undefined);
  assert.equal(
    out.signatures.map((s) => s.input),
    [1, 2],
  );
  const other = bitcoin.Psbt.fromBase64(out.text, { network: regtest });
  assert.is(other.data.inputs[0]!.partialSig, undefined, 'the foreign input is left alone');
  other.signInput(0, { publicKey: foreignPub, sign: (h: Uint8Array) => secp256k1.sign(h, foreignPriv, { prehash: false }) });
  assert.ok(other.validateSignaturesOfAllInputs(validator), 'every signature in the PSBT validates');
  other.finalizeAllInputs();
  const raw = other.extractTransaction().toBuffer();
  verifyWitnesses(raw, [
    { script: p2wpkh(foreignPub).output!, value: 70_000n },
    { script: p2wpkh(ourPub).output!, value: 40_000n },
    { script: p2tr(tapPub).output!, value: 30_000n },
  ]);
});

test('a P2TR key-path input whose output commits to a script tree is ours and signed with the key tweaked by its Merkle root', async () => {
  const leaf = bitcoin.script.compile([foreignPub.subarray(1), bitcoin.opcodes.OP_CHECKSIG]);
  const tree = bitcoin.payments.p2tr({ internalPubkey: tapPub.subarray(1), scriptTree: { output: leaf }, network: regtest });
  const psbt = new bitcoin.Psbt({ network: regtest });
  psbt.addInput({
    hash: TXID(9),
    index: 0,
    witnessUtxo: { script: tree.output!, value: 80_000n },
    tapInternalKey: tapPub.subarray(1),
    tapMerkleRoot: tree.hash!,
  });
  psbt.addOutput({ script: p2wpkh(foreignPub).output!, value: 79_000n });
  const d = decodeSignRequest({ kind: 'btc-psbt', psbt: psbt.toBase64() }, account);
  assert.is(hex(d.signatures[0]!.taprootTweak!), hex(tree.hash!));
  const out = (await d.finish(twin)) as BtcPsbtOutput;
  assert.is(out.complete, true);
  verifyWitnesses(out.transaction!, [{ script: tree.output!, value: 80_000n }]);
});

test('ours is decided by the script: a P2TR input with no tapInternalKey or derivation metadata is still ours and signed', async () => {
  const psbt = new bitcoin.Psbt({ network: regtest });
  psbt.addInput({ hash: TXID(3), index: 0, witnessUtxo: { script: p2tr(tapPub).output!, value: 5_000n } });
  psbt.addOutput({ script: p2wpkh(foreignPub).output!, value: 4_000n });
  const out = (await signRequest({ kind: 'btc-psbt', psbt: psbt.toBase64() }, account, twin)) as BtcPsbtOutput;
  assert.is(out.complete, true);
  verifyWitnesses(out.transaction!, [{ script: p2tr(tapPub).output!, value: 5_000n }]);
});

test('ours is decided by the script: a foreign input whose bip32Derivation claims our key and path is not ours (ERR_NOTHING_TO_SIGN)', async () => {
  const psbt = psbtOf([{ pub: foreignPub, amount: 10_000n }], [pay(foreignPub, 9_000n)]);
  psbt.updateInput(0, { bip32Derivation: [{ masterFingerprint: bytes('73c5da0a'), path: BTC_PATH, pubkey: ourPub }] });
  await refused(
    { kind: 'btc-psbt', psbt: psbt.toBase64() },
    account,
    twin,
    'ERR_NOTHING_TO_SIGN',
    422,
    /none of its 1 input\(s\) spends an unsigned output paying this wallet's keys \(m\/84'\/1'\/0'\/0\/0, /,
  );
});

test('refusals: nothing of ours, unreadable PSBTs, unknown amounts, negative fee, a sighash other than ALL, the wrong chain — each with code, status, message, nothing signed', async () => {
  const good = (o: Partial<InputSpec> = {}) => psbtOf([{ pub: ourPub, amount: 10_000n, ...o }], [pay(foreignPub, 9_000n)]);
  await refused(
    { kind: 'btc-psbt', psbt: psbtOf([{ pub: foreignPub, amount: 10_000n }], [pay(ourPub, 9_000n)]).toBase64() },
    account,
    twin,
    'ERR_NOTHING_TO_SIGN',
    422,
    /none of its 1 input/,
  );
  await refused(
    { kind: 'btc-psbt', psbt: 'not base64!' },
    account,
    twin,
    'ERR_BAD_PSBT',
    400,
    /psbt: expected base64 text \(RFC 4648, padded\), got "not base64!"/,
  );
  await refused(
    { kind: 'btc-psbt', psbt: Buffer.from('hello world').toString('base64') },
    account,
    twin,
    'ERR_BAD_PSBT',
    400,
    /expected the magic bytes 70 73 62 74 ff .*got 68656c6c6f/,
  );
  const b = good().toBuffer();
  await refused(
    { kind: 'btc-psbt', psbt: Uint8Array.from(b.subarray(0, b.length - 7)) },
    account,
    twin,
    'ERR_BAD_PSBT',
    400,
    new RegExp(`expected a valid BIP174 PSBT, got ${b.length - 7} bytes that @scure/btc-signer refuses`),
  );
  await refused({ kind: 'btc-psbt', psbt: 42 }, account, twin, 'ERR_BAD_PSBT', 400, /psbt: expected base64 text or bytes, got number 42/);
  await refused(
    {
      kind: 'btc-psbt',
      psbt: psbtOf(
        [
          { pub: ourPub, amount: 10_000n },
          { pub: foreignPub, amount: 5_000n, utxo: false },
        ],
        [pay(foreignPub, 9_000n)],
      ).toBase64(),
    },
    account,
    twin,
    'ERR_BAD_PSBT',
    400,
    /psbt\.inputs\[1\]: expected a witnessUtxo or nonWitnessUtxo .*got neither: the fee cannot be known/,
  );
  await refused(
    { kind: 'btc-psbt', psbt: psbtOf([{ pub: ourPub, amount: 10_000n }], [pay(foreignPub, 10_001n)]).toBase64() },
    account,
    twin,
    'ERR_BAD_PSBT',
    400,
    /outputs spend 1 satoshi more than the inputs/,
  );
  // Amounts beyond 21 million BTC (found by the fuzz target: a float the policy would misread).
  await refused(
    { kind: 'btc-psbt', psbt: psbtOf([{ pub: ourPub, amount: 2_100_000_000_000_001n }], [pay(foreignPub, 1n)]).toBase64() },
    account,
    twin,
    'ERR_BAD_PSBT',
    400,
    /^psbt\.inputs\[0\]\.amount: expected an amount of 0 to 2100000000000000 satoshi \(21 million BTC\), got 2100000000000001$/,
  );
  await refused(
    {
      kind: 'btc-psbt',
      psbt: psbtOf(
        [
          { pub: ourPub, amount: 2_000_000_000_000_000n },
          { pub: ourPub, amount: 2_000_000_000_000_000n },
        ],
        [pay(foreignPub, 1n)],
      ).toBase64(),
    },
    account,
    twin,
    'ERR_BAD_PSBT',
    400,
    /^psbt: the inputs' total: expected an amount of 0 to 2100000000000000 satoshi .*got 4000000000000000$/,
  );
  await refused(
    { kind: 'btc-psbt', psbt: psbtOf([{ pub: ourPub, amount: 10_000n }], [pay(foreignPub, 9_223_372_036_854_775_807n)]).toBase64() },
    account,
    twin,
    'ERR_BAD_PSBT',
    400,
    /^psbt\.outputs\[0\]\.amount: expected an amount of 0 to 2100000000000000 satoshi/,
  );
  await refused(
    { kind: 'btc-psbt', psbt: good({ sighashType: 2 }).toBase64() },
    account,
    twin,
    'ERR_UNSUPPORTED_TRANSACTION',
    422,
    /psbt\.inputs\[0\]\.sighashType: expected ALL on an input this guardian signs, got 0x2/,
  );
  await refused(
    { kind: 'btc-psbt', psbt: psbtOf([{ pub: tapPub, taproot: true, amount: 10_000n, sighashType: 0x83 }], [pay(foreignPub, 9_000n)]).toBase64() },
    account,
    twin,
    'ERR_UNSUPPORTED_TRANSACTION',
    422,
    /expected ALL or DEFAULT on an input this guardian signs, got 0x83/,
  );
  await refused(
    { kind: 'btc-psbt', psbt: good().toBase64() },
    await ethAccount(twin),
    twin,
    'ERR_WRONG_CHAIN',
    422,
    /kind: btc-psbt signs for bitcoin, but hot m\/44'\/60'\/0'\/0\/0 is a ethereum account/,
  );
  await refused(
    { kind: 'eth-message', message: 'hi' },
    account,
    twin,
    'ERR_WRONG_CHAIN',
    422,
    /kind: eth-message signs for ethereum, but hot m\/84'\/1'\/0'\/0\/0 is a bitcoin account/,
  );
  await refused({ kind: 'btc-psbt' }, account, twin, 'ERR_BAD_SIGN_REQUEST', 400, /psbt: required for kind btc-psbt, absent/);
  const lying = new bitcoin.Psbt({ network: regtest });
  lying.addInput({ hash: TXID(1), index: 0, witnessUtxo: { script: p2tr(tapPub).output!, value: 5_000n }, tapInternalKey: foreignPub.subarray(1) });
  lying.addOutput({ script: p2wpkh(foreignPub).output!, value: 4_000n });
  await refused(
    { kind: 'btc-psbt', psbt: lying.toBase64() },
    account,
    twin,
    'ERR_BAD_PSBT',
    400,
    /psbt\.inputs\[0\]\.tapInternalKey: the output pays m\/86'\/1'\/0'\/0\/0's key, but the PSBT names internal key 4f355bdc/,
  );
});

test('a Taproot input for a custodian without Schnorr: ERR_UNSUPPORTED_BY_MODEL before anything is signed (not even the P2WPKH input)', async () => {
  const noSchnorr = WalletTwin.fromMnemonic(undefined, { schnorr: false });
  const psbt = psbtOf(
    [
      { pub: ourPub, amount: 10_000n },
      { pub: tapPub, taproot: true, amount: 10_000n },
    ],
    [pay(foreignPub, 19_000n)],
  );
  await refused(
    { kind: 'btc-psbt', psbt: psbt.toBase64() },
    account,
    noSchnorr,
    'ERR_UNSUPPORTED_BY_MODEL',
    422,
    /input\(s\) 1 are Taproot key-path spends, which need BIP340 Schnorr signatures; this custodian signs only ECDSA/,
  );
  assert.is(noSchnorr.calls, 0);
  // Without a Taproot input the same custodian signs.
  const only = psbtOf([{ pub: ourPub, amount: 10_000n }], [pay(foreignPub, 9_000n)]);
  const out = (await signRequest({ kind: 'btc-psbt', psbt: only.toBase64() }, account, noSchnorr)) as BtcPsbtOutput;
  assert.is(out.complete, true);
  assert.is(noSchnorr.calls, 1);
});

test('a custodian whose Schnorr or ECDSA signature does not verify: ERR_SIGNER_FAULT (500), no PSBT returned', async () => {
  const tap = psbtOf([{ pub: tapPub, taproot: true, amount: 10_000n }], [pay(foreignPub, 9_000n)]).toBase64();
  let e: unknown;
  try {
    await signRequest({ kind: 'btc-psbt', psbt: tap }, account, new FaultySigner(twin, 'bad-schnorr'));
  } catch (x) {
    e = x;
  }
  expectError(
    e,
    'WalletRequestError',
    'ERR_SIGNER_FAULT',
    /the Schnorr signature for m\/86'\/1'\/0'\/0\/0 \(input 0\) does not verify under the input's tweaked output key/,
  );
  assert.is(statusOf((e as { code: string }).code), 500, 'HTTP status (agent/daemon/statusByCode.ts)');
  const wpkh = psbtOf([{ pub: ourPub, amount: 10_000n }], [pay(foreignPub, 9_000n)]).toBase64();
  e = undefined;
  try {
    await signRequest({ kind: 'btc-psbt', psbt: wpkh }, account, new FaultySigner(twin, 'bad-recovery'));
  } catch (x) {
    e = x;
  }
  expectError(e, 'WalletRequestError', 'ERR_SIGNER_FAULT', /does not recover to the account's public key/);
});

/** `key: value` lines of a vector file (a key may repeat). */
function vectorLines(path: string): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line) continue;
    const at = line.indexOf(': ');
    assert.ok(at > 0, `${path}: bad line ${line.slice(0, 40)}`);
    const k = line.slice(0, at);
    m.set(k, [...(m.get(k) ?? []), line.slice(at + 2)]);
  }
  for (const k of ['expect', 'comment', 'source']) assert.ok(m.has(k), `${path}: has ${k}`);
  return m;
}

test('BIP174 published vectors through our decoding path: 20 invalid PSBTs are ERR_BAD_PSBT, the valid ones decode (nothing of ours in them)', async () => {
  const dir = `${VECTORS}bip174/`;
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.bip174-vector'))
    .sort();
  assert.is(files.length, 34);
  const counts = { invalid: 0, valid: 0 };
  const before = twin.calls;
  for (const f of files) {
    const v = vectorLines(dir + f);
    const expect = v.get('expect')![0]!;
    const psbt = Buffer.from(v.get('psbt-hex')![0]!, 'hex').toString('base64');
    let err: unknown;
    try {
      await signRequest({ kind: 'btc-psbt', psbt }, account, twin);
    } catch (e) {
      err = e;
    }
    assert.ok(err !== undefined, `${f}: no vector is signed for the test account`);
    assert.is(`error ${(err as { code?: string }).code}`, expect, `${f}: ${v.get('comment')![0]}`);
    if (f.startsWith('invalid-')) counts.invalid++;
    if (f.startsWith('valid-')) counts.valid++;
  }
  assert.equal(counts, { invalid: 20, valid: 10 });
  assert.is(twin.calls, before, 'no vector made the twin sign');
});

test('BIP341 key-path signing vectors through our decoding path: sighash and witness equal the published ones for ALL/DEFAULT; other hash types refused', async () => {
  const dir = `${VECTORS}bip341/`;
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.bip341-vector'))
    .sort();
  assert.is(files.length, 7);
  let signed = 0;
  for (const f of files) {
    const v = vectorLines(dir + f);
    const one = (k: string) => v.get(k)![0]!;
    const tx = btc.Transaction.fromRaw(bytes(one('raw-unsigned-tx')), { allowUnknownOutputs: true, allowUnknownInputs: true, disableScriptCheck: true });
    v.get('utxo')!.forEach((u, i) => {
      const [script, amount] = u.split(' ');
      tx.updateInput(i, { witnessUtxo: { script: bytes(script!), amount: BigInt(amount!) } }, true);
    });
    const i = Number(one('txin-index'));
    const hashType = Number(one('hash-type'));
    const root = one('merkle-root');
    tx.updateInput(
      i,
      {
        ...(hashType === 0 ? {} : { sighashType: hashType }),
        ...(root === 'none' ? {} : { tapMerkleRoot: bytes(root) }),
        tapInternalKey: bytes(one('internal-pubkey')),
      },
      true,
    );
    const priv = bytes(one('internal-privkey'));
    const path = `m/86'/0'/0'/0/${i}`;
    const acct: BitcoinAccount = { chain: 'bitcoin', wallet: 'vectors', path, publicKey: secp256k1.getPublicKey(priv, true), network: 'mainnet' };
    const signer = WalletTwin.fromKeys({ [path]: priv });
    const input = { kind: 'btc-psbt', psbt: tx.toPSBT() };
    const expect = one('expect');
    if (expect === 'success') {
      const d = decodeSignRequest(input, acct);
      assert.is(hex(d.signatures[0]!.digest), one('sighash'), `${f}: sighash`);
      const out = (await d.finish(signer)) as BtcPsbtOutput;
      assert.is(hex(out.signatures[0]!.signature), one('witness'), `${f}: witness (BIP340 with all-zero aux randomness)`);
      signed++;
    } else {
      const e = await refused(
        input,
        acct,
        signer,
        expect.replace('error ', ''),
        422,
        new RegExp(`psbt\\.inputs\\[${i}\\]\\.sighashType: expected ALL or DEFAULT`),
      );
      assert.ok(e);
    }
  }
  assert.is(signed, 2, 'inputs 3 (ALL) and 4 (DEFAULT) are signed');
});

test.run();
