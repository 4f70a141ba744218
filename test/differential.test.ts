/**
 * Differential test: an independent reader written from SPEC.md alone with pure-JS primitives
 * (@noble/ciphers AES-GCM, @noble/hashes HKDF/SHA-256, @noble/curves X25519, a plain cborg decode)
 * must produce the same plaintext as the library (node:crypto / OpenSSL) for every positive vector.
 * It shares no code with agent/ beyond reading the vector files.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gcm } from '@noble/ciphers/aes.js';
import { x25519 } from '@noble/curves/ed25519.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bech32 } from '@scure/base';
import { decode } from 'cborg';
import { openWithKey } from '../agent/capsule/open.ts';
import { parseIdentityFile } from '../agent/crypto/identity.ts';
import { DATA_DIR, EXTENSION } from './vectors/generate.ts';
import { parseVector } from './vectors/vectorFile.ts';

const te = new TextEncoder();

/** SPEC.md §3–§6, as literally as possible. Returns undefined if no stanza opens. */
function specReader(capsule: Uint8Array, identityLines: string[]): Uint8Array | undefined {
  const dv = new DataView(capsule.buffer, capsule.byteOffset);
  const headerLength = dv.getUint32(12);
  const head = capsule.subarray(0, 16 + headerLength);
  const header = decode(capsule.subarray(16, 16 + headerLength), { useMaps: true }) as Map<number, any>;
  const id: Uint8Array = header.get(2);
  const payload: Map<number, any> = header.get(6);
  const size: number = payload.get(1);
  let fileKey: Uint8Array | undefined;
  for (const line of identityLines) {
    const s = new Uint8Array(bech32.fromWords(bech32.decode(line as `${string}1${string}`).words));
    const R = x25519.getPublicKey(s);
    for (const [type, body] of header.get(7) as [string, Uint8Array][]) {
      if (type !== 'x25519' || fileKey) continue;
      const E = body.subarray(0, 32);
      const S = x25519.getSharedSecret(s, E);
      const salt = new Uint8Array([...E, ...R]);
      const wrapKey = hkdf(sha256, S, salt, te.encode('capsule/v1 x25519'), 32);
      try {
        fileKey = gcm(wrapKey, new Uint8Array(12), id).decrypt(body.subarray(32, 80));
      } catch { /* another recipient's stanza */ }
    }
  }
  if (!fileKey) return undefined;
  const payloadKey = hkdf(sha256, fileKey, id, te.encode('capsule/v1 payload'), 32);
  const aad = sha256(head);
  const n = Math.max(1, Math.ceil(size / 65536));
  const out = new Uint8Array(size);
  let pos = 16 + headerLength;
  for (let i = 0; i < n; i++) {
    const plainLen = i < n - 1 ? 65536 : size - (n - 1) * 65536;
    const nonce = new Uint8Array(12);
    new DataView(nonce.buffer).setUint32(7, i);
    nonce[11] = i === n - 1 ? 1 : 0;
    const plain = gcm(payloadKey, nonce, aad).decrypt(capsule.subarray(pos, pos + plainLen + 16));
    out.set(plain, i * 65536);
    pos += plainLen + 16;
  }
  assert.is(pos, capsule.length, 'no trailing data');
  const digestInput = payload.get(4) === 2
    ? new Uint8Array([...hkdf(sha256, fileKey, id, te.encode('capsule/v1 payload commitment'), 32), ...out])
    : out;
  assert.equal(sha256(digestInput), payload.get(5), 'payload digest per spec');
  return out;
}

const positives = readdirSync(DATA_DIR).filter((f) => f.endsWith(EXTENSION))
  .map((f) => parseVector(f, readFileSync(join(DATA_DIR, f))))
  .filter((v) => v.expect === 'success');

test('there are positive vectors to compare', () => {
  assert.ok(positives.length >= 10);
});

for (const v of positives) {
  test(`noble reader agrees with node:crypto on ${v.name}`, async () => {
    const independent = specReader(v.bytes, v.identities);
    assert.ok(independent, 'spec reader found the key');
    const parts: Buffer[] = [];
    for await (const c of openWithKey(v.bytes, parseIdentityFile(v.identities.join('\n')))) parts.push(c as Buffer);
    assert.ok(Buffer.concat(parts).equals(Buffer.from(independent!)), 'same plaintext');
  });
}

test('noble reader rejects a flipped chunk exactly as the library does', async () => {
  const v = positives.find((x) => x.name.startsWith('three-chunks'))!;
  const bad = Uint8Array.from(v.bytes);
  bad[bad.length - 70000]! ^= 1;
  assert.throws(() => specReader(bad, v.identities), /invalid|tag/i);
});

test.run();
