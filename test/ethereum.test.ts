/**
 * EIP-191 personal_sign verification (agent/sandbox/ethereum.ts) against web3.js's documented
 * example (an independent implementation), plus fresh noble signatures and the refusals: wrong
 * address, tampered message, high-S, bad v.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { addressOf, personalMessageDigest, verifyPersonalSign } from '../agent/sandbox/ethereum.ts';

const hex = (h: string) => Uint8Array.from(Buffer.from(h.replace(/^0x/, ''), 'hex'));
const te = new TextEncoder();

// web3.eth.accounts.sign('Some data', '0x4c08…2318') as documented by web3.js.
const WEB3 = {
  key: hex('4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318'),
  message: te.encode('Some data'),
  digest: '1da44b586eb0729ff70a73c326926f6ed5a25f5b056e7f47fbc6e58d86871655',
  signature: hex('b91467e570a6466aa9e9876cbcd013baba02900b8979d43fe208a4a4f339f5fd6007e74cd82e037b800186422fc2da167c747ef045e5d18a5f5d4300f8e1a0291c'),
  address: hex('2c7536E3605D9C16a7a3D7b1898e529396a65c23'),
};

test('web3.js documented example: digest, address and signature agree', () => {
  assert.is(Buffer.from(personalMessageDigest(WEB3.message)).toString('hex'), WEB3.digest);
  assert.equal(addressOf(secp256k1.getPublicKey(WEB3.key, false)), WEB3.address);
  assert.ok(verifyPersonalSign(WEB3.message, WEB3.signature, WEB3.address));
});

test('refusals: other address, other message, high-S, bad v, bad lengths', () => {
  const other = Uint8Array.from(WEB3.address);
  other[0]! ^= 1;
  assert.not.ok(verifyPersonalSign(WEB3.message, WEB3.signature, other));
  assert.not.ok(verifyPersonalSign(te.encode('Some datA'), WEB3.signature, WEB3.address));
  const n = secp256k1.Point.CURVE().n;
  const s = BigInt('0x' + Buffer.from(WEB3.signature.subarray(32, 64)).toString('hex'));
  const highS = Uint8Array.from(WEB3.signature);
  highS.set(hex((n - s).toString(16).padStart(64, '0')), 32);
  highS[64] = highS[64] === 27 ? 28 : 27;
  assert.not.ok(verifyPersonalSign(WEB3.message, highS, WEB3.address), 'malleable high-S form refused');
  const badV = Uint8Array.from(WEB3.signature);
  badV[64] = 29;
  assert.not.ok(verifyPersonalSign(WEB3.message, badV, WEB3.address));
  assert.not.ok(verifyPersonalSign(WEB3.message, WEB3.signature.subarray(0, 64), WEB3.address));
});

test('fresh signatures from noble verify with v in either convention', () => {
  const key = secp256k1.utils.randomSecretKey();
  const address = addressOf(secp256k1.getPublicKey(key, false));
  const msg = te.encode('capsule-approval:v1:00:age1xyz');
  const rec = secp256k1.sign(personalMessageDigest(msg), key, { prehash: false, format: 'recovered' });
  // noble's recovered format is v ‖ r ‖ s; Ethereum's is r ‖ s ‖ v.
  const eth = new Uint8Array(65);
  eth.set(rec.subarray(1), 0);
  eth[64] = rec[0]! + 27;
  assert.ok(verifyPersonalSign(msg, eth, address));
  eth[64] = rec[0]!;
  assert.ok(verifyPersonalSign(msg, eth, address));
});

test.run();
