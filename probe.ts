import { startSwtpm } from './test/helpers/swtpm.ts';
import { Tpm2 } from './agent/keys/tpm2/Tpm2.ts';
import { rsaDecryptTemplate, p256SignTemplate, sealTemplate, sensitiveCreate, publicUnique } from './agent/keys/tpm2/tpmWire.ts';
import { createPublicKey, publicEncrypt, constants, createHash } from 'node:crypto';
import { p256 } from '@noble/curves/nist.js';
const t = await startSwtpm();
try {
  const tpm = await Tpm2.open(t.tcti);
  console.log(tpm.info);
  let t0 = performance.now();
  const srk = await tpm.srk(); console.log('srk ms', performance.now() - t0, srk.handle.toString(16));
  const auth = new Uint8Array(32).fill(7);
  t0 = performance.now();
  const rsa = await tpm.create(rsaDecryptTemplate(), sensitiveCreate(auth)); console.log('rsa create ms', performance.now() - t0);
  const n = publicUnique(rsa.public).rsaModulus!;
  const key = createPublicKey({ key: { kty: 'RSA', n: Buffer.from(n).toString('base64url'), e: 'AQAB' }, format: 'jwk' });
  const label = Buffer.concat([Buffer.from('capsule/v1 tpm2-rsa 00112233445566778899aabbccddeeff'), Buffer.from([0])]);
  const ct = publicEncrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256', oaepLabel: label }, Buffer.alloc(32, 9));
  t0 = performance.now();
  const pt = await tpm.withLoaded(rsa, auth, (h) => tpm.rsaDecrypt(h, ct, label)); console.log('decrypt', Buffer.from(pt!).toString('hex'), performance.now() - t0);
  const bad = await tpm.withLoaded(rsa, auth, (h) => tpm.rsaDecrypt(h, ct, Buffer.from('x\0'))); console.log('bad label', bad);
  const ec = await tpm.create(p256SignTemplate(), sensitiveCreate(auth));
  const pub = publicUnique(ec.public).ecc!;
  const d = createHash('sha256').update('hi').digest();
  const sig = await tpm.withLoaded(ec, auth, (h) => tpm.sign(h, d));
  console.log('sig ok', p256.verify(sig, d, Uint8Array.from([4, ...pub]), { prehash: false, lowS: false }));
  const policy = await tpm.policyDigest([7]); console.log('policy', Buffer.from(policy).toString('hex'));
  const sealed = await tpm.create(sealTemplate(policy), sensitiveCreate(auth, new Uint8Array(64).fill(5)));
  const un = await tpm.withLoaded(sealed, auth, (h) => tpm.unseal(h, [7])); console.log('unseal', un.length, un[0]);
  try { await tpm.withLoaded(sealed, new Uint8Array(32), (h) => tpm.unseal(h, [7])); } catch (e) { console.log('wrong auth', (e as any).code, (e as Error).message); }
  t.tools('tpm2_pcrextend', ['7:sha256=' + '11'.repeat(32)]);
  try { await tpm.withLoaded(sealed, auth, (h) => tpm.unseal(h, [7])); } catch (e) { console.log('pcr', (e as any).code, (e as Error).message); }
  console.log('transient', await tpm.transientObjects(), 'lockout', await tpm.lockoutCounter(), 'freed', tpm.freed);
  await tpm.close();
} finally { await t.stop(); }
