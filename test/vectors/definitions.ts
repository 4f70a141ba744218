/**
 * Every test vector, as code: positive cases sealed by the real sealer with a seeded random source,
 * negative cases derived from them with exactly one defect each (payload re-encrypted where the
 * defect is in the header, so that nothing else is wrong). `npm run vectors` writes them to files;
 * the test suite checks the files are exactly what this code produces.
 *
 * Security-module parts are stand-ins: fixed P-256 scalars for the guardian's slot signing key,
 * fixed fake blobs for zymbit-lock stanzas (no module can open them, which is what their
 * vectors test), and seeded RSA-2048 keys for a guardian's TPM key (tpm2Vectors.ts). Re-signed
 * negative vectors build their messages here, not with agent/ code.
 */
import { hkdfSync } from 'node:crypto';
import { encode } from 'cborg';
import { CID } from 'multiformats/cid';
import { encodeIdentity, signWithOwner } from '../../agent/crypto/identity.ts';
import { encodeCanonical } from '../../agent/format/cbor.ts';
import { encodePreamble } from '../../agent/format/preamble.ts';
import { drbg } from '../helpers/drbg.ts';
import {
  canonical,
  concat,
  encryptChunks,
  fakeLocker,
  fixedIdentity,
  fixedP256,
  fixedSigner,
  flip,
  headerMap,
  labelled,
  LOGIC_HASH,
  plaintext,
  rawMap,
  Raw,
  sealDeterministic,
  sha256,
  signDigest,
  withHeader,
  type Built,
} from './build.ts';
import { thresholdVectors } from './thresholdVectors.ts';
import { tpm2Vectors } from './tpm2Vectors.ts';

export interface Definition {
  name: string;
  comment: string;
  expect: string;
  verify: string;
  identities: string[];
  /** P-256 scalars in hex, for p256-ecdh stanzas (`identity-p256:` lines). */
  p256?: string[];
  /** RSA private keys, PKCS#8 DER in base64, for tpm2-rsa stanzas (`identity-tpm2-rsa:` lines). */
  tpm2Rsa?: string[];
  bytes: Uint8Array;
  payload?: Uint8Array;
}

const A = fixedIdentity('guardian-a');
const B = fixedIdentity('guardian-b');
const OWNER = fixedIdentity('owner');
const idA = [encodeIdentity(A.secretKey)];
const idB = [encodeIdentity(B.secretKey)];
/** P-256 recipients (p256-ecdh stanzas). */
const P = fixedP256('guardian-p');
const Q = fixedP256('guardian-q');
const keyP = [Buffer.from(P.scalar).toString('hex')];
/** Guardian header-signing keys (module slot keys on a real guardian). */
const G = fixedP256('guardian-signing-key');
const G2 = fixedP256('other-guardian-signing-key');
const logic = { hash: LOGIC_HASH };
const K = 65536;
/** P-256 field prime p and group order n (SEC 2 secp256r1). */
const FIELD_P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
const ORDER_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const LABEL_OWNER = 'capsule/v1 header signature';
const LABEL_GUARDIAN = 'capsule/v1 guardian signature';

function sealed(seed: string, size: number, extra: Partial<Parameters<typeof sealDeterministic>[2]> = {}): Promise<Built> {
  return sealDeterministic(seed, plaintext(size, seed), { recipients: [A.recipient], logic, ...extra });
}

const ok = (name: string, comment: string, b: Built, identities = idA, p256: string[] = []): Definition => ({
  name,
  comment,
  expect: 'success',
  verify: 'ok',
  identities,
  p256,
  bytes: b.bytes,
  payload: b.plain,
});
const bad = (name: string, comment: string, expect: string, verify: string, bytes: Uint8Array, identities = idA, p256: string[] = []): Definition => ({
  name,
  comment,
  expect: `error ${expect}`,
  verify: verify === 'ok' ? 'ok' : `error ${verify}`,
  identities,
  p256,
  bytes,
});

/**
 * chunked-sha256 root (SPEC.md §6.4), written out here rather than taken from the sealer, with
 * switches that each get one part wrong for the negative vectors.
 */
function chunkedRoot(
  plain: Uint8Array,
  o: { salt?: Uint8Array; size?: boolean; label?: boolean; swap?: boolean; whole?: boolean; none?: boolean } = {},
): Uint8Array {
  const digests: Uint8Array[] = [];
  if (o.whole) {
    if (!o.none) digests.push(sha256(plain));
  } else {
    for (let at = 0; at === 0 || at < plain.length; at += K) digests.push(sha256(plain.subarray(at, at + K)));
  }
  if (o.swap) [digests[0], digests[1]] = [digests[1]!, digests[0]!];
  const size = new Uint8Array(8);
  new DataView(size.buffer).setBigUint64(0, BigInt(plain.length));
  return sha256(
    o.label === false ? new Uint8Array(0) : new TextEncoder().encode('capsule/v1 chunked digest'),
    o.salt ?? new Uint8Array(0),
    o.size === false ? new Uint8Array(0) : size,
    ...digests,
  );
}

/** Re-encodes an edited header map canonically and re-encrypts the payload under it. */
function edit(b: Built, change: (m: Map<number, unknown>) => void): Uint8Array {
  const m = headerMap(b);
  change(m);
  return withHeader(b, canonical(m));
}

function sub(m: Map<number, unknown>, key: number): Map<number, unknown> {
  return m.get(key) as Map<number, unknown>;
}

function stanzas(m: Map<number, unknown>): [string, Uint8Array][] {
  return m.get(7) as [string, Uint8Array][];
}

/** The map without some keys (a signature's body, SPEC.md §7). */
function without(m: Map<number, unknown>, ...keys: number[]): Map<number, unknown> {
  return new Map([...m].filter(([k]) => !keys.includes(k)));
}

/** 32-byte big-endian. */
function be32(x: bigint): Uint8Array {
  return Uint8Array.from(Buffer.from(x.toString(16).padStart(64, '0'), 'hex'));
}

/** A fake module blob, distinct per capsule as a real module's would be. Opaque to every reader. */
function lockBlob(seed: string): Uint8Array {
  return drbg(`fake zymbit-lock blob ${seed}`)(108);
}

/** The guardian signature (key 10) the right way (§7.2), over a map that may be edited. */
function guardianSign(m: Map<number, unknown>): Uint8Array {
  return signDigest(G, sha256(labelled(LABEL_GUARDIAN, canonical(without(m, 10)))));
}

export async function definitions(): Promise<Definition[]> {
  const one = await sealed('one-byte', 1);
  const small = await sealed('small', 1000);
  const three = await sealed('three-chunks', 3 * K + 100);
  const exact = await sealed('exact-64k', K);
  const signed = await sealed('signed', 5000, { owner: OWNER });
  const out: Definition[] = [];

  // ---- positive ----
  out.push(ok('empty', 'empty payload: one empty final chunk', await sealed('empty', 0)));
  out.push(ok('one-byte', 'one-byte payload', one));
  out.push(ok('exact-64k', 'exactly one full chunk, which is final', exact));
  out.push(ok('64k-plus-1', 'a full chunk then a 1-byte final chunk', await sealed('64k-plus-1', K + 1)));
  out.push(ok('two-full-chunks', 'exactly two full chunks, the second final', await sealed('two-full', 2 * K)));
  out.push(ok('three-chunks-partial', 'three full chunks and a partial final chunk', three));
  out.push(
    ok(
      'two-guardians',
      'two x25519 stanzas; the identity opens the second',
      await sealed('two-guardians', 300, { recipients: [A.recipient, B.recipient] }),
      idB,
    ),
  );
  out.push(ok('two-identities', 'identity file with two keys; the second matches', small, [...idB, ...idA]));
  out.push(ok('signed', 'owner-signed header (Ed25519 derived from the owner identity)', signed));
  out.push(ok('salted-digest', 'salted-sha256 payload commitment', await sealed('salted', 777, { digest: 'salted-sha256' })));
  const chunked = await sealed('chunked', 3 * K + 100, { digest: 'chunked-sha256' });
  const chunkedSalted = await sealed('salted-chunked', 2 * K + 5, { digest: 'salted-chunked-sha256' });
  out.push(ok('chunked-digest', 'chunked-sha256 commitment over three full chunks and a partial one', chunked));
  const chunkedEmpty = await sealed('chunked-empty', 0, { digest: 'chunked-sha256' });
  out.push(ok('chunked-digest-empty', 'chunked-sha256 of the empty payload: one digest, of the empty chunk', chunkedEmpty));
  out.push(ok('chunked-digest-exact-64k', 'chunked-sha256 of exactly one full chunk', await sealed('chunked-64k', K, { digest: 'chunked-sha256' })));
  out.push(ok('salted-chunked-digest', 'salted-chunked-sha256 commitment', chunkedSalted));
  out.push(
    ok(
      'params-and-cid',
      'logic parameters (CBOR) and a logic CID',
      await sealed('params', 64, {
        logic: {
          hash: LOGIC_HASH,
          cid: CID.parse('bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy').bytes,
          params: encodeCanonical({ notBefore: '2030-01-01T00:00:00Z', approvers: 2, ratio: 0.5 }),
        },
      }),
    ),
  );
  out.push(
    ok(
      'extension-field',
      'a negative-keyed extension field, ignored by readers',
      await sealed('extension', 10, {
        extensions: new Map<number, unknown>([
          [-1, 'note'],
          [-7, new Uint8Array(3)],
        ]),
      }),
    ),
  );
  {
    // An unknown stanza type before ours: readers skip it.
    const b = await sealed('unknown-stanza', 50);
    const m = headerMap(b);
    m.set(7, [['future-kind', new Uint8Array([1, 2, 3])], ...(m.get(7) as unknown[])]);
    out.push({ ...ok('unknown-stanza-type', 'a stanza of an unknown type first; readers skip it', b), bytes: withHeader(b, canonical(m)) });
  }

  // ---- positive: p256-ecdh, zymbit-lock, guardian signature ----
  const p256Only = await sealed('p256-ecdh', 1500, { recipients: [P.recipient] });
  out.push(ok('p256-ecdh', 'one p256-ecdh stanza (SPEC.md §5.2), opened with the P-256 scalar', p256Only, [], keyP));
  out.push(
    ok(
      'p256-second-stanza',
      'two p256-ecdh stanzas; the first fails its tag (not for this key), the second opens',
      await sealed('p256-second', 200, { recipients: [Q.recipient, P.recipient] }),
      [],
      keyP,
    ),
  );
  const mixed = await sealed('mixed', 3000, { recipients: [A.recipient, P.recipient] });
  out.push(ok('mixed-stanzas-x25519-key', 'x25519 and p256-ecdh stanzas for one file key, opened with the x25519 identity', mixed));
  out.push(ok('mixed-stanzas-p256-key', 'the same capsule opened with the P-256 scalar alone (the x25519 stanza is skipped)', mixed, [], keyP));
  const guardianSigned = await sealed('guardian-signed', 2000, { guardian: fixedSigner(G) });
  out.push(ok('guardian-signed', 'header signed by a guardian key (keys 9 and 10: ECDSA P-256, low S, SPEC.md §7.2)', guardianSigned));
  const bothSigned = await sealed('owner-and-guardian', 2500, { owner: OWNER, guardian: fixedSigner(G) });
  out.push(ok('owner-and-guardian-signed', 'owner signature (its body has key 9) and guardian signature (its body has key 8)', bothSigned));
  const locked = await sealed('zymbit-lock', 400, { lock: fakeLocker(lockBlob('zymbit-lock')) });
  out.push(ok('zymbit-lock-and-x25519', 'an x25519 stanza, then a zymbit-lock stanza (an opaque module blob); the identity opens the first', locked));
  {
    const m = headerMap(locked);
    m.set(7, [...stanzas(m)].reverse());
    out.push({
      ...ok('zymbit-lock-first', 'the zymbit-lock stanza first: a reader without the module skips it and opens the x25519 stanza', locked),
      bytes: withHeader(locked, canonical(m)),
    });
  }
  out.push(
    ok(
      'guardian-sealed',
      'sealed as on a guardian: x25519, p256-ecdh and zymbit-lock stanzas, header signed by its key; opened with the P-256 scalar',
      await sealed('on-guardian', K + 10, { recipients: [A.recipient, P.recipient], lock: fakeLocker(lockBlob('on-guardian')), guardian: fixedSigner(G) }),
      [],
      keyP,
    ),
  );

  // ---- positive and negative: tpm2-rsa (tpm2Vectors.ts) ----
  const tpm2 = await tpm2Vectors({ sealed, ok, bad, edit, x25519: { recipient: A.recipient, identities: idA } });
  out.push(...tpm2.positive);
  const threshold = await thresholdVectors({ sealed, ok, bad });
  out.push(...threshold.positive);

  // ---- negative: preamble ----
  out.push(bad('bad-magic', 'first magic byte changed', 'ERR_BAD_MAGIC', 'ERR_BAD_MAGIC', flip(small.bytes, 0)));
  out.push(
    bad('not-a-capsule', 'an age file', 'ERR_BAD_MAGIC', 'ERR_BAD_MAGIC', new TextEncoder().encode('age-encryption.org/v1\n-> X25519 abc\nxyz\n--- 123\n')),
  );
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
    out.push(
      bad(
        'non-canonical-integer',
        'header.version encoded in two bytes',
        'ERR_NON_CANONICAL_HEADER',
        'ERR_NON_CANONICAL_HEADER',
        withHeader(small, nonShortest),
      ),
    );
    const m = headerMap(small);
    const entries = [...m.entries()].sort((x, y) => y[0] - x[0]);
    out.push(
      bad(
        'non-canonical-key-order',
        'header map keys in descending order',
        'ERR_NON_CANONICAL_HEADER',
        'ERR_NON_CANONICAL_HEADER',
        withHeader(small, rawMap(entries)),
      ),
    );
    const asc = [...m.entries()].sort((x, y) => x[0] - y[0]);
    out.push(
      bad(
        'duplicate-key',
        'header.created appears twice',
        'ERR_MALFORMED_HEADER',
        'ERR_MALFORMED_HEADER',
        withHeader(small, rawMap([...asc.slice(0, 3), [3, m.get(3)], ...asc.slice(3)])),
      ),
    );
    const indefinite = concat(Uint8Array.of(0xbf), rawMap(asc).subarray(1), Uint8Array.of(0xff));
    out.push(
      bad('indefinite-length-map', 'header map with indefinite length', 'ERR_NON_CANONICAL_HEADER', 'ERR_NON_CANONICAL_HEADER', withHeader(small, indefinite)),
    );
    out.push(
      bad(
        'tagged-value',
        'header.created wrapped in tag 1 (epoch time)',
        'ERR_MALFORMED_HEADER',
        'ERR_MALFORMED_HEADER',
        withHeader(small, rawMap(asc.map(([k, v]) => [k, k === 3 ? new Raw(concat(Uint8Array.of(0xc1), encode(v))) : v]))),
      ),
    );
    out.push(
      bad(
        'garbage-after-header',
        'one byte after the header item, inside header_length',
        'ERR_MALFORMED_HEADER',
        'ERR_MALFORMED_HEADER',
        withHeader(small, concat(small.header, Uint8Array.of(0x00))),
      ),
    );
    out.push(bad('header-not-a-map', 'header is a CBOR array', 'ERR_MALFORMED_HEADER', 'ERR_MALFORMED_HEADER', withHeader(small, canonical([1, 2, 3]))));
  }
  {
    const asc = [...headerMap(small).entries()].sort((x, y) => x[0] - y[0]);
    const withExtension = (raw: Uint8Array) => withHeader(small, rawMap([...asc, [-1, new Raw(raw)]]));
    let deep: Uint8Array = Uint8Array.of(0x01);
    for (let i = 0; i < 16; i++) deep = concat(Uint8Array.of(0x81), deep); // header map + 16 arrays = 17 levels
    out.push(
      bad('nesting-too-deep', 'an extension value nested 17 levels deep (limit 16)', 'ERR_MALFORMED_HEADER', 'ERR_MALFORMED_HEADER', withExtension(deep)),
    );
    out.push(
      bad(
        'complex-map-key',
        'an extension map with an array as a key',
        'ERR_MALFORMED_HEADER',
        'ERR_MALFORMED_HEADER',
        withExtension(Uint8Array.of(0xa2, 0x00, 0x00, 0x81, 0x00, 0x00)),
      ),
    );
    out.push(
      bad(
        'integral-float',
        'an extension holding the float 1e300 (integral: must be an integer or a string)',
        'ERR_MALFORMED_HEADER',
        'ERR_MALFORMED_HEADER',
        withExtension(Uint8Array.of(0xfb, 0x7e, 0x37, 0xe4, 0x3c, 0x88, 0x00, 0x75, 0x9c)),
      ),
    );
  }
  out.push(
    bad(
      'created-out-of-range',
      'header.created after 9999-12-31T23:59:59Z',
      'ERR_MALFORMED_HEADER',
      'ERR_MALFORMED_HEADER',
      edit(small, (m) => m.set(3, 253402300800)),
    ),
  );
  out.push(
    bad(
      'cid-v0',
      'header.logic.cid is a CIDv0 (only CIDv1 is allowed)',
      'ERR_MALFORMED_HEADER',
      'ERR_MALFORMED_HEADER',
      edit(small, (m) => sub(m, 5).set(2, CID.parse('QmcRD4wkPPi6dig81r5sLj9Zm1gDCL4zgpEj9CfuRrGbzF').bytes)),
    ),
  );
  out.push(
    bad(
      'unknown-critical-field',
      'unsigned header key 11, unknown to v1',
      'ERR_UNKNOWN_CRITICAL_FIELD',
      'ERR_UNKNOWN_CRITICAL_FIELD',
      edit(small, (m) => m.set(11, 'must understand')),
    ),
  );
  out.push(
    bad(
      'unknown-critical-nested',
      'unsigned key 6 inside header.payload',
      'ERR_UNKNOWN_CRITICAL_FIELD',
      'ERR_UNKNOWN_CRITICAL_FIELD',
      edit(small, (m) => sub(m, 6).set(6, 1)),
    ),
  );
  out.push(
    bad(
      'header-version-2',
      'header.version = 2',
      'ERR_UNSUPPORTED_VERSION',
      'ERR_UNSUPPORTED_VERSION',
      edit(small, (m) => m.set(1, 2)),
    ),
  );
  out.push(
    bad(
      'missing-id',
      'header.id absent',
      'ERR_MALFORMED_HEADER',
      'ERR_MALFORMED_HEADER',
      edit(small, (m) => m.delete(2)),
    ),
  );
  out.push(
    bad(
      'short-id',
      'header.id of 15 bytes',
      'ERR_MALFORMED_HEADER',
      'ERR_MALFORMED_HEADER',
      edit(small, (m) => m.set(2, (m.get(2) as Uint8Array).subarray(0, 15))),
    ),
  );
  out.push(
    bad(
      'unsupported-cipher',
      'header.payload.cipher = 2',
      'ERR_UNSUPPORTED_CIPHER',
      'ERR_UNSUPPORTED_CIPHER',
      edit(small, (m) => sub(m, 6).set(3, 2)),
    ),
  );
  out.push(
    bad(
      'wrong-chunk-size',
      'header.payload.chunk_size = 32768',
      'ERR_UNSUPPORTED_CIPHER',
      'ERR_UNSUPPORTED_CIPHER',
      edit(small, (m) => sub(m, 6).set(2, 32768)),
    ),
  );
  out.push(
    bad(
      'no-stanzas',
      'header.stanzas empty',
      'ERR_MALFORMED_HEADER',
      'ERR_MALFORMED_HEADER',
      edit(small, (m) => m.set(7, [])),
    ),
  );

  // ---- negative: stanzas and signature ----
  out.push(
    bad(
      'stanza-for-another-recipient',
      'sealed to guardian B, opened with A',
      'ERR_NO_MATCHING_STANZA',
      'ok',
      (await sealed('other', 100, { recipients: [B.recipient] })).bytes,
    ),
  );
  out.push(
    bad(
      'stanza-wrong-length',
      'x25519 stanza body of 79 bytes',
      'ERR_BAD_STANZA',
      'ERR_BAD_STANZA',
      edit(small, (m) => {
        const s = (m.get(7) as [string, Uint8Array][])[0]!;
        s[1] = s[1].subarray(0, 79);
      }),
    ),
  );
  out.push(
    bad(
      'stanza-low-order-share',
      'x25519 ephemeral share is the all-zero point',
      'ERR_BAD_STANZA',
      'ERR_BAD_STANZA',
      edit(small, (m) => {
        const s = (m.get(7) as [string, Uint8Array][])[0]!;
        s[1] = concat(new Uint8Array(32), s[1].subarray(32));
      }),
    ),
  );
  out.push(
    bad(
      'stanza-tampered-wrap',
      'one bit of the wrapped file key flipped',
      'ERR_NO_MATCHING_STANZA',
      'ok',
      edit(small, (m) => {
        const s = (m.get(7) as [string, Uint8Array][])[0]!;
        s[1] = flip(s[1], 40);
      }),
    ),
  );
  {
    const m = headerMap(signed);
    m.set(8, flip(m.get(8) as Uint8Array, 5));
    out.push(bad('bad-signature', 'one bit of the owner signature flipped', 'ERR_BAD_SIGNATURE', 'ERR_BAD_SIGNATURE', withHeader(signed, canonical(m))));
    const n = headerMap(signed);
    n.set(3, (n.get(3) as number) + 1);
    out.push(bad('signed-header-changed', 'header.created changed after signing', 'ERR_BAD_SIGNATURE', 'ERR_BAD_SIGNATURE', withHeader(signed, canonical(n))));
    const o = headerMap(signed);
    o.delete(8);
    out.push(
      bad(
        'owner-without-signature',
        'header.owner present, signature stripped',
        'ERR_MALFORMED_HEADER',
        'ERR_MALFORMED_HEADER',
        withHeader(signed, canonical(o)),
      ),
    );
  }

  // ---- negative: p256-ecdh ----
  {
    const body = (change: (b: Uint8Array) => Uint8Array) =>
      edit(p256Only, (m) => {
        const s = stanzas(m)[0]!;
        s[1] = change(s[1]);
      });
    const bs = (name: string, comment: string, change: (b: Uint8Array) => Uint8Array) =>
      out.push(bad(name, comment, 'ERR_BAD_STANZA', 'ERR_BAD_STANZA', body(change), [], keyP));
    bs('p256-body-80', 'p256-ecdh stanza body of 80 bytes (last tag byte cut)', (b) => b.subarray(0, 80));
    bs('p256-body-82', 'p256-ecdh stanza body of 82 bytes (a byte appended)', (b) => concat(b, Uint8Array.of(0)));
    bs('p256-share-not-on-curve', 'ephemeral share 02 ‖ x with x = 1: x³ − 3x + b is not a square mod p, so no such point', (b) =>
      concat(Uint8Array.of(2), be32(1n), b.subarray(33)),
    );
    bs('p256-share-uncompressed-prefix', 'ephemeral share with prefix 04 in place of 02/03, same x (33 bytes, not a compressed point)', (b) =>
      concat(Uint8Array.of(4), b.subarray(1)),
    );
    bs('p256-share-x-not-reduced', 'ephemeral share 02 ‖ p: a field element must be below p', (b) => concat(Uint8Array.of(2), be32(FIELD_P), b.subarray(33)));
    bs('p256-share-zero', 'ephemeral share of 33 zero bytes (the point at infinity has no compressed form)', (b) => concat(new Uint8Array(33), b.subarray(33)));
    out.push(
      bad(
        'p256-tampered-wrap',
        'one bit of the p256-ecdh wrapped file key flipped: the tag fails, so not for this key',
        'ERR_NO_MATCHING_STANZA',
        'ok',
        body((b) => flip(b, 40)),
        [],
        keyP,
      ),
    );
    out.push(
      bad(
        'p256-share-replaced',
        'ephemeral share replaced by another valid point: the tag fails, so not for this key',
        'ERR_NO_MATCHING_STANZA',
        'ok',
        body((b) => concat(Q.publicKey, b.subarray(33))),
        [],
        keyP,
      ),
    );
    out.push(
      bad(
        'p256-for-another-recipient',
        'sealed to P-256 key Q, opened with P',
        'ERR_NO_MATCHING_STANZA',
        'ok',
        (await sealed('p256-other', 100, { recipients: [Q.recipient] })).bytes,
        [],
        keyP,
      ),
    );
    out.push(bad('p256-only-x25519-identity', 'only a p256-ecdh stanza, opened with an x25519 identity', 'ERR_NO_MATCHING_STANZA', 'ok', p256Only.bytes));
  }

  // ---- negative: guardian signature (keys 9, 10) ----
  {
    const m0 = headerMap(guardianSigned);
    const key9 = m0.get(9) as Uint8Array;
    const sig = m0.get(10) as Uint8Array;
    const r = sig.subarray(0, 32);
    const s = BigInt('0x' + Buffer.from(sig.subarray(32)).toString('hex'));
    const g = (name: string, comment: string, code: string, change: (m: Map<number, unknown>) => void) =>
      out.push(bad(name, comment, code, code, edit(guardianSigned, change)));
    g('guardian-without-signature', 'header.guardian (key 9) present, guardian_signature (key 10) removed', 'ERR_MALFORMED_HEADER', (m) => m.delete(10));
    g('guardian-signature-without-guardian', 'header.guardian_signature (key 10) present, guardian (key 9) removed', 'ERR_MALFORMED_HEADER', (m) =>
      m.delete(9),
    );
    g('guardian-key-32-bytes', 'header.guardian of 32 bytes (the x-coordinate without its prefix)', 'ERR_MALFORMED_HEADER', (m) => m.set(9, key9.subarray(1)));
    g('guardian-signature-65-bytes', 'header.guardian_signature of 65 bytes', 'ERR_MALFORMED_HEADER', (m) => m.set(10, concat(sig, Uint8Array.of(0))));
    g('guardian-key-not-a-point', 'header.guardian = 02 ‖ x with x = 1, which is on no point of the curve', 'ERR_BAD_SIGNATURE', (m) =>
      m.set(9, concat(Uint8Array.of(2), be32(1n))),
    );
    g('guardian-key-uncompressed-prefix', 'header.guardian with prefix 04 in place of 02/03 (33 bytes, not a compressed point)', 'ERR_BAD_SIGNATURE', (m) =>
      m.set(9, concat(Uint8Array.of(4), key9.subarray(1))),
    );
    g('guardian-signature-high-s', 'S replaced by n − S: still a valid ECDSA signature, but readers require low S', 'ERR_BAD_SIGNATURE', (m) =>
      m.set(10, concat(r, be32(ORDER_N - s))),
    );
    g('guardian-signature-r-zero', 'r = 0 (r must be in 1..n−1)', 'ERR_BAD_SIGNATURE', (m) => m.set(10, concat(new Uint8Array(32), sig.subarray(32))));
    g('guardian-signature-s-zero', 's = 0 (s must be in 1..n−1)', 'ERR_BAD_SIGNATURE', (m) => m.set(10, concat(r, new Uint8Array(32))));
    g('guardian-signed-header-changed', 'header.created changed after the guardian signed', 'ERR_BAD_SIGNATURE', (m) => m.set(3, (m.get(3) as number) + 1));
    g('guardian-signature-other-key', 'header.guardian replaced by another valid key; the signature is by the first', 'ERR_BAD_SIGNATURE', (m) =>
      m.set(9, G2.publicKey),
    );
    g(
      'guardian-signature-covers-key-10',
      'signed over the header with key 10 present (64 zero bytes as a placeholder), not without it',
      'ERR_BAD_SIGNATURE',
      (m) => {
        m.set(10, new Uint8Array(64));
        m.set(10, signDigest(G, sha256(labelled(LABEL_GUARDIAN, canonical(m)))));
      },
    );
    g('guardian-signature-no-label', 'signed SHA-256(header without key 10), without the label ‖ 00 prefix', 'ERR_BAD_SIGNATURE', (m) =>
      m.set(10, signDigest(G, sha256(canonical(without(m, 10))))),
    );
    g('guardian-signature-owner-label', 'signed with the owner\'s label "capsule/v1 header signature" in place of the guardian\'s', 'ERR_BAD_SIGNATURE', (m) =>
      m.set(10, signDigest(G, sha256(labelled(LABEL_OWNER, canonical(without(m, 10)))))),
    );
    g(
      'guardian-signature-double-hash',
      'signed SHA-256(SHA-256(message)): the digest hashed again, as a signing call that hashes its input does',
      'ERR_BAD_SIGNATURE',
      (m) => m.set(10, signDigest(G, sha256(sha256(labelled(LABEL_GUARDIAN, canonical(without(m, 10))))))),
    );
    out.push(
      bad(
        'guardian-claim-stripped',
        'keys 9 and 10 removed, chunks left as sealed: a well-formed unsigned header offline, but the chunks are bound to the signed one',
        'ERR_CHUNK_AUTH',
        'ok',
        (() => {
          const header = canonical(without(m0, 9, 10));
          return concat(encodePreamble(header.length), header, ...guardianSigned.chunks);
        })(),
      ),
    );
  }
  {
    // Owner and guardian together: each signature's body leaves out exactly its own key and key 10.
    const o = (name: string, comment: string, change: (m: Map<number, unknown>) => void) =>
      out.push(bad(name, comment, 'ERR_BAD_SIGNATURE', 'ERR_BAD_SIGNATURE', edit(bothSigned, change)));
    o('guardian-signature-without-key-8', 'the guardian signed the header without key 8; its body must include the owner signature', (m) => {
      m.set(10, signDigest(G, sha256(labelled(LABEL_GUARDIAN, canonical(without(m, 8, 10))))));
    });
    o(
      'owner-signature-covers-key-10',
      'the owner signed with key 10 present (an earlier guardian signature; the body must leave key 10 out); the guardian then signed again, correctly',
      (m) => {
        m.set(8, signWithOwner(OWNER, labelled(LABEL_OWNER, canonical(without(m, 8)))));
        m.set(10, guardianSign(m));
      },
    );
    o('owner-signature-without-key-9', 'the owner signed without key 9 (body must include the guardian key); the guardian then signed correctly', (m) => {
      m.set(8, signWithOwner(OWNER, labelled(LABEL_OWNER, canonical(without(m, 8, 9, 10)))));
      m.set(10, guardianSign(m));
    });
    o('guardian-claim-stripped-owner-signed', 'keys 9 and 10 removed from an owner- and guardian-signed header: the owner signature covered key 9', (m) => {
      m.delete(9);
      m.delete(10);
    });
  }

  // ---- negative: zymbit-lock ----
  out.push(
    bad(
      'zymbit-lock-empty',
      'zymbit-lock stanza with an empty body',
      'ERR_BAD_STANZA',
      'ERR_BAD_STANZA',
      edit(locked, (m) => {
        stanzas(m)[1]![1] = new Uint8Array(0);
      }),
    ),
  );
  out.push(
    bad(
      'zymbit-lock-oversized',
      'zymbit-lock stanza body of 4097 bytes (every stanza body is at most 4096)',
      'ERR_MALFORMED_HEADER',
      'ERR_MALFORMED_HEADER',
      edit(locked, (m) => {
        stanzas(m)[1]![1] = drbg('oversized blob')(4097);
      }),
    ),
  );
  out.push(
    bad(
      'zymbit-lock-only',
      'only a zymbit-lock stanza: no identity opens it, only the module that locked it',
      'ERR_NO_MATCHING_STANZA',
      'ok',
      (await sealed('zymbit-lock-only', 100, { recipients: [], lock: fakeLocker(lockBlob('zymbit-lock-only')) })).bytes,
    ),
  );

  out.push(...tpm2.negative);
  out.push(...threshold.negative);

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
    out.push(
      bad(
        'empty-final-chunk',
        '64 KiB sealed as a non-final full chunk plus an empty final chunk',
        'ERR_CHUNK_AUTH',
        'ERR_TRAILING_DATA',
        concat(exact.head, ...extra),
      ),
    );
    const appended = encryptChunks(exact.head, exact.fileKey, exact.id, new Uint8Array(0), { pieces: [exact.plain, new Uint8Array(10)], lastFlags: [0, 1] });
    out.push(bad('chunk-after-final', 'a valid chunk appended after the final one', 'ERR_TRAILING_DATA', 'ERR_TRAILING_DATA', concat(exact.head, ...appended)));
    out.push(
      bad(
        'missing-last-flag',
        'the only chunk encrypted without the last flag',
        'ERR_CHUNK_AUTH',
        'ok',
        concat(one.head, ...encryptChunks(one.head, one.fileKey, one.id, one.plain, { lastFlags: [] })),
      ),
    );
    out.push(
      bad(
        'early-last-flag',
        'chunk 0 of 4 encrypted with the last flag',
        'ERR_CHUNK_AUTH',
        'ok',
        concat(h3, ...encryptChunks(h3, three.fileKey, three.id, three.plain, { lastFlags: [0, 3] })),
      ),
    );
  }
  out.push(
    bad(
      'wrong-payload-digest',
      'header.payload.digest of other bytes; chunks consistent with the header',
      'ERR_PAYLOAD_DIGEST',
      'ok',
      edit(small, (m) => sub(m, 6).set(5, sha256(new Uint8Array(1)))),
    ),
  );
  out.push(
    bad(
      'salted-digest-unsalted',
      'digest_alg 2 but the digest is the plain SHA-256',
      'ERR_PAYLOAD_DIGEST',
      'ok',
      edit(small, (m) => sub(m, 6).set(4, 2)),
    ),
  );
  // Chunked digests (§6.4): each a well-formed capsule whose commitment is computed wrongly once.
  const setDigest = (b: Built, alg: number, digest: Uint8Array) =>
    edit(b, (m) => {
      sub(m, 6).set(4, alg);
      sub(m, 6).set(5, digest);
    });
  const saltOf = (b: Built) => new Uint8Array(hkdfSync('sha256', b.fileKey, b.id, 'capsule/v1 payload commitment', 32));
  out.push(
    bad(
      'chunked-digest-is-sha256',
      'digest_alg 3 but the digest is the plain SHA-256 of the plaintext',
      'ERR_PAYLOAD_DIGEST',
      'ok',
      setDigest(chunked, 3, sha256(chunked.plain)),
    ),
  );
  out.push(
    bad(
      'sha256-digest-is-chunked',
      'digest_alg 1 but the digest is the chunked-sha256 root',
      'ERR_PAYLOAD_DIGEST',
      'ok',
      setDigest(chunked, 1, chunkedRoot(chunked.plain)),
    ),
  );
  out.push(
    bad(
      'salted-chunked-digest-unsalted',
      'digest_alg 4 but the root leaves out the salt',
      'ERR_PAYLOAD_DIGEST',
      'ok',
      setDigest(chunkedSalted, 4, chunkedRoot(chunkedSalted.plain)),
    ),
  );
  out.push(
    bad(
      'chunked-digest-salted',
      'digest_alg 3 but the root includes the salt',
      'ERR_PAYLOAD_DIGEST',
      'ok',
      setDigest(chunked, 3, chunkedRoot(chunked.plain, { salt: saltOf(chunked) })),
    ),
  );
  out.push(
    bad(
      'chunked-digest-no-size',
      'the root leaves out uint64be(size)',
      'ERR_PAYLOAD_DIGEST',
      'ok',
      setDigest(chunked, 3, chunkedRoot(chunked.plain, { size: false })),
    ),
  );
  out.push(
    bad(
      'chunked-digest-no-label',
      'the root leaves out the "capsule/v1 chunked digest" label',
      'ERR_PAYLOAD_DIGEST',
      'ok',
      setDigest(chunked, 3, chunkedRoot(chunked.plain, { label: false })),
    ),
  );
  out.push(
    bad(
      'chunked-digest-reordered',
      'the chunk digests of chunks 0 and 1 swapped in the root',
      'ERR_PAYLOAD_DIGEST',
      'ok',
      setDigest(chunked, 3, chunkedRoot(chunked.plain, { swap: true })),
    ),
  );
  out.push(
    bad(
      'chunked-digest-one-block',
      'the root over one digest of the whole plaintext, not one per chunk',
      'ERR_PAYLOAD_DIGEST',
      'ok',
      setDigest(chunked, 3, chunkedRoot(chunked.plain, { whole: true })),
    ),
  );
  out.push(
    bad(
      'chunked-digest-empty-no-chunk',
      'empty payload, root over no chunk digests at all',
      'ERR_PAYLOAD_DIGEST',
      'ok',
      setDigest(chunkedEmpty, 3, chunkedRoot(new Uint8Array(0), { whole: true, none: true })),
    ),
  );
  out.push(
    bad(
      'digest-alg-5',
      'digest_alg 5 (unassigned)',
      'ERR_UNSUPPORTED_CIPHER',
      'ERR_UNSUPPORTED_CIPHER',
      edit(small, (m) => sub(m, 6).set(4, 5)),
    ),
  );
  out.push(
    bad(
      'header-changed-after-seal',
      'header.created changed; chunks still bound to the old header',
      'ERR_CHUNK_AUTH',
      'ok',
      (() => {
        const m = headerMap(small);
        m.set(3, (m.get(3) as number) + 1);
        const header = canonical(m);
        return concat(encodePreamble(header.length), header, ...small.chunks);
      })(),
    ),
  );
  out.push(
    bad(
      'size-larger-than-payload',
      'header.payload.size one more than the chunks hold',
      'ERR_TRUNCATED',
      'ERR_TRUNCATED',
      edit(small, (m) => sub(m, 6).set(1, 1001)),
    ),
  );
  return out;
}
