/**
 * The `tpm2-rsa` stanza (SPEC.md §5.4) and its recipient string `capsule-tpm1…` (§8.1): the label
 * byte for byte (hex(id) ‖ 00, 33 bytes, no prefix), wrap/unwrap round trips with node:crypto RSA
 * keys, every way a stanza is not for a key (another id, another key, 31 bytes, ciphertext ≥
 * modulus, the old prefixed label, …), the offline length check, argument validation,
 * parseAnyRecipient/wrapTo and a whole seal → verify → open, and finally a real TPM (swtpm) opening
 * what wrapTpm2Rsa made, through tpm2-tools as the independent peer, and refusing a label longer
 * than its TPM2B_DATA limit (the reason the label has no prefix).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { constants, generateKeyPairSync, privateDecrypt, publicEncrypt, randomBytes, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bech32 } from '@scure/base';
import { seal } from '../agent/capsule/seal.ts';
import { verify } from '../agent/capsule/verify.ts';
import { openWithKey } from '../agent/capsule/open.ts';
import { parseAnyRecipient, wrapTo } from '../agent/crypto/recipients.ts';
import {
  checkTpm2RsaStanza,
  rsa2048PublicKey,
  TPM2_RSA_LABEL_SIZE,
  tpm2RsaLabel,
  unwrapTpm2Rsa,
  wrapTpm2Rsa,
  type Tpm2RsaDecrypt,
} from '../agent/crypto/tpm2RsaStanza.ts';
import { encodeTpmRecipient, isRsa2048Modulus, parseTpmRecipient, TPM_RECIPIENT_HRP } from '../agent/crypto/tpmRecipient.ts';
import { STANZA_TPM2_RSA, TPM2_RSA_STANZA_BODY_SIZE } from '../agent/format/constants.ts';
import type { Stanza } from '../agent/format/header.ts';
import { rejectsError, throwsError } from './helpers/assertError.ts';
import { startSwtpm } from './helpers/swtpm.ts';
import { rsaDecryptor, vectorKey } from './vectors/vectorKey.ts';

interface Pair {
  privateKey: KeyObject;
  modulus: Uint8Array;
}

function rsaPair(): Pair {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 65537 });
  return { privateKey, modulus: new Uint8Array(Buffer.from(publicKey.export({ format: 'jwk' }).n!, 'base64url')) };
}

const T = rsaPair();
const U = rsaPair();
const ID = Uint8Array.from({ length: 16 }, (_, i) => i);
const OTHER_ID = new Uint8Array(16).fill(0xab);
const FILE_KEY = new Uint8Array(32).fill(0x5a);

/** The label from SPEC.md §5.4's words, built here, not with the code under test: hex(id) ‖ 00. */
function specLabel(id: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(Buffer.from(id).toString('hex'), 'ascii'), Buffer.of(0)]);
}

/** The 53-byte label of an earlier draft of §5.4, too long for a SHA-256-only TPM: it must not open a stanza. */
function draftLabel(id: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from('capsule/v1 tpm2-rsa ' + Buffer.from(id).toString('hex'), 'ascii'), Buffer.of(0)]);
}

/** RSAES-OAEP-SHA256 by node:crypto directly, with any label and message (for stanzas wrapTpm2Rsa refuses to make). */
function oaep(modulus: Uint8Array, message: Uint8Array, label: Uint8Array): Stanza {
  return {
    type: STANZA_TPM2_RSA,
    body: new Uint8Array(
      publicEncrypt({ key: rsa2048PublicKey(modulus), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256', oaepLabel: label }, message),
    ),
  };
}

test('label: lowercase hex id ‖ 00, 33 bytes, no prefix (fits the 34-byte TPM2B_DATA of a SHA-256-only TPM)', () => {
  assert.is(STANZA_TPM2_RSA, 'tpm2-rsa');
  assert.is(TPM2_RSA_STANZA_BODY_SIZE, 256);
  assert.is(TPM2_RSA_LABEL_SIZE, 33);
  assert.ok(TPM2_RSA_LABEL_SIZE <= 2 + 32, 'at most sizeof(TPMT_HA) of a TPM whose largest digest is SHA-256');
  const label = tpm2RsaLabel(Uint8Array.from([...ID.subarray(0, 10), 0xab, 0xcd, 0xef, 0xff, 0x0a, 0xf0]));
  assert.is(label.length, 33);
  assert.is(Buffer.from(label).toString('hex'), Buffer.from('00010203040506070809abcdefff0af0', 'ascii').toString('hex') + '00');
  assert.equal(Buffer.from(tpm2RsaLabel(ID)), specLabel(ID));
  assert.equal(Buffer.from(tpm2RsaLabel(OTHER_ID)), Buffer.from('abababababababababababababababab\0', 'ascii'));
  assert.not.ok(tpm2RsaLabel(ID) === tpm2RsaLabel(ID), 'a fresh buffer each call');
  throwsError(() => tpm2RsaLabel(new Uint8Array(15)), 'TypeError', undefined, /^capsuleId: expected 16 bytes, got 15 bytes$/);
});

test('wrap → unwrap round trip; the body is RSAES-OAEP-SHA256 under the spec label, as node:crypto reads it directly', async () => {
  const s = wrapTpm2Rsa(FILE_KEY, T.modulus, ID);
  assert.is(s.type, 'tpm2-rsa');
  assert.is(s.body.length, 256);
  // Interop, independent of unwrapTpm2Rsa: OpenSSL with the label built from the spec's words.
  const direct = privateDecrypt({ key: T.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256', oaepLabel: specLabel(ID) }, s.body);
  assert.equal(new Uint8Array(direct), FILE_KEY);
  const seen: { ciphertext?: Uint8Array; label?: Uint8Array } = {};
  const key = await unwrapTpm2Rsa(s, 0, ID, async (ciphertext, label) => {
    seen.ciphertext = ciphertext;
    seen.label = label;
    return rsaDecryptor(T.privateKey)(ciphertext, label);
  });
  assert.equal(key, FILE_KEY);
  assert.equal(Buffer.from(seen.label!), specLabel(ID), 'the callback gets exactly the §5.4 label');
  assert.equal(seen.ciphertext, s.body, 'and the body');
  assert.ok(seen.ciphertext !== s.body, 'as a copy, so the callback cannot alter the header');
  assert.not.equal(wrapTpm2Rsa(FILE_KEY, T.modulus, ID).body, s.body, 'the OAEP seed is random: two wraps differ');
});

test('unwrap wipes the plaintext the callback returned, and returns its own copy', async () => {
  const s = wrapTpm2Rsa(FILE_KEY, T.modulus, ID);
  let returned: Uint8Array | undefined;
  const key = await unwrapTpm2Rsa(s, 0, ID, async (c, l) => (returned = await rsaDecryptor(T.privateKey)(c, l)));
  assert.equal(key, FILE_KEY);
  assert.equal(returned, new Uint8Array(32), 'callback buffer zeroed');
  const short = oaep(T.modulus, FILE_KEY.subarray(0, 31), specLabel(ID));
  assert.is(await unwrapTpm2Rsa(short, 0, ID, async (c, l) => (returned = await rsaDecryptor(T.privateKey)(c, l))), undefined);
  assert.equal(returned, new Uint8Array(31), 'a 31-byte plaintext is wiped too');
});

test('not for this key (undefined, never an error): another id, another key, 31 or 33 bytes, ciphertext ≥ modulus, label mistakes, a flipped bit', async () => {
  const mine = rsaDecryptor(T.privateKey);
  const cases: [string, Stanza, Uint8Array?][] = [
    ['label for another capsule id (stanza moved between headers)', wrapTpm2Rsa(FILE_KEY, T.modulus, OTHER_ID)],
    ['sealed to another key', wrapTpm2Rsa(FILE_KEY, U.modulus, ID)],
    ['decrypts to 31 bytes', oaep(T.modulus, FILE_KEY.subarray(0, 31), specLabel(ID))],
    ['decrypts to 33 bytes', oaep(T.modulus, Buffer.concat([FILE_KEY, Buffer.of(0)]), specLabel(ID))],
    ['decrypts to 0 bytes', oaep(T.modulus, new Uint8Array(0), specLabel(ID))],
    ['ciphertext = modulus', { type: 'tpm2-rsa', body: Uint8Array.from(T.modulus) }],
    ['ciphertext = ff × 256 (above the modulus)', { type: 'tpm2-rsa', body: new Uint8Array(256).fill(0xff) }],
    ['label without its 00', oaep(T.modulus, FILE_KEY, specLabel(ID).subarray(0, -1))],
    ['the 53-byte "capsule/v1 tpm2-rsa " ‖ hex(id) ‖ 00 label of an earlier draft', oaep(T.modulus, FILE_KEY, draftLabel(ID))],
    ['uppercase hex id', oaep(T.modulus, FILE_KEY, Buffer.from(Buffer.from(ID).toString('hex').toUpperCase() + '\0', 'ascii'))],
    ['empty label', oaep(T.modulus, FILE_KEY, new Uint8Array(0))],
    [
      'flipped bit',
      (() => {
        const s = wrapTpm2Rsa(FILE_KEY, T.modulus, ID);
        s.body[17]! ^= 1;
        return s;
      })(),
    ],
  ];
  for (const [what, s] of cases) {
    assert.is(await unwrapTpm2Rsa(s, 0, ID, mine), undefined, what);
  }
  // The same stanza opens under its own id: the id, not the body, was what differed.
  assert.equal(await unwrapTpm2Rsa(cases[0]![1], 0, OTHER_ID, mine), FILE_KEY);
});

test('bad stanza: a body other than 256 bytes, offline and when unwrapping, naming header.stanzas[i]', async () => {
  const good = wrapTpm2Rsa(FILE_KEY, T.modulus, ID);
  checkTpm2RsaStanza(good, 0);
  for (const body of [good.body.subarray(0, 255), Buffer.concat([Buffer.of(0), good.body]), new Uint8Array(0)]) {
    const s = { type: 'tpm2-rsa', body: new Uint8Array(body) };
    const msg = new RegExp(`^header\\.stanzas\\[3\\] \\(tpm2-rsa\\): body must be 256 bytes, got ${body.length}$`);
    throwsError(() => checkTpm2RsaStanza(s, 3), 'CapsuleFormatError', 'ERR_BAD_STANZA', msg);
    let called = false;
    await rejectsError(
      () =>
        unwrapTpm2Rsa(s, 3, ID, async () => {
          called = true;
          return undefined;
        }),
      'CapsuleFormatError',
      'ERR_BAD_STANZA',
      msg,
    );
    assert.not.ok(called, 'the TPM is not asked about a malformed stanza');
  }
});

test('unwrap: a callback that rejects (TPM unusable) propagates unchanged; bad callbacks and ids are refused', async () => {
  const s = wrapTpm2Rsa(FILE_KEY, T.modulus, ID);
  const outage = new Error('TPM not reachable');
  let thrown: unknown;
  try {
    await unwrapTpm2Rsa(s, 0, ID, async () => {
      throw outage;
    });
  } catch (e) {
    thrown = e;
  }
  assert.is(thrown, outage, 'not turned into "not for this key"');
  await rejectsError(
    () => unwrapTpm2Rsa(s, 0, ID, (async () => 'key') as unknown as Tpm2RsaDecrypt),
    'TypeError',
    undefined,
    /^decrypt: expected it to resolve to a Uint8Array or undefined, got string$/,
  );
  await rejectsError(() => unwrapTpm2Rsa(s, 0, ID, undefined as unknown as Tpm2RsaDecrypt), 'TypeError', undefined, /^decrypt: expected a function/);
  await rejectsError(
    () => unwrapTpm2Rsa(s, 0, new Uint8Array(17), rsaDecryptor(T.privateKey)),
    'TypeError',
    undefined,
    /^capsuleId: expected 16 bytes, got 17 bytes$/,
  );
});

test('wrap validates its arguments: file key, modulus shape (256 bytes, top bit, odd), id', () => {
  throwsError(() => wrapTpm2Rsa(new Uint8Array(31), T.modulus, ID), 'TypeError', undefined, /^fileKey: expected 32 bytes, got 31$/);
  throwsError(
    () => wrapTpm2Rsa(FILE_KEY, T.modulus.subarray(1), ID),
    'RangeError',
    undefined,
    /^modulus: expected a 256-byte RSA-2048 modulus \(big-endian, top bit set, odd\), got 255 bytes$/,
  );
  const even = Uint8Array.from(T.modulus);
  even[255]! &= 0xfe;
  throwsError(() => wrapTpm2Rsa(FILE_KEY, even, ID), 'RangeError', undefined, /got 256 bytes that are not one$/);
  const short = Uint8Array.from(T.modulus);
  short[0]! &= 0x7f;
  throwsError(() => wrapTpm2Rsa(FILE_KEY, short, ID), 'RangeError', undefined, /got 256 bytes that are not one$/);
  throwsError(() => wrapTpm2Rsa(FILE_KEY, 'n' as unknown as Uint8Array, ID), 'TypeError', undefined, /^modulus: expected a Uint8Array, got string$/);
  throwsError(() => wrapTpm2Rsa(FILE_KEY, T.modulus, new Uint8Array(8)), 'TypeError', undefined, /^capsuleId: expected 16 bytes, got 8 bytes$/);
});

test('recipient string: capsule-tpm1…, 428 lowercase characters, round trip, surrounding whitespace ignored', () => {
  const r = encodeTpmRecipient(T.modulus);
  assert.ok(r.startsWith(`${TPM_RECIPIENT_HRP}1`));
  assert.is(r.length, 428);
  assert.is(r, r.toLowerCase());
  assert.equal(parseTpmRecipient(r), T.modulus);
  assert.equal(parseTpmRecipient(`  ${r}\n`), T.modulus);
  assert.ok(isRsa2048Modulus(T.modulus));
});

test('recipient string: bad inputs are KeyError ERR_BAD_RECIPIENT with what was expected and what came', () => {
  const r = encodeTpmRecipient(T.modulus);
  const words = (b: Uint8Array, hrp = TPM_RECIPIENT_HRP) => bech32.encode(hrp, bech32.toWords(b), false);
  const bad = (text: string, message: RegExp) => throwsError(() => parseTpmRecipient(text), 'KeyError', 'ERR_BAD_RECIPIENT', message);
  bad(words(T.modulus, 'capsule-ecdh'), /^recipient: expected the prefix "capsule-tpm1", got "capsule-ecdh1"$/);
  const lastChar = r.at(-1) === 'q' ? 'p' : 'q';
  bad(
    r.slice(0, -1) + lastChar,
    /^recipient: expected capsule-tpm1… \(valid Bech32: checksum, one case, 8 data bits per byte\), got "capsule-tpm1[a-z0-9]{12}"… \(428 characters\)$/,
  );
  bad(r.slice(0, 200) + r.slice(201), /^recipient: expected capsule-tpm1… \(valid Bech32/);
  bad(r.slice(0, 20).toUpperCase() + r.slice(20), /^recipient: expected capsule-tpm1… \(valid Bech32/); // mixed case
  bad(r.toUpperCase(), /^recipient: expected lowercase, got uppercase$/);
  bad(words(T.modulus.subarray(1)), /^recipient: expected a 256-byte RSA-2048 modulus \(big-endian, top bit set, odd\), got 255 bytes$/);
  bad(words(Buffer.concat([Buffer.of(0), T.modulus])), /got 257 bytes$/);
  const even = Uint8Array.from(T.modulus);
  even[255]! &= 0xfe;
  bad(words(even), /got 256 bytes that are even \(no RSA modulus is\)$/);
  const small = Uint8Array.from(T.modulus);
  small[0]! &= 0x7f;
  bad(words(small), /got 256 bytes with the top bit clear \(a modulus of fewer than 2048 bits\)$/);
  throwsError(() => parseTpmRecipient(42 as unknown as string), 'TypeError', undefined, /^recipient: expected a string, got number$/);
  throwsError(() => encodeTpmRecipient(even), 'RangeError', undefined, /^modulus: expected a 256-byte RSA-2048 modulus .*, got 256 bytes that are even/);
  throwsError(() => encodeTpmRecipient(T.modulus.subarray(2)), 'RangeError', undefined, /got 254 bytes$/);
});

test('parseAnyRecipient takes capsule-tpm1…; wrapTo makes a stanza the key opens, without drawing from `random`', async () => {
  const r = parseAnyRecipient(` ${encodeTpmRecipient(T.modulus)} `);
  assert.is(r.type, 'tpm2-rsa');
  assert.equal(r.key, T.modulus);
  let draws = 0;
  const s = wrapTo(r, FILE_KEY, ID, (n) => {
    draws++;
    return new Uint8Array(n);
  });
  assert.is(draws, 0, 'random is ignored for tpm2-rsa (node:crypto draws the OAEP seed)');
  assert.is(s.type, 'tpm2-rsa');
  assert.equal(await unwrapTpm2Rsa(s, 0, ID, rsaDecryptor(T.privateKey)), FILE_KEY);
  throwsError(() => parseAnyRecipient('capsule-tpm1qqqq'), 'KeyError', 'ERR_BAD_RECIPIENT', /^recipient: expected capsule-tpm1… \(valid Bech32/);
  throwsError(
    () => parseAnyRecipient('ssh-rsa AAAAB3Nza'),
    'KeyError',
    'ERR_BAD_RECIPIENT',
    /^recipient: expected age1… \(x25519\), capsule-ecdh1… \(p256-ecdh\) or capsule-tpm1… \(tpm2-rsa\), got "ssh-rsa AAAAB3Nza"$/,
  );
});

test('seal to capsule-tpm1… → offline verify passes → opens with the RSA key; with another key: no matching stanza', async () => {
  const plain = randomBytes(70000);
  const parts: Buffer[] = [];
  for await (const c of seal(plain, { recipients: [encodeTpmRecipient(T.modulus)], logic: { hash: new Uint8Array(32).fill(1) } })) parts.push(c as Buffer);
  const bytes = new Uint8Array(Buffer.concat(parts));
  const report = await verify(bytes);
  assert.equal(
    report.parsed.header.stanzas.map((s) => [s.type, s.body.length]),
    [['tpm2-rsa', 256]],
  );
  const as = (k: KeyObject) =>
    vectorKey({
      name: 'sealed',
      expect: '',
      verify: '',
      identities: [],
      p256: [],
      comment: '',
      source: '',
      bytes,
      tpm2Rsa: [k.export({ type: 'pkcs8', format: 'der' }).toString('base64')],
    });
  const out: Buffer[] = [];
  for await (const c of openWithKey(bytes, await as(T.privateKey))) out.push(c as Buffer);
  assert.ok(Buffer.concat(out).equals(plain));
  await rejectsError(
    async () => {
      for await (const _ of openWithKey(bytes, await as(U.privateKey))) {
        /* drain */
      }
    },
    'CapsuleFormatError',
    'ERR_NO_MATCHING_STANZA',
    /^header\.stanzas: none of 1 stanza\(s\) opens/,
  );
});

test("a real TPM (swtpm, via tpm2-tools) opens what wrapTpm2Rsa made, with the key §5.4 describes; another capsule's id does not", async () => {
  const tpm = await startSwtpm();
  const dir = mkdtempSync(join(tmpdir(), 'capsule-tpm2-stanza-'));
  try {
    const f = (name: string) => join(dir, name);
    const flush = () => tpm.tools('tpm2_flushcontext', ['-t']); // no resource manager: free transient slots
    tpm.tools('tpm2_createprimary', ['-C', 'o', '-g', 'sha256', '-G', 'rsa2048', '-c', f('storage.ctx')]);
    flush();
    // §5.4: RSA-2048, non-restricted decrypt key, OAEP/SHA-256, made in the TPM, under the storage key.
    tpm.tools('tpm2_create', [
      '-C',
      f('storage.ctx'),
      '-G',
      'rsa2048:oaep-sha256:null',
      '-a',
      'decrypt|fixedtpm|fixedparent|sensitivedataorigin|userwithauth',
      '-u',
      f('key.pub'),
      '-r',
      f('key.priv'),
    ]);
    flush();
    tpm.tools('tpm2_load', ['-C', f('storage.ctx'), '-u', f('key.pub'), '-r', f('key.priv'), '-c', f('key.ctx')]);
    flush();
    tpm.tools('tpm2_readpublic', ['-c', f('key.ctx'), '-f', 'pem', '-o', f('key.pem')]);
    const pem = readFileSync(f('key.pem'), 'utf8');
    const { createPublicKey } = await import('node:crypto');
    const jwk = createPublicKey(pem).export({ format: 'jwk' });
    assert.is(jwk.e, 'AQAB', 'exponent 65537');
    const recipient = encodeTpmRecipient(new Uint8Array(Buffer.from(jwk.n!, 'base64url')));
    const stanza = wrapTo(parseAnyRecipient(recipient), FILE_KEY, ID);
    // The guardian's callback, here through tpm2_rsadecrypt: its -l takes a C string (at most 63
    // characters), so the label is passed without its final 00, which the tool adds back — the
    // `tpm2_rsadecrypt -s oaep -l <hex(id)>` of SPEC.md §5.4.
    const labels: string[] = [];
    const tpmDecrypt: Tpm2RsaDecrypt = async (ciphertext, label) => {
      assert.is(label.length, 33, 'the label is 33 bytes');
      assert.is(label.at(-1), 0, 'the label ends in 00');
      const text = Buffer.from(label.subarray(0, -1)).toString('ascii');
      labels.push(text);
      writeFileSync(f('stanza'), ciphertext);
      rmSync(f('plain'), { force: true });
      const r = tpm.toolsRaw('tpm2_rsadecrypt', ['-c', f('key.ctx'), '-s', 'oaep', '-l', text, '-o', f('plain'), f('stanza')]);
      flush();
      // TPM_RC_VALUE (libtpms ≥ 0.9.7) or TPM_RC_FAILURE (older libtpms) for a failed decryption: not for this key.
      return r.status === 0 ? new Uint8Array(readFileSync(f('plain'))) : undefined;
    };
    assert.equal(await unwrapTpm2Rsa(stanza, 0, ID, tpmDecrypt), FILE_KEY, 'the TPM opens the stanza');
    assert.equal(labels, [Buffer.from(ID).toString('hex')], "-l is the id's 32 hex digits and nothing else");
    assert.is(await unwrapTpm2Rsa(stanza, 0, OTHER_ID, tpmDecrypt), undefined, "under another id's label it does not");
    assert.equal(await unwrapTpm2Rsa(stanza, 0, ID, tpmDecrypt), FILE_KEY, 'and the TPM still works after refusing one');
    const modulus = parseTpmRecipient(recipient);
    assert.is(
      await unwrapTpm2Rsa(oaep(modulus, FILE_KEY.subarray(0, 31), specLabel(ID)), 0, ID, tpmDecrypt),
      undefined,
      '31 bytes from the TPM: not a file key',
    );
    assert.is(
      await unwrapTpm2Rsa(oaep(modulus, FILE_KEY, draftLabel(ID)), 0, ID, tpmDecrypt),
      undefined,
      'sealed under the old 53-byte label: not for this key',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await tpm.stop();
  }
});

test.run();
