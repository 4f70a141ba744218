/**
 * Library behaviour of agent/capsule: round trips over every input kind and size class, the
 * "nothing is lost" guarantees (no output file on any failure), tamper sweeps, the file-changed
 * guard, abort, a digest lie on a multi-megabyte payload, and inspect() not reading the payload.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash, randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createReadStream, createWriteStream } from 'node:fs';
import { CapsuleReader } from '../agent/capsule/CapsuleReader.ts';
import { CapsuleSealer } from '../agent/capsule/CapsuleSealer.ts';
import { inspect } from '../agent/capsule/inspect.ts';
import { decryptToFile, openWithKey } from '../agent/capsule/open.ts';
import { seal, sealToFile } from '../agent/capsule/seal.ts';
import { verify } from '../agent/capsule/verify.ts';
import { generateIdentity } from '../agent/crypto/identity.ts';
import { DceError } from '../agent/errors.ts';
import { rejectsError, throwsError } from './helpers/assertError.ts';

const dir = mkdtempSync(join(tmpdir(), 'capsule-lib-'));
const g = generateIdentity();
const logic = { hash: createHash('sha256').update('policy').digest() };
const opts = { recipients: [g.recipient], logic };

async function collect(s: AsyncIterable<unknown>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

async function* trickle(b: Uint8Array, n: number): AsyncGenerator<Uint8Array> {
  for (let o = 0; o < b.length; o += n) yield b.slice(o, o + n);
}

const leftovers = () => readdirSync(dir).filter((f) => f.endsWith('.partial'));

for (const size of [0, 1, 65535, 65536, 65537, 3 * 65536 + 7]) {
  test(`round trip ${size} bytes from a buffer, a stream (spooled) and a file`, async () => {
    const data = randomBytes(size);
    const fromBuffer = await collect(seal(data, opts));
    const fromStream = await collect(seal(trickle(data, 1000), { ...opts, spoolDir: dir }));
    const src = join(dir, `in-${size}`);
    writeFileSync(src, data);
    await sealToFile({ path: src }, join(dir, `c-${size}`), opts);
    const fromFile = readFileSync(join(dir, `c-${size}`));
    for (const c of [fromBuffer, fromStream, fromFile]) {
      assert.is(c.length, (await verify(c)).parsed.totalLength);
      assert.ok((await collect(openWithKey(c, g))).equals(data));
    }
    assert.equal(
      readdirSync(dir).filter((f) => f.startsWith('capsule-spool-')),
      [],
      'spool leaves nothing behind',
    );
  });
}

test('sealer validates its options with named arguments', () => {
  throwsError(
    () => new CapsuleSealer({ ...opts, recipients: [] }),
    'TypeError',
    undefined,
    /^options\.recipients: expected at least one age1…, capsule-ecdh1… or capsule-tpm1… recipient \(or a lock\), got none$/,
  );
  throwsError(() => new CapsuleSealer({ ...opts, recipients: ['age1xyz'] }), 'KeyError', 'ERR_BAD_RECIPIENT', /age1xyz/);
  throwsError(
    () => new CapsuleSealer({ ...opts, recipients: Array(65).fill(g.recipient) }),
    'RangeError',
    undefined,
    /options\.recipients: expected at most 64 stanzas in all, got 65/,
  );
  throwsError(
    () => new CapsuleSealer({ ...opts, logic: { hash: new Uint8Array(31) } }),
    'TypeError',
    undefined,
    /options\.logic\.hash: expected the 32-byte SHA-256/,
  );
  throwsError(
    () => new CapsuleSealer({ ...opts, digest: 'md5' as never }),
    'TypeError',
    undefined,
    /options\.digest: expected 'chunked-sha256', 'salted-chunked-sha256', 'sha256' or 'salted-sha256', got "md5"/,
  );
  throwsError(() => new CapsuleSealer({ ...opts, created: new Date(NaN) }), 'TypeError', undefined, /options\.created/);
  throwsError(() => new CapsuleSealer({ ...opts, extensions: new Map([[3, 1]]) }), 'RangeError', undefined, /keys must be negative integers, got 3/);
  const s = new CapsuleSealer({ ...opts, logic: { hash: logic.hash, params: Uint8Array.of(0x18, 0x01) } });
  throwsError(() => s.begin(1, new Uint8Array(32)), 'CapsuleFormatError', 'ERR_NON_CANONICAL_HEADER', /header\.logic\.params/);
});

test('sealer refuses a payload that differs from the announced size', () => {
  const s = new CapsuleSealer(opts);
  s.begin(10, new Uint8Array(32));
  throwsError(() => s.push(new Uint8Array(11)), 'CapsuleFormatError', 'ERR_PAYLOAD_SIZE', /announced 10 bytes, input exceeded that/);
  const t = new CapsuleSealer(opts);
  t.begin(10, new Uint8Array(32));
  t.push(new Uint8Array(4));
  throwsError(() => t.end(), 'CapsuleFormatError', 'ERR_PAYLOAD_SIZE', /announced 10 bytes, input ended at 4/);
  throwsError(() => t.begin(1, new Uint8Array(32)), 'Error', undefined, /single-use/);
});

test('a file that changes while being sealed is refused and no capsule is left', async () => {
  const src = join(dir, 'changing');
  writeFileSync(src, randomBytes(300_000));
  const out = join(dir, 'changing.capsule');
  let touched = false;
  await rejectsError(
    () =>
      sealToFile({ path: src }, out, {
        ...opts,
        onProgress: () => {
          if (!touched) {
            touched = true;
            utimesSync(src, new Date(), new Date(Date.now() + 5000));
          }
        },
      }),
    'CapsuleFormatError',
    'ERR_PAYLOAD_SIZE',
    /changed while it was being sealed/,
  );
  assert.not.ok(existsSync(out));
  let grown = false;
  await rejectsError(
    () =>
      sealToFile({ path: src }, out, {
        ...opts,
        onProgress: () => {
          if (!grown) {
            grown = true;
            appendFileSync(src, 'more');
          }
        },
      }),
    'CapsuleFormatError',
    'ERR_PAYLOAD_SIZE',
    /exceeded|changed while it was being sealed/,
  );
  assert.not.ok(existsSync(out));
  assert.equal(leftovers(), []);
});

test('abort stops a seal and leaves no output', async () => {
  const src = join(dir, 'abort-src');
  writeFileSync(src, randomBytes(4 << 20));
  const ac = new AbortController();
  const out = join(dir, 'aborted.capsule');
  let err: unknown;
  try {
    await sealToFile({ path: src }, out, { ...opts, signal: ac.signal, onProgress: () => ac.abort() });
  } catch (e) {
    err = e;
  }
  assert.is((err as Error)?.name, 'AbortError');
  assert.not.ok(existsSync(out));
  assert.equal(leftovers(), []);
});

test('decryptToFile leaves nothing on any failure', async () => {
  const data = randomBytes(200_000);
  const cap = await collect(seal(data, opts));
  const out = join(dir, 'plain.out');
  await rejectsError(() => decryptToFile(cap, generateIdentity(), out), 'CapsuleFormatError', 'ERR_NO_MATCHING_STANZA', /none of 1 stanza/);
  const tampered = Buffer.from(cap);
  tampered[tampered.length - 20]! ^= 1; // inside the final chunk: earlier chunks were already written
  await rejectsError(() => decryptToFile(tampered, g, out), 'CapsuleFormatError', 'ERR_CHUNK_AUTH', /payload chunk 3 \(final\)/);
  await rejectsError(() => decryptToFile(cap.subarray(0, cap.length - 1), g, out), 'CapsuleFormatError', 'ERR_TRUNCATED', /input ended after/);
  assert.not.ok(existsSync(out));
  assert.equal(leftovers(), []);
  await decryptToFile(cap, g, out);
  assert.ok(readFileSync(out).equals(data));
});

test('every flipped byte of the preamble and header, and sampled payload bytes, is caught', async () => {
  const cap = await collect(seal(randomBytes(70_000), { ...opts, owner: g }));
  const headerEnd = (await verify(cap)).parsed.headerBytes.length;
  const positions = [...Array(headerEnd).keys()];
  for (let i = headerEnd; i < cap.length; i += 509) positions.push(i);
  for (let i = cap.length - 32; i < cap.length; i++) positions.push(i);
  for (const i of positions) {
    const bad = Buffer.from(cap);
    bad[i]! ^= 0x10;
    let failed = false;
    try {
      await verify(bad);
      await collect(openWithKey(bad, g));
    } catch (e) {
      assert.instance(e, DceError, `byte ${i}: a typed error`);
      failed = true;
    }
    assert.ok(failed, `flipping byte ${i} was not detected`);
  }
});

test('a 20 MiB file round-trips; a sealer that lies about the digest is caught at the end', async () => {
  const size = 20 * 1024 * 1024 + 65536 * 3 + 11;
  const data = randomBytes(size);
  const src = join(dir, 'large');
  writeFileSync(src, data);
  await sealToFile({ path: src }, join(dir, 'large.capsule'), opts);
  await decryptToFile({ path: join(dir, 'large.capsule') }, g, join(dir, 'large.out'));
  assert.ok(readFileSync(join(dir, 'large.out')).equals(data));
  // A sealer that lies about the digest: chunks are authentic, the commitment is not.
  const s = new CapsuleSealer(opts);
  const parts = [s.begin(size, new Uint8Array(32).fill(1)), ...s.push(data), ...s.end()];
  const liar = join(dir, 'liar.capsule');
  writeFileSync(liar, Buffer.concat(parts));
  await rejectsError(
    () => decryptToFile({ path: liar }, g, join(dir, 'liar.out')),
    'CapsuleFormatError',
    'ERR_PAYLOAD_DIGEST',
    /does not match header\.payload\.digest/,
  );
  assert.not.ok(existsSync(join(dir, 'liar.out')));
});

test('inspect reads the header only, never the payload', async () => {
  const cap = await collect(seal(randomBytes(100_000), opts));
  const headerEnd = (await verify(cap)).parsed.headerBytes.length;
  async function* headerThenBoom(): AsyncGenerator<Uint8Array> {
    yield cap.subarray(0, headerEnd);
    throw new Error('payload was read');
  }
  const info = await inspect(headerThenBoom());
  assert.is(info.payload.size, 100_000);
  assert.is(info.payload.chunks, 2);
  assert.equal(info.stanzas, [{ type: 'x25519', bodySize: 80 }]);
});

test('openWithKey accepts a custom unwrapper (hardware key custody plugs in here)', async () => {
  const data = randomBytes(500);
  const cap = await collect(seal(data, opts));
  await rejectsError(
    () =>
      collect(
        openWithKey(cap, () => {
          throw new DceError('ERR_X', 'custom refusal');
        }),
      ),
    'Error',
    'ERR_X',
    /custom refusal/,
  );
  throwsError(() => openWithKey(cap, 'nope' as never), 'TypeError', undefined, /identities\[0\]: expected an X25519 identity .* got string/);
});

test('reader errors are sticky: after a failure every push and end() repeats it', async () => {
  const cap = await collect(seal(randomBytes(10), opts));
  const r = new CapsuleReader();
  const bad = Buffer.from(cap);
  bad[0] = 0;
  throwsError(() => r.push(bad), 'CapsuleFormatError', 'ERR_BAD_MAGIC', /expected magic/);
  throwsError(() => r.push(cap), 'CapsuleFormatError', 'ERR_BAD_MAGIC', /expected magic/);
  throwsError(() => r.end(), 'CapsuleFormatError', 'ERR_BAD_MAGIC', /expected magic/);
});

test('Node stream plumbing: pipeline(file → seal → file) and (file → open → file)', async () => {
  const data = randomBytes(150_000);
  writeFileSync(join(dir, 'pipe.in'), data);
  await pipeline(seal(createReadStream(join(dir, 'pipe.in')), { ...opts, spoolDir: dir }), createWriteStream(join(dir, 'pipe.capsule')));
  await pipeline(openWithKey(createReadStream(join(dir, 'pipe.capsule')), g), createWriteStream(join(dir, 'pipe.out')));
  assert.ok(readFileSync(join(dir, 'pipe.out')).equals(data));
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
