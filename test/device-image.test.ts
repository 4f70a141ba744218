/**
 * Issue #12 item 2: verified container images (docs/IMAGES.md), with real tools: archives built by
 * umoci + skopeo, loaded by podman (vfs storage under a private --root/--runroot in the temp dir,
 * so nothing is left behind), the `capsule` binary for the CLI contract.
 *  - sign → show → pin → verify → load: the image appears in podman's list under its digest.
 *  - each attack is refused with its code and message, by the library and by `capsule image load`
 *    (exit 1, one error line and a hint), and podman's image list stays empty: a layer swapped
 *    (same name; and renamed with the manifest rewritten), an image not listed, a descriptor size
 *    mismatch, `../` and link entries, an extra file, a manifest signed by another key, a forged
 *    signature, a replayed older manifest (verify and pin), archive and entry caps, truncated tars,
 *    no trust anchor, engine missing (PATH without podman or docker).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN } from './helpers/cli.ts';
import { rejectsError, throwsError } from './helpers/assertError.ts';
import { buildOciArchive, readTar, sha256, writeTar, type BuiltImage, type Entry } from './helpers/ociArchive.ts';
import { decodeImageManifest } from '../agent/device/ImageManifest.ts';
import { acceptManifest, readPinned } from '../agent/device/imagePin.ts';
import { verifyOciArchive } from '../agent/device/verifyOciArchive.ts';
import { findEngine, loadImage } from '../agent/device/loadImage.ts';
import { IMAGE_VECTOR_DIR, imageVectors, render } from './vectors/images/generate.ts';
import { openContentStore } from '../agent/store/openContentStore.ts';

const dir = mkdtempSync(join(tmpdir(), 'capsule-image-test-'));
const DATA = join(dir, 'data');
const PODMAN = join(dir, 'podman');
// podman refuses a runroot longer than 50 characters, and `npm test`'s TMPDIR is deeper than that
// allows: the runroot gets a short directory of its own under /tmp (removed with the rest).
const RUNROOT = mkdtempSync('/tmp/cpr-');
// Everything podman keeps goes under the test's directories, so the machine is left as found: by
// default it also takes a lock in /dev/shm (libpod_lock), appends to /run/libpod/events/events.log
// and keeps state in /run/libpod. File locks (containers.conf, read through CONTAINERS_CONF), its
// tmp dir, no event log and its network configuration here instead. /run/containers/networks is
// made whatever the flags say (podman 4.3): removed in after() if this test made it.
const ENGINE_ARGS = [
  `--root=${PODMAN}/root`,
  `--runroot=${RUNROOT}`,
  `--tmpdir=${RUNROOT}/tmp`,
  `--network-config-dir=${PODMAN}/net`,
  '--events-backend=none',
  '--storage-driver=vfs',
  '--cgroup-manager=cgroupfs',
];
const CONTAINERS_CONF = join(dir, 'containers.conf');
writeFileSync(CONTAINERS_CONF, '[engine]\nlock_type = "file"\n');
const RUN_CONTAINERS = '/run/containers';
const hadRunContainers = existsSync(RUN_CONTAINERS);
const ENV = { ...process.env, CAPSULE_DATA_DIR: DATA, TMPDIR: dir, CONTAINERS_CONF };

function capsule(args: string[], env: NodeJS.ProcessEnv = ENV) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: dir, env, timeout: 120_000 });
  return { code: r.status ?? -1, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}
function capsuleAsync(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [BIN, ...args], { cwd: dir, env: ENV });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d) => {
      stdout += d;
    });
    c.stderr.on('data', (d) => {
      stderr += d;
    });
    c.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}
function ok(args: string[]) {
  const r = capsule(args);
  assert.is(r.code, 0, `capsule ${args.join(' ')}: ${r.stderr}`);
  return r;
}
/** Exit 1, exactly one error line matching `message`, then a hint; nothing on stdout. */
function fails(args: string[], message: RegExp, env?: NodeJS.ProcessEnv) {
  const r = capsule(args, env);
  assert.is(r.code, 1, `capsule ${args.join(' ')} should fail: ${r.stderr}`);
  assert.is(r.stdout, '');
  const lines = r.stderr.trimEnd().split('\n');
  assert.is(lines.length, 2, r.stderr);
  assert.match(lines[0]!, /^capsule: error: /);
  assert.match(lines[0]!, message);
  assert.match(lines[1]!, /^capsule: hint: \S/);
}
function podmanImages(): string[] {
  const r = spawnSync('podman', [...ENGINE_ARGS, 'images', '--format', '{{.Digest}}'], { encoding: 'utf8', env: ENV });
  assert.is(r.status, 0, r.stderr);
  return r.stdout.split('\n').filter(Boolean);
}

let A: BuiltImage;
let B: BuiltImage;
let owner = '';
const loadArgs = (archive: string, ...more: string[]) => ['image', 'load', archive, ...ENGINE_ARGS.map((a) => `--engine-arg=${a}`), ...more];

test.before(() => {
  mkdirSync(DATA, { mode: 0o700 });
  A = buildOciArchive(dir, 'a', { 'etc/hello': 'hello from A\n', 'srv/data.bin': 'x'.repeat(20_000) }, 'localhost/ipfs:1');
  B = buildOciArchive(dir, 'b', { 'etc/hello': 'hello from B, never signed\n' });
  owner = /owner signing key \(ed25519\): ([0-9a-f]{64})/.exec(ok(['keygen', '-o', 'owner.key']).stderr)![1]!;
  ok(['keygen', '-o', 'other.key']);
  const manifest = (sequence: number, digest = A.digest, size = A.size) =>
    JSON.stringify({ sequence, created: '2026-12-05T00:00:00Z', images: [{ name: 'localhost/ipfs:1', digest, size }] });
  writeFileSync(join(dir, 'm1.json'), manifest(1));
  writeFileSync(join(dir, 'm2.json'), manifest(2));
  ok(['image', 'sign', 'm1.json', '--key', 'owner.key', '-o', 'm1.manifest']);
  ok(['image', 'sign', 'm2.json', '--key', 'owner.key', '-o', 'm2.manifest']);
  ok(['image', 'sign', 'm2.json', '--key', 'other.key', '-o', 'other.manifest']);
});

test.after(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(RUNROOT, { recursive: true, force: true });
  if (!hadRunContainers) removeIfEmpty(RUN_CONTAINERS);
});

/** Removes `path` and its subdirectories only if no file is in them (podman's empty run directory). */
function removeIfEmpty(path: string): void {
  try {
    for (const e of readdirSync(path, { withFileTypes: true })) {
      if (!e.isDirectory()) return;
      removeIfEmpty(join(path, e.name));
    }
    rmdirSync(path);
  } catch {
    // absent, not empty or not ours to remove: leave it
  }
}
// Helia's peer store may still write a record after stop() resolved: remove whatever came late.
process.on('exit', () => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(RUNROOT, { recursive: true, force: true });
});

test('sign, show, pin: the signed manifest round-trips; pinning needs the owner key, then only newer manifests', () => {
  const shown = JSON.parse(ok(['image', 'show', 'm2.manifest']).stdout);
  assert.equal(shown, {
    version: 1,
    sequence: 2,
    created: '2026-12-05T00:00:00.000Z',
    images: [{ name: 'localhost/ipfs:1', digest: A.digest, size: A.size }],
    signer: owner,
  });
  fails(['image', 'verify', A.archive], /image manifest: no --manifest given and none pinned/);
  fails(['image', 'pin', 'm1.manifest'], /no trusted owner key: none given and no manifest pinned/);
  fails(['image', 'pin', 'other.manifest', '--owner', owner], /image manifest: signed by [0-9a-f]{64}, not by the owner key/);
  fails(['image', 'pin', 'm1.manifest', '--owner', 'abc'], /--owner: expected the owner's Ed25519 key as 64 hex digits, got 3 characters/);
  assert.match(ok(['image', 'pin', 'm1.manifest', '--owner', owner]).stderr, /capsule: pinned image manifest sequence 1: localhost\/ipfs:1/);
  assert.match(ok(['image', 'pin', 'm2.manifest']).stderr, /capsule: pinned image manifest sequence 2 \(was 1\)/);
  assert.match(ok(['image', 'pin', 'm2.manifest']).stderr, /sequence 2 is already pinned; nothing changed/);
  // A replayed older manifest, to pin or to verify with: the pin is the reference.
  fails(['image', 'pin', 'm1.manifest'], /image manifest: sequence 1 is older than the pinned sequence 2/);
  fails(['image', 'verify', A.archive, '--manifest', 'm1.manifest'], /image manifest: sequence 1 is older than the pinned sequence 2/);
  fails(['image', 'verify', A.archive, '--manifest', 'other.manifest'], /signed by [0-9a-f]{64}, not by the owner key/);
  const st = statSync(join(DATA, 'images', 'manifest.cbor'));
  assert.is(st.mode & 0o777, 0o600);
  assert.is(statSync(join(DATA, 'images')).mode & 0o777, 0o700);
});

test('library: replay, other signer, forged signature and malformed manifests are typed errors', async () => {
  const pinned = (await readPinned(DATA))!;
  const m1 = readFileSync(join(dir, 'm1.manifest'));
  throwsError(() => acceptManifest(m1, { pinned }), 'ImageError', 'ERR_IMAGE_REPLAYED', /sequence 1 is older than the pinned sequence 2/);
  throwsError(() => acceptManifest(readFileSync(join(dir, 'other.manifest')), { pinned }), 'ImageError', 'ERR_IMAGE_SIGNATURE', /not by the owner key/);
  throwsError(() => acceptManifest(m1, {}), 'ImageError', 'ERR_NOT_PINNED', /no trusted owner key/);
  const forged = Buffer.from(readFileSync(join(dir, 'm2.manifest')));
  forged[forged.length - 1]! ^= 1;
  throwsError(() => decodeImageManifest(forged), 'ImageError', 'ERR_IMAGE_SIGNATURE', /signature \(key 6\) does not verify under the signer \(key 5\)/);
  writeFileSync(join(dir, 'forged.manifest'), forged);
  fails(['image', 'verify', A.archive, '--manifest', 'forged.manifest'], /signature \(key 6\) does not verify/);
  throwsError(() => decodeImageManifest(Buffer.from('{"sequence":3}')), 'ImageError', 'ERR_BAD_IMAGE_MANIFEST', /image manifest: /);
  throwsError(() => decodeImageManifest(new Uint8Array(16 * 1024 + 1)), 'ImageError', 'ERR_BAD_IMAGE_MANIFEST', /above the 16384-byte cap/);
  writeFileSync(join(dir, 'bad.json'), JSON.stringify({ sequence: 3, images: [{ name: 'x', digest: 'sha256:12', size: 1 }] }));
  fails(
    ['image', 'sign', 'bad.json', '--key', 'owner.key', '-o', 'bad.manifest'],
    /bad\.json: images\[0\]\.digest: expected "sha256:" and 64 lowercase hex digits/,
  );
});

test('verify then load: the archive verifies against the pinned manifest, and podman loads it', () => {
  const t0 = performance.now();
  const v = JSON.parse(ok(['image', 'verify', A.archive]).stdout);
  const ms = performance.now() - t0;
  assert.equal(v, { name: 'localhost/ipfs:1', digest: A.digest, blobs: 3, bytes: statSync(A.archive).size, sequence: 2 });
  console.log(`  verify (CLI process, ${v.bytes}-byte archive): ${ms.toFixed(0)} ms`);
  assert.equal(podmanImages(), []);
  const r = ok(loadArgs(A.archive));
  const out = JSON.parse(r.stdout);
  assert.is(out.engine, 'podman');
  assert.equal(out.loaded, ['localhost/ipfs:1']);
  assert.equal(podmanImages(), [A.digest]);
  spawnSync('podman', [...ENGINE_ARGS, 'rmi', '-a', '-f'], { env: ENV });
  assert.equal(podmanImages(), []);
});

/** Rewrites A's archive through `edit` into a new file. */
function variant(label: string, edit: (entries: Entry[]) => Entry[]): string {
  return writeTar(join(dir, `${label}.tar`), edit(readTar(A.archive)));
}
const blobName = (d: string) => `blobs/sha256/${d.slice(7)}`;
function layerOf(entries: Entry[]): Entry {
  const m = JSON.parse(entries.find((e) => e.name === blobName(A.digest))!.data.toString());
  return entries.find((e) => e.name === blobName(m.layers[0].digest))!;
}

async function refused(archive: string, code: string, message: RegExp, args: string[] = []): Promise<void> {
  const pinned = (await readPinned(DATA))!;
  const o = {
    manifest: pinned.manifest,
    engineArgs: ENGINE_ARGS,
    env: ENV,
    tmpDir: dir,
    maxArchiveBytes: args.includes('--max-archive-bytes') ? Number(args[args.indexOf('--max-archive-bytes') + 1]) : undefined,
    maxEntryBytes: args.includes('--max-entry-bytes') ? Number(args[args.indexOf('--max-entry-bytes') + 1]) : undefined,
  };
  await rejectsError(() => verifyOciArchive(archive, o), 'ImageError', code, message);
  await rejectsError(() => loadImage(archive, o), 'ImageError', code, message);
  fails(loadArgs(archive, ...args), message);
  assert.equal(podmanImages(), [], 'the engine never saw the bytes');
}

test('attack: a layer swapped under its own name', async () => {
  const a = variant('swapped-layer', (es) => {
    layerOf(es).data = readTar(B.archive).find((e) => e.name.startsWith('blobs/') && e.data[0] === 0x1f)!.data;
    return es;
  });
  await refused(a, 'ERR_BLOB_MISMATCH', /archive: blobs\/sha256\/[0-9a-f]{64}: content hashes to sha256:[0-9a-f]{64}, not the digest its name claims/);
});

test('attack: a layer swapped and the manifest rewritten to match (a new, unlisted manifest digest)', async () => {
  const a = variant('rewritten', (es) => {
    const layer = layerOf(es);
    const evil = readTar(B.archive).find((e) => e.name.startsWith('blobs/') && e.data[0] === 0x1f)!.data;
    const mEntry = es.find((e) => e.name === blobName(A.digest))!;
    const m = JSON.parse(mEntry.data.toString());
    m.layers[0].digest = `sha256:${sha256(evil)}`;
    m.layers[0].size = evil.length;
    layer.name = blobName(m.layers[0].digest);
    layer.data = evil;
    mEntry.data = Buffer.from(JSON.stringify(m));
    mEntry.name = blobName(`sha256:${sha256(mEntry.data)}`);
    const idx = es.find((e) => e.name === 'index.json')!;
    const index = JSON.parse(idx.data.toString());
    index.manifests[0].digest = `sha256:${sha256(mEntry.data)}`;
    index.manifests[0].size = mEntry.data.length;
    idx.data = Buffer.from(JSON.stringify(index));
    return es;
  });
  await refused(a, 'ERR_IMAGE_NOT_LISTED', /archive: image manifest sha256:[0-9a-f]{64} is not listed in the signed image manifest \(sequence 2\)/);
});

test('attack: an image the signed manifest does not list', async () => {
  await refused(B.archive, 'ERR_IMAGE_NOT_LISTED', /is not listed in the signed image manifest/);
});

test('attack: a descriptor whose size does not match (digest/size mismatch)', async () => {
  const a = variant('size-mismatch', (es) => {
    const mEntry = es.find((e) => e.name === blobName(A.digest))!;
    const m = JSON.parse(mEntry.data.toString());
    return es.map((e) => (e.name === blobName(m.config.digest) ? { ...e, data: Buffer.concat([e.data, Buffer.from(' ')]) } : e));
  });
  await refused(a, 'ERR_BLOB_MISMATCH', /content hashes to sha256:[0-9a-f]{64}, not the digest its name claims/);
  const b = variant('index-size', (es) => {
    const idx = es.find((e) => e.name === 'index.json')!;
    idx.data = Buffer.from(idx.data.toString().replace(`"size":${A.size}`, `"size":${A.size + 1}`));
    return es;
  });
  await refused(
    b,
    'ERR_BLOB_MISMATCH',
    new RegExp(`index.json gives image manifest sha256:[0-9a-f]{64} ${A.size + 1} bytes; the signed manifest lists ${A.size}`),
  );
});

test('attack: path traversal, absolute paths and links in the tar', async () => {
  await refused(
    variant('dotdot', (es) => [...es.slice(0, 2), { name: 'blobs/../../etc/evil', type: '0', data: Buffer.from('x') }, ...es.slice(2)]),
    'ERR_ARCHIVE_PATH',
    /archive: entry #3 "blobs\/\.\.\/\.\.\/etc\/evil": a "\.\." segment \(path traversal\)/,
  );
  await refused(
    variant('absolute', (es) => [{ name: '/etc/evil', type: '0', data: Buffer.from('x') }, ...es]),
    'ERR_ARCHIVE_PATH',
    /entry #1 "\/etc\/evil": absolute path/,
  );
  await refused(
    variant('symlink', (es) => [...es, { name: 'blobs/sha256/link', type: '2', data: Buffer.alloc(0), linkname: '/etc/shadow' }]),
    'ERR_ARCHIVE_PATH',
    /a symbolic link \(to "\/etc\/shadow"\)/,
  );
  await refused(
    variant('hardlink', (es) => [{ name: 'oci-layout2', type: '1', data: Buffer.alloc(0), linkname: 'oci-layout' }, ...es]),
    'ERR_ARCHIVE_PATH',
    /a hard link/,
  );
});

test('attack: an extra file, a duplicate entry, a pax header', async () => {
  const junk = Buffer.from('not referenced by anything');
  await refused(
    variant('extra', (es) => [...es, { name: blobName(`sha256:${sha256(junk)}`), type: '0', data: junk }]),
    'ERR_ARCHIVE_EXTRA',
    /archive: unexpected entry "blobs\/sha256\/[0-9a-f]{64}": no descriptor references it/,
  );
  await refused(
    variant('extra-name', (es) => [...es, { name: 'run.sh', type: '0', data: junk }]),
    'ERR_ARCHIVE_EXTRA',
    /unexpected entry "run\.sh": not oci-layout, index\.json or blobs/,
  );
  await refused(
    variant('duplicate', (es) => [...es, es.find((e) => e.name === 'index.json')!]),
    'ERR_BAD_ARCHIVE',
    /"index\.json" appears twice/,
  );
  await refused(
    variant('pax', (es) => [{ name: 'PaxHeaders/x', type: 'x', data: Buffer.from('30 path=blobs/sha256/evil\n') }, ...es]),
    'ERR_BAD_ARCHIVE',
    /type "x" is not a regular file or directory/,
  );
});

test('attack: archive and entry over their caps', async () => {
  const size = statSync(A.archive).size;
  await refused(A.archive, 'ERR_ARCHIVE_TOO_LARGE', new RegExp(`archive: ${size} bytes, above the 4096-byte cap`), ['--max-archive-bytes', '4096']);
  await refused(A.archive, 'ERR_ARCHIVE_TOO_LARGE', /bytes, above the 300-byte per-entry cap/, ['--max-entry-bytes', '300']);
});

test('attack: truncated tars (inside an entry, and before the end-of-archive marker)', async () => {
  const whole = readFileSync(A.archive);
  writeFileSync(join(dir, 'cut-mid.tar'), whole.subarray(0, 1536 + 100));
  await refused(join(dir, 'cut-mid.tar'), 'ERR_ARCHIVE_TRUNCATED', /archive: ends inside entry #\d+/);
  const entries = readTar(A.archive);
  const full = writeTar(join(dir, 'full.tar'), entries);
  writeFileSync(join(dir, 'cut-end.tar'), readFileSync(full).subarray(0, statSync(full).size - 1024));
  await refused(join(dir, 'cut-end.tar'), 'ERR_ARCHIVE_TRUNCATED', /before the end-of-archive marker/);
  writeFileSync(join(dir, 'empty.tar'), '');
  await refused(join(dir, 'empty.tar'), 'ERR_ARCHIVE_TRUNCATED', /after 0 entries/);
});

test('engine missing: a typed error before anything is copied; nothing loaded', async () => {
  const noEngine = { ...ENV, PATH: '/nonexistent-bin' };
  await rejectsError(() => findEngine(noEngine), 'ImageError', 'ERR_ENGINE_MISSING', /no container engine: podman or docker not found on PATH/);
  fails(loadArgs(A.archive), /no container engine: podman or docker not found on PATH/, noEngine);
  fails(loadArgs(A.archive, '--engine', 'podman'), /no container engine: podman not found on PATH/, noEngine);
  assert.equal(podmanImages(), []);
});

test('the engine failing after verification is ERR_ENGINE with its last line as the hint', () => {
  fails(loadArgs(A.archive, '--engine-arg=--storage-driver=no-such-driver'), /podman load exited with \d+ after the archive verified/);
  assert.equal(podmanImages(), []);
});

test('vectors: test/vectors/images/*.cbor.hex are what the generator renders, and decode as their expect: line says', () => {
  const vs = imageVectors();
  assert.equal(
    readdirSync(IMAGE_VECTOR_DIR)
      .filter((f) => f.endsWith('.cbor.hex'))
      .sort(),
    vs.map((v) => `${v.name}.cbor.hex`).sort(),
  );
  for (const v of vs) {
    const text = readFileSync(join(IMAGE_VECTOR_DIR, `${v.name}.cbor.hex`), 'utf8');
    assert.is(text, render(v), v.name);
    const expect = /^expect: (\S+)$/m.exec(text)![1]!;
    const bytes = Buffer.from(text.split('\n\n')[1]!.replace(/\s/g, ''), 'hex');
    if (expect === 'ok') {
      assert.is(decodeImageManifest(bytes).sequence, 7, v.name);
    } else {
      throwsError(
        () => decodeImageManifest(bytes),
        'ImageError',
        expect,
        new RegExp(/^message: (.*)$/m.exec(text)![1]!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')),
      );
    }
  }
});

test('fetch: an archive by CID from another IPFS node, verified before OUT appears; an unlisted one leaves nothing', async () => {
  const home = await openContentStore({ kind: 'helia' }, { dataDir: join(dir, 'ipfs-home'), listen: ['/ip4/127.0.0.1/tcp/0'], ephemeral: true });
  try {
    const addr = (await home.addresses()).find((a) => a.includes('127.0.0.1'))!;
    const cidA = (await home.add(readFileSync(A.archive))).toString();
    const cidB = (await home.add(readFileSync(B.archive))).toString();
    const common = ['--data-dir', DATA, '--peer', addr, '--timeout', '60'];
    // Asynchronously: the node serving the blocks runs in this process.
    const r = await capsuleAsync(['image', 'fetch', cidA, '-o', 'fetched.tar', ...common]);
    assert.is(r.code, 0, r.stderr);
    assert.is(JSON.parse(r.stdout).digest, A.digest);
    assert.ok(readFileSync(join(dir, 'fetched.tar')).equals(readFileSync(A.archive)));
    const rb = await capsuleAsync(['image', 'fetch', cidB, '-o', 'fetched-b.tar', ...common]);
    assert.is(rb.code, 1);
    assert.match(rb.stderr, /^capsule: error: archive: image manifest sha256:[0-9a-f]{64} is not listed[^\n]*\ncapsule: hint: [^\n]+\n$/);
    assert.not.ok(
      readdirSync(dir).some((f) => f.startsWith('fetched-b') || f.endsWith('.image-fetch')),
      'nothing written',
    );
  } finally {
    await home.stop();
  }
});

test('--help on every image subcommand; unknown subcommand', () => {
  for (const sub of ['sign', 'show', 'pin', 'verify', 'load', 'fetch'])
    assert.match(ok(['image', sub, '--help']).stdout, new RegExp(`^usage: capsule image ${sub} `));
  assert.match(ok(['image', '--help']).stdout, /capsule image load ARCHIVE/);
  fails(['image', 'frob'], /image: unknown subcommand "frob"/);
});

test.run();
