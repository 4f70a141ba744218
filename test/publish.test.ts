/**
 * Issue #6 end to end through the real binaries, each its own process with its own data directory
 * and embedded IPFS node on 127.0.0.1:
 *   `seal --publish` prints a CID; a second node (`fetch`, separate data dir) gets identical bytes
 *   and `verify` passes; `watch` prints the signed announcement;
 *   `open CID --guardian URL` works with the agent fetching the capsule and its module by CID
 *   (denied before T, allowed at T), and an announced capsule is indexed by the guardian.
 * And the faults: content over the cap, a bad CID, a daemon that is not there, a non-capsule.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { p256 } from '@noble/curves/nist.js';
import { buildPolicy } from '../agent/logic/build.ts';
import { compressP256, encodeP256Key, GUARDIAN_KEY_HRP } from '../agent/crypto/p256.ts';
import { BIN } from './helpers/cli.ts';
import { assertFails, device as offDevice, init, recipients, run, secretFile, type Device } from './helpers/guardianDevice.ts';

/** A device with IPFS on (the helper turns it off for every other suite: libp2p costs ~1 s of CPU per agent). */
function device(): Device {
  const d = offDevice();
  delete (d.env as Record<string, string | undefined>).CAPSULE_IPFS;
  return d;
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const T = 1_893_456_000_000; // 2030-01-01T00:00:00Z
const CID_LINE = /^(baf[ky][a-z2-7]+)\n$/;

interface Proc {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  stop(): Promise<number | null>;
}

/** A long-running `capsule` process; resolves once `ready` matches its stderr. */
async function start(d: Device, args: string[], ready: RegExp): Promise<Proc & { match: RegExpExecArray }> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: d.dir, env: d.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c) => {
    out += c;
  });
  const match = await new Promise<RegExpExecArray>((resolve, reject) => {
    child.stderr!.on('data', (c) => {
      err += c;
      const m = ready.exec(err);
      if (m) resolve(m);
    });
    child.on('exit', (code) => reject(new Error(`${args[0]} exited ${code}: ${err}`)));
    setTimeout(() => reject(new Error(`${args[0]}: not ready after 30 s: ${err}`)), 30_000).unref();
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return {
    child,
    match,
    out: () => out,
    err: () => err,
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  // A failed poll counts as "not yet": spawnSync in between blocks this process for seconds, and a
  // pooled keep-alive connection the agent closed meanwhile fails once ("fetch failed").
  while (
    !(await Promise.resolve()
      .then(check)
      .catch(() => false))
  ) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** fetch, once more if a pooled keep-alive connection was closed by the agent while spawnSync blocked us. */
async function req(url: string, init?: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (e) {
    if ((e as Error).message !== 'fetch failed') throw e;
    return fetch(url, init);
  }
}

const someGuardianKey = () => encodeP256Key(GUARDIAN_KEY_HRP, compressP256(p256.getPublicKey(p256.utils.randomSecretKey())));

test('seal --publish prints a CID; a second node fetches identical bytes; verify passes; watch prints the announcement', async () => {
  const d = device();
  assert.is(run(d, ['keygen', '-o', 'g.key']).code, 0);
  assert.is(run(d, ['keygen', '-o', 'owner.key']).code, 0);
  const g = /age1[0-9a-z]+/.exec(readFileSync(join(d.dir, 'g.key'), 'utf8'))![0];
  const plain = secretFile(d, 700_000); // several IPFS chunks and capsule chunks
  const guardianKey = someGuardianKey();
  const watch = await start(d, ['watch', '--data-dir', 'A'], /listening on (\S+)/);
  const home = watch.match[1]!;
  try {
    const sealed = run(d, [
      'seal',
      'secret.bin',
      '--guardian',
      g,
      '--logic',
      'policy.wasm',
      '--sign-with',
      'owner.key',
      '-o',
      's.capsule',
      '--publish',
      '--data-dir',
      'A',
      '--peer',
      home,
      '--guardian-key',
      guardianKey,
    ]);
    assert.is(sealed.code, 0, sealed.stderr);
    const cid = CID_LINE.exec(sealed.stdout)?.[1];
    assert.ok(cid, `stdout is the CID alone: ${JSON.stringify(sealed.stdout)}`);
    assert.match(sealed.stderr, /capsule: published bafy\S+ \(logic bafk\S+\)/);
    assert.match(sealed.stderr, /capsule: announced on capsule-engine\/announce\/v1 to [1-9]\d* peer\(s\)/);
    // `watch` printed it as one JSON line.
    await until('the announcement', () => watch.out().includes('\n'));
    const shown = JSON.parse(watch.out().split('\n')[0]!);
    assert.is(shown.capsule, cid);
    assert.is(shown.guardian, guardianKey);
    assert.match(shown.logic, /^bafk/);
    // A second node, its own data directory: identical bytes, and they verify offline.
    const fetched = run(d, ['fetch', cid!, '-o', 'got.capsule', '--data-dir', 'B', '--peer', home]);
    assert.is(fetched.code, 0, fetched.stderr);
    assert.ok(readFileSync(join(d.dir, 'got.capsule')).equals(readFileSync(join(d.dir, 's.capsule'))), 'identical bytes');
    const v = run(d, ['verify', 'got.capsule', '--logic', 'policy.wasm']);
    assert.is(v.code, 0, v.stderr);
    // The module was published too, under the CID the header names.
    const m = run(d, ['fetch', shown.logic, '-o', 'got.wasm', '--data-dir', 'B', '--peer', home]);
    assert.is(m.code, 0, m.stderr);
    assert.ok(readFileSync(join(d.dir, 'got.wasm')).equals(readFileSync(join(d.dir, 'policy.wasm'))));
    void plain;

    // Faults: over the cap (nothing written), not fetched in time, a bad CID.
    assertFails(
      run(d, ['fetch', cid!, '-o', 'small.capsule', '--data-dir', 'C', '--peer', home, '--max-size', '1000']),
      new RegExp(`${cid}: \\d+ bytes, above the 1000-byte cap`),
      /nothing was fetched or kept/,
    );
    assert.not.ok(existsSync(join(d.dir, 'small.capsule')));
    assertFails(run(d, ['fetch', 'bafy-not-a-cid', '-o', 'x', '--data-dir', 'C']), /CID: not a CID/, /bafybei/);
    assertFails(
      run(d, ['fetch', 'bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq', '-o', 'x', '--data-dir', 'C', '--peer', home, '--timeout', '2']),
      /not fetched within 2 s/,
      /--peer MULTIADDR/,
    );
    assert.not.ok(existsSync(join(d.dir, 'x')));
  } finally {
    await watch.stop();
  }
  assert.match(watch.err(), /1 announcement\(s\) shown, 0 dropped/);
});

test('publish: announcing needs a guardian key; a non-capsule is refused before anything is added; an unreachable Kubo is named', async () => {
  const d = device();
  assert.is(run(d, ['keygen', '-o', 'g.key']).code, 0);
  const g = /age1[0-9a-z]+/.exec(readFileSync(join(d.dir, 'g.key'), 'utf8'))![0];
  secretFile(d, 1000);
  assert.is(run(d, ['seal', 'secret.bin', '--guardian', g, '--logic', 'policy.wasm', '-o', 's.capsule']).code, 0);
  assertFails(
    run(d, ['publish', 's.capsule', '--sign-with', 'g.key', '--data-dir', 'A']),
    /announcing needs the guardian's key, and this capsule's header names none/,
    /--guardian-key capsule-guardian1/,
  );
  assertFails(run(d, ['publish', 'secret.bin', '--data-dir', 'A']), /./, /not a capsule/);
  assert.not.ok(existsSync(join(d.dir, 'A')), 'nothing was started or added');
  assertFails(
    run(d, ['publish', 's.capsule', '--ipfs', 'kubo:http://127.0.0.1:1']),
    /Kubo RPC at http:\/\/127\.0\.0\.1:1: unreachable/,
    /is the IPFS daemon running/,
  );
  assertFails(run(d, ['publish', 's.capsule', '--ipfs', 'kubo']), /--ipfs: expected "helia", "kubo:URL" or "off", got "kubo"/, /kubo:http/);
  assertFails(run(d, ['seal', 'secret.bin', '--guardian', g, '--logic', 'policy.wasm', '--publish', '-o', '-']), /--publish needs -o FILE/, /usage/);
  // Without a signature, publishing works and says it did not announce.
  const ok = run(d, ['publish', 's.capsule', '--logic', 'policy.wasm', '--data-dir', 'A']);
  assert.is(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, CID_LINE);
  assert.not.match(ok.stderr, /announced/);
});

test('capsule open CID: the agent fetches capsule and module by CID (denied before T, allowed at T); an announced capsule is indexed', async () => {
  const d = device();
  assert.is((await init(d)).code, 0);
  writeFileSync(join(d.dir, 'policy.wasm'), (await buildPolicy('contracts-as/contracts/policy.ts', { cwd: ROOT })).wasm);
  writeFileSync(join(d.dir, 'clock'), String(T - 1000));
  for (const k of ['me.key', 'owner.key']) assert.is(run(d, ['keygen', '-o', k]).code, 0);
  const { x25519, signingKey } = recipients(d);
  const plain = secretFile(d, 300_000);
  // The publisher's always-on node (its own data directory), then the guardian, which knows it as a peer.
  const home = await start(d, ['watch', '--data-dir', 'P'], /listening on (\S+)/);
  const agent = await start(
    d,
    ['agent', '--data-dir', d.data, '--listen', '127.0.0.1:0', '--clock', `file:${join(d.dir, 'clock')}`, '--peer', home.match[1]!],
    /"event":"ipfs-ready".*?"addresses":\["([^"]+)"/,
  );
  const url = /"event":"started","url":"(http:\/\/[^"]+)"/.exec(agent.err())![1]!;
  const guardianPeer = agent.match[1]!;
  try {
    const params = `{"timeLock": {"notBefore": ${T}}}`;
    // One capsule announced to the guardian (it indexes it), one only published (fetched on request).
    const announced = run(d, [
      'seal',
      'secret.bin',
      '--guardian',
      x25519,
      '--logic',
      'policy.wasm',
      '--params',
      params,
      '--sign-with',
      'owner.key',
      '-o',
      'a.capsule',
      '--publish',
      '--data-dir',
      'P',
      '--peer',
      home.match[1]!,
      '--peer',
      guardianPeer,
      '--guardian-key',
      signingKey,
    ]);
    assert.is(announced.code, 0, announced.stderr);
    const cidA = CID_LINE.exec(announced.stdout)![1]!;
    const quiet = run(d, [
      'seal',
      'secret.bin',
      '--guardian',
      x25519,
      '--logic',
      'policy.wasm',
      '--params',
      params,
      '-o',
      'b.capsule',
      '--publish',
      '--data-dir',
      'P',
    ]);
    assert.is(quiet.code, 0, quiet.stderr);
    const cidB = CID_LINE.exec(quiet.stdout)![1]!;
    await until('the guardian to index the announced capsule', async () => {
      const s = (await (await req(`${url}/v1/status`)).json()) as { ipfs: { announcements: { indexed: number } } };
      return s.ipfs.announcements.indexed === 1;
    }).catch((e) => {
      throw new Error(`${(e as Error).message}; agent log: ${agent.err().slice(-3000)}`);
    });
    assert.match(agent.err(), new RegExp(`"event":"indexed","capsule":"${cidA}"`));
    for (const cid of [cidA, cidB]) {
      writeFileSync(join(d.dir, 'clock'), String(T - 1000));
      const denied = run(d, ['open', cid, '--guardian', url, '--identity', 'me.key', '-o', 'out.bin']);
      assertFails(denied, /denied by the capsule's logic: .*opens at 1893456000000/, /audit entry #\d+/);
      assert.not.ok(existsSync(join(d.dir, 'out.bin')));
      writeFileSync(join(d.dir, 'clock'), String(T));
      const ok = run(d, ['open', cid, '--guardian', url, '--identity', 'me.key', '-o', 'out.bin']);
      assert.is(ok.code, 0, ok.stderr);
      assert.ok(readFileSync(join(d.dir, 'out.bin')).equals(plain), `${cid}: output equals input`);
      await import('node:fs/promises').then((f) => f.rm(join(d.dir, 'out.bin')));
    }
    // A capsule sealed to someone else, announced under this guardian's key: fetched only as far as
    // its header, fails authentication, is neither indexed nor served; a release by its CID fails the same way.
    const blocks = () => readdirSync(join(d.data, 'ipfs', 'blocks'), { recursive: true }).filter((f) => String(f).endsWith('.data')).length;
    const before = blocks();
    assert.is(run(d, ['keygen', '-o', 'stranger.key']).code, 0);
    const stranger = /age1[0-9a-z]+/.exec(readFileSync(join(d.dir, 'stranger.key'), 'utf8'))![0];
    const foreign = run(d, [
      'seal',
      'secret.bin',
      '--guardian',
      stranger,
      '--logic',
      'policy.wasm',
      '--sign-with',
      'owner.key',
      '-o',
      'f.capsule',
      '--publish',
      '--data-dir',
      'P',
      '--peer',
      home.match[1]!,
      '--peer',
      guardianPeer,
      '--guardian-key',
      signingKey,
    ]);
    assert.is(foreign.code, 0, foreign.stderr);
    const cidF = CID_LINE.exec(foreign.stdout)![1]!;
    await until('the foreign capsule to fail indexing', async () => {
      const s = (await (await req(`${url}/v1/status`)).json()) as { ipfs: { announcements: { failed: number } } };
      return s.ipfs.announcements.failed === 1;
    }).catch((e) => {
      throw new Error(`${(e as Error).message}; agent log: ${agent.err().slice(-3000)}`);
    });
    assert.match(agent.err(), new RegExp(`"event":"index-failed","capsule":"${cidF}","code":"ERR_NO_MATCHING_STANZA"`));
    assert.is((await req(`${url}/v1/content?cid=${cidF}`)).status, 404, 'not served');
    assert.match(agent.err(), new RegExp(`"event":"discarded","capsule":"${cidF}","blocks":[1-9]`));
    assert.is(blocks(), before, "nothing of it kept on the guardian's disk");
    assertFails(run(d, ['open', cidF, '--guardian', url, '--identity', 'me.key', '-o', 'f.out']), /./, /./);
    assert.not.ok(existsSync(join(d.dir, 'f.out')));
    // The guardian serves only capsules it holds, not arbitrary content; a CID nobody has fails in time.
    const r = await req(`${url}/v1/content?cid=bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku`);
    assert.is(r.status, 404);
    assert.is(((await r.json()) as { error: { code: string } }).error.code, 'ERR_NOT_FOUND');
    const bad = await req(`${url}/v1/release`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ cid: 'nonsense', requester: /age1[0-9a-z]+/.exec(readFileSync(join(d.dir, 'me.key'), 'utf8'))![0] }),
    });
    assert.is(bad.status, 400);
    assert.is(((await bad.json()) as { error: { code: string } }).error.code, 'ERR_BAD_CID');
  } finally {
    assert.is(await agent.stop(), 0);
    await home.stop();
  }
  const v = run(d, ['audit', 'verify', '--data-dir', d.data, '--replay', '--modules', join(d.data, 'modules'), '--guardian-key', recipients(d).signingKey]);
  assert.is(v.code, 0, v.stderr);
});

test('the disk quota: a capsule that would take the kept capsules past maxStoredBytes is refused (507) and nothing of it kept', async () => {
  const d = device();
  assert.is((await init(d)).code, 0);
  writeFileSync(join(d.dir, 'clock'), String(T));
  writeFileSync(join(d.dir, 'config.json'), JSON.stringify({ maxStoredBytes: 100_000 }));
  assert.is(run(d, ['keygen', '-o', 'me.key']).code, 0);
  const { x25519 } = recipients(d);
  secretFile(d, 300_000);
  const home = await start(d, ['watch', '--data-dir', 'P'], /listening on (\S+)/);
  const agent = await start(
    d,
    ['agent', '--data-dir', d.data, '--listen', '127.0.0.1:0', '--clock', `file:${join(d.dir, 'clock')}`, '--config', 'config.json', '--peer', home.match[1]!],
    /"event":"ipfs-ready"/,
  );
  const url = /"event":"started","url":"(http:\/\/[^"]+)"/.exec(agent.err())![1]!;
  try {
    const sealed = run(d, ['seal', 'secret.bin', '--guardian', x25519, '--logic', 'policy.wasm', '-o', 'q.capsule', '--publish', '--data-dir', 'P']);
    assert.is(sealed.code, 0, sealed.stderr);
    const cid = CID_LINE.exec(sealed.stdout)![1]!;
    assertFails(
      run(d, ['open', cid, '--guardian', url, '--identity', 'me.key', '-o', 'q.out']),
      new RegExp(`${cid}: 300\\d{3} bytes would take the capsules kept here to 300\\d{3}, above maxStoredBytes 100000`),
      /raise maxStoredBytes/,
    );
    assert.not.ok(existsSync(join(d.dir, 'q.out')));
    const s = (await (await req(`${url}/v1/status`)).json()) as { ipfs: { storedBytes: number; maxStoredBytes: number } };
    assert.equal([s.ipfs.storedBytes, s.ipfs.maxStoredBytes], [0, 100_000]);
    assert.is((await req(`${url}/v1/content?cid=${cid}`)).status, 404);
  } finally {
    assert.is(await agent.stop(), 0);
    await home.stop();
  }
});

test('a Kubo daemon that is down: the agent still starts, names the URL, retries with backoff, and answers 503 to a fetch by CID', async () => {
  const d = device();
  assert.is((await init(d)).code, 0);
  writeFileSync(join(d.dir, 'clock'), String(T));
  assert.is(run(d, ['keygen', '-o', 'me.key']).code, 0);
  const agent = await start(
    d,
    ['agent', '--data-dir', d.data, '--listen', '127.0.0.1:0', '--clock', `file:${join(d.dir, 'clock')}`, '--ipfs', 'kubo:http://127.0.0.1:1'],
    /"event":"started","url":"(http:\/\/[^"]+)"/,
  );
  const url = agent.match[1]!;
  try {
    await until('two retries', () => (agent.err().match(/"event":"ipfs-unavailable"/g) ?? []).length >= 2);
    const lines = agent
      .err()
      .split('\n')
      .filter((l) => l.includes('"ipfs-unavailable"'))
      .map((l) => JSON.parse(l.replace(/^capsule: /, '')));
    assert.is(lines[0].code, 'ERR_IPFS_UNREACHABLE');
    assert.match(lines[0].message, /Kubo RPC at http:\/\/127\.0\.0\.1:1: unreachable/);
    assert.is(lines[0].retryInMs, 1000);
    assert.is(lines[1].retryInMs, 2000, 'the delay doubles');
    const s = (await (await req(`${url}/v1/status`)).json()) as { ipfs: { ready: boolean; lastError: string } };
    assert.is(s.ipfs.ready, false);
    assert.match(s.ipfs.lastError, /unreachable/);
    const me = /age1[0-9a-z]+/.exec(readFileSync(join(d.dir, 'me.key'), 'utf8'))![0];
    const r = await req(`${url}/v1/release`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ cid: 'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku', requester: me }),
    });
    assert.is(r.status, 503);
    const e = ((await r.json()) as { error: { code: string; message: string } }).error;
    assert.is(e.code, 'ERR_UNAVAILABLE');
    assert.match(e.message, /IPFS is not available yet: Kubo RPC at http:\/\/127\.0\.0\.1:1: unreachable/);
  } finally {
    assert.is(await agent.stop(), 0, 'stops cleanly while retrying');
  }
});

test('image manifests over pubsub: `capsule image publish` reaches the agent, which pins a newer one from the pinned signer and refuses (counted, logged) a foreign signer and a replay', async () => {
  const d = device();
  assert.is((await init(d)).code, 0);
  const owner = /owner signing key \(ed25519\): ([0-9a-f]{64})/.exec(run(d, ['keygen', '-o', 'owner.key']).stderr)![1]!;
  assert.is(run(d, ['keygen', '-o', 'other.key']).code, 0);
  const manifest = (sequence: number) =>
    JSON.stringify({
      sequence,
      created: '2026-12-05T00:00:00Z',
      images: [{ name: 'localhost/ipfs:1', digest: `sha256:${String(sequence).repeat(64)}`, size: 1000 + sequence }],
    });
  for (const n of [1, 2]) {
    writeFileSync(join(d.dir, `m${n}.json`), manifest(n));
    assert.is(run(d, ['image', 'sign', `m${n}.json`, '--key', 'owner.key', '-o', `m${n}.manifest`]).code, 0);
  }
  writeFileSync(join(d.dir, 'm3.json'), manifest(3));
  assert.is(run(d, ['image', 'sign', 'm3.json', '--key', 'other.key', '-o', 'other.manifest']).code, 0);
  assert.is(run(d, ['image', 'pin', 'm1.manifest', '--owner', owner, '--data-dir', d.data]).code, 0);

  const agent = await start(d, ['agent', '--data-dir', d.data, '--listen', '127.0.0.1:0'], /"event":"ipfs-ready".*?"addresses":\["([^"]+)"/);
  const url = /"event":"started","url":"(http:\/\/[^"]+)"/.exec(agent.err())![1]!;
  const status = async () => ((await (await req(`${url}/v1/status`)).json()) as { ipfs: { imageManifests: Record<string, unknown> } }).ipfs.imageManifests;
  const publish = (file: string) => run(d, ['image', 'publish', file, '--data-dir', 'P', '--peer', agent.match[1]!, '--timeout', '20']);
  const waitFor = (what: string, check: (s: Record<string, unknown>) => boolean) =>
    until(what, async () => check(await status())).catch((e) => {
      throw new Error(`${(e as Error).message}; agent log: ${agent.err().slice(-3000)}`);
    });
  try {
    assert.equal(await status(), { topic: 'capsule-engine/images/v1', pinnedSequence: 1, received: 0, accepted: 0, same: 0, refused: 0, refusedBy: {} });
    const foreign = publish('other.manifest');
    assert.is(foreign.code, 0, foreign.stderr);
    assert.match(foreign.stdout, /^[1-9]\d*\n$/);
    await waitFor('the foreign manifest to be refused', (s) => s.refused === 1);
    assert.match(
      agent.err(),
      /"event":"image-manifest-refused","from":"[^"]+","code":"ERR_IMAGE_SIGNATURE","message":"image manifest: signed by [0-9a-f]{64}, not by the owner key/,
    );

    assert.is(publish('m2.manifest').code, 0);
    await waitFor('the newer manifest to be pinned', (s) => s.accepted === 1 && s.pinnedSequence === 2);
    assert.ok(readFileSync(join(d.data, 'images', 'manifest.cbor')).equals(readFileSync(join(d.dir, 'm2.manifest'))), 'pinned on disk, byte for byte');
    assert.match(agent.err(), /"event":"image-manifest-pinned","from":"[^"]+","sequence":2,"previous":1,"images":\["localhost\/ipfs:1"\]/);
    assert.is(JSON.parse(run(d, ['image', 'show', '--data-dir', d.data]).stdout).sequence, 2);

    assert.is(publish('m1.manifest').code, 0); // an older one: a replay
    await waitFor('the replay to be refused', (s) => s.refused === 2);
    const s = await status();
    assert.equal(s.refusedBy, { ERR_IMAGE_SIGNATURE: 1, ERR_IMAGE_REPLAYED: 1 });
    assert.is(s.pinnedSequence, 2);
    assert.ok(readFileSync(join(d.data, 'images', 'manifest.cbor')).equals(readFileSync(join(d.dir, 'm2.manifest'))), 'the pin did not move back');

    // Refused before any node starts: a file that is no signed manifest.
    writeFileSync(join(d.dir, 'junk.manifest'), 'not cbor');
    const junk = publish('junk.manifest');
    assertFails(junk, /image manifest/, /./);
    assert.is(junk.stdout, '');
  } finally {
    assert.is(await agent.stop(), 0);
  }
});

test.run();
