/**
 * Issue #12 item 1: the root disk bound to the module, on a LUKS2 *image file* (real cryptsetup,
 * the Zymbit simulator through the real koffi binding, a guardian provisioned by the real
 * `capsule guardian init`, the real `capsule` binary and the real keyscript):
 *  - enrol → `cryptsetup luksDump` lists the capsule-device token on its keyslot; `token export`
 *    shows the binding; the lock blob is 0600 and does not contain the key;
 *  - `capsule device luks-key img | cryptsetup open --test-passphrase --key-file - img` succeeds
 *    (also with --key-slot N; and not on the passphrase's slot);
 *  - the keyscript, run with the environment cryptroot gives it (CRYPTTAB_SOURCE, …), prints a key
 *    that opens the slot (a module binding waits for no TPM device); on failure it prints one line
 *    and exits 1 with nothing on stdout; after the module attempts it hands over to askpass (the
 *    passphrase); a refusal a retry cannot change (another module: luks-key exits 3) goes to askpass
 *    at once, and cryptroot's next call does not ask the module again;
 *  - the initramfs hook, run with initramfs-tools' hook-functions into a scratch DESTDIR, copies
 *    node, the app, the library and the lock blob; the copy, chrooted, unlocks the key;
 *  - refusals, each by the library (name, code, message) and the CLI (exit 1, or 3 where a retry
 *    cannot help; one error line and a hint, no key on stdout): tampered blob (hash), blob and token
 *    altered together (module MAC), another module (fresh simulator state, exit 3), unknown token version, an unknown binding kind (skipped)
 *    and a malformed known one (refused), --backend naming a binding the token lacks or a backend the
 *    guardian does not have, --pcrs on a module guardian, a token pointing elsewhere, a
 *    blob of another purpose (the guardian's locked seed), module absent, no token, not LUKS,
 *    enrolled twice, wrong existing key (nothing left behind), slot taken, a failed token import
 *    (the keyslot and blob are rolled back), a terminal on stdout.
 * Not tested here: mapping the device (`cryptsetup open` without --test-passphrase needs
 * device-mapper, which this machine does not have) and a real boot through cryptroot.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, symlinkSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BIN } from './helpers/cli.ts';
import { expectError, rejectsError, throwsError } from './helpers/assertError.ts';
import { device, init, LIB, type Device } from './helpers/guardianDevice.ts';
import { retryCannotHelp, unlockLuksKey } from '../agent/device/luksKey.ts';
import { enrollLuks } from '../agent/device/luksEnroll.ts';
import { main, withExitCode } from '../agent/cli/main.ts';
import { PassThrough } from 'node:stream';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const KEYSCRIPT = join(ROOT, 'boot/initramfs/capsule-luks-keyscript');
const HOOK = join(ROOT, 'boot/initramfs/hooks/capsule-luks');
const FAST = ['--pbkdf', 'pbkdf2', '--pbkdf-force-iterations', '1000'];

let d: Device;
let work: string;
let img: string;
let pass: string; // the operator's existing key file (keyslot 0)
let uuid: string;
let askpass: string; // a stand-in for cryptsetup's askpass: prints what it was asked

interface Out {
  code: number;
  stdout: Buffer;
  stderr: string;
}
function run(cmd: string, args: string[], o: { env?: NodeJS.ProcessEnv; input?: Uint8Array | string } = {}): Out {
  const r = spawnSync(cmd, args, { cwd: work, env: o.env ?? d.env, input: o.input ?? '', timeout: 120_000, maxBuffer: 1 << 26 });
  if (r.error) throw r.error;
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr.toString() };
}
const capsule = (args: string[], env?: NodeJS.ProcessEnv) => run(process.execPath, [BIN, ...args], { env });
const cs = (args: string[], input?: Uint8Array | string) => run('cryptsetup', args, { input });

function format(path: string): void {
  run('truncate', ['-s', '32M', path]);
  const r = cs(['luksFormat', '--type', 'luks2', '--batch-mode', '--key-file', pass, ...FAST, path]);
  assert.is(r.code, 0, r.stderr);
}
function tokenJson(path = img, id = 0): Record<string, any> {
  const r = cs(['token', 'export', '--token-id', String(id), path]);
  assert.is(r.code, 0, r.stderr);
  return JSON.parse(r.stdout.toString());
}
function replaceToken(t: unknown, path = img, id = 0): void {
  const r = cs(['token', 'import', '--token-replace', '--token-id', String(id), '--json-file', '-', path], JSON.stringify(t));
  assert.is(r.code, 0, r.stderr);
}
/** A refusal as the CLI reports it: exit `code` (1; 3 when a retry cannot help), nothing on stdout, one error line matching `msg`, a hint. */
function refused(r: Out, msg: RegExp, code = 1): void {
  assert.is(r.code, code, r.stderr);
  assert.is(r.stdout.length, 0, 'no key printed');
  const lines = r.stderr.trimEnd().split('\n');
  assert.is(lines.length, 2, r.stderr);
  assert.match(lines[0]!, /^capsule: error: /);
  assert.match(lines[0]!, msg);
  assert.match(lines[1]!, /^capsule: hint: /);
}
/** Runs `fn` in this process with the device's simulator settings in process.env (the C library reads them). */
async function inProcess<T>(fn: () => Promise<T>, extra: Record<string, string> = {}): Promise<T> {
  const keys = ['CAPSULE_ZYMBIT_LIB', 'ZK_SIM_STATE_DIR', 'ZK_SIM_MODEL', ...Object.keys(extra)];
  const saved = Object.fromEntries(keys.map((k) => [k, process.env[k]]));
  Object.assign(
    process.env,
    { CAPSULE_ZYMBIT_LIB: d.env.CAPSULE_ZYMBIT_LIB, ZK_SIM_STATE_DIR: d.env.ZK_SIM_STATE_DIR, ZK_SIM_MODEL: d.env.ZK_SIM_MODEL },
    extra,
  );
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved))
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
  }
}
const unlock = (extra: Record<string, string> = {}) => inProcess(() => unlockLuksKey({ device: img, dataDir: d.data, env: { ...process.env } }), extra);
const lockFile = () => join(d.data, 'luks', `${uuid}.lock`);
const keyOpens = (key: Uint8Array, slot?: number) =>
  cs(['open', '--test-passphrase', '--key-file', '-', ...(slot === undefined ? [] : ['--key-slot', String(slot)]), img], key).code === 0;

test.before(async () => {
  d = device('HSM6');
  work = mkdtempSync(join(tmpdir(), 'capsule-luks-test-'));
  askpass = join(work, 'askpass');
  writeFileSync(askpass, '#!/bin/sh\nprintf "typed passphrase for: %s" "$1"\n');
  chmodSync(askpass, 0o755);
  const r = await init(d);
  assert.is(r.code, 0, r.stderr);
  img = join(work, 'disk.img');
  pass = join(work, 'passphrase.key');
  writeFileSync(pass, randomBytes(32), { mode: 0o600 });
  format(img);
  uuid = cs(['luksUUID', img]).stdout.toString().trim();
});
test.after(() => rmSync(work, { recursive: true, force: true }));

test('luks-enroll binds a keyslot: luksDump lists the token, token export shows the binding, the blob is 0600', () => {
  const r = capsule(['device', 'luks-enroll', img, '--data-dir', d.data, '--key-file', pass]);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout.length, 0, 'stdout carries data only: nothing here');
  assert.match(r.stderr, /^capsule: keyslot 1 of .* is bound to module SIM-[0-9a-f]{16} /);
  const dump = cs(['luksDump', img]).stdout.toString();
  assert.match(dump, /Tokens:\n\s+0: capsule-device\n\s+Keyslot:\s+1\n/);
  const t = tokenJson();
  assert.is(t.type, 'capsule-device');
  assert.is(t.version, 1);
  assert.equal(t.keyslots, ['1']);
  assert.is(t.bindings.length, 1);
  const b = t.bindings[0];
  assert.is(b.kind, 'zymbit-lock');
  assert.is(b.path, `luks/${uuid}.lock`);
  assert.is(b.sha256, createHash('sha256').update(readFileSync(lockFile())).digest('hex'));
  assert.is(b.model.startsWith('HSM6'), true, b.model);
  assert.is(statSync(lockFile()).mode & 0o777, 0o600);
  // The added keyslot uses the fast PBKDF (a random 64-byte key needs no stretching).
  const meta = JSON.parse(cs(['luksDump', '--dump-json-metadata', img]).stdout.toString());
  assert.equal(meta.keyslots['1'].kdf.type, 'pbkdf2');
  assert.equal(meta.keyslots['1'].kdf.iterations, 1000);
  assert.is(meta.keyslots['1'].key_size, 64);
});

test('luks-key | cryptsetup open --test-passphrase --key-file - opens the slot (and --key-slot 1), not slot 0', () => {
  const pipe = (slot: string) =>
    run('sh', ['-c', `"$NODE" "$BIN" device luks-key "$IMG" --data-dir "$DATA" | cryptsetup open --test-passphrase --key-file - ${slot} "$IMG"`], {
      env: { ...d.env, NODE: process.execPath, BIN, IMG: img, DATA: d.data },
    });
  const any = pipe('');
  assert.is(any.code, 0, any.stderr);
  assert.is(any.stderr, '');
  assert.is(pipe('--key-slot 1').code, 0);
  assert.is.not(pipe('--key-slot 0').code, 0, "the key is not the passphrase slot's");
  const r = capsule(['device', 'luks-key', img, '--data-dir', d.data]);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout.length, 64);
  assert.is(r.stderr, '');
  // The key appears in neither the blob nor the header (it is stored only locked).
  assert.is(readFileSync(lockFile()).includes(r.stdout), false);
  assert.is(
    readFileSync(img)
      .subarray(0, 16 << 20)
      .includes(r.stdout),
    false,
  );
});

test('unlockLuksKey returns the key and the slot; the same key opens the slot', async () => {
  const u = await unlock();
  assert.is(u.key.length, 64);
  assert.is(u.slot, 1);
  assert.ok(keyOpens(u.key, 1));
});

test('the keyscript, with the environment cryptroot gives it, prints the key that opens the slot', () => {
  const state = mkdtempSync(join(work, 'state-')); // the keyscript's refusal record (never /run here)
  const env = {
    ...d.env,
    CRYPTTAB_SOURCE: img,
    CRYPTTAB_NAME: 'root',
    CRYPTTAB_KEY: 'none',
    CRYPTTAB_TRIED: '0',
    CAPSULE_LUKS_CONF: join(work, 'none.conf'),
    CAPSULE_NODE: process.execPath,
    CAPSULE_APP: ROOT,
    CAPSULE_DATA_DIR: d.data,
    CAPSULE_LUKS_STATE_DIR: state,
  };
  const r = run(KEYSCRIPT, [], { env });
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout.length, 64);
  assert.is(r.stderr, '');
  assert.ok(keyOpens(r.stdout, 1));
  // Settings may come from the conf file instead of the environment.
  const conf = join(work, 'luks-keyscript.conf');
  writeFileSync(conf, `CAPSULE_NODE='${process.execPath}'\nCAPSULE_APP='${ROOT}'\nCAPSULE_DATA_DIR='${d.data}'\n`);
  const viaConf = run(KEYSCRIPT, [], { env: { ...d.env, CRYPTTAB_SOURCE: img, CRYPTTAB_TRIED: '0', CAPSULE_LUKS_CONF: conf, CAPSULE_LUKS_STATE_DIR: state } });
  assert.is(viaConf.code, 0, viaConf.stderr);
  assert.equal(viaConf.stdout, r.stdout);
  // A module binding (no TPM seal store) does not wait for a TPM device, whatever the TCTI says.
  const t0 = Date.now();
  const noWait = run(KEYSCRIPT, [], { env: { ...env, CAPSULE_TPM_TCTI: 'device:/nonexistent/tpmrm0', CAPSULE_TPM_WAIT: '5' } });
  assert.is(noWait.code, 0, noWait.stderr);
  assert.equal(noWait.stdout, r.stdout);
  assert.ok(Date.now() - t0 < 4000, 'no wait');
});

test('the keyscript on failure: one console line, exit 1, no key; after the module attempts, askpass', () => {
  const base = {
    ...d.env,
    CRYPTTAB_SOURCE: img,
    CRYPTTAB_NAME: 'root',
    CAPSULE_LUKS_CONF: join(work, 'none.conf'),
    CAPSULE_NODE: process.execPath,
    CAPSULE_APP: ROOT,
    CAPSULE_DATA_DIR: d.data,
    CAPSULE_ZYMBIT_LIB: join(work, 'no-such-lib.so'),
    CAPSULE_LUKS_STATE_DIR: mkdtempSync(join(work, 'state-')),
  };
  const r = run(KEYSCRIPT, [], { env: { ...base, CRYPTTAB_TRIED: '0' } });
  assert.is(r.code, 1);
  assert.is(r.stdout.length, 0);
  assert.match(r.stderr, /^capsule-luks: module unlock of root failed \(attempt 1\/2\): no security module answered through .*no-such-lib\.so/);
  assert.is(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
  assert.equal(readdirSync(base.CAPSULE_LUKS_STATE_DIR), [], 'a failure that may pass is not recorded');
  // Attempts used up: the passphrase, through askpass (a stand-in that prints what it was asked).
  const fallback = run(KEYSCRIPT, [], { env: { ...base, CRYPTTAB_TRIED: '2', CAPSULE_ASKPASS: askpass } });
  assert.is(fallback.code, 0, fallback.stderr);
  assert.is(fallback.stdout.toString(), 'typed passphrase for: Security module unavailable; passphrase for root: ');
  const none = run(KEYSCRIPT, [], { env: { ...base, CRYPTTAB_TRIED: '2', CAPSULE_ASKPASS: join(work, 'absent') } });
  assert.is(none.code, 1);
  assert.match(none.stderr, /^capsule-luks: module attempts used up and no askpass/);
  const noSource = run(KEYSCRIPT, [], { env: { ...base, CRYPTTAB_SOURCE: '', CRYPTTAB_TRIED: '0' } });
  assert.is(noSource.code, 1);
  assert.match(noSource.stderr, /^capsule-luks: CRYPTTAB_SOURCE is not set/);
});

test('the initramfs hook copies what the keyscript needs; chrooted, the copy unlocks the key', () => {
  const dest = join(work, 'initramfs');
  mkdirSync(join(dest, 'usr'), { recursive: true });
  // The skeleton mkinitramfs makes on a merged-/usr system (the loader lands in /usr/lib64).
  for (const l of ['bin', 'sbin', 'lib', 'lib64']) {
    mkdirSync(join(dest, 'usr', l));
    symlinkSync(`usr/${l}`, join(dest, l));
  }
  const conf = join(work, 'hook.conf');
  writeFileSync(
    conf,
    `CAPSULE_NODE='${process.execPath}'\nCAPSULE_APP='${ROOT.replace(/\/$/, '')}'\nCAPSULE_DATA_DIR='${d.data}'\nCAPSULE_ZYMBIT_LIB='${LIB}'\nCAPSULE_INITRAMFS_EXTRA='${spawnSync('sh', ['-c', 'command -v cryptsetup']).stdout.toString().trim()}'\n`,
  );
  const r = run('sh', [HOOK], { env: { ...d.env, DESTDIR: dest, CAPSULE_LUKS_CONF: conf, verbose: 'n' } });
  assert.is(r.code, 0, r.stderr);
  for (const p of [
    process.execPath,
    LIB,
    join(ROOT, 'bin/capsule.js'),
    join(ROOT, 'agent/device/luksKey.ts'),
    join(ROOT, 'node_modules/koffi/package.json'),
    lockFile(),
    '/etc/capsule/luks-keyscript.conf',
  ]) {
    assert.ok(existsSync(join(dest, p)), `${p} is in the initramfs`);
  }
  assert.not.ok(existsSync(join(dest, ROOT, 'test')), 'tests stay out');
  // Root only (chroot): the tree alone (plus the image, /dev and /proc) runs luks-key.
  if (process.getuid?.() !== 0) {
    console.log("SKIPPED: chroot into the hook's tree needs root");
    return;
  }
  mkdirSync(join(dest, 'dev'), { recursive: true });
  mkdirSync(join(dest, 'proc'), { recursive: true });
  mkdirSync(join(dest, 'tmp'), { recursive: true });
  copyFileSync(img, join(dest, 'disk.img'));
  const env = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', ZK_SIM_STATE_DIR: d.env.ZK_SIM_STATE_DIR!, ZK_SIM_MODEL: 'HSM6', CAPSULE_ZYMBIT_LIB: LIB };
  // The simulator's state stands for the module: it is outside the initramfs, bound in read-write.
  const u = run(
    'unshare',
    [
      '-m',
      'sh',
      '-c',
      `mount --bind /dev "$D/dev" && mount -t proc proc "$D/proc" && mkdir -p "$D$S" && mount --bind "$S" "$D$S" && exec chroot "$D" "$NODE" "$BIN" device luks-key /disk.img --data-dir "$DATA"`,
    ],
    {
      env: { ...env, D: dest, S: d.env.ZK_SIM_STATE_DIR!, NODE: process.execPath, BIN, DATA: d.data },
    },
  );
  assert.is(u.code, 0, u.stderr);
  assert.is(u.stdout.length, 64);
  assert.ok(keyOpens(u.stdout, 1));
});

test('tampered lock blob: ERR_LOCK_INTEGRITY (hash), no key', async () => {
  const good = readFileSync(lockFile());
  const bad = Buffer.from(good);
  bad[bad.length >> 1]! ^= 1;
  writeFileSync(lockFile(), bad);
  try {
    await rejectsError(() => unlock(), 'DeviceError', 'ERR_LOCK_INTEGRITY', /lock blob .* does not match the token's SHA-256/);
    refused(capsule(['device', 'luks-key', img, '--data-dir', d.data]), /does not match the token's SHA-256/);
  } finally {
    writeFileSync(lockFile(), good);
  }
});

test("blob and token altered together: the module's MAC refuses (ERR_LOCK_INTEGRITY)", async () => {
  const good = readFileSync(lockFile());
  const t = tokenJson();
  const bad = Buffer.from(good);
  bad[bad.length - 5]! ^= 0x80;
  writeFileSync(lockFile(), bad);
  replaceToken({ ...t, bindings: [{ ...t.bindings[0], sha256: createHash('sha256').update(bad).digest('hex') }] });
  try {
    await rejectsError(() => unlock(), 'DeviceError', 'ERR_LOCK_INTEGRITY', /the module refused the lock blob \(its MAC does not verify\)/);
    refused(capsule(['device', 'luks-key', img, '--data-dir', d.data]), /MAC does not verify/);
  } finally {
    writeFileSync(lockFile(), good);
    replaceToken(t);
  }
});

test('moved to another module (fresh simulator state): the module refuses (ERR_WRONG_MODULE)', async () => {
  const other = join(work, 'other-module');
  mkdirSync(other);
  const thrown = await unlock({ ZK_SIM_STATE_DIR: other }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expectError(thrown, 'DeviceError', 'ERR_WRONG_MODULE', /locked by module SIM-[0-9a-f]{16}, this is module SIM-[0-9a-f]{16}/);
  assert.ok(retryCannotHelp(thrown));
  // A retry cannot change it: exit 3; the keyscript asks for the passphrase at once, and again on
  // cryptroot's next call without asking the module.
  refused(
    capsule(['device', 'luks-key', img, '--data-dir', d.data], { ...d.env, ZK_SIM_STATE_DIR: other }),
    /the module refused the lock blob: it was locked by module/,
    3,
  );
  const state = mkdtempSync(join(work, 'state-'));
  const ks = (tried: string, extra: NodeJS.ProcessEnv = {}) =>
    run(KEYSCRIPT, [], {
      env: {
        ...d.env,
        ZK_SIM_STATE_DIR: other,
        CRYPTTAB_SOURCE: img,
        CRYPTTAB_NAME: 'root',
        CRYPTTAB_TRIED: tried,
        CAPSULE_LUKS_CONF: join(work, 'none.conf'),
        CAPSULE_NODE: process.execPath,
        CAPSULE_APP: ROOT,
        CAPSULE_DATA_DIR: d.data,
        CAPSULE_ASKPASS: askpass,
        CAPSULE_LUKS_STATE_DIR: state,
        ...extra,
      },
    });
  const first = ks('0');
  assert.is(first.code, 0, first.stderr);
  assert.is(first.stdout.toString(), 'typed passphrase for: Security module refused the key; passphrase for root: ');
  assert.match(
    first.stderr,
    /^capsule-luks: module unlock of root refused, not retried: .*locked by module SIM-[0-9a-f]{16}, this is module SIM-[0-9a-f]{16}\n$/,
  );
  // The next call would fail loudly if it ran luks-key: its node is not there.
  const again = ks('1', { CAPSULE_NODE: join(work, 'no-node') });
  assert.is(again.code, 0, again.stderr);
  assert.is(again.stdout.toString(), 'typed passphrase for: Security module refused the key; passphrase for root: ');
  assert.is(again.stderr, '');
  // Without askpass: one line, exit 1.
  const none = ks('1', { CAPSULE_ASKPASS: join(work, 'absent') });
  assert.is(none.code, 1);
  assert.is(none.stderr, `capsule-luks: the module refused the key earlier this boot and no askpass at ${join(work, 'absent')}: cannot unlock root\n`);
});

test("a blob of another purpose (the guardian's locked seed) is refused: ERR_LOCK_INTEGRITY", async () => {
  const good = readFileSync(lockFile());
  const t = tokenJson();
  const seedBlob = Buffer.from(JSON.parse(readFileSync(join(d.data, 'guardian.json'), 'utf8')).lockedSeed, 'base64');
  writeFileSync(lockFile(), seedBlob);
  replaceToken({ ...t, bindings: [{ ...t.bindings[0], sha256: createHash('sha256').update(seedBlob).digest('hex') }] });
  try {
    await rejectsError(() => unlock(), 'DeviceError', 'ERR_LOCK_INTEGRITY', /unlocked the blob, but it is not the LUKS key of this device/);
    refused(capsule(['device', 'luks-key', img, '--data-dir', d.data]), /not the LUKS key of this device/);
  } finally {
    writeFileSync(lockFile(), good);
    replaceToken(t);
  }
});

test('unknown token version, unknown binding kind, a path elsewhere: ERR_LUKS_TOKEN_VERSION / ERR_LUKS_TOKEN', async () => {
  const t = tokenJson();
  try {
    replaceToken({ ...t, version: 2 });
    await rejectsError(() => unlock(), 'DeviceError', 'ERR_LUKS_TOKEN_VERSION', /capsule token version 2: this build knows version 1 only/);
    refused(capsule(['device', 'luks-key', img, '--data-dir', d.data]), /version 2/);
    replaceToken({ ...t, bindings: [{ kind: 'fido2-hmac', credential: 'AAAA' }] });
    await rejectsError(() => unlock(), 'DeviceError', 'ERR_LUKS_TOKEN', /no binding this build can use \(kinds: fido2-hmac\)/);
    // A known kind that is malformed is refused, not skipped (a tpm2-seal binding without its fields).
    replaceToken({ ...t, bindings: [{ kind: 'tpm2-seal', sealed: 'AAAA' }, t.bindings[0]] });
    await rejectsError(() => unlock(), 'DeviceError', 'ERR_LUKS_TOKEN', /bindings\[0\]\.path: expected "luks\/[0-9a-f-]+\.tpm2\.lock", got undefined/);
    replaceToken({ ...t, bindings: [{ ...t.bindings[0], path: '../guardian.json' }] });
    await rejectsError(() => unlock(), 'DeviceError', 'ERR_LUKS_TOKEN', /bindings\[0\]\.path: expected "luks\/[0-9a-f-]+\.lock", got "\.\.\/guardian\.json"/);
    refused(capsule(['device', 'luks-key', img, '--data-dir', d.data]), /bindings\[0\]\.path/);
    // A binding this build does not know, listed first, is skipped: the module's still opens.
    replaceToken({ ...t, bindings: [{ kind: 'fido2-hmac', credential: 'AAAA' }, t.bindings[0]] });
    const u = await unlock();
    assert.ok(keyOpens(u.key, 1));
    // --backend tpm2 asks for a binding this token does not have.
    await rejectsError(
      () => inProcess(() => unlockLuksKey({ device: img, dataDir: d.data, backend: 'tpm2' })),
      'DeviceError',
      'ERR_LUKS_TOKEN',
      /has no tpm2-seal binding \(--backend tpm2; kinds: fido2-hmac, zymbit-lock\)/,
    );
    refused(capsule(['device', 'luks-key', img, '--data-dir', d.data, '--backend', 'tpm2']), /has no tpm2-seal binding/);
  } finally {
    replaceToken(t);
  }
});

test('module absent (library missing, or zkOpen failing): ERR_NO_MODULE, no key', async () => {
  await rejectsError(
    () => unlock({ CAPSULE_ZYMBIT_LIB: join(work, 'no-such-lib.so') }),
    'DeviceError',
    'ERR_NO_MODULE',
    /no security module answered through .*no-such-lib\.so/,
  );
  refused(
    capsule(['device', 'luks-key', img, '--data-dir', d.data], { ...d.env, CAPSULE_ZYMBIT_LIB: join(work, 'no-such-lib.so') }),
    /no security module answered/,
  );
  await rejectsError(
    () =>
      unlock({ ZK_SIM_FAIL_OPEN: '1' }).finally(() => {
        delete process.env.ZK_SIM_FAIL_OPEN;
      }),
    'DeviceError',
    'ERR_NO_MODULE',
    /no security module answered/,
  );
  // Enrolling without a module: refused before anything is written or added.
  const fresh = join(work, 'nomodule.img');
  format(fresh);
  await rejectsError(
    () => inProcess(() => enrollLuks({ device: fresh, dataDir: d.data, keyFile: pass }), { CAPSULE_ZYMBIT_LIB: join(work, 'no-such-lib.so') }),
    'DeviceError',
    'ERR_NO_MODULE',
    /no security module answered: the LUKS key must be made and locked by the module/,
  );
  refused(
    capsule(['device', 'luks-enroll', fresh, '--data-dir', d.data, '--key-file', pass], { ...d.env, CAPSULE_ZYMBIT_LIB: join(work, 'no-such-lib.so') }),
    /no security module answered/,
  );
  assert.equal(Object.keys(JSON.parse(cs(['luksDump', '--dump-json-metadata', fresh]).stdout.toString()).keyslots), ['0'], 'no keyslot added');
  rmSync(fresh);
});

test('no token, not LUKS, lock blob missing, cryptsetup missing: ERR_LUKS_TOKEN / ERR_LUKS', async () => {
  const fresh = join(work, 'fresh.img');
  format(fresh);
  await rejectsError(
    () => inProcess(() => unlockLuksKey({ device: fresh, dataDir: d.data })),
    'DeviceError',
    'ERR_LUKS_TOKEN',
    /no capsule token in the LUKS2 header/,
  );
  refused(capsule(['device', 'luks-key', fresh, '--data-dir', d.data]), /not bound to the module/);
  const plain = join(work, 'plain.img');
  writeFileSync(plain, Buffer.alloc(1 << 20));
  await rejectsError(() => inProcess(() => unlockLuksKey({ device: plain, dataDir: d.data })), 'DeviceError', 'ERR_LUKS', /is not a LUKS device/);
  refused(capsule(['device', 'luks-key', plain, '--data-dir', d.data]), /not a LUKS device/);
  await rejectsError(
    () => inProcess(() => unlockLuksKey({ device: img, dataDir: join(work, 'elsewhere') })),
    'DeviceError',
    'ERR_LUKS_TOKEN',
    /the lock blob .* cannot be read \(ENOENT\)/,
  );
  rmSync(fresh);
  rmSync(plain);
  const missing = join(work, 'no-cryptsetup');
  await rejectsError(
    () => inProcess(() => unlockLuksKey({ device: img, dataDir: d.data, env: { ...process.env, CAPSULE_CRYPTSETUP: missing } })),
    'DeviceError',
    'ERR_LUKS',
    /cannot run .*no-cryptsetup to read the UUID of a device \(ENOENT\)/,
  );
  refused(capsule(['device', 'luks-key', img, '--data-dir', d.data], { ...d.env, CAPSULE_CRYPTSETUP: missing }), /cannot run .*no-cryptsetup/);
});

test('enrolment refusals: twice, wrong existing key (nothing left), slot taken, bad flags', async () => {
  await rejectsError(
    () => inProcess(() => enrollLuks({ device: img, dataDir: d.data, keyFile: pass })),
    'DeviceError',
    'ERR_LUKS_ENROLLED',
    /is already bound to a module \(token 0\)/,
  );
  refused(capsule(['device', 'luks-enroll', img, '--data-dir', d.data, '--key-file', pass]), /already bound/);
  const other = join(work, 'other.img');
  format(other);
  const otherUuid = cs(['luksUUID', other]).stdout.toString().trim();
  const wrong = join(work, 'wrong.key');
  writeFileSync(wrong, randomBytes(32));
  await rejectsError(
    () => inProcess(() => enrollLuks({ device: other, dataDir: d.data, keyFile: wrong })),
    'DeviceError',
    'ERR_LUKS',
    /cryptsetup refused the new keyslot 1 \(exit 2: no keyslot opens with the given passphrase or key file\)/,
  );
  refused(capsule(['device', 'luks-enroll', other, '--data-dir', d.data, '--key-file', wrong]), /refused the new keyslot/);
  const meta = JSON.parse(cs(['luksDump', '--dump-json-metadata', other]).stdout.toString());
  assert.equal(Object.keys(meta.keyslots), ['0'], 'no keyslot added');
  assert.equal(meta.tokens, {}, 'no token');
  assert.not.ok(existsSync(join(d.data, 'luks', `${otherUuid}.lock`)), 'no blob left');
  await rejectsError(
    () => inProcess(() => enrollLuks({ device: other, dataDir: d.data, keyFile: pass, slot: 0 })),
    'DeviceError',
    'ERR_LUKS',
    /keyslot 0 is in use/,
  );
  refused(capsule(['device', 'luks-enroll', other, '--data-dir', d.data, '--key-file', pass, '--slot', '32']), /--slot: expected an integer 0\.\.31, got "32"/);
  refused(capsule(['device', 'luks-enroll', other, '--data-dir', d.data, '--key-file', pass, '--pbkdf', 'scrypt']), /--pbkdf: expected pbkdf2 or argon2id/);
  refused(
    capsule(['device', 'luks-enroll', other, '--data-dir', d.data, '--key-file', pass, '--pbkdf-iterations', '999']),
    /--pbkdf-iterations: expected an integer 1000\.\./,
  );
  // The guardian's backend decides: --backend must agree with it, and PCRs are a TPM matter.
  await rejectsError(
    () => inProcess(() => enrollLuks({ device: other, dataDir: d.data, keyFile: pass, backend: 'tpm2' })),
    'UsageError',
    'ERR_USAGE',
    /--backend tpm2: the guardian in .* uses the zymbit backend/,
  );
  refused(
    capsule(['device', 'luks-enroll', other, '--data-dir', d.data, '--key-file', pass, '--backend', 'tpm2']),
    /--backend tpm2: the guardian in .* uses the zymbit backend/,
  );
  refused(
    capsule(['device', 'luks-enroll', other, '--data-dir', d.data, '--key-file', pass, '--pcrs', '7']),
    /--pcrs: the guardian in .* uses the zymbit backend; PCRs apply to --backend tpm2 only/,
  );
  refused(
    capsule(['device', 'luks-enroll', other, '--data-dir', d.data, '--key-file', pass, '--backend', 'fido2']),
    /--backend: expected zymbit or tpm2, got "fido2"/,
  );
  assert.equal(Object.keys(JSON.parse(cs(['luksDump', '--dump-json-metadata', other]).stdout.toString()).keyslots), ['0'], 'no keyslot added by the refusals');
  rmSync(other);
});

test('--slot N enrols that keyslot; a failed token import rolls back the keyslot and the blob', () => {
  const other = join(work, 'slot.img');
  format(other);
  const otherUuid = cs(['luksUUID', other]).stdout.toString().trim();
  // A cryptsetup that refuses `token import` and passes everything else to the real one.
  const real = spawnSync('sh', ['-c', 'command -v cryptsetup']).stdout.toString().trim();
  const faulty = join(work, 'cryptsetup-no-token');
  writeFileSync(faulty, `#!/bin/sh\n[ "$1" = token ] && [ "$2" = import ] && { echo "injected failure" >&2; exit 5; }\nexec ${real} "$@"\n`);
  chmodSync(faulty, 0o755);
  const failed = capsule(['device', 'luks-enroll', other, '--data-dir', d.data, '--key-file', pass, '--slot', '7'], { ...d.env, CAPSULE_CRYPTSETUP: faulty });
  refused(failed, /refused token 0 \(exit 5: injected failure\)/);
  const meta = JSON.parse(cs(['luksDump', '--dump-json-metadata', other]).stdout.toString());
  assert.equal(Object.keys(meta.keyslots), ['0'], 'keyslot 7 was removed again');
  assert.not.ok(existsSync(join(d.data, 'luks', `${otherUuid}.lock`)), 'blob removed');
  const ok = capsule(['device', 'luks-enroll', other, '--data-dir', d.data, '--key-file', pass, '--slot', '7']);
  assert.is(ok.code, 0, ok.stderr);
  assert.equal(tokenJson(other).keyslots, ['7']);
  const k = capsule(['device', 'luks-key', other, '--data-dir', d.data]);
  assert.is(k.code, 0, k.stderr);
  assert.is(cs(['open', '--test-passphrase', '--key-file', '-', '--key-slot', '7', other], k.stdout).code, 0);
  rmSync(other);
  rmSync(join(d.data, 'luks', `${otherUuid}.lock`));
});

test('luks-key refuses a terminal (ERR_REFUSE_TTY) before unlocking anything', async () => {
  const stdout = Object.assign(new PassThrough(), { isTTY: true });
  const stderr = new PassThrough();
  let err = '';
  stderr.on('data', (c) => {
    err += c;
  });
  const code = await main(['device', 'luks-key', img, '--data-dir', d.data], { stdin: new PassThrough(), stdout, stderr, now: () => 0, cwd: work, env: d.env });
  assert.is(code, 1);
  assert.is(stdout.read(), null, 'nothing written');
  assert.match(err, /^capsule: error: refusing to write the LUKS key to a terminal\ncapsule: hint: /);
  // (luks-key's exit 3 is the CLI's withExitCode: only 2..125 may be asked for.)
  throwsError(() => withExitCode(new Error('x'), 1), 'RangeError', undefined, /^code: expected an exit code 2\.\.125, got 1$/);
  throwsError(() => withExitCode(new Error('x'), 130), 'RangeError', undefined, /got 130$/);
  // And through a real pseudo-terminal (util-linux `script`), where it is present.
  if (spawnSync('sh', ['-c', 'command -v script']).status !== 0) {
    console.log('SKIPPED: pty check (no `script` command)');
    return;
  }
  const r = run('script', ['-qec', `"${process.execPath}" "${BIN}" device luks-key "${img}" --data-dir "${d.data}"`, '/dev/null'], { env: d.env });
  assert.is(r.code, 1);
  assert.match(r.stdout.toString(), /capsule: error: refusing to write the LUKS key to a terminal/);
  assert.is(r.stdout.length < 300, true, 'only the error lines reached the terminal');
});

test('--help for device and each subcommand', () => {
  const top = capsule(['device', '--help']);
  assert.is(top.code, 0);
  assert.match(top.stdout.toString(), /capsule device luks-enroll DEVICE\|IMAGE/);
  for (const sub of ['luks-enroll', 'luks-key']) {
    const r = capsule(['device', sub, '--help']);
    assert.is(r.code, 0);
    assert.match(r.stdout.toString(), new RegExp(`usage: capsule device ${sub} `));
  }
  refused(capsule(['device', 'luks-open']), /device: unknown subcommand "luks-open"/);
});

test.run();
