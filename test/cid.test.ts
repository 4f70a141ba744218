/**
 * CID computation with the content stores' import settings (agent/store/importSettings.ts), against
 * known answers: CIDs Kubo gives with CIDv1 + raw leaves + 256 KiB chunks (recorded by the IPFS
 * research for issue #6 against a Kubo-RPC daemon, and published by other projects for Kubo), and
 * the structural facts each size must show (a raw leaf alone, a dag-pb root above one chunk).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { computeCid, CHUNK_BYTES, MAX_LINKS } from '../agent/store/importSettings.ts';

const RAW = 0x55;
const DAG_PB = 0x70;

test('a single chunk is its own raw leaf: CID = raw codec over SHA-256 of the bytes', async () => {
  for (const size of [0, 1, CHUNK_BYTES]) {
    const cid = await computeCid(new Uint8Array(size));
    assert.is(cid.version, 1);
    assert.is(cid.code, RAW, `${size} bytes: raw leaf`);
  }
  assert.is(
    (await computeCid(new Uint8Array(0))).toString(),
    'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku',
    'the empty file (SHA-256 of nothing)',
  );
});

test("above one chunk: a dag-pb root, and Kubo's CID for 262145 zero bytes", async () => {
  const cid = await computeCid(new Uint8Array(CHUNK_BYTES + 1));
  assert.is(cid.code, DAG_PB);
  assert.is(cid.toString(), 'bafybeigllfqgfpqydppr6cmv56g7ax4wyhruzswvcefv6j5kj77nzttfki');
});

test('streamed in odd pieces or given whole, the CID is the same; a two-level tree differs from its first level', async () => {
  const bytes = new Uint8Array(MAX_LINKS * CHUNK_BYTES + 1).map((_, i) => (i * 31) & 0xff);
  async function* pieces() {
    for (let off = 0; off < bytes.length; off += 100_003) yield bytes.subarray(off, off + 100_003);
  }
  const whole = await computeCid(bytes);
  assert.ok(whole.equals(await computeCid(pieces())));
  assert.not.ok(whole.equals(await computeCid(bytes.subarray(0, MAX_LINKS * CHUNK_BYTES))));
});

test('an aborted computation stops with the abort reason', async () => {
  const ac = new AbortController();
  ac.abort(new Error('stop'));
  let thrown: unknown;
  try {
    await computeCid(new Uint8Array(10 * CHUNK_BYTES), ac.signal);
  } catch (e) {
    thrown = e;
  }
  assert.instance(thrown, Error);
  assert.is((thrown as Error).message, 'stop', 'the abort reason');
});

test.run();
