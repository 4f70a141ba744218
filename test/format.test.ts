/**
 * Unit tests for agent/format: preamble, deterministic CBOR, header shape checks, layout math.
 * Each error path asserts the error's name, code and that its message names the field.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeCanonical, encodeCanonical } from '../agent/format/cbor.ts';
import { CHUNK_SIZE, MAX_HEADER_SIZE } from '../agent/format/constants.ts';
import { decodeHeader, encodeHeader, signedMessage, type CapsuleHeader } from '../agent/format/header.ts';
import { capsuleLength, chunkCount, plainChunkSize } from '../agent/format/layout.ts';
import { decodePreamble, encodePreamble } from '../agent/format/preamble.ts';
import { throwsError } from './helpers/assertError.ts';

function header(over: Partial<CapsuleHeader> = {}): CapsuleHeader {
  return {
    version: 1,
    id: new Uint8Array(16).fill(1),
    created: 1_800_000_000,
    logic: { hash: new Uint8Array(32).fill(2) },
    payload: { size: 10, chunkSize: CHUNK_SIZE, cipher: 1, digestAlg: 1, digest: new Uint8Array(32).fill(3) },
    stanzas: [{ type: 'x25519', body: new Uint8Array(80).fill(4) }],
    extensions: new Map(),
    ...over,
  };
}

test('preamble round-trips and has the documented bytes', () => {
  const p = encodePreamble(300);
  assert.is(Buffer.from(p).toString('hex'), '8943415053554c45' + '0001' + '0000' + '0000012c');
  assert.equal(decodePreamble(p), { version: 1, headerLength: 300 });
});

test('preamble: each defect has its own code and message', () => {
  const p = encodePreamble(300);
  throwsError(() => decodePreamble(p.subarray(0, 15)), 'CapsuleFormatError', 'ERR_TRUNCATED', /expected 16 bytes, got 15/);
  const m = Uint8Array.from(p);
  m[3] = 0;
  throwsError(() => decodePreamble(m), 'CapsuleFormatError', 'ERR_BAD_MAGIC', /expected magic .* got 89434100/);
  const v = Uint8Array.from(p);
  v[9] = 2;
  throwsError(() => decodePreamble(v), 'CapsuleFormatError', 'ERR_UNSUPPORTED_VERSION', /expected format version 1, got 2/);
  const f = Uint8Array.from(p);
  f[10] = 0x80;
  throwsError(() => decodePreamble(f), 'CapsuleFormatError', 'ERR_RESERVED_FLAGS', /got 0x8000/);
});

test('preamble: header length cap, each side of the boundary', () => {
  assert.is(decodePreamble(encodePreamble(MAX_HEADER_SIZE)).headerLength, MAX_HEADER_SIZE);
  const over = encodePreamble(1);
  new DataView(over.buffer).setUint32(12, MAX_HEADER_SIZE + 1);
  throwsError(() => decodePreamble(over), 'CapsuleFormatError', 'ERR_HEADER_TOO_LARGE', /at most 65536 bytes, got 65537/);
  throwsError(() => encodePreamble(MAX_HEADER_SIZE + 1), 'RangeError', undefined, /headerLength: expected an integer in 1\.\.65536, got 65537/);
  throwsError(() => encodePreamble(0), 'RangeError', undefined, /got 0/);
});

test('canonical CBOR: sorted keys, shortest ints; non-canonical input refused', () => {
  const m = new Map<unknown, unknown>([
    [10, 'b'],
    [2, 'a'],
    [-1, 'c'],
  ]);
  const bytes = encodeCanonical(m);
  assert.is(Buffer.from(bytes).toString('hex'), 'a30261610a616220616' + '3');
  assert.equal(
    decodeCanonical(bytes, 'x'),
    new Map<unknown, unknown>([
      [2, 'a'],
      [10, 'b'],
      [-1, 'c'],
    ]),
  );
  throwsError(() => decodeCanonical(Uint8Array.of(0x18, 0x01), 'thing'), 'CapsuleFormatError', 'ERR_NON_CANONICAL_HEADER', /^thing: not deterministic CBOR/);
  throwsError(
    () => decodeCanonical(Uint8Array.of(0xa2, 0x0a, 0x01, 0x02, 0x01), 'thing'),
    'CapsuleFormatError',
    'ERR_NON_CANONICAL_HEADER',
    /re-encode deterministically/,
  );
  throwsError(() => decodeCanonical(Uint8Array.of(0xf9, 0x3c, 0x00), 'thing'), 'CapsuleFormatError', 'ERR_NON_CANONICAL_HEADER', /re-encode/); // 1.0 as half float decodes to integer 1
  throwsError(() => decodeCanonical(Uint8Array.of(0xc1, 0x01), 'thing'), 'CapsuleFormatError', 'ERR_MALFORMED_HEADER', /without tags/);
  throwsError(() => decodeCanonical(Uint8Array.of(0xf7), 'thing'), 'CapsuleFormatError', 'ERR_MALFORMED_HEADER', /undefined/);
  throwsError(() => decodeCanonical(Uint8Array.of(0x01, 0x01), 'thing'), 'CapsuleFormatError', 'ERR_MALFORMED_HEADER', /single well-formed/);
});

test('header round-trips byte-identically, extensions kept', () => {
  const h = header({ extensions: new Map([[-3, 'x']]) });
  const bytes = encodeHeader(h);
  const back = decodeHeader(bytes);
  assert.equal(Buffer.from(encodeHeader(back)), Buffer.from(bytes));
  assert.equal([...back.extensions], [[-3, 'x']]);
});

test('header: field errors name the field and what came', () => {
  const enc = (mut: (m: Map<number, any>) => void) => {
    const m = decodeCanonical(encodeHeader(header()), 'h') as Map<number, any>;
    mut(m);
    return encodeCanonical(m);
  };
  throwsError(
    () => decodeHeader(enc((m) => m.delete(3))),
    'CapsuleFormatError',
    'ERR_MALFORMED_HEADER',
    /^header\.created: required field \(key 3\) is missing$/,
  );
  throwsError(
    () => decodeHeader(enc((m) => m.set(3, 'now'))),
    'CapsuleFormatError',
    'ERR_MALFORMED_HEADER',
    /header\.created: expected an unsigned integer, got a text string/,
  );
  throwsError(
    () => decodeHeader(enc((m) => m.set(2, new Uint8Array(17)))),
    'CapsuleFormatError',
    'ERR_MALFORMED_HEADER',
    /header\.id: expected 16 bytes, got 17/,
  );
  throwsError(() => decodeHeader(enc((m) => m.set(11, 0))), 'CapsuleFormatError', 'ERR_UNKNOWN_CRITICAL_FIELD', /header: unknown critical field 11/);
  throwsError(
    () => decodeHeader(enc((m) => m.get(5).set(9, 0))),
    'CapsuleFormatError',
    'ERR_UNKNOWN_CRITICAL_FIELD',
    /header\.logic: unknown critical field 9/,
  );
  throwsError(
    () => decodeHeader(enc((m) => m.get(6).set(4, 5))),
    'CapsuleFormatError',
    'ERR_UNSUPPORTED_CIPHER',
    /digest_alg: expected 1 \(sha256\), 2 \(salted-sha256\), 3 \(chunked-sha256\) or 4 \(salted-chunked-sha256\), got 5/,
  );
  throwsError(
    () => decodeHeader(enc((m) => m.get(6).set(1, -1))),
    'CapsuleFormatError',
    'ERR_MALFORMED_HEADER',
    /header\.payload\.size: expected an unsigned integer, got the integer -1/,
  );
  throwsError(
    () => decodeHeader(enc((m) => m.get(5).set(2, new Uint8Array([1, 2, 3])))),
    'CapsuleFormatError',
    'ERR_MALFORMED_HEADER',
    /header\.logic\.cid: not a binary CID/,
  );
  throwsError(
    () => decodeHeader(enc((m) => m.get(5).set(3, Uint8Array.of(0x18, 0x01)))),
    'CapsuleFormatError',
    'ERR_NON_CANONICAL_HEADER',
    /header\.logic\.params: not deterministic/,
  );
  throwsError(
    () => decodeHeader(enc((m) => m.set(7, [['X25519', new Uint8Array(80)]]))),
    'CapsuleFormatError',
    'ERR_MALFORMED_HEADER',
    /header\.stanzas\[0\]\.type: expected 1\.\.32 characters/,
  );
  throwsError(
    () => decodeHeader(enc((m) => m.set(7, [['x25519']]))),
    'CapsuleFormatError',
    'ERR_MALFORMED_HEADER',
    /header\.stanzas\[0\]: expected \[type, body\], got an array of 1/,
  );
  throwsError(
    () => decodeHeader(enc((m) => m.set(7, [['x', new Uint8Array(4097)]]))),
    'CapsuleFormatError',
    'ERR_MALFORMED_HEADER',
    /body: expected at most 4096 bytes, got 4097/,
  );
  throwsError(
    () => decodeHeader(enc((m) => m.set(4, new Uint8Array(32)))),
    'CapsuleFormatError',
    'ERR_MALFORMED_HEADER',
    /header\.owner: present without header\.signature/,
  );
  throwsError(
    () => decodeHeader(enc((m) => m.set(8, new Uint8Array(64)))),
    'CapsuleFormatError',
    'ERR_MALFORMED_HEADER',
    /header\.signature: present without header\.owner/,
  );
});

test('header: stanza count and params size limits, each side', () => {
  const many = (n: number) => header({ stanzas: Array.from({ length: n }, () => ({ type: 'x', body: new Uint8Array(1) })) });
  assert.is(decodeHeader(encodeHeader(many(64))).stanzas.length, 64);
  throwsError(() => decodeHeader(encodeHeader(many(65))), 'CapsuleFormatError', 'ERR_MALFORMED_HEADER', /expected 1\.\.64 stanzas, got 65/);
  const params = (n: number) => header({ logic: { hash: new Uint8Array(32), params: encodeCanonical(new Uint8Array(n - 3)) } });
  assert.is(decodeHeader(encodeHeader(params(16384))).logic.params!.length, 16384);
  throwsError(() => decodeHeader(encodeHeader(params(16385))), 'CapsuleFormatError', 'ERR_MALFORMED_HEADER', /params: expected 1\.\.16384 bytes, got 16385/);
});

test('signed message excludes the signature and starts with the label', () => {
  const h = header({ owner: new Uint8Array(32), signature: new Uint8Array(64).fill(9) });
  const msg = signedMessage(h);
  assert.is(Buffer.from(msg.subarray(0, 28)).toString(), 'capsule/v1 header signature\0');
  assert.equal(Buffer.from(msg.subarray(28)), Buffer.from(encodeHeader({ ...h, signature: undefined })));
});

test('layout: chunk count, sizes and total length', () => {
  assert.is(chunkCount(0), 1);
  assert.is(chunkCount(1), 1);
  assert.is(chunkCount(CHUNK_SIZE), 1);
  assert.is(chunkCount(CHUNK_SIZE + 1), 2);
  assert.is(plainChunkSize(0, 0), 0);
  assert.is(plainChunkSize(CHUNK_SIZE * 2, 1), CHUNK_SIZE);
  assert.is(plainChunkSize(CHUNK_SIZE + 5, 1), 5);
  assert.is(capsuleLength(100, 0), 16 + 100 + 16);
  assert.is(capsuleLength(100, CHUNK_SIZE * 2 + 1), 16 + 100 + CHUNK_SIZE * 2 + 1 + 48);
});

test.run();
