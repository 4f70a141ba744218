/**
 * Runs every vector in test/vectors/data as a whole buffer, as a stream of uneven pieces, and byte
 * by byte; decrypts with the vector's identities (outcome = `expect:`) and verifies offline from a
 * buffer and from a file (outcome = `verify:`). Also checks the files are exactly what the
 * generator produces, so each vector's recorded source is real.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openWithKey } from '../agent/capsule/open.ts';
import { verify } from '../agent/capsule/verify.ts';
import { parseIdentityFile } from '../agent/crypto/identity.ts';
import { DceError } from '../agent/errors.ts';
import { definitions } from './vectors/definitions.ts';
import { DATA_DIR, EXTENSION, render } from './vectors/generate.ts';
import { workedExample } from './vectors/workedExample.ts';
import { parseVector, type Vector } from './vectors/vectorFile.ts';

const files = readdirSync(DATA_DIR).filter((f) => f.endsWith(EXTENSION)).sort();
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

test('vector set: at least 10 positive and 25 negative, names unique', () => {
  const pos = vectors.filter((v) => v.expect === 'success').length;
  assert.ok(pos >= 10, `${pos} positive vectors`);
  assert.ok(vectors.length - pos >= 25, `${vectors.length - pos} negative vectors`);
});

test('vector files are exactly what the generator produces (recorded source is real)', () => {
  const defs = definitions();
  assert.is(defs.length, files.length, 'same number of vectors as definitions');
  for (const d of defs) {
    const onDisk = readFileSync(join(DATA_DIR, d.name + EXTENSION));
    assert.ok(Buffer.from(render(d)).equals(onDisk), `${d.name}: file differs from generator output; run npm run vectors`);
  }
});

test('SPEC.md §13.3 worked example is exactly what the bytes give', () => {
  const spec = readFileSync(new URL('../agent/format/SPEC.md', import.meta.url), 'utf8');
  assert.ok(spec.includes(workedExample()), 'regenerate with node test/vectors/workedExample.ts');
});

for (const v of vectors) {
  for (const [mode, feed] of Object.entries(FEEDS)) {
    test(`vector ${v.name} decrypt (${mode}) -> ${v.expect}`, async () => {
      const ids = parseIdentityFile(v.identities.join('\n'), v.name);
      const chunks: Buffer[] = [];
      const got = await outcome(async () => {
        for await (const c of openWithKey(feed(v.bytes), ids)) chunks.push(c as Buffer);
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

test.run();
