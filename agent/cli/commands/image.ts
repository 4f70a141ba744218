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
import { IMAGE, IMAGE_FETCH, IMAGE_LOAD, IMAGE_PIN, IMAGE_PUBLISH, IMAGE_SHOW, IMAGE_SIGN, IMAGE_VERIFY } from '../specs/image.ts';
import { list, need, parse, positiveInt, str, type Parsed } from '../args.ts';
import { loadIdentities, readJsonFile } from '../files.ts';
import { announce, openCliStore } from '../ipfs.ts';
import { IMAGE_TOPIC } from '../../daemon/ImageManifestWatcher.ts';
import { refuseBinaryToTty, say, writeOut, type Terminal } from '../Terminal.ts';
import { dataDirOf } from '../dataDir.ts';
import { runSubcommand } from '../subcommands.ts';

/** `capsule image SUB …`. @throws UsageError ERR_USAGE, ImageError, IoError, ContentError */
export async function imageCommand(argv: string[], t: Terminal): Promise<number> {
  return runSubcommand(IMAGE, { sign, show, pin, verify, load, fetch, publish }, argv, t);
}

function ownerKey(p: Parsed, synopsis: string): Uint8Array | undefined {
  const v = str(p, 'owner');
  if (v === undefined) return undefined;
  if (!/^[0-9a-fA-F]{64}$/.test(v))
    throw new UsageError('ERR_USAGE', `--owner: expected the owner's Ed25519 key as 64 hex digits, got ${v.length} characters`, {
      hint: `\`capsule keygen\` prints it as "owner signing key (ed25519): …"; usage: ${synopsis}`,
    });
  return Uint8Array.from(Buffer.from(v, 'hex'));
}

async function readBytes(t: Terminal, file: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(resolve(t.cwd, file)));
  } catch (cause) {
    throw ioError(file, 'read', cause);
  }
}

/** The manifest to verify against: --manifest (trusted through --owner and the pin) or the pinned one. */
async function trusted(t: Terminal, p: Parsed, synopsis: string) {
  const owner = ownerKey(p, synopsis);
  const pinned = await readPinned(dataDirOf(t, str(p, 'data-dir')));
  const m = str(p, 'manifest');
  const bytes = m !== undefined ? await readBytes(t, m) : pinned?.bytes;
  if (bytes === undefined)
    throw new ImageError('ERR_NOT_PINNED', 'image manifest: no --manifest given and none pinned', {
      hint: 'pin one with `capsule image pin M --owner HEX`, or pass --manifest M --owner HEX',
    });
  return acceptManifest(bytes, { owner, pinned }).manifest;
}

function verifiedJson(v: VerifiedArchive, sequence: number): string {
  return JSON.stringify({ name: v.image.name, digest: v.digest, blobs: v.blobs, bytes: v.bytes, sequence }) + '\n';
}

async function sign(argv: string[], t: Terminal): Promise<number> {
  const p = parse(argv, IMAGE_SIGN);
  const input = manifestFromJson(await readJsonFile(t, p.positionals[0]!), Date.now(), p.positionals[0]!);
  const out = str(p, 'output');
  if (out === undefined || out === '-') refuseBinaryToTty(t, 'a signed image manifest');
  const ids = await loadIdentities(t, need(p, 'key', IMAGE_SIGN.synopsis));
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
  const p = parse(argv, IMAGE_SHOW);
  const file = p.positionals[0];
  const bytes = file !== undefined ? await readBytes(t, file) : (await readPinned(dataDirOf(t, str(p, 'data-dir'))))?.bytes;
  if (bytes === undefined) throw new ImageError('ERR_NOT_PINNED', 'image manifest: none given and none pinned', { hint: `usage: ${IMAGE_SHOW.synopsis}` });
  await writeOut(t, JSON.stringify(imageManifestJson(decodeImageManifest(bytes)), null, 2) + '\n');
  return 0;
}

async function pin(argv: string[], t: Terminal): Promise<number> {
  const p = parse(argv, IMAGE_PIN);
  const r = await pinManifest(dataDirOf(t, str(p, 'data-dir')), await readBytes(t, p.positionals[0]!), ownerKey(p, IMAGE_PIN.synopsis));
  say(
    t,
    r.pinned
      ? `pinned image manifest sequence ${r.manifest.sequence}${r.previous !== undefined ? ` (was ${r.previous})` : ''}: ${r.manifest.images.map((i) => i.name).join(', ')}`
      : `image manifest sequence ${r.manifest.sequence} is already pinned; nothing changed`,
  );
  return 0;
}

async function verify(argv: string[], t: Terminal): Promise<number> {
  const p = parse(argv, IMAGE_VERIFY);
  const manifest = await trusted(t, p, IMAGE_VERIFY.synopsis);
  const file = p.positionals[0]!;
  const v = await verifyOciArchive(resolve(t.cwd, file), {
    manifest,
    name: file,
    signal: t.signal,
    maxArchiveBytes: positiveInt(p, 'max-archive-bytes', DEFAULT_MAX_ARCHIVE_BYTES, IMAGE_VERIFY.synopsis),
    maxEntryBytes: positiveInt(p, 'max-entry-bytes', DEFAULT_MAX_ENTRY_BYTES, IMAGE_VERIFY.synopsis),
  });
  await writeOut(t, verifiedJson(v, manifest.sequence));
  say(t, `${file}: ${v.image.name} ${v.digest} verified (${v.blobs} blobs, ${v.bytes} bytes)`);
  return 0;
}

async function load(argv: string[], t: Terminal): Promise<number> {
  const p = parse(argv, IMAGE_LOAD);
  const engine = str(p, 'engine');
  if (engine !== undefined && engine !== 'podman' && engine !== 'docker')
    throw new UsageError('ERR_USAGE', `--engine: expected podman or docker, got ${JSON.stringify(engine)}`, { hint: `usage: ${IMAGE_LOAD.synopsis}` });
  const manifest = await trusted(t, p, IMAGE_LOAD.synopsis);
  const file = p.positionals[0]!;
  const tmp = str(p, 'tmp-dir');
  const r = await loadImage(resolve(t.cwd, file), {
    manifest,
    name: file,
    signal: t.signal,
    env: t.env ?? process.env,
    engineArgs: list(p, 'engine-arg'),
    engines: engine ? [engine] : undefined,
    tmpDir: tmp !== undefined ? resolve(t.cwd, tmp) : undefined,
    maxArchiveBytes: positiveInt(p, 'max-archive-bytes', DEFAULT_MAX_ARCHIVE_BYTES, IMAGE_LOAD.synopsis),
    maxEntryBytes: positiveInt(p, 'max-entry-bytes', DEFAULT_MAX_ENTRY_BYTES, IMAGE_LOAD.synopsis),
  });
  await writeOut(t, JSON.stringify({ name: r.verified.image.name, digest: r.verified.digest, engine: r.engine.name, loaded: r.loaded }) + '\n');
  say(
    t,
    `${file}: verified (${r.verified.blobs} blobs, ${r.verified.bytes} bytes), loaded by ${r.engine.name}: ${r.loaded.join(', ') || '(no name reported)'}`,
  );
  return 0;
}

async function publish(argv: string[], t: Terminal): Promise<number> {
  const p = parse(argv, IMAGE_PUBLISH);
  const file = p.positionals[0]!;
  const bytes = await readBytes(t, file);
  const manifest = decodeImageManifest(bytes); // refuses a malformed or forged manifest before a node starts
  const timeoutS = Math.min(positiveInt(p, 'timeout', 10, IMAGE_PUBLISH.synopsis), 3600);
  const store = await openCliStore(t, p);
  try {
    const n = await announce(store, bytes, timeoutS * 1000, t.signal, IMAGE_TOPIC);
    if (n === 0)
      throw new ContentError(
        'ERR_CONTENT_UNAVAILABLE',
        `image manifest sequence ${manifest.sequence}: no subscriber of ${IMAGE_TOPIC} reached within ${timeoutS} s`,
        { hint: "connect to the device's node with --peer MULTIADDR (GET /v1/status ipfs.addresses), and check its agent runs with IPFS" },
      );
    await writeOut(t, `${n}\n`);
    say(t, `published image manifest sequence ${manifest.sequence} (${manifest.images.length} image(s)) to ${n} peer(s)`);
  } finally {
    await store.stop().catch(() => {});
  }
  return 0;
}

async function fetch(argv: string[], t: Terminal): Promise<number> {
  const p = parse(argv, IMAGE_FETCH);
  const cid = parseCid(p.positionals[0]!, 'CID');
  const out = need(p, 'output', IMAGE_FETCH.synopsis);
  if (out === '-')
    throw new UsageError('ERR_USAGE', '-o: expected a file name (the archive is written only once verified)', { hint: `usage: ${IMAGE_FETCH.synopsis}` });
  const manifest = await trusted(t, p, IMAGE_FETCH.synopsis);
  const maxArchiveBytes = positiveInt(p, 'max-archive-bytes', DEFAULT_MAX_ARCHIVE_BYTES, IMAGE_FETCH.synopsis);
  const timeoutS = Math.min(positiveInt(p, 'timeout', 120, IMAGE_FETCH.synopsis), 2_000_000);
  const signal = AbortSignal.any([AbortSignal.timeout(timeoutS * 1000), ...(t.signal ? [t.signal] : [])]);
  const dir = await mkdtemp(join(tmpdir(), 'capsule-image-fetch-'));
  const store = await openCliStore(t, p).catch(async (e) => {
    await rm(dir, { recursive: true, force: true });
    throw e;
  });
  const target = resolve(t.cwd, out);
  const temp = join(dirname(target), `.${randomBytes(6).toString('hex')}.image-fetch`);
  try {
    const got = await AtomicFile.create(join(dir, 'fetched.tar'));
    try {
      for await (const chunk of store.get(cid, { maxBytes: maxArchiveBytes, signal })) await got.write(chunk);
      await got.commit();
    } catch (e) {
      await got.abort();
      if ((e as Error)?.name === 'TimeoutError' && !t.signal?.aborted)
        throw new ContentError('ERR_CONTENT_UNAVAILABLE', `${cid}: not fetched within ${timeoutS} s`, {
          cause: e,
          hint: 'connect to a node that has it (--peer MULTIADDR)',
        });
      throw e;
    }
    const v = await verifyOciArchive(got.path, {
      manifest,
      name: cid.toString(),
      maxArchiveBytes,
      maxEntryBytes: positiveInt(p, 'max-entry-bytes', DEFAULT_MAX_ENTRY_BYTES, IMAGE_FETCH.synopsis),
      signal: t.signal,
    });
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
