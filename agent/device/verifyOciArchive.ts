/**
 * Verifies an OCI archive (`skopeo copy oci:DIR:TAG oci-archive:FILE.tar`) against a signed image
 * manifest (docs/IMAGES.md §4): every file of the tar is hashed, and
 *   - `oci-layout` says imageLayoutVersion 1.0.0; `index.json` lists exactly one OCI image manifest;
 *   - every blob's SHA-256 equals the digest its name (blobs/sha256/<hex>) claims, and every
 *     descriptor (index → manifest, manifest → config and layers) names a blob present in the
 *     archive with exactly the descriptor's size;
 *   - the image manifest's digest and size are listed in the signed manifest, and its
 *     `org.opencontainers.image.ref.name`, when present, is the name listed there;
 *   - nothing else is in the archive: no file that no descriptor reaches, no directory but
 *     blobs/ and blobs/sha256/;
 *   - the caps (whole archive, each entry) and the tar rules of ociTar.ts hold.
 * With `copyTo`, the bytes are written to that (private) file as they are read, so the copy is
 * exactly what was verified. Deliberately not here: trusting the manifest's signer (pinnedManifest.ts),
 * loading (loadImage.ts), image indexes (nested indexes are refused), foreign layers (`urls`).
 */
import { open } from 'node:fs/promises';
import { ImageError } from '../errors.ts';
import { ioError } from '../io/sources.ts';
import { digestText, findImage, type ImageEntry, type ImageManifest } from './ImageManifest.ts';
import { readTar, type TarEntry } from './ociTar.ts';

/** Default cap on the whole archive: 2 GiB (`--max-archive-bytes`). */
export const DEFAULT_MAX_ARCHIVE_BYTES = 2 * 1024 ** 3;
/** Default cap on one entry (a layer): 1 GiB (`--max-entry-bytes`). */
export const DEFAULT_MAX_ENTRY_BYTES = 1024 ** 3;
/** index.json and OCI manifests larger than this are refused (they are a few hundred bytes). */
export const MAX_JSON_BYTES = 1024 * 1024;

const MANIFEST_TYPE = 'application/vnd.oci.image.manifest.v1+json';
const CONFIG_TYPE = 'application/vnd.oci.image.config.v1+json';
const LAYER_TYPES = new Set([
  'application/vnd.oci.image.layer.v1.tar',
  'application/vnd.oci.image.layer.v1.tar+gzip',
  'application/vnd.oci.image.layer.v1.tar+zstd',
]);
const MAX_LAYERS = 256;
const REF_NAME = 'org.opencontainers.image.ref.name';

export interface VerifyOptions {
  manifest: ImageManifest;
  maxArchiveBytes?: number;
  maxEntryBytes?: number;
  /** Write every byte read to this new file (created exclusively, mode 0600). */
  copyTo?: string;
  signal?: AbortSignal;
  /** How messages name the archive. */
  name?: string;
}

export interface VerifiedArchive {
  /** The signed manifest's entry for this image. */
  image: ImageEntry;
  /** `sha256:…` of the OCI image manifest. */
  digest: string;
  /** The archive's `ref.name` annotation, if any. */
  refName: string | undefined;
  /** Blobs referenced and checked (manifest, config, layers). */
  blobs: number;
  /** Size of the archive, and SHA-256 of all its bytes (hex): loadImage re-checks the copy against it. */
  bytes: number;
  sha256: string;
}

const mismatch = (message: string) =>
  new ImageError('ERR_BLOB_MISMATCH', `archive: ${message}`, {
    hint: 'the archive was changed after it was built (a swapped or damaged blob): do not load it',
  });
const malformed = (message: string) =>
  new ImageError('ERR_BAD_ARCHIVE', `archive: ${message}`, { hint: 'make OCI archives with `skopeo copy oci:DIR:TAG oci-archive:FILE.tar`' });

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, unknown>;
}

function descriptor(v: unknown, at: string): Descriptor {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw malformed(`${at}: expected a descriptor object`);
  const d = v as Record<string, unknown>;
  if (typeof d.mediaType !== 'string') throw malformed(`${at}.mediaType: expected a string`);
  if (typeof d.digest !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(d.digest))
    throw malformed(`${at}.digest: expected "sha256:" and 64 lowercase hex digits, got ${JSON.stringify(String(d.digest).slice(0, 80))}`);
  if (!Number.isSafeInteger(d.size) || (d.size as number) < 0) throw malformed(`${at}.size: expected a non-negative integer`);
  if (d.urls !== undefined) throw malformed(`${at}: foreign layers (urls) are not supported`);
  if (d.annotations !== undefined && (typeof d.annotations !== 'object' || d.annotations === null)) throw malformed(`${at}.annotations: expected an object`);
  return d as unknown as Descriptor;
}

function json(e: TarEntry, what: string): Record<string, unknown> {
  if (e.size > MAX_JSON_BYTES || e.data === undefined)
    throw new ImageError('ERR_ARCHIVE_TOO_LARGE', `archive: ${what} is ${e.size} bytes, above the ${MAX_JSON_BYTES}-byte cap for JSON documents`);
  let v: unknown;
  try {
    v = JSON.parse(e.data.toString('utf8'));
  } catch (cause) {
    throw new ImageError('ERR_BAD_ARCHIVE', `archive: ${what} is not valid JSON`, { cause });
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw malformed(`${what}: expected a JSON object`);
  return v as Record<string, unknown>;
}

/**
 * Verifies the archive at `path` against `o.manifest` (whose signature the caller has checked).
 * @throws ImageError ERR_BAD_ARCHIVE, ERR_ARCHIVE_TRUNCATED, ERR_ARCHIVE_PATH, ERR_ARCHIVE_TOO_LARGE,
 *   ERR_ARCHIVE_EXTRA, ERR_BLOB_MISMATCH, ERR_BLOB_MISSING, ERR_IMAGE_NOT_LISTED; IoError ERR_NOT_FOUND, ERR_IO
 */
export async function verifyOciArchive(path: string, o: VerifyOptions): Promise<VerifiedArchive> {
  const name = o.name ?? path;
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (cause) {
    throw ioError(name, 'read', cause);
  }
  let copy;
  let tar;
  try {
    if (o.copyTo) {
      try {
        copy = await open(o.copyTo, 'wx', 0o600);
      } catch (cause) {
        throw ioError(o.copyTo, 'create', cause);
      }
    }
    const maxEntryBytes = o.maxEntryBytes ?? DEFAULT_MAX_ENTRY_BYTES;
    tar = await readTar(
      fh,
      {
        maxArchiveBytes: o.maxArchiveBytes ?? DEFAULT_MAX_ARCHIVE_BYTES,
        maxEntryBytes,
        keepBytes: MAX_JSON_BYTES,
        keepTotalBytes: 16 * MAX_JSON_BYTES,
      },
      copy,
      o.signal,
    );
    await copy?.sync();
  } finally {
    await copy?.close();
    await fh.close();
  }
  const files = tar.entries;
  for (const e of files.values()) {
    if (e.type === 'dir' && e.name !== 'blobs' && e.name !== 'blobs/sha256') throw extra(e.name, 'a directory an OCI archive does not have');
    if (e.type === 'file' && e.name !== 'oci-layout' && e.name !== 'index.json' && !/^blobs\/sha256\/[0-9a-f]{64}$/.test(e.name))
      throw extra(e.name, 'not oci-layout, index.json or blobs/sha256/<64 hex digits>');
  }
  // Every blob's content against the digest its name claims, before any of it is parsed.
  for (const e of files.values()) {
    if (e.type === 'file' && e.name.startsWith('blobs/') && e.name.slice(13) !== e.sha256) {
      throw mismatch(`${e.name}: content hashes to sha256:${e.sha256}, not the digest its name claims`);
    }
  }
  const layoutEntry = files.get('oci-layout');
  if (!layoutEntry || layoutEntry.type !== 'file')
    throw new ImageError('ERR_BLOB_MISSING', 'archive: no oci-layout file (not an OCI archive)', {
      hint: 'make OCI archives with `skopeo copy oci:DIR:TAG oci-archive:FILE.tar`',
    });
  if (json(layoutEntry, 'oci-layout').imageLayoutVersion !== '1.0.0') throw malformed('oci-layout: imageLayoutVersion is not "1.0.0"');
  const indexEntry = files.get('index.json');
  if (!indexEntry || indexEntry.type !== 'file')
    throw new ImageError('ERR_BLOB_MISSING', 'archive: no index.json (not an OCI archive)', {
      hint: 'make OCI archives with `skopeo copy oci:DIR:TAG oci-archive:FILE.tar`',
    });
  const index = json(indexEntry, 'index.json');
  if (index.schemaVersion !== 2) throw malformed('index.json: schemaVersion is not 2');
  if (!Array.isArray(index.manifests) || index.manifests.length !== 1)
    throw malformed(
      `index.json: expected exactly one manifest, got ${Array.isArray(index.manifests) ? index.manifests.length : 'none'} (one image per archive)`,
    );
  const top = descriptor(index.manifests[0], 'index.json manifests[0]');
  if (top.mediaType !== MANIFEST_TYPE)
    throw malformed(
      `index.json manifests[0].mediaType: expected ${MANIFEST_TYPE}, got ${JSON.stringify(top.mediaType.slice(0, 80))} (image indexes and Docker manifests are not supported)`,
    );
  const referenced = new Set(['oci-layout', 'index.json']);
  const blob = (d: Descriptor, at: string): TarEntry => {
    const path = `blobs/sha256/${d.digest.slice(7)}`;
    const e = files.get(path);
    if (!e || e.type !== 'file')
      throw new ImageError('ERR_BLOB_MISSING', `archive: ${at} names ${d.digest}, which is not in the archive`, {
        hint: 'the archive is incomplete or was edited: do not load it',
      });
    if (e.size !== d.size) throw mismatch(`${at} says ${d.digest} has ${d.size} bytes; the blob has ${e.size}`);
    referenced.add(path);
    return e;
  };
  // The signed manifest decides before anything the image manifest says is believed.
  const digest = Uint8Array.from(Buffer.from(top.digest.slice(7), 'hex'));
  const image = findImage(o.manifest, digest);
  if (!image) {
    throw new ImageError(
      'ERR_IMAGE_NOT_LISTED',
      `archive: image manifest ${top.digest} is not listed in the signed image manifest (sequence ${o.manifest.sequence})`,
      { hint: 'only images the owner signed may be loaded; sign a manifest listing it with `capsule image sign`' },
    );
  }
  if (image.size !== top.size) throw mismatch(`index.json gives image manifest ${top.digest} ${top.size} bytes; the signed manifest lists ${image.size}`);
  const ref = top.annotations?.[REF_NAME];
  if (ref !== undefined && ref !== image.name) {
    throw new ImageError(
      'ERR_IMAGE_NOT_LISTED',
      `archive: image ${top.digest} is named ${JSON.stringify(String(ref).slice(0, 120))} in the archive but ${JSON.stringify(image.name)} in the signed manifest`,
      { hint: "the engine would tag it under the archive's name: rebuild the archive with the signed name" },
    );
  }
  const m = json(blob(top, 'index.json manifests[0]'), `image manifest ${top.digest}`);
  if (m.schemaVersion !== 2) throw malformed(`image manifest ${top.digest}: schemaVersion is not 2`);
  if (m.mediaType !== undefined && m.mediaType !== MANIFEST_TYPE) throw malformed(`image manifest ${top.digest}: mediaType is not ${MANIFEST_TYPE}`);
  const config = descriptor(m.config, 'manifest config');
  if (config.mediaType !== CONFIG_TYPE)
    throw malformed(`manifest config.mediaType: expected ${CONFIG_TYPE}, got ${JSON.stringify(config.mediaType.slice(0, 80))}`);
  json(blob(config, 'manifest config'), `image config ${config.digest}`);
  if (!Array.isArray(m.layers) || m.layers.length > MAX_LAYERS)
    throw malformed(`image manifest ${top.digest}: layers: expected an array of at most ${MAX_LAYERS}`);
  m.layers.forEach((l: unknown, i: number) => {
    const d = descriptor(l, `manifest layers[${i}]`);
    if (!LAYER_TYPES.has(d.mediaType)) throw malformed(`manifest layers[${i}].mediaType: ${JSON.stringify(d.mediaType.slice(0, 80))} is not an OCI layer type`);
    blob(d, `manifest layers[${i}]`);
  });
  for (const e of files.values()) {
    if (e.type === 'file' && !referenced.has(e.name)) throw extra(e.name, 'no descriptor references it');
  }
  return {
    image,
    digest: digestText(digest),
    refName: typeof ref === 'string' ? ref : undefined,
    blobs: referenced.size - 2,
    bytes: tar.bytes,
    sha256: tar.sha256,
  };
}

function extra(name: string, why: string): ImageError {
  return new ImageError('ERR_ARCHIVE_EXTRA', `archive: unexpected entry ${JSON.stringify(name.slice(0, 120))}: ${why}`, {
    hint: 'an archive must hold only the blobs its image uses; rebuild it with skopeo',
  });
}
