/**
 * Unit tests for agent/crypto: STREAM single-use and sticky failure, nonce layout, x25519 stanza,
 * age identity/recipient parsing (errors never echo a secret), owner key derivation.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createDecipheriv } from 'node:crypto';
import {
  encodeIdentity,
  encodeRecipient,
  formatIdentityFile,
  generateIdentity,
  identityFromSecret,
  ownerPublicKey,
  parseIdentityFile,
  parseRecipient,
  signWithOwner,
  verifyOwnerSignature,
} from '../agent/crypto/identity.ts';
import { StreamOpener, StreamSealer } from '../agent/crypto/StreamCipher.ts';
import { checkX25519Stanza, unwrapX25519, wrapX25519 } from '../agent/crypto/x25519Stanza.ts';
import { constantTimeEqual } from '../agent/crypto/secrets.ts';
import { throwsError } from './helpers/assertError.ts';

const key = new Uint8Array(32).fill(7);
const aad = new Uint8Array(32).fill(8);

test('STREAM: nonce is 11-byte big-endian counter then the last flag', () => {
  const s = new StreamSealer(key, aad);
  const chunks = [s.sealChunk(new Uint8Array(65536), false), s.sealChunk(new Uint8Array(65536), false), s.sealChunk(Uint8Array.of(1, 2), true)];
  chunks.forEach((c, i) => {
    const nonce = Buffer.alloc(12);
    nonce.writeUInt32BE(i, 7);
    nonce[11] = i === 2 ? 1 : 0;
    const d = createDecipheriv('aes-256-gcm', key, nonce);
    d.setAAD(aad);
    d.setAuthTag(c.subarray(c.length - 16));
    d.update(c.subarray(0, c.length - 16));
    d.final(); // throws if our nonce layout differs from the spec's
  });
});

test('STREAM sealer: chunk size rules and single use', () => {
  const s = new StreamSealer(key, aad);
  throwsError(() => s.sealChunk(new Uint8Array(10), false), 'RangeError', undefined, /non-final chunk must be 65536 bytes, got 10/);
  throwsError(() => s.sealChunk(new Uint8Array(65537), true), 'RangeError', undefined, /at most 65536 bytes, got 65537/);
  s.sealChunk(new Uint8Array(65536), false);
  throwsError(() => s.sealChunk(new Uint8Array(0), true), 'RangeError', undefined, /may be empty only when the whole payload is empty/);
  s.sealChunk(new Uint8Array(1), true);
  assert.ok(s.finished);
  throwsError(() => s.sealChunk(new Uint8Array(1), true), 'Error', undefined, /already finished \(single-use object\)/);
  throwsError(() => new StreamSealer(new Uint8Array(16), aad), 'TypeError', undefined, /payloadKey: expected a 32-byte Uint8Array, got 16 bytes/);
  throwsError(() => new StreamSealer(key, new Uint8Array(31)), 'TypeError', undefined, /aad: expected the 32-byte header hash, got 31 bytes/);
});

test('STREAM opener: failure is sticky and releases nothing', () => {
  const s = new StreamSealer(key, aad);
  const c0 = s.sealChunk(new Uint8Array(65536).fill(5), false);
  const c1 = s.sealChunk(Uint8Array.of(9), true);
  const o = new StreamOpener(key, aad);
  const bad = Buffer.from(c0);
  bad[3]! ^= 1;
  throwsError(() => o.openChunk(bad, false), 'CapsuleFormatError', 'ERR_CHUNK_AUTH', /payload chunk 0: authentication failed/);
  throwsError(() => o.openChunk(c0, false), 'CapsuleFormatError', 'ERR_CHUNK_AUTH', /payload chunk 0/); // same error again
  const fresh = new StreamOpener(key, aad);
  assert.is(fresh.openChunk(c0, false)[0], 5);
  assert.is(fresh.openChunk(c1, true)[0], 9);
  throwsError(() => fresh.openChunk(c1, true), 'Error', undefined, /single-use/);
});

test('x25519 stanza: wraps to the recipient only, bound to the capsule id', () => {
  const g = generateIdentity();
  const other = generateIdentity();
  const fileKey = new Uint8Array(32).fill(0x33);
  const id = new Uint8Array(16).fill(1);
  const s = wrapX25519(fileKey, g.publicKey, id);
  assert.is(s.type, 'x25519');
  assert.is(s.body.length, 80);
  assert.equal(unwrapX25519(s, 0, g, id), fileKey);
  assert.is(unwrapX25519(s, 0, other, id), undefined);
  assert.is(unwrapX25519(s, 0, g, new Uint8Array(16)), undefined, 'another capsule id does not open it');
  throwsError(
    () => checkX25519Stanza({ type: 'x25519', body: new Uint8Array(81) }, 3),
    'CapsuleFormatError',
    'ERR_BAD_STANZA',
    /stanzas\[3\] \(x25519\): body must be 80 bytes, got 81/,
  );
  const lowOrder = { type: 'x25519', body: new Uint8Array(80) };
  throwsError(() => checkX25519Stanza(lowOrder, 0), 'CapsuleFormatError', 'ERR_BAD_STANZA', /low-order point/);
  throwsError(() => wrapX25519(fileKey, new Uint8Array(32), id), 'TypeError', undefined, /low-order/);
  throwsError(() => wrapX25519(new Uint8Array(16), g.publicKey, id), 'TypeError', undefined, /fileKey: expected 32 bytes, got 16/);
});

test('recipients: age1 round trip and precise errors', () => {
  const g = generateIdentity();
  assert.equal(parseRecipient(g.recipient), g.publicKey);
  assert.match(g.recipient, /^age1[0-9a-z]{58}$/);
  throwsError(() => parseRecipient('age1nope'), 'KeyError', 'ERR_BAD_RECIPIENT', /expected an age X25519 recipient \(age1…\), got "age1nope"/);
  throwsError(() => parseRecipient(g.recipient.toUpperCase()), 'KeyError', 'ERR_BAD_RECIPIENT', /expected lowercase \(age1…\), got uppercase/);
  throwsError(() => parseRecipient(encodeIdentity(g.secretKey).toLowerCase()), 'KeyError', 'ERR_BAD_RECIPIENT', /got "age-secret-key-1"/);
  throwsError(
    () => parseRecipient('age1qurswpc8qurswpc8qurswpc8qurswpc8qurswpc8qurswpc8qur3czx78h'),
    'KeyError',
    'ERR_BAD_RECIPIENT',
    /expected an age X25519 recipient/,
  );
  throwsError(() => parseRecipient(encodeRecipient(new Uint8Array(32))), 'KeyError', 'ERR_BAD_RECIPIENT', /low-order X25519 point/);
  let msg = '';
  try {
    parseRecipient(encodeIdentity(g.secretKey) + 'x');
  } catch (e) {
    msg = (e as Error).message;
  }
  assert.match(msg, /a secret identity/);
  assert.not.ok(msg.includes(encodeIdentity(g.secretKey).slice(15, 30)), 'a pasted secret key is never echoed');
});

test('identity files: age format, comments, errors never echo the secret', () => {
  const g = identityFromSecret(new Uint8Array(32).fill(0x11));
  const text = formatIdentityFile(g, new Date('2026-01-02T03:04:05.678Z'));
  assert.match(text, /^# created: 2026-01-02T03:04:05Z\n# public key: age1[0-9a-z]+\nAGE-SECRET-KEY-1[0-9A-Z]+\n$/);
  const [back] = parseIdentityFile(text);
  assert.equal(back!.publicKey, g.publicKey);
  const secretLine = encodeIdentity(g.secretKey);
  const broken = secretLine.slice(0, -1) + (secretLine.endsWith('Q') ? 'P' : 'Q');
  let msg = '';
  try {
    parseIdentityFile(`# c\n${broken}\n`, 'k.txt');
  } catch (e) {
    msg = (e as Error).message;
    assert.is((e as { code: string }).code, 'ERR_BAD_IDENTITY');
  }
  assert.match(msg, /^k\.txt: line 2 is not an age identity/);
  assert.not.ok(msg.includes(broken.slice(16, 40)), 'message does not quote the key');
  throwsError(() => parseIdentityFile('# only comments\n\n', 'k.txt'), 'KeyError', 'ERR_NO_IDENTITY', /k\.txt: no identity found/);
  throwsError(() => parseIdentityFile(secretLine.toLowerCase(), 'k.txt'), 'KeyError', 'ERR_BAD_IDENTITY', /uppercase prefix/);
  assert.is(parseIdentityFile(`${secretLine}\r\n${encodeIdentity(new Uint8Array(32).fill(2))}\r\n`).length, 2, 'CRLF and several keys');
});

test('owner key: derived deterministically, signs and verifies strictly', () => {
  const g = identityFromSecret(new Uint8Array(32).fill(0x11));
  const again = identityFromSecret(new Uint8Array(32).fill(0x11));
  assert.equal(ownerPublicKey(g), ownerPublicKey(again));
  assert.not.equal(ownerPublicKey(g), ownerPublicKey(generateIdentity()));
  const msg = new TextEncoder().encode('hello');
  const sig = signWithOwner(g, msg);
  assert.ok(verifyOwnerSignature(sig, msg, ownerPublicKey(g)));
  assert.not.ok(verifyOwnerSignature(sig, new TextEncoder().encode('hellp'), ownerPublicKey(g)));
  assert.not.ok(verifyOwnerSignature(sig.subarray(0, 63), msg, ownerPublicKey(g)));
  g.dispose();
  assert.ok(
    g.secretKey.every((b) => b === 0),
    'dispose wipes the secret',
  );
});

test('constant-time equality', () => {
  assert.ok(constantTimeEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 2)));
  assert.not.ok(constantTimeEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 3)));
  assert.not.ok(constantTimeEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 2, 3)));
});

test.run();
