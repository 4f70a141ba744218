/**
 * The command table's entries for verified container images: `capsule image
 * sign|show|pin|verify|load|fetch|publish` (their interface: spec.ts; docs/IMAGES.md).
 *
 * Deliberately not here: what they do (commands/image.ts). The defaults are written out rather
 * than imported, so that `capsule --help` loads no image code; test/cli-help.test.ts checks them
 * against agent/device's constants.
 */
import { command, group, type OptionSpec } from '../spec.ts';
import { IPFS_ENV } from './environment.ts';
import { DATA_DIR, IPFS_OPTIONS } from './options.ts';

/** The options that say which signed manifest an archive is checked against, and the size caps. */
const TRUST = {
  manifest: { type: 'string', value: 'M', default: 'the pinned one', description: 'the signed image manifest to check against' },
  owner: {
    type: 'string',
    value: 'HEX',
    description:
      "the owner's Ed25519 key (64 hex digits, as `capsule keygen` prints it): needed when nothing is pinned, and must be the " +
      'pinned signer when something is',
  },
  'data-dir': { ...DATA_DIR, description: 'where the manifest is pinned (D/images/manifest.cbor)' },
  'max-archive-bytes': { type: 'string', value: 'N', default: '2147483648 (2 GiB)', description: 'refuse a larger archive' },
  'max-entry-bytes': {
    type: 'string',
    value: 'N',
    default: '1073741824 (1 GiB)',
    description: 'refuse a larger file inside it, e.g. a layer',
  },
} as const satisfies Record<string, OptionSpec>;

/** `capsule image sign`. */
export const IMAGE_SIGN = command({
  name: 'image sign',
  summary: 'sign an image manifest with the owner key',
  synopsis: 'capsule image sign MANIFEST.json --key OWNER.key [-o SIGNED.manifest]',
  description: `Signs MANIFEST.json, {"sequence": N, "created"?: ISO time, "images": [{"name", "digest": "sha256:…", "size", "cid"?}]},
    with the owner key derived from the age identity in OWNER.key, and writes the signed manifest (deterministic CBOR, docs/IMAGES.md).
    Each new manifest needs a higher sequence than the one pinned on the device.`,
  arguments: { 'MANIFEST.json': 'the images the device may load' },
  positionals: { min: 1, max: 1 },
  options: {
    key: { type: 'string', value: 'OWNER.key', description: "the owner's age identity file; required" },
    output: {
      type: 'string',
      short: 'o',
      value: 'SIGNED.manifest',
      default: 'stdout, unless it is a terminal',
      description: 'the signed manifest to write',
    },
  },
  examples: [
    ["on the owner's machine", 'capsule image sign MANIFEST.json --key owner.key -o images.manifest'],
    [
      'and publish it to the device at once',
      'capsule image sign MANIFEST.json --key owner.key -o images.manifest && capsule image publish images.manifest --peer ' +
        '/ip4/192.0.2.7/tcp/7374/p2p/12D3KooW…',
    ],
  ],
});

/** `capsule image show`. */
export const IMAGE_SHOW = command({
  name: 'image show',
  summary: 'print a signed image manifest (or the pinned one) as JSON',
  synopsis: 'capsule image show [SIGNED.manifest] [--data-dir D]',
  description: `Prints a signed image manifest, or without one the device's pinned manifest, as JSON, after its signature verifies under
    the key it names. Whose key that is, is not checked here: capsule image pin and verify do that.`,
  arguments: { 'SIGNED.manifest': 'the manifest to show (default: the pinned one)' },
  positionals: { min: 0, max: 1 },
  options: { 'data-dir': TRUST['data-dir'] },
  environment: ['CAPSULE_DATA_DIR'],
  examples: [
    ['the manifest pinned on the device', 'capsule image show --data-dir /var/lib/capsule'],
    ['a manifest before pinning it', 'capsule image show images.manifest'],
  ],
});

/** `capsule image pin`. */
export const IMAGE_PIN = command({
  name: 'image pin',
  summary: "make a signed image manifest the device's reference",
  synopsis: 'capsule image pin SIGNED.manifest [--owner HEX] [--data-dir D]',
  description: `Makes SIGNED.manifest the device's image manifest (D/images/manifest.cbor): it must be signed by --owner (the first pin)
    or by the pinned signer, with a higher sequence than the pinned one. Pinning the same bytes again changes nothing.`,
  arguments: { 'SIGNED.manifest': 'the manifest, from capsule image sign' },
  positionals: { min: 1, max: 1 },
  options: {
    owner: { ...TRUST.owner, description: "the owner's Ed25519 key (64 hex digits); required for the first pin" },
    'data-dir': TRUST['data-dir'],
  },
  environment: ['CAPSULE_DATA_DIR'],
  examples: [
    ["the first pin, trusting the owner's key", 'capsule image pin images.manifest --owner 3b6a27bc… --data-dir /var/lib/capsule'],
    ['a newer manifest from the same owner', 'capsule image pin images-v2.manifest --data-dir /var/lib/capsule'],
  ],
});

/** `capsule image verify`. */
export const IMAGE_VERIFY = command({
  name: 'image verify',
  summary: 'check an OCI archive against the signed manifest',
  synopsis: 'capsule image verify ARCHIVE.tar [--manifest M] [--owner HEX] [--data-dir D] [--max-archive-bytes N] [--max-entry-bytes N]',
  description: `Verifies an OCI archive (skopeo copy oci:DIR:TAG oci-archive:FILE.tar): every blob hashed against its descriptor, its
    image manifest listed in the signed manifest, nothing extra, no unsafe paths, the size caps. Prints one JSON line, {"name", "digest",
    "blobs", "bytes", "sequence"}; exits 1 naming the first problem.`,
  arguments: { 'ARCHIVE.tar': 'the OCI archive' },
  positionals: { min: 1, max: 1 },
  options: TRUST,
  environment: ['CAPSULE_DATA_DIR'],
  examples: [
    ['against the pinned manifest', 'capsule image verify ipfs.tar --data-dir /var/lib/capsule'],
    ["anywhere, against a manifest and the owner's key", 'capsule image verify ipfs.tar --manifest images.manifest --owner 3b6a27bc…'],
  ],
});

/** `capsule image load`. */
export const IMAGE_LOAD = command({
  name: 'image load',
  summary: 'verify an OCI archive into a private copy, and load only that copy',
  synopsis:
    'capsule image load ARCHIVE.tar [--manifest M] [--owner HEX] [--data-dir D] [--engine podman|docker] [--engine-arg ARG]… ' +
    '[--tmp-dir D] ' +
    '[--max-archive-bytes N] [--max-entry-bytes N]',
  description: `Verifies ARCHIVE.tar as capsule image verify does while copying it into a private directory, then runs podman load (or
    docker load) on that copy only, so the engine never reads bytes that were not checked. Prints one JSON line, {"name", "digest",
    "engine", "loaded"}.`,
  arguments: { 'ARCHIVE.tar': 'the OCI archive' },
  positionals: { min: 1, max: 1 },
  options: {
    ...TRUST,
    engine: { type: 'string', value: 'podman|docker', default: 'podman, else docker, from PATH', description: 'use this engine only' },
    'engine-arg': {
      type: 'string',
      multiple: true,
      value: 'ARG',
      description: 'passed to the engine before "load", e.g. --engine-arg=--root=/var/lib/containers',
    },
    'tmp-dir': {
      type: 'string',
      value: 'D',
      default: '$TMPDIR, else /tmp',
      description: 'where the private copy is made (it needs room for the archive)',
    },
  },
  environment: ['CAPSULE_DATA_DIR', 'TMPDIR'],
  examples: [
    ['on the device', 'capsule image load ipfs.tar --data-dir /var/lib/capsule'],
    ['with docker, into another storage root', 'capsule image load ipfs.tar --engine docker --engine-arg=--data-root=/srv/docker'],
  ],
});

/** `capsule image publish`. */
export const IMAGE_PUBLISH = command({
  name: 'image publish',
  summary: 'send a signed image manifest to devices over IPFS pubsub',
  synopsis: 'capsule image publish SIGNED.manifest [--timeout SECONDS] [--ipfs helia|kubo:URL] [--data-dir D] [--peer MULTIADDR]…',
  description: `Publishes a signed image manifest on the IPFS pubsub topic capsule-engine/images/v1: devices whose agent runs with IPFS
    pin it when it is signed by their pinned signer and carries a higher sequence (their /v1/status counts it under ipfs.imageManifests).
    Its signature is checked before anything is sent. Prints on stdout the number of peers it reached; reaching none is exit 1.`,
  arguments: { 'SIGNED.manifest': 'the manifest, from capsule image sign' },
  positionals: { min: 1, max: 1 },
  options: {
    ...IPFS_OPTIONS,
    peer: { ...IPFS_OPTIONS.peer, description: "a node to connect to first, e.g. the device's (its /v1/status lists ipfs.addresses)" },
    timeout: { type: 'string', value: 'SECONDS', default: '10', description: 'keep trying to reach a subscriber this long' },
  },
  environment: IPFS_ENV,
  examples: [
    ["to the device's node", 'capsule image publish images.manifest --peer /ip4/192.0.2.7/tcp/7374/p2p/12D3KooW…'],
    ['through a Kubo daemon, trying for a minute', 'capsule image publish images.manifest --ipfs kubo:http://127.0.0.1:5001 --timeout 60'],
  ],
});

/** `capsule image fetch`. */
export const IMAGE_FETCH = command({
  name: 'image fetch',
  summary: 'fetch an OCI archive by CID, verify it, and only then write it',
  synopsis:
    'capsule image fetch CID -o OUT.tar [--manifest M] [--owner HEX] [--data-dir D] [--max-archive-bytes N] [--max-entry-bytes N] ' +
    '[--timeout SECONDS] [--ipfs helia|kubo:URL] [--peer MULTIADDR]…',
  description: `Fetches an OCI archive by CID (every block checked against the CID), verifies it as capsule image verify does, and only
    then writes OUT.tar. Prints the verify JSON line.`,
  arguments: { CID: 'the archive\'s CID (the "cid" of its entry in the manifest)' },
  positionals: { min: 1, max: 1 },
  options: {
    ...IPFS_OPTIONS,
    ...TRUST,
    output: { type: 'string', short: 'o', value: 'OUT.tar', description: 'the archive file to write; required' },
    timeout: { type: 'string', value: 'SECONDS', default: '120', description: 'give up when it has not all arrived by then' },
  },
  environment: IPFS_ENV,
  examples: [
    [
      'fetch and verify against the pinned manifest',
      'capsule image fetch bafybei… -o ipfs.tar --data-dir /var/lib/capsule --peer /ip4/192.0.2.7/tcp/7374/p2p/12D3KooW…',
    ],
    ['then load it', 'capsule image fetch bafybei… -o ipfs.tar && capsule image load ipfs.tar'],
  ],
});

/** `capsule image` (a group: its subcommands). */
export const IMAGE = group({
  name: 'image',
  summary: 'verified container images, listed in an owner-signed manifest',
  description: `Verified container images (docs/IMAGES.md): an owner-signed manifest lists the images the device may load, by digest; an
    archive is loaded only after every blob is checked against it. Newer manifests reach devices over IPFS pubsub, and replays are
    refused.`,
  subs: {
    sign: IMAGE_SIGN,
    show: IMAGE_SHOW,
    pin: IMAGE_PIN,
    verify: IMAGE_VERIFY,
    load: IMAGE_LOAD,
    fetch: IMAGE_FETCH,
    publish: IMAGE_PUBLISH,
  },
});
