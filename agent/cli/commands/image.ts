/**
 * `capsule image sign|show|pin|verify|load|fetch`: verified container images (docs/IMAGES.md).
 *   sign    MANIFEST.json → a signed image manifest (deterministic CBOR), signed with the owner key;
 *   show    prints a signed manifest (or the pinned one) as JSON after checking its signature;
 *   pin     makes a signed manifest the device's reference (DATA_DIR/images/manifest.cbor);
 *   verify  checks an OCI archive against the pinned manifest (or --manifest M, trusted through the
 *           pin or --owner); prints one JSON line;
 *   load    verifies into a private copy and hands only that copy to `podman load` (or docker);
 *   fetch   gets an archive by CID over IPFS, verifies it, and only then writes OUT.
 * Deliberately not here: the formats and checks (agent/device), running containers.
 */
import { copyFile, mkdtemp, readFile, rename, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ContentError, ImageError, UsageError } from '../../errors.ts';
import { AtomicFile } from '../../io/AtomicFile.ts';
import { ioError } from '../../io/sources.ts';
import { parseCid } from '../../store/ContentStore.ts';
import { decodeImageManifest, encodeImageManifest, imageManifestJson, manifestFromJson } from '../../device/ImageManifest.ts';
import { acceptManifest, pinManifest, readPinned } from '../../device/imagePin.ts';
import { DEFAULT_MAX_ARCHIVE_BYTES, DEFAULT_MAX_ENTRY_BYTES, verifyOciArchive, type VerifiedArchive } from '../../device/verifyOciArchive.ts';
import { loadImage } from '../../device/loadImage.ts';
import { IMAGE_FETCH, IMAGE_LOAD, IMAGE_PIN, IMAGE_PUBLISH, IMAGE_SHOW, IMAGE_SIGN, IMAGE_VERIFY } from '../synopsis.ts';
import { list, need, parse, str, type Parsed } from '../args.ts';
import { loadIdentities, readJsonFile } from '../files.ts';
import { IPFS_OPTIONS, announce, openCliStore } from '../ipfs.ts';
import { IMAGE_TOPIC } from '../../daemon/ImageManifestWatcher.ts';
import { refuseBinaryToTty, say, writeOut, type Terminal } from '../Terminal.ts';
import { dataDirOf } from '../dataDir.ts';
import { runSubcommand, type Sub } from '../subcommands.ts';

const SUBCOMMANDS: Record<string, [string, Sub]> = {
  sign: [IMAGE_SIGN, sign], show: [IMAGE_SHOW, show], pin: [IMAGE_PIN, pin], verify: [IMAGE_VERIFY, verify], load: [IMAGE_LOAD, load], fetch: [IMAGE_FETCH, fetch], publish: [IMAGE_PUBLISH, publish],
};

const TRUST = `  --manifest M            a signed image manifest (default: the pinned one)
  --owner HEX             the owner's Ed25519 key (64 hex digits, as \`capsule keygen\` prints it);
                          needed when nothing is pinned; must be the pinned signer when something is
  --data-dir D            where the manifest is pinned (default: $CAPSULE_DATA_DIR, /var/lib/capsule)
  --max-archive-bytes N   refuse a larger archive (default ${DEFAULT_MAX_ARCHIVE_BYTES})
  --max-entry-bytes N     refuse a larger file inside it, e.g. a layer (default ${DEFAULT_MAX_ENTRY_BYTES})`;
const DETAILS: Record<string, string> = {
  sign: `Signs MANIFEST.json {"sequence": N, "created"?: ISO time, "images": [{"name", "digest": "sha256:…",
"size", "cid"?}]} with the owner key derived from the age identity in KEY, and writes the signed
manifest (deterministic CBOR, docs/IMAGES.md) to OUT (or stdout when it is not a terminal).
Each new manifest needs a higher sequence than the one pinned on the device.`,
  show: `Prints a signed image manifest (or, without M, the pinned one) as JSON, after its signature verifies
under the key it names. Whose key that is, is not checked here: see pin and verify.
  --data-dir D            where the manifest is pinned`,
  pin: `Makes M the device's image manifest: signed by --owner (first pin) or by the pinned signer, with a
higher sequence than the pinned one (the same bytes again change nothing).
  --owner HEX             the owner's Ed25519 key (64 hex digits); required for the first pin
  --data-dir D            the guardian's data directory (pinned at D/images/manifest.cbor)`,
  verify: `Verifies an OCI archive (skopeo copy oci:DIR:TAG oci-archive:FILE.tar): every blob hashed against its
descriptor, its image manifest listed in the signed manifest, nothing extra, no unsafe paths, caps.
Prints one JSON line: {"name", "digest", "blobs", "bytes", "sequence"}.
${TRUST}`,
  load: `Verifies ARCHIVE while copying it into a private directory, then runs \`podman load\` (or \`docker load\`)
on that copy only. Prints one JSON line: {"name", "digest", "engine", "loaded"}.
${TRUST}
  --engine podman|docker  use this engine only (default: podman, else docker, from PATH)
  --engine-arg ARG        passed to the engine before "load" (repeatable), e.g. --engine-arg=--root=/var/lib/containers
  --tmp-dir D             where the private copy is made (default: $TMPDIR or /tmp; needs room for the archive)`,
  publish: `Publishes a signed image manifest on the IPFS pubsub topic ${IMAGE_TOPIC}: devices whose agent
runs with IPFS pin it when it is signed by their pinned signer and carries a higher sequence (their
/v1/status counts it under ipfs.imageManifests). Its signature is checked before anything is sent.
Prints on stdout the number of peers it reached.
  --peer MULTIADDR        a node to connect to first (repeatable), e.g. the device's
  --ipfs helia|kubo:URL   as for capsule fetch
  --timeout SECONDS       keep trying to reach a subscriber this long (default 10)`,
  fetch: `Fetches an OCI archive by CID (every block checked against the CID), verifies it as verify does, and
only then writes OUT. Prints the verify JSON line.
${TRUST}
  -o OUT                  the archive file to write
  --ipfs helia|kubo:URL, --peer MULTIADDR   as for capsule fetch
  --timeout SECONDS       give up after this long (default 120)`,
};

/** `capsule image SUB …`. @throws UsageError ERR_USAGE, ImageError, IoError, ContentError */
export async function imageCommand(argv: string[], t: Terminal): Promise<number> {
  return runSubcommand({ name: 'image', intro: 'Verified container images: an owner-signed manifest lists the images the device may load\n(docs/IMAGES.md).', subs: SUBCOMMANDS, details: DETAILS }, argv, t);
}

function ownerKey(p: Parsed, synopsis: string): Uint8Array | undefined {
  const v = str(p, 'owner');
  if (v === undefined) return undefined;
  if (!/^[0-9a-fA-F]{64}$/.test(v)) throw new UsageError('ERR_USAGE', `--owner: expected the owner's Ed25519 key as 64 hex digits, got ${v.length} characters`, { hint: `\`capsule keygen\` prints it as "owner signing key (ed25519): …"; usage: ${synopsis}` });
  return Uint8Array.from(Buffer.from(v, 'hex'));
}

function count(p: Parsed, name: string, fallback: number, synopsis: string): number {
  const v = str(p, name);
  if (v === undefined) return fallback;
  if (!/^[1-9][0-9]{0,15}$/.test(v) || !Number.isSafeInteger(Number(v))) throw new UsageError('ERR_USAGE', `--${name}: expected a positive integer, got ${JSON.stringify(v)}`, { hint: `usage: ${synopsis}` });
  return Number(v);
}

async function readBytes(t: Terminal, file: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(resolve(t.cwd, file)));
  } catch (cause) {
    throw ioError(file, 'read', cause);
  }
}

const TRUST_OPTIONS = { manifest: { type: 'string' }, owner: { type: 'string' }, 'data-dir': { type: 'string' }, 'max-archive-bytes': { type: 'string' }, 'max-entry-bytes': { type: 'string' } } as const;

/** The manifest to verify against: --manifest (trusted through --owner and the pin) or the pinned one. */
async function trusted(t: Terminal, p: Parsed, synopsis: string) {
  const owner = ownerKey(p, synopsis);
  const pinned = await readPinned(dataDirOf(t, str(p, 'data-dir')));
  const m = str(p, 'manifest');
  const bytes = m !== undefined ? await readBytes(t, m) : pinned?.bytes;
  if (bytes === undefined) throw new ImageError('ERR_NOT_PINNED', 'image manifest: no --manifest given and none pinned', { hint: 'pin one with `capsule image pin M --owner HEX`, or pass --manifest M --owner HEX' });
  return acceptManifest(bytes, { owner, pinned }).manifest;
}

function verifiedJson(v: VerifiedArchive, sequence: number): string {
  return JSON.stringify({ name: v.image.name, digest: v.digest, blobs: v.blobs, bytes: v.bytes, sequence }) + '\n';
}

async function sign(argv: string[], t: Terminal): Promise<number> {
  const p = parse(argv, { key: { type: 'string' }, output: { type: 'string', short: 'o' } }, IMAGE_SIGN, { min: 1, max: 1 });
  const input = manifestFromJson(await readJsonFile(t, p.positionals[0]!), Date.now(), p.positionals[0]!);
  const out = str(p, 'output');
  if (out === undefined || out === '-') refuseBinaryToTty(t, 'a signed image manifest');
  const ids = await loadIdentities(t, need(p, 'key', IMAGE_SIGN));
  let bytes: Uint8Array;
  try {
    bytes = encodeImageManifest(input, ids[0]!);
  } finally {
    for (const i of ids) i.dispose();
  }
  if (out === undefined || out === '-') {
    await writeOut(t, bytes);
  } else {
    const f = await AtomicFile.create(resolve(t.cwd, out), 0o644, out);
    await f.write(bytes);
    await f.commit();
    say(t, `image manifest sequence ${input.sequence} (${input.images.length} image(s)) signed -> ${out}`);
  }
  return 0;
}

async function show(argv: string[], t: Terminal): Promise<number> {
  const p = parse(argv, { 'data-dir': { type: 'string' } }, IMAGE_SHOW, { min: 0, max: 1 });
  const file = p.positionals[0];
  const bytes = file !== undefined ? await readBytes(t, file) : (await readPinned(dataDirOf(t, str(p, 'data-dir'))))?.bytes;
  if (bytes === undefined) throw new ImageError('ERR_NOT_PINNED', 'image manifest: none given and none pinned', { hint: `usage: ${IMAGE_SHOW}` });
  await writeOut(t, JSON.stringify(imageManifestJson(decodeImageManifest(bytes)), null, 2) + '\n');
  return 0;
}

async function pin(argv: string[], t: Terminal): Promise<number> {
  const p = parse(argv, { owner: { type: 'string' }, 'data-dir': { type: 'string' } }, IMAGE_PIN, { min: 1, max: 1 });
  const r = await pinManifest(dataDirOf(t, str(p, 'data-dir')), await readBytes(t, p.positionals[0]!), ownerKey(p, IMAGE_PIN));
  say(t, r.pinned
    ? `pinned image manifest sequence ${r.manifest.sequence}${r.previous !== undefined ? ` (was ${r.previous})` : ''}: ${r.manifest.images.map((i) => i.name).join(', ')}`
    : `image manifest sequence ${r.manifest.sequence} is already pinned; nothing changed`);
  return 0;
}

async function verify(argv: string[], t: Terminal): Promise<number> {
  const p = parse(argv, TRUST_OPTIONS, IMAGE_VERIFY, { min: 1, max: 1 });
  const manifest = await trusted(t, p, IMAGE_VERIFY);
  const file = p.positionals[0]!;
  const v = await verifyOciArchive(resolve(t.cwd, file), {
    manifest, name: file, signal: t.signal,
    maxArchiveBytes: count(p, 'max-archive-bytes', DEFAULT_MAX_ARCHIVE_BYTES, IMAGE_VERIFY), maxEntryBytes: count(p, 'max-entry-bytes', DEFAULT_MAX_ENTRY_BYTES, IMAGE_VERIFY),
  });
  await writeOut(t, verifiedJson(v, manifest.sequence));
  say(t, `${file}: ${v.image.name} ${v.digest} verified (${v.blobs} blobs, ${v.bytes} bytes)`);
  return 0;
}

async function load(argv: string[], t: Terminal): Promise<number> {
  const p = parse(argv, { ...TRUST_OPTIONS, engine: { type: 'string' }, 'engine-arg': { type: 'string', multiple: true }, 'tmp-dir': { type: 'string' } }, IMAGE_LOAD, { min: 1, max: 1 });
  const engine = str(p, 'engine');
  if (engine !== undefined && engine !== 'podman' && engine !== 'docker') throw new UsageError('ERR_USAGE', `--engine: expected podman or docker, got ${JSON.stringify(engine)}`, { hint: `usage: ${IMAGE_LOAD}` });
  const manifest = await trusted(t, p, IMAGE_LOAD);
  const file = p.positionals[0]!;
  const tmp = str(p, 'tmp-dir');
  const r = await loadImage(resolve(t.cwd, file), {
    manifest, name: file, signal: t.signal, env: t.env ?? process.env, engineArgs: list(p, 'engine-arg'),
    engines: engine ? [engine] : undefined, tmpDir: tmp !== undefined ? resolve(t.cwd, tmp) : undefined,
    maxArchiveBytes: count(p, 'max-archive-bytes', DEFAULT_MAX_ARCHIVE_BYTES, IMAGE_LOAD), maxEntryBytes: count(p, 'max-entry-bytes', DEFAULT_MAX_ENTRY_BYTES, IMAGE_LOAD),
  });
  await writeOut(t, JSON.stringify({ name: r.verified.image.name, digest: r.verified.digest, engine: r.engine.name, loaded: r.loaded }) + '\n');
  say(t, `${file}: verified (${r.verified.blobs} blobs, ${r.verified.bytes} bytes), loaded by ${r.engine.name}: ${r.loaded.join(', ') || '(no name reported)'}`);
  return 0;
}

async function publish(argv: string[], t: Terminal): Promise<number> {
  const p = parse(argv, { ...IPFS_OPTIONS, timeout: { type: 'string' } }, IMAGE_PUBLISH, { min: 1, max: 1 });
  const file = p.positionals[0]!;
  const bytes = await readBytes(t, file);
  const manifest = decodeImageManifest(bytes); // refuses a malformed or forged manifest before a node starts
  const timeoutS = Math.min(count(p, 'timeout', 10, IMAGE_PUBLISH), 3600);
  const store = await openCliStore(t, p);
  try {
    const n = await announce(store, bytes, timeoutS * 1000, t.signal, IMAGE_TOPIC);
    if (n === 0) throw new ContentError('ERR_CONTENT_UNAVAILABLE', `image manifest sequence ${manifest.sequence}: no subscriber of ${IMAGE_TOPIC} reached within ${timeoutS} s`, { hint: 'connect to the device\'s node with --peer MULTIADDR (GET /v1/status ipfs.addresses), and check its agent runs with IPFS' });
    await writeOut(t, `${n}\n`);
    say(t, `published image manifest sequence ${manifest.sequence} (${manifest.images.length} image(s)) to ${n} peer(s)`);
  } finally {
    await store.stop().catch(() => {});
  }
  return 0;
}

async function fetch(argv: string[], t: Terminal): Promise<number> {
  const p = parse(argv, { ...IPFS_OPTIONS, ...TRUST_OPTIONS, output: { type: 'string', short: 'o' }, timeout: { type: 'string' } }, IMAGE_FETCH, { min: 1, max: 1 });
  const cid = parseCid(p.positionals[0]!, 'CID');
  const out = need(p, 'output', IMAGE_FETCH);
  if (out === '-') throw new UsageError('ERR_USAGE', '-o: expected a file name (the archive is written only once verified)', { hint: `usage: ${IMAGE_FETCH}` });
  const manifest = await trusted(t, p, IMAGE_FETCH);
  const maxArchiveBytes = count(p, 'max-archive-bytes', DEFAULT_MAX_ARCHIVE_BYTES, IMAGE_FETCH);
  const timeoutS = Math.min(count(p, 'timeout', 120, IMAGE_FETCH), 2_000_000);
  const signal = AbortSignal.any([AbortSignal.timeout(timeoutS * 1000), ...(t.signal ? [t.signal] : [])]);
  const dir = await mkdtemp(join(tmpdir(), 'capsule-image-fetch-'));
  const store = await openCliStore(t, p).catch(async (e) => { await rm(dir, { recursive: true, force: true }); throw e; });
  const target = resolve(t.cwd, out);
  const temp = join(dirname(target), `.${randomBytes(6).toString('hex')}.image-fetch`);
  try {
    const got = await AtomicFile.create(join(dir, 'fetched.tar'));
    try {
      for await (const chunk of store.get(cid, { maxBytes: maxArchiveBytes, signal })) await got.write(chunk);
      await got.commit();
    } catch (e) {
      await got.abort();
      if ((e as Error)?.name === 'TimeoutError' && !t.signal?.aborted) throw new ContentError('ERR_CONTENT_UNAVAILABLE', `${cid}: not fetched within ${timeoutS} s`, { cause: e, hint: 'connect to a node that has it (--peer MULTIADDR)' });
      throw e;
    }
    const v = await verifyOciArchive(got.path, { manifest, name: cid.toString(), maxArchiveBytes, maxEntryBytes: count(p, 'max-entry-bytes', DEFAULT_MAX_ENTRY_BYTES, IMAGE_FETCH), signal: t.signal });
    try {
      await copyFile(got.path, temp);
      await rename(temp, target);
    } catch (cause) {
      await unlink(temp).catch(() => {});
      throw ioError(out, 'write', cause);
    }
    await writeOut(t, verifiedJson(v, manifest.sequence));
    say(t, `fetched ${cid}: ${v.image.name} ${v.digest} verified (${v.blobs} blobs, ${v.bytes} bytes) -> ${out}`);
  } finally {
    await store.stop().catch(() => {});
    await rm(dir, { recursive: true, force: true });
  }
  return 0;
}
