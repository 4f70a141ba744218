/**
 * The agent's announcement subscription through a Kubo-RPC daemon (`ipfs: kubo:URL`) survives the
 * daemon going away (issue #18, "the Kubo re-subscribe path is untested"):
 *   - KuboStore.subscribe reports the end of a live subscription, whether the stream breaks or is
 *     closed cleanly (as a daemon shutting down gracefully, or a proxy, closes it), and only then;
 *   - a real `capsule agent` whose daemon is SIGKILLed logs the loss, retries with doubling delays
 *     while the daemon is down, subscribes again once it is restarted on the same API port and
 *     repo, and indexes an announcement published to the restarted daemon.
 *
 * The daemon is js-ipfs 0.66.1 (installed by `npm run setup`; looked for with
 * scripts/need-kubo-rpc.sh --check), started here rather than through test/helpers/kuboDaemon.ts
 * because this test must kill it and restart it on the same repo.
 * Without a daemon the tests are uvu-skipped with a visible SKIPPED line. Deliberately not here:
 * the content-store calls themselves (test/kubo.test.ts) and Helia's pubsub (test/publish.test.ts).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer, request, type ServerResponse } from 'node:http';
import { mkdtempSync, readFileSync, realpathSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { create as digestOf } from 'multiformats/hashes/digest';
import { sha256 as sha256Hasher } from 'multiformats/hashes/sha2';
import { sha256 } from '../agent/crypto/kdf.ts';
import { generateIdentity } from '../agent/crypto/identity.ts';
import { GUARDIAN_KEY_HRP, parseP256Key } from '../agent/crypto/p256.ts';
import { ANNOUNCE_TOPIC, encodeAnnouncement } from '../agent/store/Announcement.ts';
import { KuboStore } from '../agent/store/KuboStore.ts';
import { expectError } from './helpers/assertError.ts';
import { BIN } from './helpers/cli.ts';
import { device, init, LOGIC, recipients, type Device } from './helpers/guardianDevice.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const READY_MS = 40_000;

/** A js-ipfs daemon on one repo that can be killed and started again on the same API port. */
class Daemon {
  readonly dir = mkdtempSync(join(tmpdir(), 'capsule-kubo-resub-'));
  readonly #env = { ...process.env, IPFS_PATH: join(this.dir, 'repo') };
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #kill = () => this.#child?.kill('SIGKILL'); // if the test process dies without stop()
  url = '';
  readonly cli: string;

  constructor(cli: string) {
    this.cli = cli;
    writeFileSync(
      join(this.dir, 'config.json'),
      JSON.stringify({
        Addresses: { API: '/ip4/127.0.0.1/tcp/0', Gateway: '/ip4/127.0.0.1/tcp/0', RPC: '', Swarm: [], Announce: [], Delegates: [] },
        Bootstrap: [],
        Discovery: { MDNS: { Enabled: false }, webRTCStar: { Enabled: false } },
      }),
    );
    process.once('exit', this.#kill);
  }

  /** Starts (the first time: initialises the repo, port 0); resolves once `id` answers. */
  async start(): Promise<string> {
    const child = spawn(process.execPath, [this.cli, 'daemon', '--offline', '--init-config', join(this.dir, 'config.json'), '--init-profile', 'test'], {
      env: this.#env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#child = child;
    let output = '';
    let gone = false;
    const keep = (b: Buffer) => {
      output = (output + b.toString()).slice(-20_000);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    this.#exited = new Promise<void>((r) =>
      child.once('exit', () => {
        gone = true;
        r();
      }),
    );
    for (const end = Date.now() + READY_MS; ; ) {
      if (gone || Date.now() > end) {
        await this.kill();
        throw new Error(`the js-ipfs daemon ${gone ? 'exited' : `was not ready within ${READY_MS / 1000} s`}; its output:\n${output}`);
      }
      const m = /API listening on \/ip4\/([\d.]+)\/tcp\/(\d+)/.exec(output);
      if (
        m &&
        (await fetch(`http://${m[1]}:${m[2]}/api/v0/id`, { method: 'POST', signal: AbortSignal.timeout(2_000) }).then(
          (r) => r.ok,
          () => false,
        ))
      ) {
        return (this.url = `http://${m[1]}:${m[2]}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** SIGKILL: no shutdown, open streams cut. */
  async kill(): Promise<void> {
    this.#child?.kill('SIGKILL');
    await this.#exited;
    this.#child = undefined;
  }

  /**
   * After kill(): the same repo, the same API port. The repo lock a SIGKILLed js-ipfs leaves is
   * honoured for 20 s (proper-lockfile's `stale`); it is made that old, as a restart after a crash finds it.
   */
  async restart(): Promise<string> {
    const port = new URL(this.url).port;
    const configFile = join(this.dir, 'config.json'); // js-ipfs applies it over the repo's on every start
    const config = JSON.parse(readFileSync(configFile, 'utf8'));
    config.Addresses.API = `/ip4/127.0.0.1/tcp/${port}`;
    writeFileSync(configFile, JSON.stringify(config));
    const old = new Date(Date.now() - 60_000);
    try {
      utimesSync(join(this.dir, 'repo', 'repo.lock'), old, old);
    } catch {
      /* no lock left */
    }
    const url = await this.start();
    assert.is(url, `http://127.0.0.1:${port}`, 'restarted on the same API port');
    return url;
  }

  async stop(): Promise<void> {
    process.removeListener('exit', this.#kill);
    if (this.#child) {
      this.#child.kill('SIGTERM');
      const t = setTimeout(() => this.#child?.kill('SIGKILL'), 5_000);
      await this.#exited;
      clearTimeout(t);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function jsIpfsCli(): { cli: string } | { skipped: string } {
  if (process.env.KUBO_RPC_URL) return { skipped: 'KUBO_RPC_URL names a running daemon, and these tests must kill and restart theirs' };
  const need = spawnSync('bash', ['scripts/need-kubo-rpc.sh', '--check'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const bin = need.stdout?.trim() ?? '';
  if (need.status !== 0 || !bin) return { skipped: `no Kubo-RPC daemon (${need.stderr?.trim().split('\n').pop() || `exit ${need.status}`})` };
  return { cli: realpathSync(bin) };
}

const found = jsIpfsCli();
const it = 'cli' in found ? test : test.skip;
if ('skipped' in found) console.error(`SKIPPED: Kubo re-subscribe tests: ${found.skipped}`);
const daemon = 'cli' in found ? new Daemon(found.cli) : undefined;
const started = daemon?.start(); // while the guardian device is set up
started?.catch(() => {});
const cleanups: Array<() => Promise<void> | void> = [];

test.after(async () => {
  for (const c of cleanups.reverse()) await c();
  await daemon?.stop();
});

async function until<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, ms = 30_000, detail = () => ''): Promise<T> {
  for (const end = Date.now() + ms; ; ) {
    const v = await Promise.resolve()
      .then(check)
      .catch(() => undefined);
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${detail()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A pass-through HTTP proxy to the daemon that can close or cut the pubsub streams going through it. */
async function proxyTo(target: string) {
  const subs = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    const up = request(new URL(req.url!, target), { method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode!, r.headers);
      if (req.url!.startsWith('/api/v0/pubsub/sub')) {
        subs.add(res);
        res.on('close', () => subs.delete(res));
      }
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    res.on('close', () => up.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    subs,
    /** Ends each stream with its terminating chunk: a clean end of the response. */
    closeSubs: () => {
      for (const s of subs) s.end();
    },
    /** Cuts each stream's connection mid-response. */
    cutSubs: () => {
      for (const s of subs) s.destroy();
    },
    stop: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

it('KuboStore.subscribe: a stream closed cleanly or cut ends the subscription (onEnd, typed), and unsubscribing does not', async () => {
  await started;
  const proxy = await proxyTo(daemon!.url);
  cleanups.push(() => proxy.stop());
  const store = new KuboStore(proxy.url);
  const topic = `capsule-resub-${process.pid}`;
  for (const [how, fault, code, message] of [
    ['closed', proxy.closeSubs, 'ERR_IPFS', /the subscription to capsule-resub-\d+ ended/],
    ['cut', proxy.cutSubs, 'ERR_IPFS_UNREACHABLE', /the subscription to capsule-resub-\d+ broke/],
  ] as const) {
    const ends: Error[] = [];
    const off = await store.subscribe(topic, () => {}, { onEnd: (e) => ends.push(e) });
    await until(`the ${how} stream to reach the proxy`, () => proxy.subs.size === 1);
    fault();
    await until(`onEnd after the stream was ${how}`, () => ends.length > 0);
    await new Promise((r) => setTimeout(r, 200)); // a second onEnd would come now
    assert.is(ends.length, 1, `${how}: onEnd once`);
    expectError(ends[0], 'ContentError', code, new RegExp(`Kubo RPC at ${proxy.url}: ${message.source}`));
    off();
  }
  // Our own unsubscribe (and an aborted subscription) are not a loss.
  const ends: Error[] = [];
  const ac = new AbortController();
  const off = await store.subscribe(topic, () => {}, { onEnd: (e) => ends.push(e) });
  await store.subscribe(`${topic}-b`, () => {}, { onEnd: (e) => ends.push(e), signal: ac.signal });
  await until('both streams to reach the proxy', () => proxy.subs.size === 2);
  off();
  ac.abort();
  await until('both streams to close', () => proxy.subs.size === 0);
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(
    ends.map((e) => e.message),
    [],
  );
});

/** A long-running `capsule` process; resolves once `ready` matches its stderr. */
async function startAgent(d: Device, args: string[]): Promise<{ err: () => string; url: string; stop(): Promise<number | null> }> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: d.dir, env: d.env, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (c) => {
      err += c;
      const m = /"event":"started","url":"(http:\/\/[^"]+)"/.exec(err);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`agent exited ${code}: ${err}`)));
    setTimeout(() => reject(new Error(`agent: not started after 30 s: ${err}`)), 30_000).unref();
  });
  return {
    err: () => err,
    url,
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

function runAsync(d: Device, args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: d.dir, env: d.env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c) => {
    stderr += c;
  });
  return new Promise((r) => child.once('exit', (code) => r({ code, stderr })));
}

/** The agent's JSON log lines for one event. */
/** The agent's log events of one kind for the announcement topic (the image-manifest topic is kept up the same way, alongside). */
function events(err: string, event: string): Array<Record<string, unknown>> {
  return err
    .split('\n')
    .filter((l) => l.includes(`"event":"${event}"`))
    .map((l) => JSON.parse(l.slice(l.indexOf('{'))) as Record<string, unknown>)
    .filter((e) => e.topic === undefined || e.topic === ANNOUNCE_TOPIC);
}

it('a SIGKILLed Kubo daemon: the agent logs the lost subscription, retries with backoff, re-subscribes to the restarted daemon, and indexes a new announcement', async () => {
  const d = device();
  cleanups.push(() => rmSync(d.dir, { recursive: true, force: true }));
  const initialised = await init(d);
  assert.is(initialised.code, 0, initialised.stderr);
  writeFileSync(join(d.dir, 'a.bin'), 'first capsule');
  writeFileSync(join(d.dir, 'b.bin'), 'second capsule');
  const { x25519, signingKey } = recipients(d);
  const sealed = await Promise.all(
    ['a', 'b'].map((n) => runAsync(d, ['seal', `${n}.bin`, '--guardian', x25519, '--logic', 'policy.wasm', '-o', `${n}.capsule`])),
  );
  for (const s of sealed) assert.is(s.code, 0, s.stderr);
  const url = await started!;

  const agent = await startAgent(d, ['agent', '--data-dir', d.data, '--listen', '127.0.0.1:0', '--ipfs', `kubo:${url}`]);
  cleanups.push(async () => {
    await agent.stop();
  });
  const log = () => `; agent log: ${agent.err().slice(-3000)}`;
  const status = async () =>
    ((await (await fetch(`${agent.url}/v1/status`)).json()) as { ipfs: { subscribed: boolean; announcements: { indexed: number; received: number } } }).ipfs;

  // The publisher: the project's own announcement, signed by an owner, to the daemon's pubsub
  // (which keeps no history: it is sent again until the guardian indexed it).
  const publisher = new KuboStore(url);
  const owner = generateIdentity();
  const guardian = parseP256Key(GUARDIAN_KEY_HRP, signingKey, 'signingKey');
  const logic = CID.createV1(raw.code, digestOf(sha256Hasher.code, sha256(LOGIC)));
  const announce = async (file: string, indexed: number): Promise<string> => {
    const cid = await publisher.add(readFileSync(join(d.dir, file)));
    const bytes = encodeAnnouncement({ capsule: cid, logic, guardian, created: Date.now() }, owner);
    await until(
      `${file} to be indexed`,
      async () => {
        if ((await status()).announcements.indexed >= indexed) return true;
        await publisher.publish(ANNOUNCE_TOPIC, bytes);
        await new Promise((r) => setTimeout(r, 400));
        return false;
      },
      20_000,
      log,
    );
    assert.is((await status()).announcements.indexed, indexed);
    assert.match(agent.err(), new RegExp(`"event":"indexed","capsule":"${cid}"`));
    return cid.toString();
  };

  await until('the agent to subscribe', async () => (await status()).subscribed, 30_000, log);
  await announce('a.capsule', 1);

  // The fault: the daemon dies with the subscription open.
  await daemon!.kill();
  const ended = await until('the loss to be logged', () => events(agent.err(), 'ipfs-subscription-ended')[0], 10_000, log);
  assert.is(ended.code, 'ERR_IPFS_UNREACHABLE');
  assert.match(String(ended.message), new RegExp(`^Kubo RPC at ${url}: the subscription to ${ANNOUNCE_TOPIC} broke$`));
  assert.is(ended.retryInMs, 1000);
  assert.is((await status()).subscribed, false);
  // While it is down, each attempt is refused and the delay doubles.
  const failed = await until('a refused re-subscribe', () => events(agent.err(), 'ipfs-subscribe-failed')[0], 10_000, log);
  assert.is(failed.code, 'ERR_IPFS_UNREACHABLE');
  assert.match(String(failed.message), new RegExp(`^Kubo RPC at ${url}: unreachable \\(pubsub/sub\\)$`));
  assert.is(failed.retryInMs, 2000);

  await daemon!.restart();
  await until('the agent to re-subscribe', () => events(agent.err(), 'ipfs-resubscribed').length > 0, 30_000, log);
  assert.ok((await status()).subscribed);
  const delays = events(agent.err(), 'ipfs-subscribe-failed').map((e) => e.retryInMs);
  assert.equal(delays, [2000, 4000, 8000, 10_000, 10_000, 10_000].slice(0, delays.length), 'doubling, capped at 10 s');

  // The restarted daemon's announcement is received and indexed, and the capsule is served from it.
  const cidB = await announce('b.capsule', 2);
  const r = await fetch(`${agent.url}/v1/content?cid=${cidB}`);
  assert.is(r.status, 200);
  assert.ok(Buffer.from(await r.arrayBuffer()).equals(readFileSync(join(d.dir, 'b.capsule'))), "the capsule's bytes");
  assert.is(await agent.stop(), 0, 'stops cleanly');
});

test.run();
