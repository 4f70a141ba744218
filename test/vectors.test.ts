/**
 * Runs every vector in test/vectors/data as a whole buffer, as a stream of uneven pieces, and byte
 * by byte; decrypts with the vector's identities, P-256 keys and RSA keys (outcome = `expect:`) and verifies
 * offline from a buffer and from a file (outcome = `verify:`). Also checks the files are exactly
 * what the generator produces, so each vector's recorded source is real.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { p256 } from '@noble/curves/nist.js';
import { openWithKey } from '../agent/capsule/open.ts';
import { verify } from '../agent/capsule/verify.ts';
import { DceError } from '../agent/errors.ts';
import { rejectsError } from './helpers/assertError.ts';
import { definitions } from './vectors/definitions.ts';
import { DATA_DIR, EXTENSION, render } from './vectors/generate.ts';
import { workedExample } from './vectors/workedExample.ts';
import { parseVector, type Vector } from './vectors/vectorFile.ts';
import { vectorKey } from './vectors/vectorKey.ts';

const files = readdirSync(DATA_DIR)
  .filter((f) => f.endsWith(EXTENSION))
  .sort();
const vectors: Vector[] = files.map((f) => parseVector(f, readFileSync(join(DATA_DIR, f))));
const scratch = mkdtempSync(join(tmpdir(), 'capsule-vectors-'));

type Feed = (b: Uint8Array) => Uint8Array | AsyncIterable<Uint8Array>;
const FEEDS: Record<string, Feed> = {
  buffer: (b) => b,
  stream: (b) => pieces(b, [1, 7, 4096, 65551, 65552, 65553, 100000]),
  'byte-by-byte': (b) => pieces(b, [1]),
};

async function* pieces(b: Uint8Array, sizes: number[]): AsyncGenerator<Uint8Array> {
  let off = 0;
  for (let i = 0; off < b.length; i++) {
    const n = sizes[i % sizes.length]!;
    yield b.slice(off, off + n);
    off += n;
  }
}

async function outcome(run: () => Promise<unknown>): Promise<string> {
  try {
    await run();
    return 'ok';
  } catch (e) {
    if (e instanceof DceError) return `error ${e.code}`;
    throw e;
  }
}

test('vector set: at least 20 positive and more negative, names unique', () => {
  const pos = vectors.filter((v) => v.expect === 'success').length;
  assert.ok(pos >= 20, `${pos} positive vectors`);
  assert.ok(vectors.length - pos > pos, `${vectors.length - pos} negative vectors`);
});

test('vector set has positive vectors of every stanza type, and ones opened by a P-256 key or an RSA key alone', () => {
  const positive = vectors.filter((v) => v.expect === 'success').map((v) => Buffer.from(v.bytes));
  for (const marker of ['x25519', 'p256-ecdh', 'zymbit-lock', 'tpm2-rsa']) {
    assert.ok(
      positive.some((b) => b.includes(marker)),
      `a positive vector with a ${marker} stanza`,
    );
  }
  assert.ok(
    vectors.some((v) => v.expect === 'success' && v.p256.length > 0 && v.identities.length === 0),
    'a positive vector opened by a P-256 key alone',
  );
  assert.ok(
    vectors.some((v) => v.expect === 'success' && v.tpm2Rsa.length > 0 && v.identities.length === 0 && v.p256.length === 0),
    'a positive vector opened by an RSA key alone',
  );
});

test('tpm2-rsa vectors: more negative than positive, and each negative carries the RSA key it is tested with', () => {
  const tpm = vectors.filter((v) => v.name.startsWith('tpm2-rsa'));
  const pos = tpm.filter((v) => v.expect === 'success');
  assert.ok(pos.length >= 1 && tpm.length - pos.length > pos.length, `${pos.length} positive, ${tpm.length - pos.length} negative`);
  for (const v of tpm) {
    if (v.name !== 'tpm2-rsa-only-x25519-identity.capsule-vector') assert.is(v.tpm2Rsa.length, 1, `${v.name}: one identity-tpm2-rsa line`);
    // A stanza not for this key is never a capsule error: only a body of the wrong length is.
    assert.ok(['success', 'error ERR_NO_MATCHING_STANZA', 'error ERR_BAD_STANZA'].includes(v.expect), `${v.name}: ${v.expect}`);
    assert.is(v.verify === 'error ERR_BAD_STANZA', v.expect === 'error ERR_BAD_STANZA', `${v.name}: offline verification agrees on well-formedness`);
  }
});

test('vector files are exactly what the generator produces (recorded source is real)', async () => {
  const defs = await definitions();
  assert.is(defs.length, files.length, 'same number of vectors as definitions');
  for (const d of defs) {
    const onDisk = readFileSync(join(DATA_DIR, d.name + EXTENSION));
    assert.ok(Buffer.from(render(d)).equals(onDisk), `${d.name}: file differs from generator output; run npm run vectors`);
  }
});

test('SPEC.md §13.3 worked example is exactly what the bytes give', async () => {
  const spec = readFileSync(new URL('../agent/format/SPEC.md', import.meta.url), 'utf8');
  assert.ok(spec.includes(await workedExample()), 'regenerate with node test/vectors/workedExample.ts');
});

test('SPEC.md §13.4 lists every vector, with the right counts', () => {
  const spec = readFileSync(new URL('../agent/format/SPEC.md', import.meta.url), 'utf8');
  const section = spec.slice(spec.indexOf('### 13.4 The vector set'), spec.indexOf('### 13.5'));
  const pos = vectors.filter((v) => v.expect === 'success').length;
  assert.ok(section.includes(`${vectors.length} vectors: ${pos} positive`), `§13.4 says ${vectors.length} vectors, ${pos} positive`);
  assert.ok(section.includes(`and ${vectors.length - pos} negative`), `§13.4 says ${vectors.length - pos} negative`);
  for (const v of vectors) {
    assert.ok(section.includes(`\`${v.name.slice(0, -EXTENSION.length)}\``), `§13.4 names ${v.name}`);
  }
});

test('guardian-signed vectors verify with their guardian key pinned, and fail with another or with none in the header', async () => {
  const signed = vectors.filter((v) => v.verify === 'ok' && /guardian-signed|guardian-sealed/.test(v.name));
  assert.ok(signed.length >= 3, `${signed.length} guardian-signed vectors`);
  const other = p256.getPublicKey(new Uint8Array(32).fill(7), true);
  for (const v of signed) {
    const key = (await verify(v.bytes)).parsed.header.guardian!;
    assert.ok((await verify(v.bytes, { guardianKey: key })).checks.includes('signed by the given guardian key'), v.name);
    await rejectsError(
      () => verify(v.bytes, { guardianKey: other }),
      'CapsuleFormatError',
      'ERR_BAD_SIGNATURE',
      /^header\.guardian: signed by capsule-guardian1[a-z0-9]+, not by the given guardian key$/,
    );
  }
  const unsigned = vectors.find((v) => v.name === 'one-byte.capsule-vector')!;
  await rejectsError(
    () => verify(unsigned.bytes, { guardianKey: other }),
    'CapsuleFormatError',
    'ERR_BAD_SIGNATURE',
    /^header\.guardian: absent, but a guardian key was given/,
  );
});

for (const v of vectors) {
  for (const [mode, feed] of Object.entries(FEEDS)) {
    test(`vector ${v.name} decrypt (${mode}) -> ${v.expect}`, async () => {
      const key = await vectorKey(v);
      const chunks: Buffer[] = [];
      const got = await outcome(async () => {
        for await (const c of openWithKey(feed(v.bytes), key)) chunks.push(c as Buffer);
      });
      assert.is(got === 'ok' ? 'success' : got, v.expect);
      if (v.expect === 'success') {
        assert.is(createHash('sha256').update(Buffer.concat(chunks)).digest('hex'), v.payload);
      }
    });
  }
  test(`vector ${v.name} verify (buffer, byte-by-byte, file) -> ${v.verify}`, async () => {
    assert.is(await outcome(() => verify(v.bytes)), v.verify, 'buffer');
    assert.is(await outcome(() => verify(pieces(v.bytes, [1]))), v.verify, 'byte-by-byte');
    const path = join(scratch, v.name);
    writeFileSync(path, v.bytes);
    assert.is(await outcome(() => verify({ path })), v.verify, 'file (stat-based length check)');
  });
}

test.after(() => rmSync(scratch, { recursive: true, force: true }));

test.run();
