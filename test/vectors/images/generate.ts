/**
 * `node test/vectors/images/generate.ts`: writes test/vectors/images/*.cbor.hex, the image manifest
 * vectors of docs/IMAGES.md §7. Deterministic (fixed keys, digests and times; Ed25519 signatures are
 * deterministic); test/device-image-vectors.test.ts checks the committed files equal what
 * `imageVectors()` renders and that the decoder gives each file's `expect:`.
 *
 * File format (as test/vectors/announcements): `key: value` lines, one empty line, then the bytes as
 * lowercase hex, 64 digits a line. Keys: `expect:` (`ok` or an ImageError code), for errors
 * `message:` (text the message contains), then `why:` and `source:`.
 */
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { encodeCanonical } from '../../../agent/format/cbor.ts';
import { identityFromSecret, ownerPublicKey, signWithOwner } from '../../../agent/crypto/identity.ts';

export const IMAGE_VECTOR_DIR = fileURLToPath(new URL('./', import.meta.url));
const SOURCE = 'test/vectors/images/generate.ts';
const A = identityFromSecret(Uint8Array.from({ length: 32 }, (_, i) => i + 1));
const B = identityFromSecret(Uint8Array.from({ length: 32 }, (_, i) => i + 0x21));
const LABEL = new TextEncoder().encode('capsule-image-manifest/v1\0');
/** 2026-01-01T00:00:00.000Z */
const CREATED = 1_767_225_600_000;
const DIGEST = Uint8Array.from({ length: 32 }, (_, i) => 0xa0 + (i % 16));

export interface ImageVector {
  name: string;
  expect: string;
  message?: string;
  why: string;
  bytes: Uint8Array;
}

type Fields = Map<number, unknown>;
const image = (over: [number, unknown][] = []): Fields => new Map<number, unknown>([[1, 'localhost/ipfs:1'], [2, DIGEST], [3, 345], ...over]);
function body(over: [number, unknown][] = [], signer = ownerPublicKey(A)): Fields {
  const m = new Map<number, unknown>([
    [1, 1],
    [2, 7],
    [3, CREATED],
    [4, [image()]],
    [5, signer],
  ]);
  for (const [k, v] of over)
    if (v === undefined) m.delete(k);
    else m.set(k, v);
  return m;
}
function signed(m: Fields, by = A): Uint8Array {
  const b = encodeCanonical(m);
  const msg = new Uint8Array(LABEL.length + b.length);
  msg.set(LABEL);
  msg.set(b, LABEL.length);
  const out = new Map(m);
  out.set(6, signWithOwner(by, msg));
  return encodeCanonical(out);
}

export function imageVectors(): ImageVector[] {
  const good = signed(body());
  const flipped = Uint8Array.from(good);
  flipped[flipped.length - 1]! ^= 1;
  return [
    { name: 'ok', expect: 'ok', why: 'sequence 7, one image, signed by identity A', bytes: good },
    {
      name: 'signed-by-other-key',
      expect: 'ERR_IMAGE_SIGNATURE',
      message: 'signature (key 6) does not verify under the signer (key 5)',
      why: "signer (key 5) is A, the signature is B's",
      bytes: signed(body(), B),
    },
    { name: 'signature-bit-flipped', expect: 'ERR_IMAGE_SIGNATURE', message: 'does not verify', why: 'last bit of the signature flipped', bytes: flipped },
    {
      name: 'version-2',
      expect: 'ERR_BAD_IMAGE_MANIFEST',
      message: 'version (key 1): expected 1, got 2',
      why: 'only version 1 exists',
      bytes: signed(body([[1, 2]])),
    },
    {
      name: 'sequence-zero',
      expect: 'ERR_BAD_IMAGE_MANIFEST',
      message: 'sequence (key 2): expected an integer from 1',
      why: 'sequences start at 1',
      bytes: signed(body([[2, 0]])),
    },
    { name: 'extra-key-7', expect: 'ERR_BAD_IMAGE_MANIFEST', message: 'unexpected key 7', why: 'no extensions', bytes: signed(body([[7, 0]])) },
    {
      name: 'digest-31-bytes',
      expect: 'ERR_BAD_IMAGE_MANIFEST',
      message: 'images[0].digest: expected a 32-byte SHA-256 digest',
      why: 'a SHA-256 digest is 32 bytes',
      bytes: signed(body([[4, [image([[2, DIGEST.subarray(1)]])]]])),
    },
    {
      name: 'duplicate-digest',
      expect: 'ERR_BAD_IMAGE_MANIFEST',
      message: 'is listed twice',
      why: 'one entry per image',
      bytes: signed(body([[4, [image(), image([[1, 'localhost/other:1']])]]])),
    },
    {
      name: 'no-images',
      expect: 'ERR_BAD_IMAGE_MANIFEST',
      message: 'images (key 4): expected 1 to 64 entries, got 0',
      why: 'an empty list allows nothing: not a manifest',
      bytes: signed(body([[4, []]])),
    },
    {
      name: 'name-uppercase',
      expect: 'ERR_BAD_IMAGE_MANIFEST',
      message: 'images[0].name: expected a lowercase image reference',
      why: 'references are lowercase',
      bytes: signed(body([[4, [image([[1, 'Localhost/IPFS:1']])]]])),
    },
    { name: 'signature-missing', expect: 'ERR_BAD_IMAGE_MANIFEST', message: 'key 6 is missing', why: 'unsigned', bytes: encodeCanonical(body()) },
    {
      name: 'trailing-byte',
      expect: 'ERR_BAD_IMAGE_MANIFEST',
      message: 'not one deterministic CBOR item',
      why: 'a byte after the map',
      bytes: Uint8Array.of(...good, 0),
    },
  ];
}

export function render(v: ImageVector): string {
  const hex = Buffer.from(v.bytes)
    .toString('hex')
    .match(/.{1,64}/g)!
    .join('\n');
  return `expect: ${v.expect}\n${v.message ? `message: ${v.message}\n` : ''}why: ${v.why}\nsource: ${SOURCE} "${v.name}" (node ${SOURCE})\n\n${hex}\n`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const f of readdirSync(IMAGE_VECTOR_DIR)) if (f.endsWith('.cbor.hex')) rmSync(IMAGE_VECTOR_DIR + f);
  for (const v of imageVectors()) writeFileSync(`${IMAGE_VECTOR_DIR}${v.name}.cbor.hex`, render(v));
}
