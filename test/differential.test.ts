/**
 * Differential test: an independent reader written from SPEC.md alone with pure-JS primitives
 * (@noble/ciphers AES-GCM, @noble/hashes HKDF/SHA-256, @noble/curves X25519, P-256 and Ed25519,
 * RSA as BigInt arithmetic with RSAES-OAEP decoding written here from RFC 8017, a plain cborg
 * decode) must produce the same plaintext as the library (node:crypto / OpenSSL) for every
 * positive vector, must find no file key where the library finds none in the tpm2-rsa vectors, and
 * must agree with it on which signatures verify. Signature bodies are cut out of the header bytes by
 * §7.1's recipe, not re-encoded. It shares no code with agent/ beyond reading the vector files (the
 * library side is given its keys by test/vectors/vectorKey.ts); node:crypto only parses the
 * vectors' PKCS#8 RSA keys into their numbers.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createPrivateKey } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gcm } from '@noble/ciphers/aes.js';
import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { p256 } from '@noble/curves/nist.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bech32 } from '@scure/base';
import { decode, encode, rfc8949EncodeOptions } from 'cborg';
import { combine } from 'shamir-secret-sharing';
import { openWithKey } from '../agent/capsule/open.ts';
import { DATA_DIR, EXTENSION } from './vectors/generate.ts';
import { parseVector, type Vector } from './vectors/vectorFile.ts';
import { vectorKey } from './vectors/vectorKey.ts';

const te = new TextEncoder();
const OWNER_LABEL = te.encode('capsule/v1 header signature');
const GUARDIAN_LABEL = te.encode('capsule/v1 guardian signature');

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

interface Parsed {
  head: Uint8Array;
  header: Uint8Array;
  map: Map<number, any>;
}

function parse(capsule: Uint8Array): Parsed {
  const headerLength = new DataView(capsule.buffer, capsule.byteOffset).getUint32(12);
  const header = capsule.subarray(16, 16 + headerLength);
  return { head: capsule.subarray(0, 16 + headerLength), header, map: decode(header, { useMaps: true }) as Map<number, any> };
}

/**
 * §7.1's recipe on the bytes: drop each `key 58 len ‖ value` entry of a byte-string field (keys 8,
 * 9 and 10 are one byte each) and lower the map's entry count, re-encoded in shortest form.
 */
function withoutEntries(p: Parsed, keys: number[]): Uint8Array {
  let body = p.header;
  let removed = 0;
  for (const k of keys) {
    if (!p.map.has(k)) continue;
    const v = p.map.get(k) as Uint8Array;
    const entry = Uint8Array.of(k, 0x58, v.length, ...v);
    const at = Buffer.from(body).indexOf(Buffer.from(entry));
    assert.ok(at > 0, `entry ${k} found in the header bytes`);
    body = concat(body.subarray(0, at), body.subarray(at + entry.length));
    removed++;
  }
  const [count, skip] = body[0]! <= 0xb7 ? [body[0]! - 0xa0, 1] : [body[1]!, 2];
  const n = count - removed;
  return concat(n <= 23 ? Uint8Array.of(0xa0 + n) : Uint8Array.of(0xb8, n), body.subarray(skip));
}

/** An RSA private key as numbers: the modulus n, its length k in bytes, and the private exponent d. */
interface RsaNumbers {
  n: bigint;
  k: number;
  d: bigint;
}

function rsaNumbers(pkcs8Base64: string): RsaNumbers {
  const jwk = createPrivateKey({ key: Buffer.from(pkcs8Base64, 'base64'), format: 'der', type: 'pkcs8' }).export({ format: 'jwk' });
  const int = (b64url: string) => BigInt('0x' + Buffer.from(b64url, 'base64url').toString('hex'));
  const n = int(jwk.n!);
  return { n, k: Math.ceil(n.toString(16).length / 2), d: int(jwk.d!) };
}

const os2ip = (b: Uint8Array) => BigInt('0x' + (Buffer.from(b).toString('hex') || '0'));
const i2osp = (x: bigint, k: number) => Uint8Array.from(Buffer.from(x.toString(16).padStart(2 * k, '0'), 'hex'));

function modPow(b: bigint, e: bigint, m: bigint): bigint {
  let r = 1n;
  for (b %= m; e > 0n; e >>= 1n, b = (b * b) % m) if (e & 1n) r = (r * b) % m;
  return r;
}

/** MGF1 with SHA-256 (RFC 8017 Appendix B.2.1). */
function mgf1(seed: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(Math.ceil(length / 32) * 32);
  for (let i = 0; i * 32 < length; i++) out.set(sha256(concat(seed, i2osp(BigInt(i), 4))), i * 32);
  return out.subarray(0, length);
}

/** RSAES-OAEP-DECRYPT (RFC 8017 §7.1.2), SHA-256 and MGF1-SHA-256; undefined on any failure. */
function oaepDecrypt(key: RsaNumbers, body: Uint8Array, label: Uint8Array): Uint8Array | undefined {
  const { n, k, d } = key;
  const c = os2ip(body);
  if (body.length !== k || c >= n) return undefined;
  const em = i2osp(modPow(c, d, n), k);
  const maskedSeed = em.subarray(1, 33);
  const maskedDb = em.subarray(33);
  const seedMask = mgf1(maskedDb, 32);
  const seed = maskedSeed.map((x, i) => x ^ seedMask[i]!);
  const dbMask = mgf1(seed, maskedDb.length);
  const db = maskedDb.map((x, i) => x ^ dbMask[i]!);
  const lHashOk = Buffer.from(db.subarray(0, 32)).equals(Buffer.from(sha256(label)));
  const one = db.findIndex((x, i) => i >= 32 && x !== 0);
  if (em[0] !== 0 || !lHashOk || one < 0 || db[one] !== 1) return undefined;
  return db.subarray(one + 1);
}

/** §5.4's label: the 32 lowercase hex digits of id ‖ 00, 33 bytes, no prefix. */
function tpm2Label(id: Uint8Array): Uint8Array {
  return concat(te.encode(Buffer.from(id).toString('hex')), Uint8Array.of(0));
}

const ownerBody = (p: Parsed) => withoutEntries(p, [8, 10]);
const guardianBody = (p: Parsed) => withoutEntries(p, [10]);

function ownerSignatureValid(p: Parsed, body = ownerBody(p)): boolean {
  return ed25519.verify(p.map.get(8), concat(OWNER_LABEL, Uint8Array.of(0), body), p.map.get(4), { zip215: false });
}

/** §7.2: ECDSA P-256 over SHA-256(label ‖ 00 ‖ body), the digest used as is; low S; key 9 a valid point. */
function guardianSignatureValid(p: Parsed, digest = sha256(concat(GUARDIAN_LABEL, Uint8Array.of(0), guardianBody(p))), lowS = true): boolean {
  return p256.verify(p.map.get(10), digest, p.map.get(9), { prehash: false, lowS });
}

/** Every signature present verifies (§7). */
function signaturesValid(p: Parsed): boolean {
  return (!p.map.has(8) || ownerSignatureValid(p)) && (!p.map.has(10) || guardianSignatureValid(p));
}

/**
 * §5.6 for a header with a guardian set (key 12): each stanza that opens gives that guardian's
 * share; each is checked against its commitment (set hash over the header without keys 8, 10, 13,
 * re-encoded deterministically by cborg), and m of them are interpolated. The interpolation is the
 * same audited Shamir library the writer uses: GF(2^8) is never written by hand in this project,
 * and what is independent here is everything around it (parsing, commitments, x-coordinates).
 */
async function thresholdKeyOf(p: Parsed, v: Vector): Promise<Uint8Array | undefined> {
  const set = p.map.get(12) as Map<number, any>;
  const m: number = set.get(1);
  const guardians = set.get(2) as Map<number, any>[];
  const body = encode(new Map([...p.map].filter(([k]) => k !== 8 && k !== 10 && k !== 13)), rfc8949EncodeOptions);
  const setHash = sha256(concat(te.encode('capsule/v1 guardian set'), Uint8Array.of(0), body));
  const points: Uint8Array[] = [];
  for (let i = 0; i < guardians.length && points.length < m; i++) {
    const share = fileKeyOf(p, v, i);
    if (!share) continue;
    const want = sha256(concat(te.encode('capsule/v1 share commitment'), Uint8Array.of(0), p.map.get(2), setHash, Uint8Array.of(i), share));
    assert.ok(Buffer.from(want).equals(Buffer.from((p.map.get(13) as Uint8Array[])[i]!)), `share ${i} matches its commitment`);
    points.push(concat(share, Uint8Array.of(guardians[i]!.get(1))));
  }
  if (points.length < m) return undefined;
  return m === 1 ? points[0]!.subarray(0, 32) : combine(points);
}

/** The file key per §5: stanzas in header order (or only stanza `only`), every key of the stanza's type; undefined if none opens. */
function fileKeyOf(p: Parsed, v: Vector, only?: number): Uint8Array | undefined {
  const id: Uint8Array = p.map.get(2);
  const secrets = v.identities.map((line) => new Uint8Array(bech32.fromWords(bech32.decode(line as `${string}1${string}`).words)));
  const scalars = v.p256.map((h) => Uint8Array.from(Buffer.from(h, 'hex')));
  const rsaKeys = v.tpm2Rsa.map(rsaNumbers);
  const open = (wrapKey: Uint8Array, sealed: Uint8Array) => {
    try {
      return gcm(wrapKey, new Uint8Array(12), id).decrypt(sealed);
    } catch {
      return undefined; // another recipient's stanza
    }
  };
  for (const [index, [type, body]] of (p.map.get(7) as [string, Uint8Array][]).entries()) {
    if (only !== undefined && index !== only) continue;
    if (type === 'x25519') {
      for (const s of secrets) {
        const E = body.subarray(0, 32);
        const wrapKey = hkdf(sha256, x25519.getSharedSecret(s, E), concat(E, x25519.getPublicKey(s)), te.encode('capsule/v1 x25519'), 32);
        const key = open(wrapKey, body.subarray(32, 80));
        if (key) return key;
      }
    } else if (type === 'p256-ecdh') {
      for (const d of scalars) {
        const E = body.subarray(0, 33);
        const S = p256.getSharedSecret(d, E, true).subarray(1); // x-coordinate of d·E
        const wrapKey = hkdf(sha256, S, concat(E, p256.getPublicKey(d, true)), te.encode('capsule/v1 p256-ecdh'), 32);
        const key = open(wrapKey, body.subarray(33, 81));
        if (key) return key;
      }
    } else if (type === 'tpm2-rsa') {
      if (body.length !== 256) throw new Error(`tpm2-rsa body of ${body.length} bytes: bad stanza (§5.4 step 1)`);
      for (const key of rsaKeys) {
        const m = oaepDecrypt(key, body, tpm2Label(id));
        if (m?.length === 32) return m; // anything else: not for this key (§5.4 step 3)
      }
    }
  }
  return undefined;
}

/** SPEC.md §3–§7, as literally as possible. Returns undefined if no stanza opens. */
async function specReader(capsule: Uint8Array, v: Vector): Promise<Uint8Array | undefined> {
  const p = parse(capsule);
  assert.ok(signaturesValid(p), 'signatures verify per §7');
  const id: Uint8Array = p.map.get(2);
  const payload: Map<number, any> = p.map.get(6);
  const size: number = payload.get(1);
  const fileKey = p.map.has(12) ? await thresholdKeyOf(p, v) : fileKeyOf(p, v);
  if (!fileKey) return undefined;
  const payloadKey = hkdf(sha256, fileKey, id, te.encode('capsule/v1 payload'), 32);
  const aad = sha256(p.head);
  const n = Math.max(1, Math.ceil(size / 65536));
  const out = new Uint8Array(size);
  let pos = p.head.length;
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
  const alg: number = payload.get(4);
  const salt = alg === 2 || alg === 4 ? hkdf(sha256, fileKey, id, te.encode('capsule/v1 payload commitment'), 32) : new Uint8Array(0);
  let digestInput: Uint8Array;
  if (alg === 1 || alg === 2) {
    digestInput = concat(salt, out);
  } else {
    // chunked: label ‖ salt ‖ uint64be(size) ‖ SHA-256 of each 64 KiB chunk (one, empty, for size 0)
    const sizeBytes = new Uint8Array(8);
    new DataView(sizeBytes.buffer).setBigUint64(0, BigInt(size));
    const leaves = Array.from({ length: n }, (_, i) => sha256(out.subarray(i * 65536, Math.min(size, (i + 1) * 65536))));
    digestInput = concat(te.encode('capsule/v1 chunked digest'), salt, sizeBytes, ...leaves);
  }
  assert.equal(sha256(digestInput), payload.get(5), 'payload digest per spec');
  return out;
}

const all = readdirSync(DATA_DIR)
  .filter((f) => f.endsWith(EXTENSION))
  .sort()
  .map((f) => parseVector(f.slice(0, -EXTENSION.length), readFileSync(join(DATA_DIR, f))));
const positives = all.filter((v) => v.expect === 'success');
const byName = (name: string) => all.find((v) => v.name === name)!;

test('there are positive vectors to compare, with P-256 keys and guardian signatures among them', () => {
  assert.ok(positives.length >= 20);
  assert.ok(
    positives.some((v) => v.p256.length > 0),
    'a p256-ecdh vector',
  );
  assert.ok(
    positives.some((v) => parse(v.bytes).map.has(10)),
    'a guardian-signed vector',
  );
  assert.ok(
    positives.some((v) => parse(v.bytes).map.has(8) && parse(v.bytes).map.has(10)),
    'an owner- and guardian-signed vector',
  );
});

for (const v of positives) {
  test(`noble reader agrees with node:crypto on ${v.name}`, async () => {
    const independent = await specReader(v.bytes, v);
    assert.ok(independent, 'spec reader found the key');
    const parts: Buffer[] = [];
    for await (const c of openWithKey(v.bytes, await vectorKey(v))) parts.push(c as Buffer);
    assert.ok(Buffer.concat(parts).equals(Buffer.from(independent!)), 'same plaintext');
  });
}

test('noble reader agrees on signatures: rejects every ERR_BAD_SIGNATURE vector, accepts every signed vector that verifies', () => {
  const rejected = all.filter((v) => v.verify === 'error ERR_BAD_SIGNATURE');
  assert.ok(rejected.length >= 15, `${rejected.length} bad-signature vectors`);
  for (const v of rejected) assert.not.ok(signaturesValid(parse(v.bytes)), `${v.name}: independent check rejects`);
  const accepted = all.filter((v) => v.verify === 'ok' && (parse(v.bytes).map.has(8) || parse(v.bytes).map.has(10)));
  assert.ok(accepted.length >= 4, `${accepted.length} signed vectors that verify`);
  for (const v of accepted) assert.ok(signaturesValid(parse(v.bytes)), `${v.name}: independent check accepts`);
});

test('each wrongly constructed signature vector verifies under exactly the mistake it names (one defect each)', () => {
  const p = (name: string) => parse(byName(name).bytes);
  const gDigest = (label: Uint8Array | undefined, body: Uint8Array) => sha256(label ? concat(label, Uint8Array.of(0), body) : body);
  let q = p('guardian-signature-high-s');
  assert.ok(guardianSignatureValid(q, undefined, false), 'high-S: valid when high S is allowed');
  q = p('guardian-signature-no-label');
  assert.ok(guardianSignatureValid(q, gDigest(undefined, guardianBody(q))), 'no label');
  q = p('guardian-signature-owner-label');
  assert.ok(guardianSignatureValid(q, gDigest(OWNER_LABEL, guardianBody(q))), 'owner label');
  q = p('guardian-signature-double-hash');
  assert.ok(guardianSignatureValid(q, sha256(gDigest(GUARDIAN_LABEL, guardianBody(q)))), 'digest hashed twice');
  q = p('guardian-signature-covers-key-10');
  const sig = q.map.get(10) as Uint8Array;
  const placeholder = Buffer.from(q.header);
  placeholder.set(new Uint8Array(64), placeholder.indexOf(Buffer.from(sig)));
  assert.ok(guardianSignatureValid(q, gDigest(GUARDIAN_LABEL, placeholder)), 'signed with key 10 present');
  q = p('guardian-signature-without-key-8');
  assert.ok(ownerSignatureValid(q), 'owner signature intact');
  assert.ok(guardianSignatureValid(q, gDigest(GUARDIAN_LABEL, withoutEntries(q, [8, 10]))), 'guardian signed without key 8');
  q = p('owner-signature-covers-key-10');
  assert.ok(guardianSignatureValid(q), 'guardian signature intact');
  // The guardian signs after the owner, so the key 10 the owner covered is the earlier one.
  assert.ok(ownerSignatureValid(q, withoutEntries(p('owner-and-guardian-signed'), [8])), 'owner signed with (the earlier) key 10 present');
  q = p('owner-signature-without-key-9');
  assert.ok(guardianSignatureValid(q), 'guardian signature intact');
  assert.ok(ownerSignatureValid(q, withoutEntries(q, [8, 9, 10])), 'owner signed without key 9');
});

test('there are tpm2-rsa vectors: positive ones opened by the RSA key alone, and more negative ones', () => {
  const tpm = all.filter((v) => v.tpm2Rsa.length > 0);
  const pos = tpm.filter((v) => v.expect === 'success');
  assert.ok(pos.length >= 1 && pos.every((v) => v.identities.length === 0 && v.p256.length === 0), `${pos.length} positive`);
  assert.ok(tpm.length - pos.length > pos.length, `${tpm.length - pos.length} negative`);
});

test('independent reader agrees on every tpm2-rsa negative: no file key where the library finds none, bad stanza where it says so', () => {
  const negatives = all.filter((v) => v.tpm2Rsa.length > 0 && v.expect !== 'success');
  for (const v of negatives) {
    const p = parse(v.bytes);
    if (v.expect === 'error ERR_BAD_STANZA') {
      assert.throws(() => fileKeyOf(p, v), /bad stanza/, `${v.name}: bad stanza`);
    } else {
      assert.is(v.expect, 'error ERR_NO_MATCHING_STANZA', v.name);
      assert.is(fileKeyOf(p, v), undefined, `${v.name}: no stanza opens`);
    }
  }
  assert.ok(negatives.length >= 10, `${negatives.length} tpm2-rsa negatives`);
});

test('independent reader: each wrongly made tpm2-rsa vector opens under exactly the mistake it names (one defect each)', () => {
  const v = byName('tpm2-rsa-label-uppercase-hex');
  const p = parse(v.bytes);
  const id: Uint8Array = p.map.get(2);
  const body = (p.map.get(7) as [string, Uint8Array][])[0]![1];
  const key = rsaNumbers(v.tpm2Rsa[0]!);
  const label = (hex: string) => concat(te.encode(hex), Uint8Array.of(0));
  assert.is(tpm2Label(id).length, 33, 'the §5.4 label is 33 bytes');
  assert.is(oaepDecrypt(key, body, tpm2Label(id))?.length, undefined, 'fails with the right label');
  assert.is(oaepDecrypt(key, body, label(Buffer.from(id).toString('hex').toUpperCase()))?.length, 32, 'opens with the uppercase-hex label');
  // The 53-byte label of an earlier draft: a stanza made with it must not open under §5.4's label.
  const prefixed = byName('tpm2-rsa-label-with-prefix');
  const r = parse(prefixed.bytes);
  const rBody = (r.map.get(7) as [string, Uint8Array][])[0]![1];
  const draft = concat(te.encode('capsule/v1 tpm2-rsa '), tpm2Label(r.map.get(2)));
  assert.is(draft.length, 53);
  assert.is(oaepDecrypt(key, rBody, tpm2Label(r.map.get(2)))?.length, undefined, 'the prefixed-label stanza fails with the right label');
  assert.is(oaepDecrypt(key, rBody, draft)?.length, 32, 'and opens with the prefixed 53-byte label');
  const noNul = byName('tpm2-rsa-label-no-nul');
  const q = parse(noNul.bytes);
  const qBody = (q.map.get(7) as [string, Uint8Array][])[0]![1];
  assert.is(oaepDecrypt(key, qBody, tpm2Label(q.map.get(2)).subarray(0, -1))?.length, 32, 'opens with the label minus its 00');
  const short = parse(byName('tpm2-rsa-31-byte-key').bytes);
  assert.is(oaepDecrypt(key, (short.map.get(7) as [string, Uint8Array][])[0]![1], tpm2Label(short.map.get(2)))?.length, 31, 'a valid 31-byte message');
});

test('noble reader rejects a flipped chunk exactly as the library does', async () => {
  const v = positives.find((x) => x.name.startsWith('three-chunks'))!;
  const bad = Uint8Array.from(v.bytes);
  bad[bad.length - 70000]! ^= 1;
  let failed = false;
  await specReader(bad, v).catch((e: Error) => {
    failed = /invalid|tag/i.test(e.message);
  });
  assert.ok(failed, 'rejected: tag');
});

test.run();
