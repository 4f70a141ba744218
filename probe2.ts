import { startSwtpm } from './test/helpers/swtpm.ts';
import { Tpm2 } from './agent/keys/tpm2/Tpm2.ts';
import { rsaDecryptTemplate, sensitiveCreate, publicUnique } from './agent/keys/tpm2/tpmWire.ts';
import { createPublicKey, publicEncrypt, constants, randomBytes } from 'node:crypto';
const t = await startSwtpm();
try {
  const tpm = await Tpm2.open(t.tcti);
  const auth = new Uint8Array(32).fill(7);
  const rsa = await tpm.create(rsaDecryptTemplate(), sensitiveCreate(auth));
  const n = publicUnique(rsa.public).rsaModulus!;
  const key = createPublicKey({ key: { kty: 'RSA', n: Buffer.from(n).toString('base64url'), e: 'AQAB' }, format: 'jwk' });
  const label = Buffer.from('capsule/v1 tpm2-rsa 00112233445566778899aabbccddeeff\0');
  const enc = (l: Buffer) => publicEncrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256', oaepLabel: l }, Buffer.alloc(32, 9));
  const cases: [string, Buffer, Buffer][] = [
    ['ok', enc(label), label],
    ['random ct', randomBytes(256), label],
    ['label differs', enc(label), Buffer.from('capsule/v1 tpm2-rsa 00112233445566778899aabbccddeefe\0')],
    ['ok again', enc(label), label],
  ];
  for (const [name, ct, l] of cases) {
    try { const r = await tpm.withLoaded(rsa, auth, (h) => tpm.rsaDecrypt(h, ct, l)); console.log(name, r && Buffer.from(r).toString('hex').slice(0, 8)); }
    catch (e) { console.log(name, 'ERR', (e as Error).message); }
  }
} finally { await t.stop(); }
