/**
 * PayloadDigest (SPEC.md §6.4): every algorithm gives the same result however the plaintext is cut
 * into pieces (one buffer, 64 KiB chunks, odd cuts, byte by byte), the chunked forms equal the
 * root written out from the spec, and misuse fails with typed errors.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash, randomBytes } from 'node:crypto';
import { combineChunkDigests, digestAlgOf, digestName, PayloadDigest } from '../agent/capsule/PayloadDigest.ts';
import { throwsError } from './helpers/assertError.ts';

const K = 65536;
const sha = (...parts: Uint8Array[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};

/** The root from SPEC.md §6.4, written out independently of PayloadDigest. */
function specRoot(plain: Uint8Array, salt = new Uint8Array(0)): Uint8Array {
  const leaves: Uint8Array[] = [];
  for (let at = 0; at === 0 || at < plain.length; at += K) leaves.push(sha(plain.subarray(at, at + K)));
  const size = Buffer.alloc(8);
  size.writeBigUInt64BE(BigInt(plain.length));
  return sha(Buffer.from('capsule/v1 chunked digest'), salt, size, ...leaves);
}

function digestIn(alg: 1 | 2 | 3 | 4, salt: Uint8Array, plain: Uint8Array, cuts: number[]): Uint8Array {
  const d = new PayloadDigest(alg, salt);
  let at = 0;
  for (const c of cuts) {
    d.update(plain.subarray(at, at + c));
    at += c;
  }
  d.update(plain.subarray(at));
  return d.digest();
}

const sizes = [0, 1, K - 1, K, K + 1, 3 * K + 100];
const salt = randomBytes(32);

for (const size of sizes) {
  test(`size ${size}: all four algorithms match the spec for whole, chunk-sized, odd and byte-by-byte pieces`, () => {
    const plain = randomBytes(size);
    const expected = { 1: sha(plain), 2: sha(salt, plain), 3: specRoot(plain), 4: specRoot(plain, salt) } as const;
    const cutsList = [[], Array(Math.floor(size / K)).fill(K), [7, K - 7, 3, K + 5, 1], size <= K + 1 ? Array(size).fill(1) : [1, 1, K - 2, 1]];
    for (const alg of [1, 2, 3, 4] as const) {
      for (const cuts of cutsList) {
        const got = digestIn(alg, alg % 2 === 0 ? salt : new Uint8Array(0), plain, cuts);
        assert.equal(Buffer.from(got).toString('hex'), Buffer.from(expected[alg]).toString('hex'), `alg ${alg} cuts ${cuts.slice(0, 5)}`);
      }
    }
  });
}

test('combineChunkDigests joins digests hashed elsewhere into the same root', () => {
  const plain = randomBytes(2 * K + 9);
  const leaves = Buffer.concat([0, 1, 2].map((i) => sha(plain.subarray(i * K, (i + 1) * K))));
  assert.equal(Buffer.from(combineChunkDigests(salt, plain.length, leaves)), Buffer.from(specRoot(plain, salt)));
  throwsError(
    () => combineChunkDigests(new Uint8Array(0), plain.length, leaves.subarray(0, 64)),
    'RangeError',
    undefined,
    /^chunkDigests: expected 3 digests of 32 bytes for 131081 bytes, got 64 bytes$/,
  );
});

test('the salt must match the algorithm; unknown algorithms and reuse are refused', () => {
  throwsError(() => new PayloadDigest(2, new Uint8Array(0)), 'TypeError', undefined, /^salt: expected 32 bytes for salted-sha256, got 0$/);
  throwsError(() => new PayloadDigest(3, new Uint8Array(32)), 'TypeError', undefined, /^salt: expected 0 bytes for chunked-sha256, got 32$/);
  throwsError(() => new PayloadDigest(5 as never), 'RangeError', undefined, /^alg: expected a digest_alg of SPEC\.md §6\.4 \(1\.\.4\), got 5$/);
  const d = new PayloadDigest(3);
  d.digest();
  throwsError(() => d.update(new Uint8Array(1)), 'Error', undefined, /single-use/);
  throwsError(() => d.digest(), 'Error', undefined, /single-use/);
});

test("the salt is copied and wiped: changing the caller's buffer later does not change the digest", () => {
  const s = Uint8Array.from(salt);
  const d = new PayloadDigest(4, s);
  s.fill(1);
  assert.equal(Buffer.from(d.update(Buffer.from('x')).digest()), Buffer.from(specRoot(Buffer.from('x'), salt)));
});

test('names and ids map both ways', () => {
  for (const alg of [1, 2, 3, 4] as const) assert.is(digestAlgOf(digestName(alg)), alg);
  assert.is(digestAlgOf('md5'), undefined);
});

test.run();
