/**
 * Issue #12 items 3–4: the hardened boot-time service and its installer.
 *  - boot/capsule-agent.service: `systemd-analyze security --offline=yes` exposure ≤ 1.5, and
 *    `systemd-analyze verify` clean in a throwaway root (no systemd runs on this machine, so the
 *    unit's runtime sandbox itself cannot be exercised here).
 *  - sd_notify (agent/daemon/sdNotify.ts): a real `capsule agent` on the simulator, started with the
 *    unit's Node flags (--optimize-for-size…: accepted, no warning in its log), talks to a unix
 *    datagram socket bound by an independent receiver (python3's socket module): READY=1, STATUS=,
 *    WATCHDOG=1 cadence, STOPPING=1 on SIGTERM and exit 0; the abstract '@' namespace; a socket
 *    nobody listens on (logged once, the agent serves on); WATCHDOG_PID naming another process.
 *  - boot/install.sh --root DIR: the documented layout (files, modes, owners as recorded in DIR's
 *    passwd/group, unit content), idempotence (a checksum of the whole tree after each run), the
 *    initramfs hook/keyscript placement, and its errors.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { notifyAddress, sdNotify, watchdogInterval } from '../agent/daemon/sdNotify.ts';
import { provisioned, startAgent, type Running } from './helpers/runningAgent.ts';
import { BIN } from './helpers/cli.ts';
import type { Device } from './helpers/guardianDevice.ts';
import { UNIT_NODE_ARGS } from './helpers/unitNodeArgs.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const UNIT = join(ROOT, 'boot', 'capsule-agent.service');
const INSTALL = join(ROOT, 'boot', 'install.sh');
const isRoot = process.getuid?.() === 0;
const temps: string[] = [];
const tmp = (prefix: string) => {
  const d = mkdtempSync(join(tmpdir(), prefix));
  temps.push(d);
  return d;
};
process.once('exit', () => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(what: string, pred: () => boolean, ms = 30_000): Promise<void> {
  for (const end = Date.now() + ms; !pred(); await sleep(20)) if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
}

// ---------------------------------------------------------------------------------------------
// The unit

test('unit: systemd-analyze security --offline=yes scores boot/capsule-agent.service ≤ 1.5', () => {
  const r = spawnSync('systemd-analyze', ['security', '--offline=yes', '--no-pager', UNIT], { encoding: 'utf8' });
  assert.not.ok(r.error, `systemd-analyze runs (Debian package systemd): ${r.error}`);
  const m = /Overall exposure level for capsule-agent\.service: (\d+\.\d+)/.exec(r.stdout);
  assert.ok(m, `the score line is printed: ${r.stdout.slice(-400)}${r.stderr}`);
  const score = Number(m![1]);
  console.log(`  exposure ${score} (was 9.2 before issue #12)`);
  assert.ok(score <= 1.5, `exposure ${score} ≤ 1.5`);
  // What the score does not see but the service needs: its own user, notify from the main process,
  // a watchdog, the JIT, and the sockets it serves and notifies on.
  const unit = readFileSync(UNIT, 'utf8');
  const keys = (k: string) => [...unit.matchAll(new RegExp(`^${k}=(.*)$`, 'gm'))].map((x) => x[1]!.trim());
  assert.equal(keys('User'), ['capsule']);
  assert.equal(keys('Group'), ['capsule']);
  assert.equal(keys('Type'), ['notify']);
  assert.equal(keys('NotifyAccess'), ['main']);
  assert.match(keys('WatchdogSec')[0] ?? '', /^[1-9][0-9]*$/);
  assert.equal(keys('MemoryDenyWriteExecute'), ['no'], 'V8 needs W+X pages');
  for (const f of ['AF_UNIX', 'AF_INET', 'AF_INET6']) assert.ok(keys('RestrictAddressFamilies')[0]!.split(/\s+/).includes(f), f);
  assert.equal(keys('StateDirectory'), ['capsule']);
  assert.equal(keys('SupplementaryGroups')[0]!.split(/\s+/).sort(), ['i2c', 'tss', 'zymbit']);
  assert.not.match(unit, /systemd-notify/, 'no helper process sends notifications');
});

// Why the unit keeps MemoryDenyWriteExecute=no, as evidence rather than a comment: the kernel's
// PR_SET_MDWE (Linux ≥ 6.3; what the setting turns into where available) makes Node abort at start.
const MDWE = `
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(65, 1, 0, 0, 0) != 0:  # PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN
    print("unsupported", flush=True); sys.exit(0)
os.execv(sys.argv[1], [sys.argv[1], "-e", "console.log('ran')"])
`;
test('unit: MemoryDenyWriteExecute=yes would stop the agent — Node aborts under PR_SET_MDWE (V8 needs W+X pages)', () => {
  const r = spawnSync('python3', ['-c', MDWE, process.execPath], { encoding: 'utf8' });
  if (r.stdout.trim() === 'unsupported') return console.log('  SKIPPED: this kernel has no PR_SET_MDWE (Linux < 6.3)');
  assert.is.not(r.status, 0, 'node did not run');
  assert.not.match(r.stdout, /ran/);
  assert.match(r.stderr, /Fatal error|Check failed/);
});

/** A root with the unit (as install.sh puts it), a stand-in node binary and the host's system units. */
function verifyRoot(unitText: string): string {
  const r = tmp('capsule-verify-');
  mkdirSync(join(r, 'etc/systemd/system'), { recursive: true });
  mkdirSync(join(r, 'opt/capsule/node_modules/.bin'), { recursive: true });
  writeFileSync(join(r, 'opt/capsule/node_modules/.bin/node'), '#!/bin/sh\n');
  chmodSync(join(r, 'opt/capsule/node_modules/.bin/node'), 0o755);
  writeFileSync(join(r, 'etc/systemd/system/capsule-agent.service'), unitText);
  const units = ['/usr/lib/systemd/system', '/lib/systemd/system'].find((d) => existsSync(join(d, 'sysinit.target')));
  if (units) cpSync(units, join(r, 'usr/lib/systemd/system'), { recursive: true, dereference: false, verbatimSymlinks: true });
  return r;
}

test('unit: systemd-analyze verify finds nothing to report (offline, in a throwaway root); a bad value is reported', () => {
  const good = verifyRoot(readFileSync(UNIT, 'utf8'));
  const r = spawnSync('systemd-analyze', ['verify', `--root=${good}`, 'capsule-agent.service'], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stderr.trim(), '', 'no warnings');
  // The check is real: a misspelt directive and a bad value are both reported.
  const bad = verifyRoot(
    readFileSync(UNIT, 'utf8')
      .replace(/^WatchdogSec=.*$/m, 'WatchdogSec=soon')
      .replace(/^ProtectHome=yes$/m, 'ProtectHomes=yes'),
  );
  const b = spawnSync('systemd-analyze', ['verify', `--root=${bad}`, 'capsule-agent.service'], { encoding: 'utf8' });
  assert.match(b.stderr, /Failed to parse sec value.*soon/);
  assert.match(b.stderr, /Unknown key 'ProtectHomes' in section \[Service\]/);
});

// ---------------------------------------------------------------------------------------------
// sd_notify, in-process: addresses and the watchdog variables

test('sdNotify: addresses — path, @abstract, and what cannot be one', () => {
  const p = notifyAddress('/run/systemd/notify');
  assert.ok('addr' in p);
  if ('addr' in p) {
    assert.is(p.len, 2 + '/run/systemd/notify'.length + 1, 'path plus its NUL');
    assert.is(p.addr.subarray(2, p.len - 1).toString(), '/run/systemd/notify');
  }
  const a = notifyAddress('@capsule/notify');
  assert.ok('addr' in a);
  if ('addr' in a) {
    assert.is(a.len, 2 + 1 + 'capsule/notify'.length, 'leading NUL plus the name, no terminator');
    assert.is(a.addr[2], 0);
    assert.is(a.addr.subarray(3, a.len).toString(), 'capsule/notify');
  }
  const err = (s: string) => {
    const r = notifyAddress(s);
    return 'error' in r ? r.error : '';
  };
  assert.match(err('relative/sock'), /expected an absolute path or an @abstract name, got "relative\/sock"/);
  assert.match(err('/' + 'x'.repeat(107)), /108 bytes; at most 107 fit in sockaddr_un/);
  assert.match(err('vsock:2:1234'), /vsock addresses are not supported/);
  assert.match(err('/a\0b'), /contains a NUL byte/);
});

test('sdNotify: WATCHDOG_USEC/WATCHDOG_PID — half the period, ours only, numbers only', () => {
  assert.equal(watchdogInterval({}, 42), {});
  assert.equal(watchdogInterval({ WATCHDOG_USEC: '400000' }, 42), { ms: 200 });
  assert.equal(watchdogInterval({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '42' }, 42), { ms: 15000 });
  assert.match(watchdogInterval({ WATCHDOG_USEC: '400000', WATCHDOG_PID: '7' }, 42).ignored!, /WATCHDOG_PID is 7, not this process \(42\)/);
  assert.match(watchdogInterval({ WATCHDOG_USEC: '-5' }, 42).ignored!, /WATCHDOG_USEC: expected a positive integer of microseconds, got "-5"/);
  assert.match(watchdogInterval({ WATCHDOG_USEC: '1e6' }, 42).ignored!, /got "1e6"/);
  // Without NOTIFY_SOCKET everything is a no-op and nothing is logged.
  const logged: string[] = [];
  const n = sdNotify({ WATCHDOG_USEC: '1000' }, { log: (e) => logged.push(e) });
  n.ready('x');
  n.startWatchdog();
  n.stopping();
  n.close();
  assert.is(n.enabled, false);
  assert.is(n.send(['READY=1']), false);
  assert.equal(logged, []);
});

// ---------------------------------------------------------------------------------------------
// sd_notify, end to end with a real agent

interface Datagram {
  t: number;
  m: string;
}
interface Receiver {
  messages: Datagram[];
  stop(): Promise<void>;
}

// The receiving side is deliberately not our code: python3's socket module.
const RECEIVER = `
import json, os, socket, sys, time
a = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\\0" + a[1:] if a.startswith("@") else a)
if len(sys.argv) > 2: os.chmod(a, 0o777)  # as systemd's: any user may send
print(json.dumps({"bound": True}), flush=True)
while True:
    d = s.recv(65536)
    print(json.dumps({"t": time.monotonic(), "m": d.decode()}), flush=True)
`;

async function receiver(address: string, anyone = false): Promise<Receiver> {
  const child: ChildProcessWithoutNullStreams = spawn('python3', ['-u', '-c', RECEIVER, address, ...(anyone ? ['anyone'] : [])], { stdio: 'pipe' });
  const messages: Datagram[] = [];
  let bound = false;
  let buf = '';
  let err = '';
  child.stderr.on('data', (c) => {
    err += c;
  });
  child.stdout.on('data', (c) => {
    buf += c;
    for (let i; (i = buf.indexOf('\n')) >= 0; buf = buf.slice(i + 1)) {
      const o = JSON.parse(buf.slice(0, i)) as Datagram & { bound?: boolean };
      if (o.bound) bound = true;
      else messages.push(o);
    }
  });
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  await until(`the receiver to bind ${address} (${err})`, () => bound || child.exitCode !== null, 10_000);
  assert.ok(bound, `python3 bound ${address}: ${err}`);
  return {
    messages,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

let guardian: { d: Device; cleanup(): void } | undefined;
const live = new Set<Running>();
async function agentWith(env: Record<string, string>): Promise<Running> {
  guardian ??= await provisioned({ policy: false });
  const d = guardian.d;
  const a = await startAgent({ ...d, env: { ...d.env, ...env } }, { ipfs: 'off' }, [], UNIT_NODE_ARGS); // as the unit starts it
  live.add(a);
  return a;
}
// A failed assertion must not leave an agent running (stop() is idempotent: SIGTERM, await exit).
test.after.each(async () => {
  for (const a of live) await a.stop();
  live.clear();
});
const fields = (m: string) => m.split('\n');
const events = (log: string, event: string) => log.split('\n').filter((l) => l.includes(`"event":"${event}"`));

test('sd_notify: READY=1 with the serving URL after `started`, STATUS=, WATCHDOG=1 at WATCHDOG_USEC/2, STOPPING=1 on SIGTERM, exit 0', async () => {
  const dir = tmp('capsule-notify-');
  const sock = join(dir, 'notify.sock');
  const rx = await receiver(sock);
  try {
    const a = await agentWith({ NOTIFY_SOCKET: sock, WATCHDOG_USEC: '400000' });
    const at = (pred: (m: string) => boolean) => rx.messages.findIndex((d) => pred(d.m));
    await until('READY=1', () => at((m) => fields(m).includes('READY=1')) >= 0);
    const ready = at((m) => fields(m).includes('READY=1'));
    // STATUS while starting, then READY carrying the URL the `started` log line names: it was sent
    // once the server listened.
    const starting = at((m) => m.startsWith('STATUS=starting'));
    assert.ok(starting >= 0 && starting < ready, `STATUS=starting… before READY: ${JSON.stringify(rx.messages.map((d) => d.m))}`);
    const [, url, seq] = /"event":"started","url":"([^"]+)".*"audit":(\d+)/.exec(a.log())!;
    assert.ok(fields(rx.messages[ready]!.m).includes(`STATUS=serving on ${url}, audit log at entry ${seq}`), rx.messages[ready]!.m);
    // The cadence: pings keep coming while it serves (a window of the test's own choosing).
    const pingsAfterReady = () => rx.messages.slice(ready).filter((d) => d.m === 'WATCHDOG=1').length;
    await sleep(2500);
    await until('pings after READY', () => pingsAfterReady() >= 3, 30_000);
    const code = await a.stop();
    assert.is(code, 0, a.log());
    await until('STOPPING=1', () => at((m) => fields(m).includes('STOPPING=1')) >= 0, 10_000);
    const stopping = at((m) => fields(m).includes('STOPPING=1'));
    assert.ok(stopping > ready);
    assert.match(rx.messages[stopping]!.m, /^STOPPING=1\nSTATUS=stopping: 0 requests in flight$/);
    const window = rx.messages.slice(ready, stopping + 1);
    const seconds = window.at(-1)!.t - window[0]!.t;
    const pings = window.filter((d) => d.m === 'WATCHDOG=1').length;
    const expected = seconds / 0.2; // WATCHDOG_USEC/2 = 200 ms
    console.log(`  ${pings} WATCHDOG=1 in ${seconds.toFixed(2)} s between READY and STOPPING (every 200 ms: ${expected.toFixed(1)})`);
    // Generous: a busy machine delays timers (fewer pings); never more than twice the rate.
    assert.ok(pings >= Math.max(3, Math.floor(expected / 4)), `at least a quarter of the expected pings (${pings})`);
    assert.ok(pings <= 2 * expected + 3, `no more than twice the expected pings (${pings})`);
    // Every datagram is KEY=value lines the protocol knows; nothing after STOPPING but pings.
    for (const d of rx.messages) for (const l of fields(d.m)) assert.match(l, /^(READY=1|STOPPING=1|WATCHDOG=1|STATUS=.+)$/);
    assert.equal(events(a.log(), 'notify-failed'), []);
    // Started with the unit's Node flags: all accepted, and none adds a warning to the agent's log.
    for (const l of a.log().split('\n').filter(Boolean)) assert.match(l, /^capsule: \{"/, `a log line that is not the agent's: ${l}`);
  } finally {
    await rx.stop();
  }
});

test('sd_notify: the abstract namespace (@name)', async () => {
  const name = `@capsule-test-${randomBytes(6).toString('hex')}`;
  const rx = await receiver(name);
  try {
    const a = await agentWith({ NOTIFY_SOCKET: name });
    await until('READY=1', () => rx.messages.some((d) => fields(d.m).includes('READY=1')));
    assert.is(await a.stop(), 0);
    await until('STOPPING=1', () => rx.messages.some((d) => fields(d.m).includes('STOPPING=1')), 10_000);
    assert.not.ok(
      rx.messages.some((d) => d.m === 'WATCHDOG=1'),
      'no WATCHDOG_USEC, no pings',
    );
  } finally {
    await rx.stop();
  }
});

test('sd_notify: WATCHDOG_PID naming another process: no pings, said once in the log; READY still sent', async () => {
  const dir = tmp('capsule-notify-');
  const sock = join(dir, 'n.sock');
  const rx = await receiver(sock);
  try {
    const a = await agentWith({ NOTIFY_SOCKET: sock, WATCHDOG_USEC: '200000', WATCHDOG_PID: '1' });
    await until('READY=1', () => rx.messages.some((d) => fields(d.m).includes('READY=1')));
    await sleep(500);
    assert.is(await a.stop(), 0);
    assert.not.ok(rx.messages.some((d) => d.m === 'WATCHDOG=1'));
    const ignored = events(a.log(), 'notify-watchdog-ignored');
    assert.is(ignored.length, 1, a.log());
    assert.match(ignored[0]!, /WATCHDOG_PID is 1, not this process/);
  } finally {
    await rx.stop();
  }
});

test('sd_notify: nobody listening, or a relative NOTIFY_SOCKET: logged once (errno), the agent serves and exits 0', async () => {
  const dir = tmp('capsule-notify-');
  for (const [socket, errno, message] of [
    [join(dir, 'absent.sock'), 'ENOENT', /sendto .*absent\.sock failed/],
    ['relative.sock', 'EINVAL', /NOTIFY_SOCKET: expected an absolute path or an @abstract name, got \\"relative\.sock\\"/],
  ] as const) {
    const a = await agentWith({ NOTIFY_SOCKET: socket, WATCHDOG_USEC: '100000' });
    const st = await fetch(a.url + '/v1/status');
    assert.is(st.status, 200);
    await sleep(400); // a few failed pings
    assert.is(await a.stop(), 0, a.log());
    const failed = events(a.log(), 'notify-failed');
    assert.is(failed.length, 1, `logged once: ${a.log()}`);
    assert.ok(failed[0]!.includes(`"errno":"${errno}"`), failed[0]);
    assert.match(failed[0]!, message);
  }
});

// What the unit takes away, approximated without systemd (none runs here): a non-root uid with no
// groups, no capabilities and no_new_privs (setpriv), a read-only root with only /usr and the
// application executable, a writable but noexec state directory, and /proc with subset=pid and
// hidepid=invisible (a private mount namespace). Not approximated: the seccomp filter, the address
// families, IPAddressDeny, the device cgroup (they need systemd or a BPF loader).
const SANDBOX = `set -e
mount -t proc -o subset=pid,hidepid=invisible proc /proc
mount --bind "$DATA" "$DATA"
mount --bind /usr /usr
mount --bind "$APP" "$APP"
mount -o remount,bind,ro,noexec,nosuid,nodev /
mount -o remount,bind,ro,nosuid,nodev /usr
mount -o remount,bind,ro,nosuid,nodev "$APP"
mount -o remount,bind,noexec,nosuid,nodev "$DATA"
exec setpriv --reuid=65534 --regid=65534 --clear-groups --no-new-privs --bounding-set=-all --inh-caps=-all "$@"`;
const canSandbox =
  isRoot &&
  spawnSync('unshare', ['-m', 'sh', '-c', 'mount -t proc -o subset=pid proc /proc && setpriv --reuid=65534 --regid=65534 --clear-groups true']).status === 0;
if (!canSandbox) console.log('SKIPPED: the unprivileged-agent test needs root, unshare -m, proc subset=pid and setpriv');

if (canSandbox)
  test('the agent serves as an unprivileged user, read-only root, noexec state, /proc subset=pid: READY, /v1/status, STOPPING, exit 0', async () => {
    const g = await provisioned({ policy: false });
    const restoreModes: [string, number][] = [];
    try {
      const d = g.d;
      assert.is(spawnSync('chown', ['-R', '65534:65534', d.dir]).status, 0);
      // The unprivileged uid must reach d.dir: `npm test`'s TMPDIR is 0700 root. Grant search (x) on
      // the ancestors that lack it, for this test only (restored below).
      for (let a = dirname(d.dir); a !== dirname(a); a = dirname(a)) {
        const mode = statSync(a).mode & 0o7777;
        if (!(mode & 0o001)) {
          chmodSync(a, mode | 0o001);
          restoreModes.push([a, mode]);
        }
      }
      const sock = join(d.dir, 'notify.sock');
      const rx = await receiver(sock, true);
      try {
        const child = spawn(
          'unshare',
          [
            '-m',
            '--propagation',
            'private',
            'sh',
            '-c',
            SANDBOX,
            'sh',
            process.execPath,
            '--disable-warning=ExperimentalWarning',
            BIN,
            'agent',
            '--data-dir',
            d.data,
            '--listen',
            '127.0.0.1:0',
            '--clock',
            `file:${join(d.dir, 'clock')}`,
          ],
          { env: { ...d.env, DATA: d.dir, APP: ROOT, NOTIFY_SOCKET: sock, WATCHDOG_USEC: '1000000' }, stdio: ['ignore', 'ignore', 'pipe'] },
        );
        let log = '';
        child.stderr.on('data', (c) => {
          log += c;
        });
        const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
        try {
          await until(`READY=1 (${log})`, () => rx.messages.some((m) => fields(m.m).includes('READY=1')) || child.exitCode !== null);
          const url = /"event":"started","url":"([^"]+)"/.exec(log)?.[1];
          assert.ok(url, log);
          const st = (await (await fetch(url + '/v1/status')).json()) as { status: string; module: { state: string } };
          assert.is(st.status, 'started');
          assert.is(st.module.state, 'ok');
          assert.ok(readFileSync(`/proc/${child.pid}/status`, 'utf8').includes('Uid:\t65534\t65534\t65534\t65534'), 'runs as uid 65534');
        } finally {
          child.kill('SIGTERM');
        }
        assert.is(await exited, 0, log);
        assert.ok(rx.messages.some((m) => fields(m.m).includes('STOPPING=1')));
        assert.not.match(log, /EACCES|EROFS|EPERM/);
      } finally {
        await rx.stop();
      }
    } finally {
      for (const [a, mode] of restoreModes) chmodSync(a, mode);
      g.cleanup();
    }
  });

// ---------------------------------------------------------------------------------------------
// install.sh

/** A minimal root file system: accounts files as a Debian image has them, an existing i2c group. */
function targetRoot(): string {
  const r = tmp('capsule-root-');
  mkdirSync(join(r, 'etc'));
  writeFileSync(join(r, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/bash\n', { mode: 0o644 });
  writeFileSync(join(r, 'etc/group'), 'root:x:0:\ni2c:x:998:pi\n', { mode: 0o644 });
  writeFileSync(join(r, 'etc/shadow'), 'root:*:19000:0:99999:7:::\n', { mode: 0o640 });
  writeFileSync(join(r, 'etc/gshadow'), 'root:*::\ni2c:!::pi\n', { mode: 0o640 });
  return r;
}

/** Every entry's path, type, mode, owner, mtime and content hash: what "changes nothing" means. */
function treeSum(dir: string): string {
  const h = createHash('sha256');
  const walk = (rel: string) => {
    const p = join(dir, rel);
    const s = lstatSync(p);
    h.update(`${rel}\0${s.mode}\0${s.uid}\0${s.gid}\0${s.mtimeMs}\0`);
    if (s.isDirectory()) for (const n of readdirSync(p).sort()) walk(join(rel, n));
    else if (s.isSymbolicLink()) h.update(readlinkSync(p));
    else h.update(readFileSync(p));
  };
  walk('.');
  return h.digest('hex');
}

const sh = (args: string[]) => spawnSync('bash', [INSTALL, ...args], { encoding: 'utf8' });
const accounts = (r: string, file: string) =>
  new Map(
    readFileSync(join(r, 'etc', file), 'utf8')
      .trim()
      .split('\n')
      .map((l) => [l.split(':')[0]!, l.split(':')]),
  );
const mode = (p: string) => (lstatSync(p).mode & 0o7777).toString(8);

test('install.sh --help', () => {
  const r = sh(['--help']);
  assert.is(r.status, 0);
  assert.match(r.stdout, /^usage: boot\/install\.sh \[--root DIR\]/);
  assert.match(r.stdout, /Idempotent/);
});

if (!isRoot) console.log('SKIPPED: install.sh --root tests need root (the script creates a system user and sets owners)');

if (isRoot)
  test("install.sh --root: the documented layout, owners as recorded in the root's accounts, the host untouched", () => {
    const hostAccounts = ['/etc/passwd', '/etc/group'].map((f) => readFileSync(f, 'utf8'));
    const r = targetRoot();
    const run = sh(['--root', r]);
    assert.is(run.status, 0, run.stderr);
    assert.match(run.stdout, /^created group capsule \(gid \d+\)$/m);
    assert.match(run.stdout, /^created user capsule \(uid \d+\)$/m);
    assert.match(run.stdout, /^installed \/etc\/systemd\/system\/capsule-agent\.service \(mode 644\)$/m);
    // The account: a system user, no login, home = the state directory; the device groups.
    const pw = accounts(r, 'passwd').get('capsule')!;
    const gr = accounts(r, 'group');
    const uid = Number(pw[2]);
    const gid = Number(gr.get('capsule')![2]);
    assert.ok(uid > 0 && uid < 1000, `system uid ${uid}`);
    assert.is(Number(pw[3]), gid);
    assert.is(pw[5], '/var/lib/capsule');
    assert.is(pw[6], '/usr/sbin/nologin');
    assert.is(gr.get('i2c')![2], '998', 'an existing group is reused');
    assert.equal(gr.get('i2c')![3]!.split(','), ['pi', 'capsule']);
    for (const g of ['zymbit', 'tss']) assert.equal(gr.get(g)![3]!.split(','), ['capsule'], g);
    assert.ok(accounts(r, 'shadow').get('capsule')![1]!.startsWith('!'), 'no password');
    // Every group the unit asks for exists in the target (systemd refuses to start otherwise).
    const supp = /^SupplementaryGroups=(.*)$/m.exec(readFileSync(UNIT, 'utf8'))![1]!.trim().split(/\s+/);
    for (const g of supp) assert.ok(gr.has(g), `group ${g} exists`);
    // Directories and files: mode and owner.
    const layout: Array<[string, string, number, number]> = [
      ['opt/capsule', '755', 0, 0],
      ['etc/capsule', '750', 0, gid],
      ['var/lib/capsule', '700', uid, gid],
      ['etc/systemd/system/capsule-agent.service', '644', 0, 0],
      ['etc/udev/rules.d/60-capsule.rules', '644', 0, 0],
      ['usr/local/bin/capsule', '755', 0, 0],
    ];
    for (const [p, m, u, g] of layout) {
      const s = lstatSync(join(r, p));
      assert.equal([mode(join(r, p)), s.uid, s.gid], [m, u, g], p);
    }
    assert.is(readFileSync(join(r, 'etc/systemd/system/capsule-agent.service'), 'utf8'), readFileSync(UNIT, 'utf8'));
    assert.is(readFileSync(join(r, 'etc/udev/rules.d/60-capsule.rules'), 'utf8'), readFileSync(join(ROOT, 'boot/udev/60-capsule.rules'), 'utf8'));
    assert.match(
      readFileSync(join(r, 'usr/local/bin/capsule'), 'utf8'),
      /^exec \/opt\/capsule\/node_modules\/\.bin\/node .* \/opt\/capsule\/bin\/capsule\.js "\$@"$/m,
    );
    // The repository's initramfs hook/keyscript (LUKS binding), when that work has landed.
    for (const f of existsSync(join(ROOT, 'boot/initramfs/hooks')) ? readdirSync(join(ROOT, 'boot/initramfs/hooks')) : []) {
      assert.is(mode(join(r, 'etc/initramfs-tools/hooks', f)), '755', f);
    }
    assert.equal(
      ['/etc/passwd', '/etc/group'].map((f) => readFileSync(f, 'utf8')),
      hostAccounts,
      "the host's accounts are unchanged",
    );
    // The installed unit verifies in that root too.
    const v = spawnSync(
      'systemd-analyze',
      ['verify', `--root=${verifyRoot(readFileSync(join(r, 'etc/systemd/system/capsule-agent.service'), 'utf8'))}`, 'capsule-agent.service'],
      { encoding: 'utf8' },
    );
    assert.is(v.status, 0, v.stderr);
  });

if (isRoot)
  test('install.sh --root twice: the second run changes nothing (tree checksum) and says so', () => {
    const r = targetRoot();
    assert.is(sh(['--root', r]).status, 0);
    const first = treeSum(r);
    const again = sh(['--root', r]);
    assert.is(again.status, 0, again.stderr);
    assert.is(again.stdout, `nothing to do: ${r} is already installed\n`);
    assert.is(treeSum(r), first);
    // A drifted file or mode is put back, and only that.
    writeFileSync(join(r, 'etc/systemd/system/capsule-agent.service'), '[Service]\nUser=root\n');
    chmodSync(join(r, 'var/lib/capsule'), 0o755);
    const fix = sh(['--root', r]);
    assert.is(fix.status, 0, fix.stderr);
    assert.equal(fix.stdout.trim().split('\n').slice(0, -1), [
      'set /var/lib/capsule/ to mode 700, owner ' + lstatSync(join(r, 'var/lib/capsule')).uid + ':' + lstatSync(join(r, 'var/lib/capsule')).gid,
      'installed /etc/systemd/system/capsule-agent.service (mode 644)',
    ]);
    assert.is(readFileSync(join(r, 'etc/systemd/system/capsule-agent.service'), 'utf8'), readFileSync(UNIT, 'utf8'));
    assert.is(mode(join(r, 'var/lib/capsule')), '700');
  });

if (isRoot)
  test('install.sh --source: initramfs hooks to /etc/initramfs-tools/hooks, keyscripts to /lib/cryptsetup/scripts, others refused by name', () => {
    const src = tmp('capsule-src-');
    cpSync(join(ROOT, 'boot'), src, { recursive: true });
    rmSync(join(src, 'initramfs'), { recursive: true, force: true });
    mkdirSync(join(src, 'initramfs/hooks'), { recursive: true });
    writeFileSync(join(src, 'initramfs/hooks/capsule'), '#!/bin/sh\n# hook\n');
    writeFileSync(join(src, 'initramfs/capsule-keyscript'), '#!/bin/sh\n# keyscript\n');
    writeFileSync(join(src, 'initramfs/README.md'), 'docs\n');
    writeFileSync(join(src, 'initramfs/stray.bin'), 'x');
    const r = targetRoot();
    const run = sh(['--root', r, '--source', src]);
    assert.is(run.status, 0, run.stderr);
    assert.is(readFileSync(join(r, 'etc/initramfs-tools/hooks/capsule'), 'utf8'), '#!/bin/sh\n# hook\n');
    assert.is(mode(join(r, 'etc/initramfs-tools/hooks/capsule')), '755');
    assert.is(readFileSync(join(r, 'lib/cryptsetup/scripts/capsule-keyscript'), 'utf8'), '#!/bin/sh\n# keyscript\n');
    assert.is(mode(join(r, 'lib/cryptsetup/scripts/capsule-keyscript')), '755');
    assert.not.ok(existsSync(join(r, 'etc/initramfs-tools/hooks/README.md')));
    assert.match(run.stderr, /^install\.sh: warning: .*stray\.bin: neither a hook nor a keyscript by its name; not installed$/m);
    assert.match(run.stdout, /run update-initramfs -u once \/etc\/crypttab names the keyscript/);
    const again = sh(['--root', r, '--source', src]);
    assert.match(again.stdout, /^nothing to do/);
  });

if (isRoot)
  test('install.sh errors: one `install.sh: error:` line and a hint, exit 1, nothing written', () => {
    const cases: Array<[string[], RegExp]> = [
      [['--bogus'], /^install\.sh: error: unknown argument: --bogus\ninstall\.sh: hint: usage: /],
      [['--root'], /^install\.sh: error: --root: expected a directory, got nothing\n/],
      [['--root', join(tmpdir(), `absent-${randomBytes(4).toString('hex')}`)], /^install\.sh: error: --root: expected an existing directory, got .*absent-/],
      [
        ['--root', tmp('capsule-empty-')],
        /^install\.sh: error: --root: .*\/etc\/passwd not found: expected a root file system\ninstall\.sh: hint: mount the target/,
      ],
      [
        ['--root', targetRoot(), '--source', tmp('capsule-nosrc-')],
        /^install\.sh: error: --source: .* has no capsule-agent\.service and udev\/60-capsule\.rules\n/,
      ],
    ];
    for (const [args, message] of cases) {
      const before = args[1] && existsSync(args[1]) ? treeSum(args[1]) : '';
      const r = sh(args);
      assert.is(r.status, 1, args.join(' '));
      assert.is(r.stdout, '');
      assert.match(r.stderr, message);
      if (before) assert.is(treeSum(args[1]!), before, `nothing written into ${args[1]}`);
    }
  });

test.after(() => guardian?.cleanup());
test.run();
