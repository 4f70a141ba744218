/**
 * CLI faults (issue 18), with the real `capsule` binary, real capsules, real signals:
 * D6 — a `capsule decrypt -o` killed with SIGKILL mid-write leaves a temporary file holding
 * plaintext; the next write into that directory sweeps it (only when its writer is dead), and a
 * capsule that fails only at its end sends no byte to stdout.
 * D8 — the seed process of `guardian init` runs in bubblewrap (no network, read-only filesystem
 * but for the module's state, seccomp); init fails closed where it cannot confine it, unless
 * --allow-unisolated (recorded).
 * D9 — the soft passphrase comes from a file (or systemd credential) and never reaches a child's
 * environment (the seed process gets it on a pipe).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSeedProcess } from '../agent/guardian/provision.ts';
import { seedSandbox } from '../agent/guardian/seedSandbox.ts';
import { BIN, capsule } from './helpers/cli.ts';
import { assertFails, device, init, run, type Device } from './helpers/guardianDevice.ts';

const dir = mkdtempSync(join(tmpdir(), 'cli-faults-'));
const SIZE = 8 * 1024 * 1024 + 12_345; // several 1 MiB output batches, not a chunk multiple
const plain = randomBytes(SIZE);
const CHUNK_WIRE = 65536 + 16;

const partials = (d = dir) => readdirSync(d).filter((f) => f.endsWith('.partial'));

test.before(() => {
  writeFileSync(join(dir, 'plain.bin'), plain);
  writeFileSync(join(dir, 'any.wasm'), Uint8Array.of(0, 0x61, 0x73, 0x6d, 1, 0, 0, 0));
  assert.is(capsule(['keygen', '-o', 'g.key'], dir).code, 0);
  const recipient = /age1[0-9a-z]+/.exec(readFileSync(join(dir, 'g.key'), 'utf8'))![0];
  const s = capsule(['seal', 'plain.bin', '--guardian', recipient, '--logic', 'any.wasm', '-o', 'big.capsule'], dir);
  assert.is(s.code, 0, s.stderr);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

/**
 * `capsule decrypt - -o OUT` fed through a pipe that stops after `feed` bytes: waits until the
 * temporary file holds plaintext, then kills the process with SIGKILL. Returns the partial's name.
 */
async function killMidWrite(out: string, feed: number): Promise<string> {
  const child = spawn(process.execPath, [BIN, 'decrypt', '-', '--identity', 'g.key', '-o', out], { cwd: dir, stdio: ['pipe', 'ignore', 'ignore'] });
  child.stdin.on('error', () => {});
  child.stdin.write(readFileSync(join(dir, 'big.capsule')).subarray(0, feed)); // and then nothing: the pipe stays open
  const exited = new Promise((r) => child.on('exit', r));
  let name: string | undefined;
  for (let i = 0; i < 600; i++) {
    name = partials().find((f) => f.startsWith(`.${out}.`) && statSync(join(dir, f)).size > 0);
    if (name) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  child.kill('SIGKILL');
  await exited;
  assert.ok(name, 'the temporary output appeared and held data before the kill');
  return name!;
}

test('D6: a SIGKILLed `decrypt -o` leaves plaintext in its temporary file; the next decrypt into that directory removes it', async () => {
  const name = await killMidWrite('killed.bin', 3 * 1024 * 1024);
  // The hazard itself: the partial holds plaintext, and it is named after its (dead) writer.
  assert.match(name, /^\.killed\.bin\.\d+-\d+-[0-9a-f]{8}\.[0-9a-f]{12}\.partial$/);
  const held = readFileSync(join(dir, name));
  assert.ok(held.length >= 1024 * 1024 && held.equals(plain.subarray(0, held.length)), 'the partial held a plaintext prefix');
  assert.not.ok(existsSync(join(dir, 'killed.bin')));
  const r = capsule(['decrypt', 'big.capsule', '--identity', 'g.key', '-o', 'next.bin'], dir);
  assert.is(r.code, 0, r.stderr);
  assert.ok(readFileSync(join(dir, 'next.bin')).equals(plain));
  assert.equal(partials(), [], 'swept: its writer is dead');
  rmSync(join(dir, 'next.bin'));
});

test("D6: a live writer's temporary file is not swept; one from a previous boot is", async () => {
  const child = spawn(process.execPath, [BIN, 'decrypt', '-', '--identity', 'g.key', '-o', 'slow.bin'], { cwd: dir, stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c) => {
    stderr += c;
  });
  const whole = readFileSync(join(dir, 'big.capsule'));
  const half = 2 * 1024 * 1024;
  child.stdin.write(whole.subarray(0, half));
  let live: string | undefined;
  for (let i = 0; i < 600 && !live; i++) {
    live = partials().find((f) => f.startsWith('.slow.bin.') && statSync(join(dir, f)).size > 0);
    if (!live) await new Promise((r) => setTimeout(r, 20));
  }
  assert.ok(live, "the slow writer's temporary file exists");
  const stale = `.old.bin.${process.pid}-1-00000000.0123456789ab.partial`; // boot id 00000000: not this boot
  writeFileSync(join(dir, stale), 'plaintext from before a power cut');
  const r = capsule(['decrypt', 'big.capsule', '--identity', 'g.key', '-o', 'other.bin'], dir);
  assert.is(r.code, 0, r.stderr);
  assert.ok(existsSync(join(dir, live!)), 'a running decrypt keeps its temporary file');
  assert.not.ok(existsSync(join(dir, stale)), "a previous boot's temporary file is swept");
  child.stdin.end(whole.subarray(half));
  const code = await new Promise((res) => child.on('close', res));
  assert.is(code, 0, stderr);
  assert.ok(readFileSync(join(dir, 'slow.bin')).equals(plain), 'and completes intact');
  assert.equal(partials(), []);
  for (const f of ['slow.bin', 'other.bin']) rmSync(join(dir, f));
});

test('D6: a capsule that fails only at its end (trailing byte, cut at a chunk boundary) writes nothing to stdout', () => {
  const whole = readFileSync(join(dir, 'big.capsule'));
  writeFileSync(join(dir, 'trailing.capsule'), whole);
  appendFileSync(join(dir, 'trailing.capsule'), Buffer.of(0));
  const t = capsule(['decrypt', 'trailing.capsule', '--identity', 'g.key'], dir);
  assert.is(t.code, 1);
  assert.match(t.stderr, /^capsule: error: .*\ncapsule: hint: .+\n$/);
  assert.match(t.stderr, /data continues after the final chunk/);
  assert.is(t.stdout.length, 0, `stdout carried ${t.stdout.length} bytes of a capsule that failed`);
  // Cut after the 100th whole chunk: every chunk read verifies; the missing end is found last.
  const header = whole.length - Math.ceil(SIZE / 65536) * CHUNK_WIRE;
  writeFileSync(join(dir, 'cut.capsule'), whole.subarray(0, header + 100 * CHUNK_WIRE));
  const c = capsule(['decrypt', 'cut.capsule', '--identity', 'g.key'], dir);
  assert.is(c.code, 1);
  assert.match(c.stderr, /^capsule: error: .*\ncapsule: hint: .+\n$/);
  assert.is(c.stdout.length, 0, `stdout carried ${c.stdout.length} bytes of a truncated capsule`);
  // The intact capsule still decrypts to stdout, whole.
  const ok = capsule(['decrypt', 'big.capsule', '--identity', 'g.key'], dir);
  assert.is(ok.code, 0, ok.stderr);
  assert.ok(ok.stdout.equals(plain));
  for (const f of ['trailing.capsule', 'cut.capsule']) rmSync(join(dir, f));
});

// ------------------------------------------------------------------------------------------------
// D8: the seed process's confinement

const PROBE = fileURLToPath(new URL('./helpers/seedProbe.ts', import.meta.url));

test("D8: the seed process cannot open a network socket, reach a host Unix socket, or write outside the module's state", async () => {
  const d = device();
  try {
    mkdirSync(d.data, { mode: 0o700 });
    const tcp = createServer((s) => s.end());
    await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', () => r()));
    const sock = join(d.dir, 'host.sock'); // a host service's socket, as a compromised child would look for
    const unix = createServer((s) => s.end());
    await new Promise<void>((r) => unix.listen(sock, () => r()));
    try {
      const box = seedSandbox(d.env, { library: d.env.CAPSULE_ZYMBIT_LIB, dataDir: d.data, allowUnisolated: false });
      assert.ok(box.isolated);
      assert.match(box.isolation, /^bubblewrap: .*; writable: .*module; seccomp: \d+ syscalls denied$/);
      const args = {
        tcpPort: (tcp.address() as { port: number }).port,
        unixSocket: sock,
        dataDir: d.data,
        writable: d.env.ZK_SIM_STATE_DIR,
        home: homedir(),
        parentPid: process.pid,
      };
      const child = spawnSeedProcess(box, PROBE, [JSON.stringify(args)], { ...d.env, CAPSULE_SOFT_PASSPHRASE: 'must-not-pass' }, 'sent-on-fd-5');
      const chunks: Buffer[] = [];
      child.stdio[3]!.on('data', (c: Buffer) => chunks.push(c));
      const code = await new Promise((r) => child.on('close', r));
      assert.is(code, 0);
      const out = JSON.parse(Buffer.concat(chunks).toString()) as Record<string, string>;
      assert.is(out.tcp, 'EPERM', 'socket(AF_INET) is denied by the seccomp filter');
      assert.is(out.unix, 'ENOENT', "the host's Unix sockets are not in its filesystem");
      // The data dir's parent is, inside, a directory of the sandbox's private /tmp: a write there
      // (if any) lands in that tmpfs and vanishes with it; it never reaches the host (checked below).
      assert.ok(['ok', 'EROFS', 'ENOENT', 'EACCES'].includes(out.writeDataDirParent!), `data dir's parent: ${out.writeDataDirParent}`);
      assert.ok(['EROFS', 'EACCES'].includes(out.writeDataDir!), `data dir: ${out.writeDataDir}`);
      assert.is(out.writeAllowed, 'ok', "the module's state directory is writable");
      assert.is(out.readHome, 'ENOENT', 'no home directory');
      assert.is(out.signalParent, 'ESRCH', 'own pid namespace');
      // What is bound keeps its path, so the private /tmp holds only the first component under /tmp of
      // the bound directories (the device dir itself, or the test run's TMPDIR that contains it).
      // (The project itself is bound too, for Node's modules: it shows when the checkout is under /tmp.)
      const tops = [...new Set([d.dir, process.cwd()].filter((p) => p.startsWith('/tmp/')).map((p) => p.slice('/tmp/'.length).split('/')[0]!))];
      assert.is(
        out.tmp!.split(',').filter(Boolean).sort().join(','),
        tops.sort().join(','),
        "a private /tmp: only the mount points of what is bound, none of the host's files",
      );
      assert.is(out.secret, 'sent-on-fd-5', 'the secret arrives on fd 5');
      assert.not.match(out.envKeys!, /PASSPHRASE/, 'and never in the environment');
      assert.not.ok(existsSync(join(d.dir, 'escaped')) || existsSync(join(d.data, 'escaped')));
    } finally {
      tcp.close();
      unix.close();
    }
  } finally {
    rmSync(d.dir, { recursive: true, force: true });
  }
});

/** A PATH holding only `env` (no bwrap, no unshare): confinement is unavailable. */
function barePath(d: Device): string {
  const bin = join(d.dir, 'bare-bin');
  mkdirSync(bin);
  return bin;
}

test('D8: init fails closed when the seed process cannot be confined; --allow-unisolated proceeds, warns, and records it', async () => {
  const d = device();
  try {
    const PATH = barePath(d);
    const refused = await init(d, { env: { PATH } });
    assertFails({ ...refused, code: refused.code }, /cannot confine the seed process: bwrap not found in PATH/, /install bubblewrap .*--allow-unisolated/);
    assert.not.ok(existsSync(join(d.data, 'guardian.json')), 'nothing provisioned');
    const ok = await init(d, { env: { PATH }, args: ['--allow-unisolated'] });
    assert.is(ok.code, 0, ok.stderr);
    assert.match(ok.stderr, /capsule: warning: the seed process runs WITHOUT confinement \(--allow-unisolated\): UNISOLATED/);
    const record = JSON.parse(readFileSync(join(d.data, 'guardian.json'), 'utf8'));
    assert.match(
      record.isolation,
      /^UNISOLATED \(--allow-unisolated\): bwrap not found in PATH; unshare not found in PATH; own process and minimal environment only$/,
    );
    assert.match(run(d, ['guardian', 'show', '--data-dir', d.data]).stdout, /seed-process: UNISOLATED \(--allow-unisolated\)/);
  } finally {
    rmSync(d.dir, { recursive: true, force: true });
  }
});

// ------------------------------------------------------------------------------------------------
// D9: the soft backend's passphrase

/** Environments of running seed processes (bwrap and node, found by their command line). */
function seedEnvironments(): string[] {
  const envs: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('seedChild.ts')) envs.push(readFileSync(`/proc/${pid}/environ`, 'utf8'));
    } catch {
      // gone, or not ours
    }
  }
  return envs;
}

test("D9: the soft passphrase is read from a file or the environment and never reaches the seed process's environment", async () => {
  const d = device();
  try {
    const secret = `pass-${randomBytes(8).toString('hex')}`;
    const file = join(d.dir, 'soft-passphrase');
    writeFileSync(file, secret + '\n', { mode: 0o600 });
    const envs: Array<Record<string, string>> = [{ CAPSULE_SOFT_PASSPHRASE_FILE: file }, { CAPSULE_SOFT_PASSPHRASE: secret }];
    for (const env of envs) {
      let seen: string[] = [];
      const r = await init(d, {
        args: ['--backend', 'soft', '--force'],
        env,
        answer: (words, positions) => {
          seen = seedEnvironments();
          return positions.map((i) => words[i]).join('\n') + '\n';
        },
      });
      assert.is(r.code, 0, r.stderr);
      assert.ok(seen.length >= 1, 'the seed process was found while it waited for the words');
      for (const e of seen) assert.not.ok(e.includes(secret), "the passphrase is not in the seed process's environment");
    }
    // The file alone opens the guardian; a missing or empty file is a clear usage error.
    const show = run(d, ['guardian', 'show', '--data-dir', d.data], undefined, { CAPSULE_SOFT_PASSPHRASE_FILE: file });
    assert.is(show.code, 0, show.stderr);
    assertFails(
      run(d, ['guardian', 'show', '--data-dir', d.data], undefined, { CAPSULE_SOFT_PASSPHRASE_FILE: join(d.dir, 'absent') }),
      /the soft passphrase file .*absent cannot be read \(ENOENT\)/,
    );
    writeFileSync(join(d.dir, 'empty'), '');
    assertFails(
      run(d, ['guardian', 'show', '--data-dir', d.data], undefined, { CAPSULE_SOFT_PASSPHRASE_FILE: join(d.dir, 'empty') }),
      /the soft passphrase file .*empty is empty/,
    );
    // systemd's LoadCredential=soft-passphrase:… puts it in $CREDENTIALS_DIRECTORY.
    mkdirSync(join(d.dir, 'creds'));
    writeFileSync(join(d.dir, 'creds', 'soft-passphrase'), secret);
    assert.is(run(d, ['guardian', 'show', '--data-dir', d.data], undefined, { CREDENTIALS_DIRECTORY: join(d.dir, 'creds') }).code, 0);
  } finally {
    rmSync(d.dir, { recursive: true, force: true });
  }
});

test('D9: `capsule agent` removes CAPSULE_SOFT_PASSPHRASE from its environment, and runs no child process that could inherit anything', async () => {
  const d = device();
  try {
    const secret = `pass-${randomBytes(8).toString('hex')}`;
    assert.is((await init(d, { args: ['--backend', 'soft'], env: { CAPSULE_SOFT_PASSPHRASE: secret } })).code, 0);
    // Its one child under systemd used to be systemd-notify; it now speaks sd_notify itself
    // (agent/daemon/sdNotify.ts, test/device-service.test.ts), so under NOTIFY_SOCKET it has none.
    const env = { ...d.env, CAPSULE_SOFT_PASSPHRASE: secret, NOTIFY_SOCKET: join(d.dir, 'notify.sock') };
    const child = spawn(process.execPath, [BIN, 'agent', '--data-dir', d.data, '--listen', '127.0.0.1:0', '--clock', 'system'], {
      cwd: d.dir,
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let log = '';
    child.stderr.on('data', (c) => {
      log += c;
    });
    const exited = new Promise((r) => child.on('exit', r));
    try {
      for (let i = 0; i < 300 && !log.includes('"event":"started"'); i++) await new Promise((r) => setTimeout(r, 50));
      assert.ok(log.includes('"event":"started"'), `the agent started: ${log}`);
      const tasks = readdirSync(`/proc/${child.pid}/task`);
      const children = tasks.flatMap((t) => readFileSync(`/proc/${child.pid}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean));
      assert.equal(children, [], 'no child processes');
      assert.not.ok(log.includes(secret), 'the passphrase is not logged');
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  } finally {
    rmSync(d.dir, { recursive: true, force: true });
  }
});

test.run();
