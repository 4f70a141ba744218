/**
 * The pinned image manifest (docs/IMAGES.md §5): the newest signed manifest the device accepted,
 * kept at DATA_DIR/images/manifest.cbor (directory 0700, file 0600, written atomically). It is the
 * reference for two rules: a manifest must be signed by the pinned signer (or the owner key given at
 * the first pin), and its sequence may not go back — an older one is a replay, and one with the
 * same sequence must be byte-identical.
 *
 * Deliberately not here: owner key rotation (pin a manifest from a new owner only after removing the
 * old pin, by hand, on the device), and decoding (ImageManifest.ts).
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ImageError } from '../errors.ts';
import { AtomicFile } from '../io/AtomicFile.ts';
import { ioError } from '../io/sources.ts';
import { decodeImageManifest, type ImageManifest } from './ImageManifest.ts';

export const PINNED_MANIFEST = join('images', 'manifest.cbor');

export interface Pinned {
  manifest: ImageManifest;
  bytes: Uint8Array;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** The pinned manifest, or undefined when none is pinned. @throws ImageError ERR_BAD_IMAGE_MANIFEST, IoError ERR_IO */
export async function readPinned(dataDir: string): Promise<Pinned | undefined> {
  const path = join(dataDir, PINNED_MANIFEST);
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw ioError(path, 'read', cause);
  }
  return { manifest: decodeImageManifest(bytes), bytes };
}

/**
 * Decodes `bytes` and checks it against the trusted signer and the pin: the signer must be `owner`
 * (when given) and the pinned signer (when pinned); its sequence must be at least the pinned one,
 * and the same sequence only with the same bytes. Returns the manifest and whether it is the pinned one.
 * @throws ImageError ERR_NOT_PINNED, ERR_IMAGE_SIGNATURE, ERR_IMAGE_REPLAYED, ERR_BAD_IMAGE_MANIFEST
 */
export function acceptManifest(bytes: Uint8Array, trust: { owner?: Uint8Array; pinned?: Pinned }): { manifest: ImageManifest; same: boolean } {
  const { owner, pinned } = trust;
  if (!owner && !pinned) {
    throw new ImageError('ERR_NOT_PINNED', 'image manifest: no trusted owner key: none given and no manifest pinned', {
      hint: 'pass --owner HEX (the owner signing key `capsule keygen` prints), or pin a manifest with `capsule image pin M --owner HEX`',
    });
  }
  if (owner && pinned && hex(owner) !== hex(pinned.manifest.signer)) {
    throw new ImageError('ERR_IMAGE_SIGNATURE', `image manifest: --owner ${hex(owner)} is not the pinned signer ${hex(pinned.manifest.signer)}`, {
      hint: 'the pinned manifest decides whose key counts; owner key rotation is not supported',
    });
  }
  const manifest = decodeImageManifest(bytes);
  const expected = owner ?? pinned!.manifest.signer;
  if (hex(manifest.signer) !== hex(expected)) {
    throw new ImageError('ERR_IMAGE_SIGNATURE', `image manifest: signed by ${hex(manifest.signer)}, not by the owner key ${hex(expected)}`, {
      hint: 'only manifests signed by the device owner are accepted',
    });
  }
  if (!pinned) return { manifest, same: false };
  const was = pinned.manifest.sequence;
  const same = Buffer.compare(Buffer.from(bytes), Buffer.from(pinned.bytes)) === 0;
  if (manifest.sequence < was || (manifest.sequence === was && !same)) {
    throw new ImageError(
      'ERR_IMAGE_REPLAYED',
      `image manifest: sequence ${manifest.sequence} ${manifest.sequence < was ? 'is older than' : 'differs from but repeats'} the pinned sequence ${was}`,
      { hint: 'a replayed or rolled-back manifest; the owner signs each new manifest with a higher sequence' },
    );
  }
  return { manifest, same };
}

/**
 * Pins `bytes` in `dataDir` if it is accepted and newer than the pin (the same bytes again: no
 * change, `pinned: false`). @throws as acceptManifest, and IoError ERR_IO
 */
export async function pinManifest(
  dataDir: string,
  bytes: Uint8Array,
  owner?: Uint8Array,
): Promise<{ manifest: ImageManifest; pinned: boolean; previous: number | undefined }> {
  const current = await readPinned(dataDir);
  const { manifest, same } = acceptManifest(bytes, { owner, pinned: current });
  if (same) return { manifest, pinned: false, previous: current?.manifest.sequence };
  const dir = join(dataDir, 'images');
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (cause) {
    throw ioError(dir, 'create', cause);
  }
  const f = await AtomicFile.create(join(dataDir, PINNED_MANIFEST), 0o600);
  await f.write(bytes);
  await f.commit();
  return { manifest, pinned: true, previous: current?.manifest.sequence };
}
