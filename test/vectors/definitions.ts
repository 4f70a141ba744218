/**
 * Every test vector, as code: positive cases sealed by the real sealer with a seeded random source,
 * negative cases derived from them with exactly one defect each (payload re-encrypted where the
 * defect is in the header, so that nothing else is wrong). `npm run vectors` writes them to files;
 * the test suite checks the files are exactly what this code produces.
 */
import { encode } from 'cborg';
import { CID } from 'multiformats/cid';
import { encodeIdentity } from '../../agent/crypto/identity.ts';
import { encodeCanonical } from '../../agent/format/cbor.ts';
import { encodePreamble } from '../../agent/format/preamble.ts';
import {
  canonical, concat, encryptChunks, fixedIdentity, flip, headerMap, LOGIC_HASH, plaintext, rawMap, Raw,
  sealDeterministic, sha256, withHeader, type Built,
} from './build.ts';

export interface Definition {
  name: string;
  comment: string;
  expect: string;
  verify: string;
  identities: string[];
  bytes: Uint8Array;
  payload?: Uint8Array;
}

const A = fixedIdentity('guardian-a');
const B = fixedIdentity('guardian-b');
const OWNER = fixedIdentity('owner');
const idA = [encodeIdentity(A.secretKey)];
const idB = [encodeIdentity(B.secretKey)];
const logic = { hash: LOGIC_HASH };
const K = 65536;

function sealed(seed: string, size: number, extra: Partial<Parameters<typeof sealDeterministic>[2]> = {}): Built {
  return sealDeterministic(seed, plaintext(size, seed), { recipients: [A.recipient], logic, ...extra });
}

const ok = (name: string, comment: string, b: Built, identities = idA): Definition =>
  ({ name, comment, expect: 'success', verify: 'ok', identities, bytes: b.bytes, payload: b.plain });
const bad = (name: string, comment: string, expect: string, verify: string, bytes: Uint8Array, identities = idA): Definition =>
  ({ name, comment, expect: `error ${expect}`, verify: verify === 'ok' ? 'ok' : `error ${verify}`, identities, bytes });

/** Re-encodes an edited header map canonically and re-encrypts the payload under it. */
function edit(b: Built, change: (m: Map<number, unknown>) => void): Uint8Array {
  const m = headerMap(b);
  change(m);
  return withHeader(b, canonical(m));
}

function sub(m: Map<number, unknown>, key: number): Map<number, unknown> {
  return m.get(key) as Map<number, unknown>;
}

export function definitions(): Definition[] {
  const one = sealed('one-byte', 1);
  const small = sealed('small', 1000);
  const three = sealed('three-chunks', 3 * K + 100);
  const exact = sealed('exact-64k', K);
  const signed = sealed('signed', 5000, { owner: OWNER });
  const out: Definition[] = [];

  // ---- positive ----
  out.push(ok('empty', 'empty payload: one empty final chunk', sealed('empty', 0)));
  out.push(ok('one-byte', 'one-byte payload', one));
  out.push(ok('exact-64k', 'exactly one full chunk, which is final', exact));
  out.push(ok('64k-plus-1', 'a full chunk then a 1-byte final chunk', sealed('64k-plus-1', K + 1)));
  out.push(ok('two-full-chunks', 'exactly two full chunks, the second final', sealed('two-full', 2 * K)));
  out.push(ok('three-chunks-partial', 'three full chunks and a partial final chunk', three));
  out.push(ok('two-guardians', 'two x25519 stanzas; the identity opens the second',
    sealed('two-guardians', 300, { recipients: [A.recipient, B.recipient] }), idB));
  out.push(ok('two-identities', 'identity file with two keys; the second matches', small, [...idB, ...idA]));
  out.push(ok('signed', 'owner-signed header (Ed25519 derived from the owner identity)', signed));
  out.push(ok('salted-digest', 'salted-sha256 payload commitment', sealed('salted', 777, { digest: 'salted-sha256' })));
  out.push(ok('params-and-cid', 'logic parameters (CBOR) and a logic CID', sealed('params', 64, {
    logic: {
      hash: LOGIC_HASH,
      cid: CID.parse('bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy').bytes,
      params: encodeCanonical({ notBefore: '2030-01-01T00:00:00Z', approvers: 2, ratio: 0.5 }),
    },
  })));
  out.push(ok('extension-field', 'a negative-keyed extension field, ignored by readers',
    sealed('extension', 10, { extensions: new Map<number, unknown>([[-1, 'note'], [-7, new Uint8Array(3)]]) })));
  {
    // An unknown stanza type before ours: readers skip it.
    const b = sealed('unknown-stanza', 50);
    const m = headerMap(b);
    m.set(7, [['future-kind', new Uint8Array([1, 2, 3])], ...(m.get(7) as unknown[])]);
    out.push({ ...ok('unknown-stanza-type', 'a stanza of an unknown type first; readers skip it', b), bytes: withHeader(b, canonical(m)) });
  }

  // ---- negative: preamble ----
  out.push(bad('bad-magic', 'first magic byte changed', 'ERR_BAD_MAGIC', 'ERR_BAD_MAGIC', flip(small.bytes, 0)));
  out.push(bad('not-a-capsule', 'an age file', 'ERR_BAD_MAGIC', 'ERR_BAD_MAGIC',
    new TextEncoder().encode('age-encryption.org/v1\n-> X25519 abc\nxyz\n--- 123\n')));
  out.push(bad('empty-file', 'zero bytes', 'ERR_TRUNCATED', 'ERR_TRUNCATED', new Uint8Array(0)));
  out.push(bad('truncated-preamble', 'ten bytes of preamble', 'ERR_TRUNCATED', 'ERR_TRUNCATED', small.bytes.slice(0, 10)));
  out.push(bad('preamble-version-2', 'format version 2 in the preamble', 'ERR_UNSUPPORTED_VERSION', 'ERR_UNSUPPORTED_VERSION', flip(small.bytes, 9, 0x03)));
  out.push(bad('reserved-flags', 'a reserved preamble flag set', 'ERR_RESERVED_FLAGS', 'ERR_RESERVED_FLAGS', flip(small.bytes, 11)));
  {
    const b = Uint8Array.from(small.bytes);
    new DataView(b.buffer).setUint32(12, 65537);
    out.push(bad('oversized-header', 'header length 65537, above the cap', 'ERR_HEADER_TOO_LARGE', 'ERR_HEADER_TOO_LARGE', Uint8Array.from(b)));
    new DataView(b.buffer).setUint32(12, 0);
    out.push(bad('zero-header-length', 'header length 0', 'ERR_MALFORMED_HEADER', 'ERR_MALFORMED_HEADER', Uint8Array.from(b)));
  }
  out.push(bad('truncated-header', 'file ends inside the header', 'ERR_TRUNCATED', 'ERR_TRUNCATED', small.bytes.slice(0, 16 + 40)));

  // ---- negative: header CBOR ----
  {
    // version encoded as 0x18 0x01 (two bytes where one suffices)
    const h = small.header;
    const nonShortest = concat(h.subarray(0, 2), Uint8Array.of(0x18, 0x01), h.subarray(3));
    out.push(bad('non-canonical-integer', 'header.version encoded in two bytes', 'ERR_NON_CANONICAL_HEADER', 'ERR_NON_CANONICAL_HEADER', withHeader(small, nonShortest)));
    const m = headerMap(small);
    const entries = [...m.entries()].sort((x, y) => y[0] - x[0]);
    out.push(bad('non-canonical-key-order', 'header map keys in descending order', 'ERR_NON_CANONICAL_HEADER', 'ERR_NON_CANONICAL_HEADER',
      withHeader(small, rawMap(entries))));
    const asc = [...m.entries()].sort((x, y) => x[0] - y[0]);
    out.push(bad('duplicate-key', 'header.created appears twice', 'ERR_MALFORMED_HEADER', 'ERR_MALFORMED_HEADER',
      withHeader(small, rawMap([...asc.slice(0, 3), [3, m.get(3)], ...asc.slice(3)]))));
    const indefinite = concat(Uint8Array.of(0xbf), rawMap(asc).subarray(1), Uint8Array.of(0xff));
    out.push(bad('indefinite-length-map', 'header map with indefinite length', 'ERR_NON_CANONICAL_HEADER', 'ERR_NON_CANONICAL_HEADER', withHeader(small, indefinite)));
    out.push(bad('tagged-value', 'header.created wrapped in tag 1 (epoch time)', 'ERR_MALFORMED_HEADER', 'ERR_MALFORMED_HEADER',
      withHeader(small, rawMap(asc.map(([k, v]) => [k, k === 3 ? new Raw(concat(Uint8Array.of(0xc1), encode(v))) : v])))));
    out.push(bad('garbage-after-header', 'one byte after the header item, inside header_length', 'ERR_MALFORMED_HEADER', 'ERR_MALFORMED_HEADER',
      withHeader(small, concat(small.header, Uint8Array.of(0x00)))));
    out.push(bad('header-not-a-map', 'header is a CBOR array', 'ERR_MALFORMED_HEADER', 'ERR_MALFORMED_HEADER', withHeader(small, canonical([1, 2, 3]))));
  }
  {
    const asc = [...headerMap(small).entries()].sort((x, y) => x[0] - y[0]);
    const withExtension = (raw: Uint8Array) => withHeader(small, rawMap([...asc, [-1, new Raw(raw)]]));
    let deep: Uint8Array = Uint8Array.of(0x01);
    for (let i = 0; i < 16; i++) deep = concat(Uint8Array.of(0x81), deep); // header map + 16 arrays = 17 levels
    out.push(bad('nesting-too-deep', 'an extension value nested 17 levels deep (limit 16)', 'ERR_MALFORMED_HEADER', 'ERR_MALFORMED_HEADER', withExtension(deep)));
    out.push(bad('complex-map-key', 'an extension map with an array as a key', 'ERR_MALFORMED_HEADER', 'ERR_MALFORMED_HEADER',
      withExtension(Uint8Array.of(0xa2, 0x00, 0x00, 0x81, 0x00, 0x00))));
    out.push(bad('integral-float', 'an extension holding the float 1e300 (integral: must be an integer or a string)', 'ERR_MALFORMED_HEADER', 'ERR_MALFORMED_HEADER',
      withExtension(Uint8Array.of(0xfb, 0x7e, 0x37, 0xe4, 0x3c, 0x88, 0x00, 0x75, 0x9c))));
  }
  out.push(bad('created-out-of-range', 'header.created after 9999-12-31T23:59:59Z', 'ERR_MALFORMED_HEADER', 'ERR_MALFORMED_HEADER',
    edit(small, (m) => m.set(3, 253402300800))));
  out.push(bad('cid-v0', 'header.logic.cid is a CIDv0 (only CIDv1 is allowed)', 'ERR_MALFORMED_HEADER', 'ERR_MALFORMED_HEADER',
    edit(small, (m) => sub(m, 5).set(2, CID.parse('QmcRD4wkPPi6dig81r5sLj9Zm1gDCL4zgpEj9CfuRrGbzF').bytes))));
  out.push(bad('unknown-critical-field', 'unsigned header key 9, unknown to v1', 'ERR_UNKNOWN_CRITICAL_FIELD', 'ERR_UNKNOWN_CRITICAL_FIELD',
    edit(small, (m) => m.set(9, 'must understand'))));
  out.push(bad('unknown-critical-nested', 'unsigned key 6 inside header.payload', 'ERR_UNKNOWN_CRITICAL_FIELD', 'ERR_UNKNOWN_CRITICAL_FIELD',
    edit(small, (m) => sub(m, 6).set(6, 1))));
  out.push(bad('header-version-2', 'header.version = 2', 'ERR_UNSUPPORTED_VERSION', 'ERR_UNSUPPORTED_VERSION', edit(small, (m) => m.set(1, 2))));
  out.push(bad('missing-id', 'header.id absent', 'ERR_MALFORMED_HEADER', 'ERR_MALFORMED_HEADER', edit(small, (m) => m.delete(2))));
  out.push(bad('short-id', 'header.id of 15 bytes', 'ERR_MALFORMED_HEADER', 'ERR_MALFORMED_HEADER',
    edit(small, (m) => m.set(2, (m.get(2) as Uint8Array).subarray(0, 15)))));
  out.push(bad('unsupported-cipher', 'header.payload.cipher = 2', 'ERR_UNSUPPORTED_CIPHER', 'ERR_UNSUPPORTED_CIPHER', edit(small, (m) => sub(m, 6).set(3, 2))));
  out.push(bad('wrong-chunk-size', 'header.payload.chunk_size = 32768', 'ERR_UNSUPPORTED_CIPHER', 'ERR_UNSUPPORTED_CIPHER', edit(small, (m) => sub(m, 6).set(2, 32768))));
  out.push(bad('no-stanzas', 'header.stanzas empty', 'ERR_MALFORMED_HEADER', 'ERR_MALFORMED_HEADER', edit(small, (m) => m.set(7, []))));

  // ---- negative: stanzas and signature ----
  out.push(bad('stanza-for-another-recipient', 'sealed to guardian B, opened with A', 'ERR_NO_MATCHING_STANZA', 'ok',
    sealed('other', 100, { recipients: [B.recipient] }).bytes));
  out.push(bad('stanza-wrong-length', 'x25519 stanza body of 79 bytes', 'ERR_BAD_STANZA', 'ERR_BAD_STANZA',
    edit(small, (m) => { const s = (m.get(7) as [string, Uint8Array][])[0]!; s[1] = s[1].subarray(0, 79); })));
  out.push(bad('stanza-low-order-share', 'x25519 ephemeral share is the all-zero point', 'ERR_BAD_STANZA', 'ERR_BAD_STANZA',
    edit(small, (m) => { const s = (m.get(7) as [string, Uint8Array][])[0]!; s[1] = concat(new Uint8Array(32), s[1].subarray(32)); })));
  out.push(bad('stanza-tampered-wrap', 'one bit of the wrapped file key flipped', 'ERR_NO_MATCHING_STANZA', 'ok',
    edit(small, (m) => { const s = (m.get(7) as [string, Uint8Array][])[0]!; s[1] = flip(s[1], 40); })));
  {
    const m = headerMap(signed);
    m.set(8, flip(m.get(8) as Uint8Array, 5));
    out.push(bad('bad-signature', 'one bit of the owner signature flipped', 'ERR_BAD_SIGNATURE', 'ERR_BAD_SIGNATURE', withHeader(signed, canonical(m))));
    const n = headerMap(signed);
    n.set(3, (n.get(3) as number) + 1);
    out.push(bad('signed-header-changed', 'header.created changed after signing', 'ERR_BAD_SIGNATURE', 'ERR_BAD_SIGNATURE', withHeader(signed, canonical(n))));
    const o = headerMap(signed);
    o.delete(8);
    out.push(bad('owner-without-signature', 'header.owner present, signature stripped', 'ERR_MALFORMED_HEADER', 'ERR_MALFORMED_HEADER', withHeader(signed, canonical(o))));
  }

  // ---- negative: payload ----
  const [c0, c1, c2, c3] = three.chunks as [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  const h3 = three.head;
  out.push(bad('truncated-after-header', 'no chunk at all', 'ERR_TRUNCATED', 'ERR_TRUNCATED', h3));
  out.push(bad('truncated-at-chunk-boundary', 'ends after chunk 1 of 4', 'ERR_TRUNCATED', 'ERR_TRUNCATED', concat(h3, c0, c1)));
  out.push(bad('truncated-inside-chunk', 'ends in the middle of chunk 1', 'ERR_TRUNCATED', 'ERR_TRUNCATED', concat(h3, c0, c1.subarray(0, 30000))));
  out.push(bad('truncated-inside-final-tag', 'last 5 bytes of the final tag missing', 'ERR_TRUNCATED', 'ERR_TRUNCATED', three.bytes.slice(0, -5)));
  out.push(bad('reordered-chunks', 'chunks 0 and 1 swapped', 'ERR_CHUNK_AUTH', 'ok', concat(h3, c1, c0, c2, c3)));
  out.push(bad('duplicated-chunk', 'chunk 0 repeated in place of chunk 1', 'ERR_CHUNK_AUTH', 'ok', concat(h3, c0, c0, c2, c3)));
  out.push(bad('dropped-chunk', 'chunk 1 removed', 'ERR_CHUNK_AUTH', 'ERR_TRUNCATED', concat(h3, c0, c2, c3)));
  out.push(bad('flipped-tag-bit', 'one bit of the final chunk tag flipped', 'ERR_CHUNK_AUTH', 'ok', flip(three.bytes, three.bytes.length - 1, 0x80)));
  out.push(bad('flipped-ciphertext-bit', 'one bit of chunk 0 ciphertext flipped', 'ERR_CHUNK_AUTH', 'ok', flip(three.bytes, h3.length + 100)));
  out.push(bad('trailing-byte', 'one byte after the final chunk', 'ERR_TRAILING_DATA', 'ERR_TRAILING_DATA', concat(small.bytes, Uint8Array.of(0))));
  {
    const extra = encryptChunks(exact.head, exact.fileKey, exact.id, new Uint8Array(0), { pieces: [exact.plain, new Uint8Array(0)], lastFlags: [1] });
    out.push(bad('empty-final-chunk', '64 KiB sealed as a non-final full chunk plus an empty final chunk', 'ERR_CHUNK_AUTH', 'ERR_TRAILING_DATA',
      concat(exact.head, ...extra)));
    const appended = encryptChunks(exact.head, exact.fileKey, exact.id, new Uint8Array(0), { pieces: [exact.plain, new Uint8Array(10)], lastFlags: [0, 1] });
    out.push(bad('chunk-after-final', 'a valid chunk appended after the final one', 'ERR_TRAILING_DATA', 'ERR_TRAILING_DATA', concat(exact.head, ...appended)));
    out.push(bad('missing-last-flag', 'the only chunk encrypted without the last flag', 'ERR_CHUNK_AUTH', 'ok',
      concat(one.head, ...encryptChunks(one.head, one.fileKey, one.id, one.plain, { lastFlags: [] }))));
    out.push(bad('early-last-flag', 'chunk 0 of 4 encrypted with the last flag', 'ERR_CHUNK_AUTH', 'ok',
      concat(h3, ...encryptChunks(h3, three.fileKey, three.id, three.plain, { lastFlags: [0, 3] }))));
  }
  out.push(bad('wrong-payload-digest', 'header.payload.digest of other bytes; chunks consistent with the header', 'ERR_PAYLOAD_DIGEST', 'ok',
    edit(small, (m) => sub(m, 6).set(5, sha256(new Uint8Array(1))))));
  out.push(bad('salted-digest-unsalted', 'digest_alg 2 but the digest is the plain SHA-256', 'ERR_PAYLOAD_DIGEST', 'ok',
    edit(small, (m) => sub(m, 6).set(4, 2))));
  out.push(bad('header-changed-after-seal', 'header.created changed; chunks still bound to the old header', 'ERR_CHUNK_AUTH', 'ok',
    (() => {
      const m = headerMap(small);
      m.set(3, (m.get(3) as number) + 1);
      const header = canonical(m);
      return concat(encodePreamble(header.length), header, ...small.chunks);
    })()));
  out.push(bad('size-larger-than-payload', 'header.payload.size one more than the chunks hold', 'ERR_TRUNCATED', 'ERR_TRUNCATED',
    edit(small, (m) => sub(m, 6).set(1, 1001))));
  return out;
}

