/**
 * `node test/vectors/announcements/generate.ts`: writes test/vectors/announcements/*.cbor.hex, the
 * announcement vectors of docs/ANNOUNCEMENTS.md §9. Deterministic (fixed keys, fixed content,
 * fixed times; Ed25519 signatures are deterministic), and test/announcement.test.ts checks that the
 * committed files are exactly what `announcementVectors()` renders.
 *
 * File format: `key: value` lines, one empty line, then the announcement's bytes as lowercase hex
 * (64 digits a line). Keys: `expect:` (`ok` or `ERR_BAD_ANNOUNCEMENT`), for `ok` the decoded
 * `capsule:`, `logic:`, `guardian:`, `created:` (ms, then the ISO time), `signer:` (hex) and the
 * `identity:` that signed; for errors an optional `message:` (text the error message contains) and
 * an optional `known-bug:` (the reference decoder accepts it today; the test pins that);
 * then `why:` and `source:`.
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { p256 } from '@noble/curves/nist.js';
import { ed25519 } from '@noble/curves/ed25519.js';
import { CID } from 'multiformats/cid';
import { encodeCanonical } from '../../../agent/format/cbor.ts';
import { encodeIdentity, identityFromSecret, ownerPublicKey, signWithOwner, type Identity } from '../../../agent/crypto/identity.ts';
import { encodeP256Key, GUARDIAN_KEY_HRP } from '../../../agent/crypto/p256.ts';
import { computeCid } from '../../../agent/store/importSettings.ts';

export const ANNOUNCEMENT_VECTOR_DIR = fileURLToPath(new URL('./', import.meta.url));
export const ANNOUNCEMENT_VECTOR_EXTENSION = '.cbor.hex';
const SOURCE = 'test/vectors/announcements/generate.ts';

export interface AnnouncementVector {
  name: string;
  expect: 'ok' | 'ERR_BAD_ANNOUNCEMENT';
  /** For `ok`: what the decoder returns. */
  decoded?: { capsule: string; logic: string; guardian: string; created: number; signer: string; identity: string };
  /** For errors: text the error message contains (after "announcement: "). */
  message?: string;
  /** For errors the reference decoder still accepts. */
  knownBug?: string;
  why: string;
  bytes: Uint8Array;
}

// ---- fixed inputs ----------------------------------------------------------------------------

/** Ed25519 owner keys derived (SPEC.md §7.1) from the age identities with secrets 01 02 … 20 and 21 22 … 40. */
const SECRET_A = Uint8Array.from({ length: 32 }, (_, i) => i + 1);
const SECRET_B = Uint8Array.from({ length: 32 }, (_, i) => i + 0x21);
/** Guardian keys: compress(d·G) for d = 1 and d = 2. */
const scalar = (d: number) => Uint8Array.from({ length: 32 }, (_, i) => (i === 31 ? d : 0));
const GUARDIAN_1 = p256.getPublicKey(scalar(1), true);
const GUARDIAN_2 = p256.getPublicKey(scalar(2), true);
/** 2026-01-01T00:00:00.000Z */
const CREATED = 1_767_225_600_000;
/** 9999-12-31T23:59:59.999Z, the largest `created` (as SPEC.md §4.2 bounds a header's). */
const CREATED_MAX = 253_402_300_799_999;
/** The smallest empty WebAssembly module: "\0asm", version 1. */
const EMPTY_WASM = Uint8Array.of(0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00);

const LABEL = new TextEncoder().encode('capsule-announcement/v1\0');
const HEADER_LABEL = new TextEncoder().encode('capsule/v1 header signature\0');
const L = 2n ** 252n + 27742317777372353535851937790883648493n;

type Key = number | string;
type Entries = Array<[Key, unknown]>;

const cat = (...parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));
const sha256 = (b: Uint8Array) => new Uint8Array(createHash('sha256').update(b).digest());
const sha512 = (b: Uint8Array) => new Uint8Array(createHash('sha512').update(b).digest());
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** A CBOR head (major type, argument), shortest unless `width` (1, 2, 4 or 8 argument bytes) is given. */
function head(major: number, n: number, width?: 0 | 1 | 2 | 4 | 8): Uint8Array {
  const w = width ?? (n < 24 ? 0 : n < 0x100 ? 1 : n < 0x10000 ? 2 : n < 0x1_0000_0000 ? 4 : 8);
  if (w === 0) return Uint8Array.of((major << 5) | n);
  const out = new Uint8Array(1 + w);
  out[0] = (major << 5) | { 1: 24, 2: 25, 4: 26, 8: 27 }[w]!;
  let v = BigInt(n);
  for (let i = w; i >= 1; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/** A map with its entries in the order given (each key and value already encoded). */
function rawMap(entries: Array<[Uint8Array, Uint8Array]>, count = entries.length): Uint8Array {
  return cat(head(5, count), ...entries.flatMap(([k, v]) => [k, v]));
}

const enc = (v: unknown) => encodeCanonical(v);
const mapOf = (entries: Entries) => new Map<unknown, unknown>(entries);

/** Signs `entries` (everything but key 7) as the announcement does; returns the signature. */
function signEntries(by: Identity, entries: Entries, label = LABEL): Uint8Array {
  return signWithOwner(by, cat(label, enc(mapOf(entries))));
}

/** The canonical announcement of `entries` signed by `by` (key 7 appended). */
function signed(by: Identity, entries: Entries): Uint8Array {
  return enc(mapOf([...entries, [7, signEntries(by, entries)]]));
}

function replace(entries: Entries, key: Key, value: unknown): Entries {
  return entries.map(([k, v]) => [k, k === key ? value : v]);
}
const without = (entries: Entries, key: Key): Entries => entries.filter(([k]) => k !== key);

// ---- the vectors -----------------------------------------------------------------------------

export async function announcementVectors(): Promise<AnnouncementVector[]> {
  const a = identityFromSecret(SECRET_A);
  const b = identityFromSecret(SECRET_B);
  try {
    return await build(a, b);
  } finally {
    a.dispose();
    b.dispose();
  }
}

async function build(a: Identity, b: Identity): Promise<AnnouncementVector[]> {
  const bigCapsule = await computeCid(new Uint8Array(262_145)); // dag-pb: two chunks (Kubo gives the same)
  const smallCapsule = await computeCid(new Uint8Array(100).fill(0xaa)); // raw: one chunk
  const logic = await computeCid(EMPTY_WASM);
  const signerA = ownerPublicKey(a);
  const signerB = ownerPublicKey(b);
  const base: Entries = [
    [1, 1],
    [2, bigCapsule.bytes],
    [3, logic.bytes],
    [4, GUARDIAN_1],
    [5, CREATED],
    [6, signerA],
  ];
  const good = signed(a, base);
  const goodSig = signEntries(a, base);
  const out: AnnouncementVector[] = [];

  const ok = (name: string, by: Identity, entries: Entries, capsule: CID, why: string) => {
    const get = (k: number) => entries.find(([key]) => key === k)![1];
    out.push({
      name,
      expect: 'ok',
      why,
      bytes: signed(by, entries),
      decoded: {
        capsule: capsule.toString(),
        logic: CID.decode(get(3) as Uint8Array).toString(),
        guardian: encodeP256Key(GUARDIAN_KEY_HRP, get(4) as Uint8Array),
        created: get(5) as number,
        signer: hex(get(6) as Uint8Array),
        identity: encodeIdentity(by.secretKey),
      },
    });
  };
  const bad = (name: string, bytes: Uint8Array, why: string, message?: string, knownBug?: string) => {
    out.push({ name, expect: 'ERR_BAD_ANNOUNCEMENT', bytes, why, message, knownBug });
  };
  /** `base` with one change, signed correctly: the change is the only defect. */
  const resigned = (entries: Entries) => signed(a, entries);

  // Positive.
  ok('dag-pb-capsule', a, base, bigCapsule, 'a dag-pb capsule CID (262145 zero bytes), a raw logic CID, guardian compress(1·G), signed by identity A');
  ok(
    'raw-capsule',
    b,
    [
      [1, 1],
      [2, smallCapsule.bytes],
      [3, logic.bytes],
      [4, GUARDIAN_2],
      [5, 0],
      [6, signerB],
    ],
    smallCapsule,
    'a raw capsule CID (100 bytes of aa), guardian compress(2·G), created 0 (the epoch), signed by identity B',
  );
  ok('created-max', a, replace(base, 5, CREATED_MAX), bigCapsule, 'created at its largest, 253402300799999 (9999-12-31T23:59:59.999Z)');

  // Size and encoding.
  bad('empty', new Uint8Array(0), 'zero bytes', 'not one deterministic CBOR item');
  {
    // Key 8 sized so that the whole message is 1025 bytes (and signed, though it cannot matter).
    let pad = 1025 - good.length - 4;
    let bytes = resigned([...base, [8, new Uint8Array(pad)]]);
    pad += 1025 - bytes.length;
    bytes = resigned([...base, [8, new Uint8Array(pad)]]);
    if (bytes.length !== 1025) throw new Error(`oversized vector is ${bytes.length} bytes`);
    bad(
      'oversized-1025-bytes',
      bytes,
      'one byte above the 1024-byte cap (a signed map with a padding key 8): the cap is checked before decoding',
      '1025 bytes, above the 1024-byte cap',
    );
  }
  bad('trailing-byte', cat(good, Uint8Array.of(0)), 'a valid announcement followed by one 00 byte', 'not one deterministic CBOR item');
  bad('two-announcements', cat(good, good), 'two valid announcements in one message', 'not one deterministic CBOR item');
  bad(
    'not-a-map',
    cat(head(4, 7), ...[...base, [7, goodSig] as [Key, unknown]].map(([, v]) => enc(v))),
    'the seven values as a CBOR array instead of a map',
    'expected a CBOR map',
  );
  {
    const entries: Array<[Uint8Array, Uint8Array]> = [...base, [7, goodSig] as [Key, unknown]].map(([k, v]) => [enc(k), enc(v)]);
    bad(
      'non-canonical-key-order',
      rawMap([entries[6]!, ...entries.slice(0, 6)]),
      'the valid map with key 7 first (keys must be sorted)',
      'not one deterministic CBOR item',
    );
    bad(
      'non-shortest-integer',
      rawMap([[enc(1), head(0, 1, 1)], ...entries.slice(1)]),
      'version encoded as 18 01 instead of 01',
      'not one deterministic CBOR item',
    );
    const cidBytes = bigCapsule.bytes;
    bad(
      'non-shortest-length',
      rawMap([entries[0]!, [enc(2), cat(head(2, cidBytes.length, 2), cidBytes)], ...entries.slice(2)]),
      "the capsule CID's byte-string length encoded as 59 00 24 instead of 58 24",
      'not one deterministic CBOR item',
    );
    bad(
      'indefinite-length-map',
      cat(Uint8Array.of(0xbf), ...entries.flatMap(([k, v]) => [k, v]), Uint8Array.of(0xff)),
      'the valid map, with an indefinite-length head (bf … ff)',
      'not one deterministic CBOR item',
    );
    bad(
      'indefinite-length-bytes',
      rawMap([...entries.slice(0, 6), [enc(7), cat(Uint8Array.of(0x5f), enc(goodSig.subarray(0, 32)), enc(goodSig.subarray(32)), Uint8Array.of(0xff))]]),
      'the signature as an indefinite-length byte string of two 32-byte chunks',
      'not one deterministic CBOR item',
    );
    bad(
      'duplicate-key',
      rawMap([...entries.slice(0, 5), entries[4]!, ...entries.slice(5)]),
      'key 5 (created) twice, with the same value',
      'not one deterministic CBOR item',
    );
    bad(
      'tagged-cid',
      rawMap([entries[0]!, [enc(2), cat(Uint8Array.of(0xd8, 0x2a), enc(cat(Uint8Array.of(0), cidBytes)))], ...entries.slice(2)]),
      'the capsule CID as tag 42 (the DAG-CBOR form) instead of a plain byte string',
      'not one deterministic CBOR item',
    );
    const f = Buffer.alloc(9);
    f[0] = 0xfb;
    f.writeDoubleBE(CREATED, 1);
    bad(
      'created-integral-float',
      rawMap([...entries.slice(0, 4), [enc(5), new Uint8Array(f)], ...entries.slice(5)]),
      'created as the float64 1767225600000.0 (an integral float re-encodes as an integer)',
      'not one deterministic CBOR item',
    );
    bad(
      'created-2-pow-53',
      rawMap([...entries.slice(0, 4), [enc(5), head(0, 2 ** 53, 8)], ...entries.slice(5)]),
      'created = 2^53, beyond the integers CBOR data here may hold',
      'not one deterministic CBOR item',
    );
  }

  // Keys.
  bad('version-2', resigned(replace(base, 1, 2)), 'version 2, otherwise valid and signed', 'version (key 1): expected 1, got 2');
  bad('version-missing', resigned(without(base, 1)), 'no key 1', 'version (key 1)');
  bad('version-text', resigned(replace(base, 1, '1')), 'version as the text "1"', 'version (key 1)');
  bad('signature-missing', enc(mapOf(base)), 'keys 1–6 only: unsigned', 'signature (key 7): expected a byte string');
  bad('capsule-missing', resigned(without(base, 2)), 'no key 2', 'capsule (key 2): expected a byte string');
  bad('extra-key-8', resigned([...base, [8, new Uint8Array(0)]]), 'an extra key 8 (empty bytes), covered by the signature', 'unexpected key 8');
  bad(
    'extension-key',
    resigned([...base, [-1, new Uint8Array(0)]]),
    'a negative key -1: extensions, allowed in a capsule header, are not allowed here',
    'unexpected key -1',
  );
  bad(
    'text-key',
    resigned([...without(base, 2), ['2', bigCapsule.bytes]]),
    'the capsule CID under the text key "2" instead of the integer 2',
    'unexpected key "2"',
  );
  {
    const m = mapOf([...base, [7, goodSig]]);
    m.set(1.5, new Uint8Array(0));
    bad('float-key', enc(m), 'the valid announcement with a key 1.5 (empty bytes) added after signing: the signature cannot cover it', 'unexpected key 1.5');
  }

  // CIDs.
  bad(
    'capsule-cid-v0',
    resigned(replace(base, 2, cat(Uint8Array.of(0x12, 0x20), sha256(new Uint8Array(100).fill(0xaa))))),
    'key 2 a binary CIDv0 (a bare sha2-256 multihash)',
    'capsule (key 2): CID',
  );
  bad(
    'capsule-cid-sha512',
    resigned(replace(base, 2, cat(Uint8Array.of(0x01, 0x55, 0x13, 0x40), sha512(new Uint8Array(100).fill(0xaa))))),
    'key 2 a raw CIDv1 with a sha2-512 multihash',
    'expected a 32-byte sha2-256 multihash',
  );
  bad(
    'capsule-cid-dag-cbor',
    resigned(replace(base, 2, cat(Uint8Array.of(0x01, 0x71, 0x12, 0x20), sha256(new Uint8Array(100).fill(0xaa))))),
    'key 2 a CIDv1 with codec dag-cbor (0x71)',
    'expected codec raw (0x55) or dag-pb (0x70)',
  );
  bad(
    'capsule-cid-truncated',
    resigned(replace(base, 2, bigCapsule.bytes.subarray(0, bigCapsule.bytes.length - 1))),
    'key 2 a CID whose digest is one byte shorter than its length says',
    'capsule (key 2): not a binary CID',
  );
  bad(
    'capsule-cid-trailing-byte',
    resigned(replace(base, 2, cat(bigCapsule.bytes, Uint8Array.of(0)))),
    'key 2 a valid CID followed by one 00 byte',
    'capsule (key 2): not a binary CID',
  );
  bad(
    'capsule-cid-short-digest',
    resigned(replace(base, 2, cat(Uint8Array.of(0x01, 0x55, 0x12, 0x14), sha256(new Uint8Array(100).fill(0xaa)).subarray(0, 20)))),
    'key 2 a raw CIDv1 labelled sha2-256 whose digest is 20 bytes (a truncated hash no content can match)',
    'capsule (key 2): CID',
  );
  bad(
    'logic-cid-text',
    resigned(replace(base, 3, logic.toString())),
    'key 3 the CID as text (bafk…) instead of its binary form',
    'logic (key 3): expected a byte string',
  );
  bad('logic-cid-empty', resigned(replace(base, 3, new Uint8Array(0))), 'key 3 an empty byte string', 'logic (key 3): not a binary CID');

  // Guardian, created, signer, signature sizes.
  bad(
    'guardian-32-bytes',
    resigned(replace(base, 4, GUARDIAN_1.subarray(1))),
    'the guardian key without its 02/03 prefix byte',
    'guardian (key 4): expected 33 bytes, got 32',
  );
  bad(
    'guardian-uncompressed',
    resigned(replace(base, 4, p256.getPublicKey(scalar(1), false))),
    'the guardian key uncompressed (65 bytes, 04 ‖ x ‖ y)',
    'guardian (key 4): expected 33 bytes, got 65',
  );
  bad('created-negative', resigned(replace(base, 5, -1)), 'created = -1', 'created (key 5)');
  bad('created-fraction', resigned(replace(base, 5, CREATED + 0.5)), 'created = 1767225600000.5, a float', 'created (key 5)');
  bad('created-text', resigned(replace(base, 5, '2026-01-01T00:00:00Z')), 'created as an ISO text string', 'created (key 5)');
  bad(
    'created-year-10000',
    resigned(replace(base, 5, CREATED_MAX + 1)),
    'created = 253402300800000 (10000-01-01T00:00:00Z), one above the largest allowed',
    'created (key 5)',
  );
  bad(
    'created-beyond-js-date',
    resigned(replace(base, 5, 8_640_000_000_000_001)),
    'created = 8640000000000001, beyond what a JavaScript Date holds',
    'created (key 5)',
  );
  bad('signer-31-bytes', resigned(replace(base, 6, signerA.subarray(0, 31))), 'the signer key cut to 31 bytes', 'signer (key 6): expected 32 bytes, got 31');
  bad(
    'signature-63-bytes',
    enc(mapOf([...base, [7, goodSig.subarray(0, 63)]])),
    'the signature cut to 63 bytes',
    'signature (key 7): expected 64 bytes, got 63',
  );

  // Signatures that do not verify.
  const sigFail = 'signature (key 7): does not verify under the signer (key 6)';
  {
    const flipped = Uint8Array.from(goodSig);
    flipped[10]! ^= 0x01;
    bad('signature-bit-flipped', enc(mapOf([...base, [7, flipped]])), 'one bit of the signature flipped (byte 10, bit 0)', sigFail);
  }
  bad('signed-by-other-key', enc(mapOf([...base, [7, signEntries(b, base)]])), "signer (key 6) is identity A's key, the signature is identity B's", sigFail);
  bad('signer-replaced', enc(mapOf([...replace(base, 6, signerB), [7, goodSig]])), "signed by A, then key 6 replaced by B's key", sigFail);
  bad('created-changed-after-signing', enc(mapOf([...replace(base, 5, CREATED + 1), [7, goodSig]])), 'created increased by 1 ms after signing', sigFail);
  bad(
    'guardian-changed-after-signing',
    enc(mapOf([...replace(base, 4, GUARDIAN_2), [7, goodSig]])),
    'the guardian replaced by compress(2·G) after signing (redirecting the announcement)',
    sigFail,
  );
  bad('capsule-changed-after-signing', enc(mapOf([...replace(base, 2, smallCapsule.bytes), [7, goodSig]])), 'the capsule CID replaced after signing', sigFail);
  bad(
    'signed-without-label',
    enc(mapOf([...base, [7, signWithOwner(a, enc(mapOf(base)))]])),
    'signed over the CBOR map alone, without "capsule-announcement/v1" ‖ 00',
    sigFail,
  );
  bad(
    'signed-with-header-label',
    enc(mapOf([...base, [7, signEntries(a, base, HEADER_LABEL)]])),
    "signed with the capsule header signature label (SPEC.md §7.1) instead of the announcement's",
    sigFail,
  );
  {
    let s = 0n;
    for (let i = 31; i >= 0; i--) s = (s << 8n) + BigInt(goodSig[32 + i]!);
    s += L;
    const malleable = Uint8Array.from(goodSig);
    for (let i = 0; i < 32; i++) malleable[32 + i] = Number((s >> BigInt(8 * i)) & 0xffn);
    bad(
      'signature-s-not-reduced',
      enc(mapOf([...base, [7, malleable]])),
      'the valid signature with S + L in place of S (RFC 8032 §5.1.7 requires S < L)',
      sigFail,
    );
  }
  {
    const identityPoint = cat(Uint8Array.of(1), new Uint8Array(31));
    const sig = cat(identityPoint, new Uint8Array(32));
    if (ed25519.verify(sig, new Uint8Array(0), identityPoint, { zip215: true }) !== true)
      throw new Error('small-order vector: expected a ZIP-215 verifier to accept it');
    bad(
      'signer-small-order',
      enc(mapOf([...replace(base, 6, identityPoint), [7, sig]])),
      'signer the identity point (small order) with R = identity, S = 0: "verifies" for every message under lax rules; strict RFC 8032 rejects it',
      sigFail,
    );
  }
  return out;
}

// ---- rendering -------------------------------------------------------------------------------

export function renderAnnouncementVector(v: AnnouncementVector): string {
  const lines = [`expect: ${v.expect}`];
  if (v.decoded) {
    const d = v.decoded;
    lines.push(
      `capsule: ${d.capsule}`,
      `logic: ${d.logic}`,
      `guardian: ${d.guardian}`,
      `created: ${d.created} (${new Date(d.created).toISOString()})`,
      `signer: ${d.signer}`,
      `identity: ${d.identity}`,
    );
  }
  if (v.message) lines.push(`message: ${v.message}`);
  if (v.knownBug) lines.push(`known-bug: ${v.knownBug}`);
  lines.push(`why: ${v.why}`, `source: ${SOURCE} "${v.name}" (node ${SOURCE})`, '');
  const h = hex(v.bytes);
  for (let i = 0; i < h.length; i += 64) lines.push(h.slice(i, i + 64));
  return lines.join('\n') + '\n';
}

if (import.meta.url === `file://${process.argv[1]}`) {
  mkdirSync(ANNOUNCEMENT_VECTOR_DIR, { recursive: true });
  for (const f of readdirSync(ANNOUNCEMENT_VECTOR_DIR)) if (f.endsWith(ANNOUNCEMENT_VECTOR_EXTENSION)) rmSync(ANNOUNCEMENT_VECTOR_DIR + f);
  const vectors = await announcementVectors();
  for (const v of vectors) writeFileSync(ANNOUNCEMENT_VECTOR_DIR + v.name + ANNOUNCEMENT_VECTOR_EXTENSION, renderAnnouncementVector(v));
  const pos = vectors.filter((v) => v.expect === 'ok').length;
  console.log(`wrote ${vectors.length} announcement vectors (${pos} positive, ${vectors.length - pos} negative) to ${ANNOUNCEMENT_VECTOR_DIR}`);
}
