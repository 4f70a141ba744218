/**
 * Image manifests (docs/IMAGES.md): the list of container images a device may load, as one
 * deterministic-CBOR map signed with the owner's Ed25519 key (the key announcements use).
 *
 *   1 version (1) · 2 sequence (1..2^53-1, must increase) · 3 created (ms since the epoch)
 *   4 images: [{1 name, 2 OCI manifest sha256 (32 bytes), 3 manifest size, ?4 IPFS CID}]
 *   5 signer (Ed25519, 32) · 6 signature (64)
 *   signature = Ed25519(signer, "capsule-image-manifest/v1" ‖ 0x00 ‖ CBOR(map without key 6))
 *
 * Also the authoring form (MANIFEST.json, parsed by `manifestFromJson`) and the JSON `capsule image
 * show` prints. decodeImageManifest() is strict: anything but exactly this is ImageError
 * ERR_BAD_IMAGE_MANIFEST naming the field, and a signature that does not verify ERR_IMAGE_SIGNATURE.
 * Deliberately not here: whose key to trust and replay (pinnedManifest.ts), archives (verifyOciArchive.ts).
 */
import { DceError, ImageError } from '../errors.ts';
import { encodeCanonical, decodeCanonical } from '../format/cbor.ts';
import { ownerPublicKey, signWithOwner, verifyOwnerSignature, type Identity } from '../crypto/identity.ts';
import { cidFromBytes } from '../store/ContentStore.ts';
import { CID } from 'multiformats/cid';

export const IMAGE_MANIFEST_VERSION = 1;
/** Larger manifests are refused before decoding (fits a pubsub message with room to spare). */
export const MAX_IMAGE_MANIFEST_BYTES = 16 * 1024;
/** At most this many images in one manifest. */
export const MAX_IMAGES = 64;
/** The last millisecond of 9999, as announcements bound `created`. */
export const MAX_CREATED = 253_402_300_799_999;
/** Image names: an OCI reference as podman shows it (registry/path:tag), ASCII, 1..255 bytes. */
const NAME_RE = /^[a-z0-9][a-z0-9._\-/:@]{0,254}$/;
const LABEL = new TextEncoder().encode('capsule-image-manifest/v1\0');

/** One image the device may load. */
export interface ImageEntry {
  /** The reference it is loaded under, e.g. "localhost/ipfs:1". */
  name: string;
  /** SHA-256 of the image's OCI manifest (the `sha256:…` digest), 32 bytes. */
  digest: Uint8Array;
  /** Size of the OCI manifest in bytes (its descriptor's `size`). */
  size: number;
  /** Where the OCI archive can be fetched from IPFS (a hint; the digest is what counts). */
  cid?: CID;
}

export interface ImageManifest {
  sequence: number;
  created: number;
  images: ImageEntry[];
  /** The owner's Ed25519 public key that signed it. */
  signer: Uint8Array;
}

const bad = (message: string, cause?: unknown) =>
  new ImageError('ERR_BAD_IMAGE_MANIFEST', `image manifest: ${message}`, {
    cause,
    hint: 'sign the manifest with `capsule image sign`; this one is malformed or damaged',
  });

function imagesCbor(images: ImageEntry[]): Map<number, unknown>[] {
  return images.map((i) => {
    const m = new Map<number, unknown>([
      [1, i.name],
      [2, i.digest],
      [3, i.size],
    ]);
    if (i.cid) m.set(4, i.cid.bytes);
    return m;
  });
}

function signedPart(m: ImageManifest): Uint8Array {
  const body = encodeCanonical(
    new Map<number, unknown>([
      [1, IMAGE_MANIFEST_VERSION],
      [2, m.sequence],
      [3, m.created],
      [4, imagesCbor(m.images)],
      [5, m.signer],
    ]),
  );
  const out = new Uint8Array(LABEL.length + body.length);
  out.set(LABEL);
  out.set(body, LABEL.length);
  return out;
}

/** `sha256:` and 64 lowercase hex digits, as OCI writes digests. */
export function digestText(digest: Uint8Array): string {
  return `sha256:${Buffer.from(digest).toString('hex')}`;
}

function checkFields(m: Omit<ImageManifest, 'signer'>, fail: (msg: string) => Error): void {
  if (!Number.isSafeInteger(m.sequence) || m.sequence < 1) throw fail(`sequence: expected an integer from 1 to 2^53-1, got ${JSON.stringify(m.sequence)}`);
  if (!Number.isSafeInteger(m.created) || m.created < 0 || m.created > MAX_CREATED) throw fail(`created: expected milliseconds from 0 to ${MAX_CREATED}`);
  if (!Array.isArray(m.images) || m.images.length < 1 || m.images.length > MAX_IMAGES)
    throw fail(`images: expected 1 to ${MAX_IMAGES} entries, got ${Array.isArray(m.images) ? m.images.length : typeof m.images}`);
  const seen = new Set<string>();
  m.images.forEach((i, n) => {
    if (typeof i.name !== 'string' || !NAME_RE.test(i.name))
      throw fail(
        `images[${n}].name: expected a lowercase image reference like "localhost/ipfs:1" (1-255 of a-z 0-9 . _ - / : @), got ${JSON.stringify(String(i.name).slice(0, 40))}`,
      );
    if (!(i.digest instanceof Uint8Array) || i.digest.length !== 32) throw fail(`images[${n}].digest: expected a 32-byte SHA-256 digest`);
    if (!Number.isSafeInteger(i.size) || i.size < 1) throw fail(`images[${n}].size: expected a positive integer, got ${JSON.stringify(i.size)}`);
    const d = digestText(i.digest);
    if (seen.has(d)) throw fail(`images[${n}].digest: ${d} is listed twice`);
    seen.add(d);
  });
}

/** Signs with the owner key derived from `by` (SPEC.md §7.1's derivation). @throws RangeError on a bad field. */
export function encodeImageManifest(m: Omit<ImageManifest, 'signer'>, by: Identity): Uint8Array {
  checkFields(m, (msg) => new RangeError(`image manifest ${msg}`));
  const full: ImageManifest = { ...m, signer: ownerPublicKey(by) };
  const signature = signWithOwner(by, signedPart(full));
  const bytes = encodeCanonical(
    new Map<number, unknown>([
      [1, IMAGE_MANIFEST_VERSION],
      [2, m.sequence],
      [3, m.created],
      [4, imagesCbor(m.images)],
      [5, full.signer],
      [6, signature],
    ]),
  );
  if (bytes.length > MAX_IMAGE_MANIFEST_BYTES) throw new RangeError(`image manifest: ${bytes.length} bytes, above the ${MAX_IMAGE_MANIFEST_BYTES}-byte cap`);
  return bytes;
}

function keysExactly(m: Map<unknown, unknown>, allowed: number[], required: number[], at: string): void {
  for (const k of m.keys())
    if (!(typeof k === 'number' && allowed.includes(k))) throw bad(`${at}unexpected key ${JSON.stringify(typeof k === 'bigint' ? String(k) : k)}`);
  for (const k of required) if (!m.has(k)) throw bad(`${at}key ${k} is missing`);
}

/**
 * Decodes and verifies the signature under the signer it names (whether that signer is trusted is
 * the caller's question). @throws ImageError ERR_BAD_IMAGE_MANIFEST, ERR_IMAGE_SIGNATURE
 */
export function decodeImageManifest(bytes: Uint8Array): ImageManifest {
  if (bytes.length > MAX_IMAGE_MANIFEST_BYTES) throw bad(`${bytes.length} bytes, above the ${MAX_IMAGE_MANIFEST_BYTES}-byte cap`);
  let m: unknown;
  try {
    m = decodeCanonical(bytes, 'image manifest');
  } catch (cause) {
    if (cause instanceof DceError) throw bad('not one deterministic CBOR item', cause);
    throw cause;
  }
  if (!(m instanceof Map)) throw bad('expected a CBOR map');
  keysExactly(m, [1, 2, 3, 4, 5, 6], [1, 2, 3, 4, 5, 6], '');
  if (m.get(1) !== IMAGE_MANIFEST_VERSION) throw bad(`version (key 1): expected ${IMAGE_MANIFEST_VERSION}, got ${JSON.stringify(m.get(1) ?? null)}`);
  const list = m.get(4);
  if (!Array.isArray(list)) throw bad('images (key 4): expected an array');
  const images: ImageEntry[] = list.map((e: unknown, n: number) => {
    if (!(e instanceof Map)) throw bad(`images[${n}] (key 4): expected a map`);
    keysExactly(e, [1, 2, 3, 4], [1, 2, 3], `images[${n}]: `);
    const entry: ImageEntry = { name: e.get(1) as string, digest: e.get(2) as Uint8Array, size: e.get(3) as number };
    if (e.has(4)) {
      const c = e.get(4);
      if (!(c instanceof Uint8Array)) throw bad(`images[${n}].cid (key 4): expected a byte string`);
      try {
        entry.cid = cidFromBytes(c, `images[${n}].cid (key 4)`);
      } catch (cause) {
        if (cause instanceof DceError) throw bad(`images[${n}].cid (key 4): not a CIDv1 with a sha2-256 digest`, cause);
        throw cause;
      }
    }
    return entry;
  });
  const signer = m.get(5);
  const signature = m.get(6);
  if (!(signer instanceof Uint8Array) || signer.length !== 32) throw bad('signer (key 5): expected 32 bytes');
  if (!(signature instanceof Uint8Array) || signature.length !== 64) throw bad('signature (key 6): expected 64 bytes');
  const out: ImageManifest = { sequence: m.get(2) as number, created: m.get(3) as number, images, signer };
  checkFields(out, (msg) =>
    bad(msg.replace(/^(sequence|created|images):/, (_, f: 'sequence' | 'created' | 'images') => `${f} (key ${{ sequence: 2, created: 3, images: 4 }[f]}):`)),
  );
  if (!verifyOwnerSignature(signature, signedPart(out), signer)) {
    throw new ImageError('ERR_IMAGE_SIGNATURE', 'image manifest: signature (key 6) does not verify under the signer (key 5)', {
      hint: 'the manifest was changed after signing or forged; ask the owner for a freshly signed one',
    });
  }
  return out;
}

/** The image entry listing `digest`, if any. */
export function findImage(m: ImageManifest, digest: Uint8Array): ImageEntry | undefined {
  return m.images.find((i) => Buffer.compare(Buffer.from(i.digest), Buffer.from(digest)) === 0);
}

/**
 * The authoring form, MANIFEST.json: `{"sequence": N, "created"?: ISO time, "images": [{"name",
 * "digest": "sha256:…", "size", "cid"?}]}`. `now` fills a missing `created`.
 * @throws ImageError ERR_BAD_IMAGE_MANIFEST naming the field
 */
export function manifestFromJson(json: unknown, now: number, source = 'MANIFEST.json'): Omit<ImageManifest, 'signer'> {
  const fail = (msg: string) => new ImageError('ERR_BAD_IMAGE_MANIFEST', `${source}: ${msg}`, { hint: 'see docs/IMAGES.md §6 for the MANIFEST.json fields' });
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw fail('expected a JSON object');
  const o = json as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!['sequence', 'created', 'images'].includes(k)) throw fail(`unexpected field ${JSON.stringify(k)}`);
  let created = now;
  if (o.created !== undefined) {
    created = typeof o.created === 'string' && /^\d{4}-\d\d-\d\dT/.test(o.created) ? Date.parse(o.created) : NaN;
    if (!Number.isSafeInteger(created)) throw fail(`created: expected an ISO 8601 time like "2026-12-05T00:00:00Z", got ${JSON.stringify(o.created)}`);
  }
  if (!Array.isArray(o.images)) throw fail('images: expected an array');
  const images = o.images.map((i: unknown, n: number): ImageEntry => {
    if (typeof i !== 'object' || i === null || Array.isArray(i)) throw fail(`images[${n}]: expected an object`);
    const e = i as Record<string, unknown>;
    for (const k of Object.keys(e)) if (!['name', 'digest', 'size', 'cid'].includes(k)) throw fail(`images[${n}]: unexpected field ${JSON.stringify(k)}`);
    if (typeof e.digest !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(e.digest))
      throw fail(`images[${n}].digest: expected "sha256:" and 64 lowercase hex digits, got ${JSON.stringify(String(e.digest).slice(0, 80))}`);
    const entry: ImageEntry = { name: e.name as string, digest: Uint8Array.from(Buffer.from(e.digest.slice(7), 'hex')), size: e.size as number };
    if (e.cid !== undefined) {
      try {
        const cid = CID.parse(String(e.cid));
        entry.cid = cidFromBytes(cid.bytes, `images[${n}].cid`);
      } catch (cause) {
        throw new ImageError(
          'ERR_BAD_IMAGE_MANIFEST',
          `${source}: images[${n}].cid: expected a CIDv1 (bafy…/bafk…), got ${JSON.stringify(String(e.cid).slice(0, 80))}`,
          { cause },
        );
      }
    }
    return entry;
  });
  const m = { sequence: o.sequence as number, created, images };
  checkFields(m, fail);
  return m;
}

/** The JSON `capsule image show` prints. */
export function imageManifestJson(m: ImageManifest): Record<string, unknown> {
  return {
    version: IMAGE_MANIFEST_VERSION,
    sequence: m.sequence,
    created: new Date(m.created).toISOString(),
    images: m.images.map((i) => ({ name: i.name, digest: digestText(i.digest), size: i.size, ...(i.cid ? { cid: i.cid.toString() } : {}) })),
    signer: Buffer.from(m.signer).toString('hex'),
  };
}
