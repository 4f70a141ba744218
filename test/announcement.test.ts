/**
 * Capsule announcements (agent/store/Announcement.ts, docs/ANNOUNCEMENTS.md): every vector in
 * test/vectors/announcements decoded as a whole buffer (positives give the recorded fields and are
 * byte for byte what encodeAnnouncement makes; negatives are ContentError ERR_BAD_ANNOUNCEMENT naming
 * the field), the files checked against their generator, malformed input (truncations, bit flips,
 * seeded garbage, odd map keys) never escaping as another error, and the encoder's argument checks
 * and the JSON line of `capsule watch`.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeCanonical } from '../agent/format/cbor.ts';
import { generateIdentity, parseIdentityFile, ownerPublicKey } from '../agent/crypto/identity.ts';
import { GUARDIAN_KEY_HRP, p256PublicKey, parseP256Key, scalarFromBytes } from '../agent/crypto/p256.ts';
import { computeCid } from '../agent/store/importSettings.ts';
import {
  ANNOUNCE_TOPIC,
  ANNOUNCEMENT_VERSION,
  MAX_ANNOUNCEMENT_BYTES,
  announcementJson,
  decodeAnnouncement,
  encodeAnnouncement,
} from '../agent/store/Announcement.ts';
import { drbg } from './helpers/drbg.ts';
import { ANNOUNCEMENT_VECTOR_DIR, ANNOUNCEMENT_VECTOR_EXTENSION, announcementVectors, renderAnnouncementVector } from './vectors/announcements/generate.ts';

interface VectorFile {
  name: string;
  fields: Map<string, string>;
  bytes: Uint8Array;
}

function parse(name: string, text: string): VectorFile {
  const split = text.indexOf('\n\n');
  if (split < 0) throw new Error(`${name}: no empty line after the header lines`);
  const fields = new Map<string, string>();
  for (const line of text.slice(0, split).split('\n')) {
    const m = /^([a-z-]+): (.*)$/.exec(line);
    if (!m) throw new Error(`${name}: bad header line ${JSON.stringify(line)}`);
    if (fields.has(m[1]!)) throw new Error(`${name}: ${m[1]} twice`);
    fields.set(m[1]!, m[2]!);
  }
  const hex = text.slice(split + 2).replace(/\n/g, '');
  if (!/^([0-9a-f]{2})*$/.test(hex)) throw new Error(`${name}: the body is not lowercase hex`);
  for (const k of ['expect', 'why', 'source']) if (!fields.has(k)) throw new Error(`${name}: no ${k}: line`);
  if (!/^(ok|ERR_BAD_ANNOUNCEMENT)$/.test(fields.get('expect')!)) throw new Error(`${name}: bad expect: ${fields.get('expect')}`);
  return { name, fields, bytes: new Uint8Array(Buffer.from(hex, 'hex')) };
}

const files = readdirSync(ANNOUNCEMENT_VECTOR_DIR)
  .filter((f) => f.endsWith(ANNOUNCEMENT_VECTOR_EXTENSION))
  .sort();
const vectors = files.map((f) => parse(f.slice(0, -ANNOUNCEMENT_VECTOR_EXTENSION.length), readFileSync(join(ANNOUNCEMENT_VECTOR_DIR, f), 'utf8')));
const positives = vectors.filter((v) => v.fields.get('expect') === 'ok');

/** What decodeAnnouncement threw (or undefined), after checking it is an error of the announcement's kind. */
function rejection(bytes: Uint8Array, what: string): (Error & { code?: string }) | undefined {
  try {
    decodeAnnouncement(bytes);
    return undefined;
  } catch (e) {
    const err = e as Error & { code?: string };
    assert.instance(e, Error, `${what}: threw an Error`);
    assert.is(err.name, 'ContentError', `${what}: error name (${err.name}: ${err.message})`);
    assert.is(err.code, 'ERR_BAD_ANNOUNCEMENT', `${what}: error code (${err.message})`);
    assert.ok(err.message.startsWith('announcement: '), `${what}: message starts with "announcement: " (${err.message})`);
    assert.not.match(err.message, /\n/, `${what}: one-line message`);
    return err;
  }
}

function rejects(bytes: Uint8Array, what: string, mentions?: string): void {
  const err = rejection(bytes, what);
  assert.ok(err, `${what}: expected ERR_BAD_ANNOUNCEMENT, but it decoded`);
  if (mentions) assert.ok(err.message.includes(mentions), `${what}: message ${JSON.stringify(err.message)} names ${JSON.stringify(mentions)}`);
}

test('announcement vector set: at least 2 positive and 12 negative, every file as the generator makes it', async () => {
  assert.ok(positives.length >= 2, `${positives.length} positive vectors`);
  assert.ok(vectors.length - positives.length >= 12, `${vectors.length - positives.length} negative vectors`);
  const generated = await announcementVectors();
  assert.equal(
    files,
    generated.map((v) => v.name + ANNOUNCEMENT_VECTOR_EXTENSION).sort(),
    'the files are exactly the generated vectors; run node test/vectors/announcements/generate.ts',
  );
  for (const v of generated) {
    const onDisk = readFileSync(join(ANNOUNCEMENT_VECTOR_DIR, v.name + ANNOUNCEMENT_VECTOR_EXTENSION), 'utf8');
    assert.is(onDisk, renderAnnouncementVector(v), `${v.name}: file differs from the generator's output; run node test/vectors/announcements/generate.ts`);
  }
});

test('docs/ANNOUNCEMENTS.md lists every vector and states the constants', () => {
  const doc = readFileSync(new URL('../docs/ANNOUNCEMENTS.md', import.meta.url), 'utf8');
  for (const v of vectors) assert.ok(doc.includes(`\`${v.name}\``), `${v.name} is listed in docs/ANNOUNCEMENTS.md`);
  assert.ok(doc.includes(`\`${ANNOUNCE_TOPIC}\``), 'the topic');
  assert.ok(doc.includes(String(MAX_ANNOUNCEMENT_BYTES)), 'the size cap');
});

for (const v of vectors) {
  const known = v.fields.get('known-bug');
  test(`announcement vector ${v.name}: ${v.fields.get('expect')}${known ? ' (known bug: accepted today)' : ''}`, () => {
    if (v.fields.get('expect') === 'ok') {
      const a = decodeAnnouncement(v.bytes);
      assert.is(a.capsule.toString(), v.fields.get('capsule'), 'capsule CID');
      assert.is(a.logic.toString(), v.fields.get('logic'), 'logic CID');
      const j = announcementJson(a, 'peer');
      assert.is(j.guardian, v.fields.get('guardian'), 'guardian');
      assert.is(`${a.created} (${j.created})`, v.fields.get('created'), 'created');
      assert.is(Buffer.from(a.signer).toString('hex'), v.fields.get('signer'), 'signer');
      // Signatures are deterministic: the recorded identity re-makes exactly these bytes.
      const [id] = parseIdentityFile(v.fields.get('identity')!, `${v.name} identity`);
      try {
        assert.equal(ownerPublicKey(id!), a.signer, 'the identity derives the signer');
        const again = encodeAnnouncement({ capsule: a.capsule, logic: a.logic, guardian: a.guardian, created: a.created }, id!);
        assert.is(Buffer.from(again).toString('hex'), Buffer.from(v.bytes).toString('hex'), "encodeAnnouncement gives the vector's bytes");
      } finally {
        id!.dispose();
      }
    } else if (known) {
      // Pinned so that a fix is noticed: once decodeAnnouncement rejects it, drop `knownBug` for this
      // vector in test/vectors/announcements/generate.ts and regenerate.
      const err = rejection(v.bytes, v.name);
      assert.is(err, undefined, `${v.name} is rejected now (${err?.message}): remove its known-bug line (generate.ts) and regenerate`);
    } else {
      rejects(v.bytes, v.name, v.fields.get('message'));
    }
  });
}

test('every truncation and every one-bit change of a positive vector is ERR_BAD_ANNOUNCEMENT', () => {
  for (const v of positives) {
    for (let n = 0; n < v.bytes.length; n++) rejects(v.bytes.subarray(0, n), `${v.name} cut to ${n} bytes`);
  }
  const v = positives.find((p) => p.name === 'dag-pb-capsule')!;
  for (let i = 0; i < v.bytes.length; i++) {
    for (let bit = 0; bit < 8; bit++) {
      const b = Uint8Array.from(v.bytes);
      b[i]! ^= 1 << bit;
      rejects(b, `${v.name} byte ${i} bit ${bit} flipped`);
    }
  }
});

test('seeded garbage and odd map keys are ERR_BAD_ANNOUNCEMENT, never another error', () => {
  const rand = drbg('announcement garbage');
  for (let i = 0; i < 2000; i++) {
    const len = rand(2)[0]! * 4 + (rand(1)[0]! & 3);
    const b = rand(len);
    if (i % 4 === 0 && b.length) b[0] = 0xa0 | (b[0]! & 0x0f); // often a map head
    rejects(b, `garbage #${i}`);
  }
  const odd: Array<[unknown, string | undefined]> = [
    [null, 'unexpected key null'],
    [true, 'unexpected key true'],
    [0, 'unexpected key 0'],
    [8, 'unexpected key 8'],
    [-7, 'unexpected key -7'],
    ['version', 'unexpected key "version"'],
    [new Uint8Array([1]), undefined],
    [[1], undefined],
    [new Map([[1, 1]]), undefined],
    [Number.MAX_SAFE_INTEGER, undefined],
    [-Number.MAX_SAFE_INTEGER, undefined],
    [0.5, undefined],
    [7.5, undefined],
    [Infinity, undefined],
  ];
  for (const [key, mentions] of odd) {
    let bytes: Uint8Array;
    try {
      bytes = encodeCanonical(
        new Map<unknown, unknown>([
          [1, 1],
          [key, 1],
        ]),
      );
    } catch {
      continue; // not encodable: nothing a peer could send either
    }
    rejects(bytes, `map with key ${String(key)}`, mentions);
  }
  rejects(encodeCanonical([]), 'empty array', 'expected a CBOR map');
  rejects(encodeCanonical(new Map()), 'empty map', 'version (key 1)');
  rejects(encodeCanonical('capsule'), 'text', 'expected a CBOR map');
  rejects(
    new Uint8Array(MAX_ANNOUNCEMENT_BYTES + 1),
    'zeros above the cap',
    `${MAX_ANNOUNCEMENT_BYTES + 1} bytes, above the ${MAX_ANNOUNCEMENT_BYTES}-byte cap`,
  );
  rejects(new Uint8Array(MAX_ANNOUNCEMENT_BYTES), 'zeros at the cap', 'not one deterministic CBOR item');
});

async function sample() {
  const id = generateIdentity();
  const capsule = await computeCid(randomBytes(300_000));
  const logic = await computeCid(randomBytes(1000));
  const guardian = p256PublicKey(scalarFromBytes(randomBytes(48)));
  return { id, capsule, logic, guardian };
}

test('encode → decode round trip with a fresh identity', async () => {
  const { id, capsule, logic, guardian } = await sample();
  try {
    for (const created of [0, Date.now(), 253_402_300_799_999]) {
      const bytes = encodeAnnouncement({ capsule, logic, guardian, created }, id);
      assert.ok(bytes.length <= MAX_ANNOUNCEMENT_BYTES, `${bytes.length} bytes`);
      const a = decodeAnnouncement(bytes);
      assert.ok(a.capsule.equals(capsule), 'capsule');
      assert.ok(a.logic.equals(logic), 'logic');
      assert.equal(a.guardian, guardian, 'guardian');
      assert.is(a.created, created, 'created');
      assert.equal(a.signer, ownerPublicKey(id), 'signer is the owner key derived from the identity');
      assert.is(ANNOUNCEMENT_VERSION, 1);
    }
  } finally {
    id.dispose();
  }
});

test('encodeAnnouncement checks its arguments: guardian 33 bytes, created a safe integer ≥ 0', async () => {
  const { id, capsule, logic, guardian } = await sample();
  try {
    for (const g of [guardian.subarray(1), new Uint8Array(0), new Uint8Array(65)]) {
      assert.throws(
        () => encodeAnnouncement({ capsule, logic, guardian: g, created: 0 }, id),
        (e: Error) => e instanceof RangeError && /guardian/.test(e.message) && e.message.includes(`${g.length} bytes`),
      );
    }
    for (const created of [-1, 1.5, Number.NaN, Infinity, 2 ** 53]) {
      assert.throws(
        () => encodeAnnouncement({ capsule, logic, guardian, created }, id),
        (e: Error) => e instanceof RangeError && /created/.test(e.message),
      );
    }
  } finally {
    id.dispose();
  }
});

test('announcementJson: the fields `capsule watch` prints', async () => {
  const { id, capsule, logic, guardian } = await sample();
  try {
    const a = decodeAnnouncement(encodeAnnouncement({ capsule, logic, guardian, created: 1_767_225_600_123 }, id));
    const j = announcementJson(a, '12D3KooWpeer');
    assert.equal(Object.keys(j).sort(), ['capsule', 'created', 'from', 'guardian', 'logic', 'signer']);
    assert.is(j.capsule, capsule.toString());
    assert.is(j.logic, logic.toString());
    assert.ok(typeof j.guardian === 'string' && j.guardian.startsWith('capsule-guardian1'), String(j.guardian));
    assert.equal(parseP256Key(GUARDIAN_KEY_HRP, j.guardian as string, 'guardian'), guardian, 'the guardian text decodes to the key');
    assert.is(j.created, '2026-01-01T00:00:00.123Z');
    assert.is(j.signer, Buffer.from(ownerPublicKey(id)).toString('hex'));
    assert.is(j.from, '12D3KooWpeer');
    assert.is(JSON.parse(JSON.stringify(j)).created, '2026-01-01T00:00:00.123Z', 'one JSON line');
  } finally {
    id.dispose();
  }
});

test.run();
