/**
 * Sealing and decrypting big files on threads (BulkPool, bulkRange.ts, bulkWorker.ts): the
 * capsules are the ones the calling thread would write (each path opens the other's output), and
 * every failure is the sequential reader's, typed, with no output file and no temporary file left:
 * the first tampered chunk across ranges, a wrong commitment, truncation (handed to the sequential
 * reader), an abort. `parallelFrom: 0` sends small files down the threaded path.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash, randomBytes } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BulkReply, BulkTask } from '../agent/capsule/BulkPool.ts';
import { CapsuleSealer } from '../agent/capsule/CapsuleSealer.ts';
import { readHeader } from '../agent/capsule/inspect.ts';
import { decryptToFile } from '../agent/capsule/open.ts';
import { sealToFile } from '../agent/capsule/seal.ts';
import { generateIdentity } from '../agent/crypto/identity.ts';
import { rejectsError } from './helpers/assertError.ts';

const dir = mkdtempSync(join(tmpdir(), 'dce-bulk-'));
const g = generateIdentity();
const opts = { recipients: [g.recipient], logic: { hash: new Uint8Array(32).fill(7) } };
const K = 65536;
const SIZE = 160 * K + 1234; // 161 chunks: 11 blocks of 16 chunks for the threads to claim
const data = randomBytes(SIZE);
const src = join(dir, 'plain');
writeFileSync(src, data);
const threaded = { threads: 2, parallelFrom: 0 };
const sequential = { threads: 1 };
const p = (name: string) => join(dir, name);
const leftovers = () => readdirSync(dir).filter((f) => f.includes('.partial') || f.startsWith('.'));

test('threaded seal → sequential decrypt, sequential seal → threaded decrypt, threaded both ways; all digests', async () => {
  for (const digest of ['chunked-sha256', 'salted-chunked-sha256'] as const) {
    for (const [s, d, threads] of [
      [threaded, sequential, 2],
      [sequential, threaded, 2],
      [threaded, threaded, 3],
    ] as const) {
      const cap = p(`${digest}.capsule`);
      const out = p(`${digest}.out`);
      rmSync(out, { force: true });
      await sealToFile({ path: src }, cap, { ...opts, ...s, threads: s.threads === 1 ? 1 : threads, digest });
      const h = await readHeader({ path: cap });
      assert.is(h.header.payload.digestAlg, digest === 'chunked-sha256' ? 3 : 4);
      assert.is(readFileSync(cap).length, 16 + h.headerBytes.length - 16 + SIZE + 161 * 16);
      await decryptToFile({ path: cap }, g, out, { ...d, threads: d.threads === 1 ? 1 : threads });
      assert.ok(readFileSync(out).equals(data), `${digest}: ${JSON.stringify(s)} → ${JSON.stringify(d)}`);
    }
  }
  assert.equal(leftovers(), []);
});

test('a capsule with a single-stream digest (sha256) is sealed and opened on the calling thread, and opens', async () => {
  await sealToFile({ path: src }, p('old.capsule'), { ...opts, ...threaded, digest: 'sha256' });
  assert.is((await readHeader({ path: p('old.capsule') })).header.payload.digestAlg, 1);
  await decryptToFile({ path: p('old.capsule') }, g, p('old.out'), threaded);
  assert.ok(readFileSync(p('old.out')).equals(data));
});

test("progress reaches the payload size on both passes' second half (seal) and on decrypt", async () => {
  const seen: number[] = [];
  await sealToFile({ path: src }, p('prog.capsule'), {
    ...opts,
    ...threaded,
    onProgress: (done, total) => {
      assert.is(total, SIZE);
      seen.push(done);
    },
  });
  assert.is(seen.at(-1), SIZE);
  const opened: number[] = [];
  await decryptToFile({ path: p('prog.capsule') }, g, p('prog.out'), { ...threaded, onProgress: (done) => opened.push(done) });
  assert.is(opened.at(-1), SIZE);
  assert.ok(
    opened.every((x, i) => i === 0 || x > opened[i - 1]!),
    'progress only grows',
  );
});

/** Flips one ciphertext byte in each of the given chunks of a copy of `cap`. */
function tampered(cap: string, name: string, chunks: number[]): string {
  const bytes = readFileSync(cap);
  const payloadAt = bytes.length - SIZE - 161 * 16;
  for (const c of chunks) bytes[payloadAt + c * (K + 16) + 5]! ^= 1;
  writeFileSync(p(name), bytes);
  return p(name);
}

test('a tampered chunk late in the payload fails ERR_CHUNK_AUTH naming it; nothing written, nothing left', async () => {
  await sealToFile({ path: src }, p('good.capsule'), { ...opts, ...sequential });
  const bad = tampered(p('good.capsule'), 'bad30.capsule', [130]);
  await rejectsError(
    () => decryptToFile({ path: bad }, g, p('bad30.out'), threaded),
    'CapsuleFormatError',
    'ERR_CHUNK_AUTH',
    /^payload chunk 130: authentication failed/,
  );
  assert.not.ok(existsSync(p('bad30.out')));
  assert.equal(leftovers(), []);
});

test('tampered chunks far apart: the first one is reported, as the sequential reader reports it', async () => {
  const bad = tampered(p('good.capsule'), 'bad2.capsule', [133, 7]);
  await rejectsError(
    () => decryptToFile({ path: bad }, g, p('bad2.out'), threaded),
    'CapsuleFormatError',
    'ERR_CHUNK_AUTH',
    /^payload chunk 7: authentication failed/,
  );
  await rejectsError(
    () => decryptToFile({ path: bad }, g, p('bad2.out'), sequential),
    'CapsuleFormatError',
    'ERR_CHUNK_AUTH',
    /^payload chunk 7: authentication failed/,
  );
  const last = tampered(p('good.capsule'), 'badlast.capsule', [160]);
  await rejectsError(
    () => decryptToFile({ path: last }, g, p('bad2.out'), threaded),
    'CapsuleFormatError',
    'ERR_CHUNK_AUTH',
    /^payload chunk 160 \(final\): authentication failed/,
  );
  assert.not.ok(existsSync(p('bad2.out')));
  assert.equal(leftovers(), []);
});

test('authentic chunks under a false commitment fail ERR_PAYLOAD_DIGEST after the threads finish; no output', async () => {
  const s = new CapsuleSealer({ ...opts, digest: 'chunked-sha256' });
  const liar = p('liar.capsule');
  writeFileSync(liar, Buffer.concat([s.begin(SIZE, new Uint8Array(32).fill(1)), ...s.push(data), ...s.end()]));
  await rejectsError(
    () => decryptToFile({ path: liar }, g, p('liar.out'), threaded),
    'CapsuleFormatError',
    'ERR_PAYLOAD_DIGEST',
    /does not match header\.payload\.digest/,
  );
  assert.not.ok(existsSync(p('liar.out')));
  assert.equal(leftovers(), []);
});

test('a truncated or extended capsule goes to the sequential reader, which names the defect', async () => {
  writeFileSync(p('short.capsule'), readFileSync(p('good.capsule')));
  truncateSync(p('short.capsule'), readFileSync(p('good.capsule')).length - 100);
  await rejectsError(
    () => decryptToFile({ path: p('short.capsule') }, g, p('short.out'), threaded),
    'CapsuleFormatError',
    'ERR_TRUNCATED',
    /^input ended after \d+ bytes, inside/,
  );
  writeFileSync(p('long.capsule'), Buffer.concat([readFileSync(p('good.capsule')), Buffer.from([0])]));
  await rejectsError(
    () => decryptToFile({ path: p('long.capsule') }, g, p('long.out'), threaded),
    'CapsuleFormatError',
    'ERR_TRAILING_DATA',
    /^data continues after the final chunk/,
  );
  assert.not.ok(existsSync(p('short.out')) || existsSync(p('long.out')));
});

test('a capsule for another key fails before any thread starts (ERR_NO_MATCHING_STANZA)', async () => {
  await rejectsError(
    () => decryptToFile({ path: p('good.capsule') }, generateIdentity(), p('other.out'), threaded),
    'CapsuleFormatError',
    'ERR_NO_MATCHING_STANZA',
    /none of 1 stanza\(s\) \(x25519\) opens/,
  );
  assert.not.ok(existsSync(p('other.out')));
});

test('an abort stops seal and decrypt: the abort reason is thrown, no output, no temporary file', async () => {
  const runs = [
    (ac: AbortController) =>
      sealToFile({ path: src }, p('aborted.capsule'), { ...opts, ...threaded, signal: ac.signal, onProgress: () => ac.abort(new Error('stop')) }),
    (ac: AbortController) =>
      decryptToFile({ path: p('good.capsule') }, g, p('aborted.capsule'), { ...threaded, signal: ac.signal, onProgress: () => ac.abort(new Error('stop')) }),
  ];
  for (const run of runs) {
    await rejectsError(() => run(new AbortController()), 'Error', undefined, /^stop$/);
    assert.not.ok(existsSync(p('aborted.capsule')));
    assert.equal(leftovers(), []);
  }
});

test('the worker thread alone: claims every block, answers done, or names the failing chunk and its code', async () => {
  const w = new Worker(new URL('../agent/capsule/bulkWorker.ts', import.meta.url));
  const ask = (task: BulkTask) =>
    new Promise<BulkReply>((resolve) => {
      const on = (m: BulkReply) => {
        if (!('progress' in m)) {
          w.off('message', on);
          resolve(m);
        }
      };
      w.on('message', on);
      w.postMessage(task);
    });
  try {
    const digests = new SharedArrayBuffer(161 * 32);
    const control = new Int32Array(new SharedArrayBuffer(8));
    assert.equal(await ask({ op: 'hash', path: src, size: SIZE, control, digests }), { done: true });
    assert.is(control[0], 11 + 1, 'all 11 blocks claimed, then one claim past the end');
    assert.equal(
      Buffer.from(new Uint8Array(digests, 32 * 160, 32)),
      createHash('sha256')
        .update(data.subarray(160 * K))
        .digest(),
    );
    const h = await readHeader({ path: p('bad30.capsule') });
    writeFileSync(p('worker.out'), '');
    const reply = await ask({
      op: 'open',
      path: p('bad30.capsule'),
      size: SIZE,
      control: new Int32Array(new SharedArrayBuffer(8)),
      digests,
      out: p('worker.out'),
      inOffset: h.headerBytes.length,
      key: new Uint8Array(32),
      aad: h.headerHash,
    });
    assert.equal(reply, {
      error: {
        name: 'CapsuleFormatError',
        code: 'ERR_CHUNK_AUTH',
        message: 'payload chunk 0: authentication failed (tampered, reordered, truncated, or header changed)',
        chunk: 0,
      },
    });
  } finally {
    await w.terminate();
  }
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
