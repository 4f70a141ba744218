/**
 * The root disk bound to a TPM 2.0 guardian (`capsule device luks-enroll|luks-key --backend tpm2`) on
 * a LUKS2 *image file*: real cryptsetup, a real TPM 2.0 (swtpm, a fresh one per suite), a guardian
 * provisioned by the real `capsule guardian init --backend tpm2`, the real `capsule` binary, keyscript
 * and hook; tpm2-tools (PCR extend) and systemd-cryptenroll as the independent peers.
 *  - enrol → the capsule-device token carries a tpm2-seal binding (backend, TPM serial = the guardian's,
 *    PCRs, bank, TCTI, blob path and hash); the blob and the LUKS seal store's auth file are 0600, and
 *    that auth file is not the guardian's; `luks-key | cryptsetup open --test-passphrase` opens the slot;
 *  - the keyscript passes CAPSULE_TPM_TCTI from its conf file through; the hook copies the LUKS seal
 *    store and the tpm2-tss libraries, and (root) the chrooted copy unseals the key;
 *  - --pcrs 7: unseals until `tpm2_pcrextend 7`, then refuses with ERR_PCR_MISMATCH (library: name,
 *    code, message naming PCR 7, cause ERR_TPM_POLICY; CLI: exit 3, error + hint, no key; keyscript:
 *    one line, then askpass at once; the TPM's lockout counter unchanged) while the authValue-only
 *    binding still opens;
 *  - a wrong seal-store auth file: luks-key exits 3 (ERR_TPM_AUTH), costing exactly one
 *    dictionary-attack strike (TPM2_PT_LOCKOUT_COUNTER); the keyscript runs luks-key once, goes to
 *    askpass, and on cryptroot's next call (a mistyped passphrase) asks for the passphrase without
 *    asking the TPM; in lockout, ERR_TPM_LOCKOUT exits 3 too (the lockout is cleared afterwards);
 *  - the keyscript waits for the device node of a device TCTI (CAPSULE_TPM_WAIT), under dash and
 *    under busybox's sh and applets (the initramfs' shell);
 *  - guardian.json's `tcti` (written by the agent's user) is taken only when it is a device, swtpm or
 *    mssim TCTI: a cmd TCTI or a library is refused by luks-key and luks-enroll (ERR_UNSAFE_TCTI) and
 *    never run; CAPSULE_TPM_TCTI is taken as given;
 *  - another TPM (a new swtpm): ERR_WRONG_MODULE naming the TPMs (luks-key exit 3), and enrolling a
 *    guardian through a TPM that is not its own is refused before any seal store file is made; no
 *    TPM: ERR_NO_MODULE (exit 1); an altered blob: ERR_LOCK_INTEGRITY (hash, then the TPM's check);
 *    a missing, malformed or short seal store file: ERR_LUKS_TOKEN;
 *    --backend zymbit on a TPM guardian and a bad --pcrs: usage errors;
 *  - other tools' tokens: a hand-written systemd-tpm2 token and clevis token (cryptsetup token
 *    import) and, where systemd-cryptenroll runs, a real systemd-tpm2 enrolment against the same
 *    swtpm: luks-enroll names them on stderr (`capsule: note: …`) and enrols beside them.
 * Not tested here: mapping the device (no device-mapper), a real boot, and unlocking through the
 * systemd-tpm2 token (systemd-cryptsetup needs device-mapper; cryptsetup's systemd-tpm2 plugin looks
 * only for /dev/tpmrm0).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BIN } from './helpers/cli.ts';
import { expectError, rejectsError } from './helpers/assertError.ts';
import { device, init, type Device } from './helpers/guardianDevice.ts';
import { startSwtpm, type Swtpm } from './helpers/swtpm.ts';
import { retryCannotHelp, unlockLuksKey } from '../agent/device/luksKey.ts';
import { enrollLuks } from '../agent/device/luksEnroll.ts';
import { luksTcti, openLuksTpm } from '../agent/device/luksTpm2.ts';
import { describeForeignToken, foreignTokens, readForeignTokens } from '../agent/device/luksInterop.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const KEYSCRIPT = join(ROOT, 'boot/initramfs/capsule-luks-keyscript');
const HOOK = join(ROOT, 'boot/initramfs/hooks/capsule-luks');
const FAST = ['--pbkdf', 'pbkdf2', '--pbkdf-force-iterations', '1000'];

let tpm: Swtpm;
let d: Device;
let env: NodeJS.ProcessEnv; // the device's environment with the TPM's TCTI
let work: string;
let pass: string;
let img: string; // enrolled without PCRs (authValue only)
let pcrImg: string; // enrolled with --pcrs 7
let uuid: string;
let serial: string;

interface Out {
  code: number;
  stdout: Buffer;
  stderr: string;
}
function run(cmd: string, args: string[], o: { env?: NodeJS.ProcessEnv; input?: Uint8Array | string } = {}): Out {
  const r = spawnSync(cmd, args, { cwd: work, env: o.env ?? env, input: o.input ?? '', timeout: 120_000, maxBuffer: 1 << 26 });
  if (r.error) throw r.error;
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr.toString() };
}
const capsule = (args: string[], e?: NodeJS.ProcessEnv) => run(process.execPath, [BIN, ...args], { env: e });
const cs = (args: string[], input?: Uint8Array | string) => run('cryptsetup', args, { input });
const uuidOf = (path: string) => cs(['luksUUID', path]).stdout.toString().trim();
const tokenJson = (path: string, id = 0): Record<string, any> => JSON.parse(cs(['token', 'export', '--token-id', String(id), path]).stdout.toString());
const keyOpens = (path: string, key: Uint8Array, slot?: number) =>
  cs(['open', '--test-passphrase', '--key-file', '-', ...(slot === undefined ? [] : ['--key-slot', String(slot)]), path], key).code === 0;
const unlock = (path: string, extra: NodeJS.ProcessEnv = {}, dataDir = d.data) =>
  unlockLuksKey({ device: path, dataDir, env: { ...process.env, CAPSULE_TPM_TCTI: tpm.tcti, ...extra } });
const sealed = (u: string) => join(d.data, 'luks', `${u}.tpm2.lock`);
/** The TPM's dictionary-attack failure counter, read by tpm2-tools. */
const lockoutCounter = () => /TPM2_PT_LOCKOUT_COUNTER:\s*(0x[0-9a-fA-F]+)/.exec(tpm.tools('tpm2_getcap', ['properties-variable']).toString())?.[1];
const strikes = () => Number(lockoutCounter());
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

let askpass: string; // a stand-in for cryptsetup's askpass: prints what it was asked
let busybox: string; // a directory of busybox applets (sh, tr, sleep, …): the initramfs' tools
/** A data directory as the initramfs carries it (luks/ only, no guardian.json) for the disk `u`. */
function bootData(name: string, u = uuid): string {
  const dir = join(work, name);
  mkdirSync(join(dir, 'luks'), { recursive: true, mode: 0o700 });
  for (const f of [`${u}.tpm2.lock`, 'tpm2-keystore.json', 'tpm2-auth']) copyFileSync(join(d.data, 'luks', f), join(dir, 'luks', f));
  return dir;
}
/**
 * The keyscript as cryptroot runs it (attempt `tried` of the disk `source` named root), with its
 * settings in the environment, its refusal record in `state` (a fresh directory unless given), the
 * askpass stand-in, and under busybox's sh and applets when asked.
 */
function keyscript(o: {
  data: string;
  source?: string;
  tried?: number;
  state?: string;
  extra?: NodeJS.ProcessEnv;
  busybox?: boolean;
}): Out & { state: string } {
  const state = o.state ?? mkdtempSync(join(work, 'state-'));
  const e: NodeJS.ProcessEnv = {
    ...env,
    CRYPTTAB_SOURCE: o.source ?? img,
    CRYPTTAB_NAME: 'root',
    CRYPTTAB_TRIED: String(o.tried ?? 0),
    CAPSULE_LUKS_CONF: join(work, 'none.conf'),
    CAPSULE_NODE: process.execPath,
    CAPSULE_APP: ROOT,
    CAPSULE_DATA_DIR: o.data,
    CAPSULE_ASKPASS: askpass,
    CAPSULE_LUKS_STATE_DIR: state,
    ...o.extra,
  };
  if (o.busybox) e.PATH = `${busybox}:${e.PATH}`;
  return { ...(o.busybox ? run(join(busybox, 'sh'), [KEYSCRIPT], { env: e }) : run(KEYSCRIPT, [], { env: e })), state };
}

function format(path: string): string {
  run('truncate', ['-s', '32M', path]);
  const r = cs(['luksFormat', '--type', 'luks2', '--batch-mode', '--key-file', pass, ...FAST, path]);
  assert.is(r.code, 0, r.stderr);
  return uuidOf(path);
}
function replaceToken(path: string, t: unknown, id = 0): void {
  const r = cs(['token', 'import', '--token-replace', '--token-id', String(id), '--json-file', '-', path], JSON.stringify(t));
  assert.is(r.code, 0, r.stderr);
}
/**
 * A refusal as the CLI reports it: exit `code` (1; 3 when a retry cannot help), nothing on stdout,
 * one error line matching `msg`, a hint matching `hint`.
 */
function refused(r: Out, msg: RegExp, hint?: RegExp, code = 1): void {
  assert.is(r.code, code, r.stderr);
  assert.is(r.stdout.length, 0, 'no key printed');
  const lines = r.stderr.trimEnd().split('\n');
  assert.is(lines.length, 2, r.stderr);
  assert.match(lines[0]!, /^capsule: error: /);
  assert.match(lines[0]!, msg);
  assert.match(lines[1]!, /^capsule: hint: /);
  if (hint) assert.match(lines[1]!, hint);
}

test.before(async () => {
  tpm = await startSwtpm();
  d = device('HSM6');
  env = { ...d.env, CAPSULE_TPM_TCTI: tpm.tcti };
  work = mkdtempSync(join(tmpdir(), 'capsule-luks-tpm2-test-'));
  const r = await init(d, { args: ['--backend', 'tpm2'], env: { CAPSULE_TPM_TCTI: tpm.tcti } });
  assert.is(r.code, 0, r.stderr);
  serial = JSON.parse(readFileSync(join(d.data, 'guardian.json'), 'utf8')).serial;
  assert.match(serial, /^tpm2-[0-9a-f]{16}$/);
  pass = join(work, 'passphrase.key');
  writeFileSync(pass, randomBytes(32), { mode: 0o600 });
  img = join(work, 'disk.img');
  uuid = format(img);
  pcrImg = join(work, 'pcr.img');
  format(pcrImg);
  askpass = join(work, 'askpass');
  writeFileSync(askpass, '#!/bin/sh\nprintf "typed passphrase for: %s" "$1"\n');
  chmodSync(askpass, 0o755);
  busybox = join(work, 'busybox');
  mkdirSync(busybox);
  for (const a of ['sh', 'tr', 'sleep', 'grep', 'sed', 'head', 'mkdir', 'touch', 'rm']) symlinkSync('/usr/bin/busybox', join(busybox, a));
});
test.after(async () => {
  await tpm.stop();
  rmSync(work, { recursive: true, force: true });
});

test("luks-enroll --backend tpm2 seals the key: the token records the TPM binding, the files are 0600, the auth is not the guardian's", () => {
  const r = capsule(['device', 'luks-enroll', img, '--data-dir', d.data, '--key-file', pass, '--backend', 'tpm2']);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout.length, 0, 'stdout carries data only: nothing here');
  assert.match(
    r.stderr,
    new RegExp(
      `^capsule: keyslot 1 of .* is bound to TPM ${serial} \\(TPM 2\\.0 .*\\(simulated\\)\\), sealed to no PCRs \\(authValue only\\): token 0, sealed blob .*\\.tpm2\\.lock\\n`,
    ),
  );
  assert.match(r.stderr, /capsule: next: .*CAPSULE_TPM_TCTI/);
  assert.match(cs(['luksDump', img]).stdout.toString(), /Tokens:\n\s+0: capsule-device\n\s+Keyslot:\s+1\n/);
  const t = tokenJson(img);
  assert.is(t.type, 'capsule-device');
  assert.is(t.version, 1, 'same token version as the module binding');
  assert.equal(t.keyslots, ['1']);
  assert.is(t.bindings.length, 1);
  const b = t.bindings[0];
  assert.equal(
    { kind: b.kind, backend: b.backend, serial: b.serial, pcrs: b.pcrs, pcrBank: b.pcrBank, tcti: b.tcti, path: b.path },
    { kind: 'tpm2-seal', backend: 'tpm2', serial, pcrs: [], pcrBank: 'sha256', tcti: tpm.tcti, path: `luks/${uuid}.tpm2.lock` },
  );
  assert.is(
    b.sha256,
    createHash('sha256')
      .update(readFileSync(sealed(uuid)))
      .digest('hex'),
  );
  assert.match(b.model, /^TPM 2\.0 /);
  for (const f of [sealed(uuid), join(d.data, 'luks', 'tpm2-auth'), join(d.data, 'luks', 'tpm2-keystore.json')]) {
    assert.is(statSync(f).mode & 0o777, 0o600, f);
  }
  assert.not.equal(readFileSync(join(d.data, 'luks', 'tpm2-auth')), readFileSync(join(d.data, 'tpm2-auth')), 'the LUKS seal store has its own authValue');
  const meta = JSON.parse(cs(['luksDump', '--dump-json-metadata', img]).stdout.toString());
  assert.equal(meta.keyslots['1'].kdf.type, 'pbkdf2');
  assert.is(meta.keyslots['1'].key_size, 64);
});

test('luks-key | cryptsetup open --test-passphrase opens the TPM slot; unlockLuksKey returns the same key', async () => {
  const pipe = run(
    'sh',
    ['-c', '"$NODE" "$BIN" device luks-key "$IMG" --data-dir "$DATA" --backend tpm2 | cryptsetup open --test-passphrase --key-file - --key-slot 1 "$IMG"'],
    {
      env: { ...env, NODE: process.execPath, BIN, IMG: img, DATA: d.data },
    },
  );
  assert.is(pipe.code, 0, pipe.stderr);
  assert.is(pipe.stderr, '');
  const r = capsule(['device', 'luks-key', img, '--data-dir', d.data]);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout.length, 64);
  assert.is(r.stderr, '');
  assert.ok(keyOpens(img, r.stdout, 1));
  assert.not.ok(keyOpens(img, r.stdout, 0), "not the passphrase slot's key");
  assert.is(readFileSync(sealed(uuid)).includes(r.stdout), false, 'the blob does not contain the key');
  const u = await unlock(img);
  assert.equal(Buffer.from(u.key), r.stdout);
  assert.is(u.slot, 1);
  // The TCTI comes from the guardian's record when CAPSULE_TPM_TCTI is unset (never from the token).
  const { CAPSULE_TPM_TCTI: _, ...noTcti } = env;
  const viaRecord = capsule(['device', 'luks-key', img, '--data-dir', d.data], noTcti);
  assert.is(viaRecord.code, 0, viaRecord.stderr);
  assert.equal(viaRecord.stdout, r.stdout);
});

test('the keyscript passes CAPSULE_TPM_TCTI from its conf file to luks-key', () => {
  const conf = join(work, 'luks-keyscript.conf');
  const { CAPSULE_TPM_TCTI: _, ...noTcti } = env;
  // guardian.json is not in an initramfs: a data directory with luks/ only, as the hook copies it.
  const boot = bootData('boot-data');
  const state = mkdtempSync(join(work, 'state-')); // the keyscript's refusal record (never /run here)
  writeFileSync(conf, `CAPSULE_NODE='${process.execPath}'\nCAPSULE_APP='${ROOT}'\nCAPSULE_DATA_DIR='${boot}'\nCAPSULE_TPM_TCTI='${tpm.tcti}'\n`);
  const r = run(KEYSCRIPT, [], {
    env: { ...noTcti, CRYPTTAB_SOURCE: img, CRYPTTAB_NAME: 'root', CRYPTTAB_TRIED: '0', CAPSULE_LUKS_CONF: conf, CAPSULE_LUKS_STATE_DIR: state },
  });
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stderr, '');
  assert.ok(keyOpens(img, r.stdout, 1));
  // Without the conf's TCTI: the default device:/dev/tpmrm0 (absent here). luks-key says no TPM
  // answered; the keyscript waits CAPSULE_TPM_WAIT seconds for the node and says it never came.
  if (existsSync('/dev/tpmrm0') || existsSync('/dev/tpm0')) {
    console.log('SKIPPED: the default-TCTI failure (this machine has a TPM device)');
    return;
  }
  refused(capsule(['device', 'luks-key', img, '--data-dir', boot], noTcti), /no TPM answered through device:\/dev\/tpmrm0: the LUKS key cannot be unsealed/);
  writeFileSync(conf, `CAPSULE_NODE='${process.execPath}'\nCAPSULE_APP='${ROOT}'\nCAPSULE_DATA_DIR='${boot}'\nCAPSULE_TPM_WAIT=1\n`);
  const none = run(KEYSCRIPT, [], {
    env: { ...noTcti, CRYPTTAB_SOURCE: img, CRYPTTAB_NAME: 'root', CRYPTTAB_TRIED: '0', CAPSULE_LUKS_CONF: conf, CAPSULE_LUKS_STATE_DIR: state },
  });
  assert.is(none.code, 1);
  assert.is(none.stdout.length, 0);
  assert.is(
    none.stderr,
    'capsule-luks: TPM unlock of root failed (attempt 1/2): no TPM device /dev/tpmrm0 after 1 s: is its driver loaded (CAPSULE_TPM_MODULES, CAPSULE_LUKS_PRESTART)?\n',
  );
});

test('the keyscript waits for the TPM device node of a device TCTI (CAPSULE_TPM_WAIT), then asks luks-key; dash and busybox', () => {
  const boot = bootData('boot-wait');
  for (const bb of [false, true]) {
    const node = join(work, `tpmrm-${bb ? 'busybox' : 'dash'}`);
    // The node appears a second after the keyscript starts (udev, once the driver binds). It is a
    // regular file, not a TPM: luks-key then runs and says no TPM answers through it.
    const late = { ...env, CAPSULE_TPM_TCTI: `device:${node}`, CAPSULE_TPM_WAIT: '5' };
    const t0 = Date.now();
    const creator = spawnSync('sh', ['-c', `(sleep 1; : > "${node}") >/dev/null 2>&1 &`]);
    assert.is(creator.status, 0);
    const r = keyscript({ data: boot, extra: late, busybox: bb });
    const took = Date.now() - t0;
    assert.is(r.code, 1, r.stderr);
    assert.is(r.stdout.length, 0);
    assert.is(
      r.stderr,
      `capsule-luks: TPM unlock of root failed (attempt 1/2): ${img} token 0: no TPM answered through device:${node}: the LUKS key cannot be unsealed\n`,
      `${bb ? 'busybox' : 'dash'}: luks-key ran once the node was there`,
    );
    assert.ok(took >= 900 && took < 5000, `waited for the node: ${took} ms`);
    // It never appears: one line after CAPSULE_TPM_WAIT seconds, luks-key not asked.
    const absent = join(work, `never-${bb ? 'busybox' : 'dash'}`);
    const t1 = Date.now();
    const n = keyscript({ data: boot, extra: { ...env, CAPSULE_TPM_TCTI: `device:${absent}`, CAPSULE_TPM_WAIT: '1' }, busybox: bb });
    const waited = Date.now() - t1;
    assert.is(n.code, 1);
    assert.is(
      n.stderr,
      `capsule-luks: TPM unlock of root failed (attempt 1/2): no TPM device ${absent} after 1 s: is its driver loaded (CAPSULE_TPM_MODULES, CAPSULE_LUKS_PRESTART)?\n`,
    );
    assert.ok(waited >= 900 && waited < 4000, `waited about a second: ${waited} ms`);
    // A socket TCTI has no node to wait for: the key at once.
    const ok = keyscript({ data: boot, busybox: bb });
    assert.is(ok.code, 0, ok.stderr);
    assert.ok(keyOpens(img, ok.stdout, 1));
  }
});

test('the initramfs hook copies the LUKS seal store and tpm2-tss; chrooted, the copy unseals the key', () => {
  const dest = join(work, 'initramfs');
  mkdirSync(join(dest, 'usr'), { recursive: true });
  for (const l of ['bin', 'sbin', 'lib', 'lib64']) {
    mkdirSync(join(dest, 'usr', l));
    symlinkSync(`usr/${l}`, join(dest, l));
  }
  const conf = join(work, 'hook.conf');
  const cryptsetup = spawnSync('sh', ['-c', 'command -v cryptsetup']).stdout.toString().trim();
  writeFileSync(
    conf,
    `CAPSULE_NODE='${process.execPath}'\nCAPSULE_APP='${ROOT.replace(/\/$/, '')}'\nCAPSULE_DATA_DIR='${d.data}'\nCAPSULE_TPM_TCTI='${tpm.tcti}'\nCAPSULE_INITRAMFS_EXTRA='${cryptsetup}'\n`,
  );
  const r = run('sh', [HOOK], { env: { ...env, DESTDIR: dest, CAPSULE_LUKS_CONF: conf, verbose: 'n' } });
  assert.is(r.code, 0, r.stderr);
  // (The module library is absent on a TPM device: that warning is expected.)
  assert.not.match(r.stderr, /tpm2|libtss2/, r.stderr);
  for (const p of [sealed(uuid), join(d.data, 'luks/tpm2-keystore.json'), join(d.data, 'luks/tpm2-auth'), join(ROOT, 'agent/device/luksTpm2.ts')]) {
    assert.ok(existsSync(join(dest, p)), `${p} is in the initramfs`);
  }
  const libs = spawnSync('sh', ['-c', `find "${dest}" -name 'libtss2-*'`]).stdout.toString();
  for (const so of ['libtss2-esys.so.0', 'libtss2-tctildr.so.0', 'libtss2-mu.so.0', 'libtss2-rc.so.0', 'libtss2-tcti-swtpm.so.0']) {
    assert.ok(libs.includes(`/${so}`), `${so} is in the initramfs:\n${libs}`);
  }
  assert.not.ok(existsSync(join(dest, d.data, 'tpm2-auth')), "the guardian's own auth file stays out");
  if (process.getuid?.() !== 0) {
    console.log("SKIPPED: chroot into the hook's tree needs root");
    return;
  }
  for (const dir of ['dev', 'proc', 'tmp']) mkdirSync(join(dest, dir), { recursive: true });
  copyFileSync(img, join(dest, 'disk.img'));
  const u = run(
    'unshare',
    [
      '-m',
      'sh',
      '-c',
      'mount --bind /dev "$D/dev" && mount -t proc proc "$D/proc" && exec chroot "$D" "$NODE" "$BIN" device luks-key /disk.img --data-dir "$DATA"',
    ],
    {
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', CAPSULE_TPM_TCTI: tpm.tcti, D: dest, NODE: process.execPath, BIN, DATA: d.data },
    },
  );
  assert.is(u.code, 0, u.stderr);
  assert.is(u.stdout.length, 64);
  assert.ok(keyOpens(img, u.stdout, 1));
});

test('--pcrs 7 seals to PCR 7: unseals until tpm2_pcrextend 7, then ERR_PCR_MISMATCH (the authValue-only slot still opens)', async () => {
  const keysBefore = readFileSync(join(d.data, 'luks', 'tpm2-keystore.json'));
  const e = capsule(['device', 'luks-enroll', pcrImg, '--data-dir', d.data, '--key-file', pass, '--pcrs', '7']);
  assert.is(e.code, 0, e.stderr);
  assert.match(e.stderr, /sealed to PCR 7 \(sha256 bank\): token 0/);
  assert.equal(readFileSync(join(d.data, 'luks', 'tpm2-keystore.json')), keysBefore, 'the LUKS seal store is reused');
  const b = tokenJson(pcrImg).bindings[0];
  assert.equal(b.pcrs, [7]);
  const before = capsule(['device', 'luks-key', pcrImg, '--data-dir', d.data]);
  assert.is(before.code, 0, before.stderr);
  assert.ok(keyOpens(pcrImg, before.stdout, 1));

  tpm.tools('tpm2_pcrextend', ['7:sha256=' + '11'.repeat(32)]);
  const failuresBefore = lockoutCounter();
  assert.match(failuresBefore ?? '', /^0x/, 'tpm2_getcap reports the lockout counter');
  const thrown = await unlock(pcrImg).then(
    () => undefined,
    (e: unknown) => e,
  );
  expectError(
    thrown,
    'DeviceError',
    'ERR_PCR_MISMATCH',
    /token 0: the TPM refused to unseal the LUKS key: PCR 7 \(sha256 bank\) no longer holds the value it had at enrolment$/,
  );
  const cause = (thrown as Error).cause as { name?: string; code?: string };
  assert.is(cause?.name, 'KeyStoreError');
  assert.is(cause?.code, 'ERR_TPM_POLICY', "the TPM's refusal is chained");
  assert.match(
    (thrown as { hint: string }).hint,
    /unlock with the passphrase; if the change was deliberate, re-enrol: cryptsetup token remove --token-id 0 .*; cryptsetup luksKillSlot .* 1; capsule device luks-enroll .* --backend tpm2 --pcrs 7$/,
  );
  // A retry cannot change it: exit 3, and the keyscript asks for the passphrase at once.
  assert.ok(retryCannotHelp(thrown));
  refused(
    capsule(['device', 'luks-key', pcrImg, '--data-dir', d.data]),
    /the TPM refused to unseal the LUKS key: PCR 7 \(sha256 bank\) no longer holds the value/,
    /unlock with the passphrase; if the change was deliberate, re-enrol/,
    3,
  );
  const ks = keyscript({ data: d.data, source: pcrImg, tried: 0 });
  assert.is(ks.code, 0, ks.stderr);
  assert.is(ks.stdout.toString(), 'typed passphrase for: TPM refused the key; passphrase for root: ');
  assert.match(ks.stderr, /^capsule-luks: TPM unlock of root refused, not retried: .*PCR 7 \(sha256 bank\) no longer holds the value it had at enrolment\n$/);
  assert.equal(readdirSync(ks.state), ['root.refused']);
  assert.is(lockoutCounter(), failuresBefore, 'PCR mismatches do not count toward dictionary-attack lockout');
  // The authValue-only binding does not depend on PCRs.
  const still = capsule(['device', 'luks-key', img, '--data-dir', d.data]);
  assert.is(still.code, 0, still.stderr);
  assert.ok(keyOpens(img, still.stdout, 1));
});

test('a wrong seal-store auth file: luks-key exits 3 (ERR_TPM_AUTH, one strike); the keyscript asks the TPM once, then only the passphrase', async () => {
  const boot = bootData('boot-wrong-auth');
  writeFileSync(join(boot, 'luks', 'tpm2-auth'), randomBytes(32), { mode: 0o600 });
  const max = Number(/TPM2_PT_MAX_AUTH_FAIL:\s*(0x[0-9a-fA-F]+)/.exec(tpm.tools('tpm2_getcap', ['properties-variable']).toString())?.[1]);
  const s0 = strikes();
  assert.ok(s0 + 3 <= max, `room for three strikes before lockout (counter ${s0}, max ${max})`);
  try {
    refused(
      capsule(['device', 'luks-key', img, '--data-dir', boot]),
      /the TPM refused the key's authorisation value .*; the failure counts toward lockout$/,
      /do not retry/,
      3,
    );
    assert.is(strikes(), s0 + 1, 'one luks-key run: one dictionary-attack strike');
    // The keyscript (under busybox, as in the initramfs) runs luks-key once (one more strike), prints
    // its line and asks for the passphrase.
    const k = keyscript({ data: boot, tried: 0, busybox: true });
    assert.is(k.code, 0, k.stderr);
    assert.is(k.stdout.toString(), 'typed passphrase for: TPM refused the key; passphrase for root: ');
    assert.match(k.stderr, /^capsule-luks: TPM unlock of root refused, not retried: .*the TPM refused the key's authorisation value .*\n$/);
    assert.is(strikes(), s0 + 2, 'the keyscript ran luks-key exactly once');
    assert.equal(readdirSync(k.state), ['root.refused'], 'the refusal is recorded for this boot');
    // cryptroot calls again (a mistyped passphrase): the passphrase at once, the TPM not asked.
    for (const bb of [false, true]) {
      const again = keyscript({ data: boot, tried: 1, state: k.state, busybox: bb });
      assert.is(again.code, 0, again.stderr);
      assert.is(again.stdout.toString(), 'typed passphrase for: TPM refused the key; passphrase for root: ');
      assert.is(again.stderr, '');
    }
    assert.is(strikes(), s0 + 2, "no strike on cryptroot's later calls");
    // The library: KeyStoreError ERR_TPM_AUTH, which retryCannotHelp names.
    const thrown = await unlock(img, {}, boot).then(
      () => undefined,
      (e: unknown) => e,
    );
    expectError(thrown, 'KeyStoreError', 'ERR_TPM_AUTH', /the TPM refused the key's authorisation value/);
    assert.ok(retryCannotHelp(thrown));
    assert.is(strikes(), s0 + 3);
    // Strikes up to the TPM's maximum: lockout, and then even the right auth file is refused — exit 3 too.
    for (let i = strikes(); i < max; i++) await unlock(img, {}, boot).catch(() => {});
    refused(capsule(['device', 'luks-key', img, '--data-dir', d.data]), /the TPM is in dictionary-attack lockout/, /do not retry/, 3);
    const locked = await unlock(img).then(
      () => undefined,
      (e: unknown) => e,
    );
    expectError(locked, 'KeyStoreError', 'ERR_TPM_LOCKOUT', /dictionary-attack lockout/);
    assert.ok(retryCannotHelp(locked));
  } finally {
    tpm.tools('tpm2_dictionarylockout', ['--clear-lockout']);
  }
  assert.is(strikes(), 0);
  const ok = capsule(['device', 'luks-key', img, '--data-dir', d.data]);
  assert.is(ok.code, 0, ok.stderr);
  assert.ok(keyOpens(img, ok.stdout, 1));
});

test('guardian.json tcti: a device, swtpm or mssim TCTI is taken from the record; cmd and libraries are refused (ERR_UNSAFE_TCTI), never run', async () => {
  const file = join(d.data, 'guardian.json');
  const good = readFileSync(file);
  const ran = join(work, 'tcti-ran');
  const { CAPSULE_TPM_TCTI: _, ...noTcti } = env;
  const other = join(work, 'tcti.img');
  format(other);
  try {
    for (const bad of [`cmd:touch ${ran}`, `libtss2-tcti-cmd.so.0:touch ${ran}`, `${join(work, 'evil.so')}:conf`, 'cmd']) {
      writeFileSync(file, JSON.stringify({ ...JSON.parse(good.toString()), tcti: bad }, null, 2));
      const msg = new RegExp(
        `${escape(file)} tcti: expected a TCTI of kind device, swtpm, mssim \\(a device or a socket\\), got ${escape(JSON.stringify(bad))}: root does not take a TCTI that can load or run code`,
      );
      await rejectsError(() => unlockLuksKey({ device: img, dataDir: d.data, env: noTcti }), 'DeviceError', 'ERR_UNSAFE_TCTI', msg);
      refused(capsule(['device', 'luks-key', img, '--data-dir', d.data], noTcti), msg, /set CAPSULE_TPM_TCTI explicitly/);
      await rejectsError(() => enrollLuks({ device: other, dataDir: d.data, keyFile: pass, env: noTcti }), 'DeviceError', 'ERR_UNSAFE_TCTI', msg);
      refused(capsule(['device', 'luks-enroll', other, '--data-dir', d.data, '--key-file', pass], noTcti), msg, /set CAPSULE_TPM_TCTI explicitly/);
    }
    assert.not.ok(existsSync(ran), 'the cmd TCTI never ran');
    assert.equal(Object.keys(JSON.parse(cs(['luksDump', '--dump-json-metadata', other]).stdout.toString()).keyslots), ['0'], 'no keyslot added');
    // CAPSULE_TPM_TCTI is the operator's own word: set, the record is not consulted.
    const k = capsule(['device', 'luks-key', img, '--data-dir', d.data], env);
    assert.is(k.code, 0, k.stderr);
    assert.ok(keyOpens(img, k.stdout, 1));
    assert.is(await luksTcti({ CAPSULE_TPM_TCTI: 'cmd:tpm2-abrmd' }, d.data), 'cmd:tpm2-abrmd');
  } finally {
    writeFileSync(file, good);
    rmSync(other);
  }
  for (const fine of ['device:/dev/tpm0', 'device', 'swtpm:host=127.0.0.1,port=2321', 'mssim:host=localhost,port=2321']) {
    assert.is(await luksTcti({}, d.data, fine), fine);
  }
  assert.is(await luksTcti({}, d.data), tpm.tcti, 'the record (a swtpm TCTI)');
  assert.is(await luksTcti({}, join(work, 'no-guardian')), 'device:/dev/tpmrm0', 'no record: the default');
});

test('another TPM (a new swtpm): ERR_WRONG_MODULE naming the TPM; no TPM: ERR_NO_MODULE; no key printed', async () => {
  const other = await startSwtpm();
  try {
    // The disk moved to a board with another TPM, the data directory with it.
    await rejectsError(
      () => unlock(img, { CAPSULE_TPM_TCTI: other.tcti }),
      'DeviceError',
      'ERR_WRONG_MODULE',
      new RegExp(
        `token 0: the LUKS key was sealed by TPM ${serial}; the TPM at swtpm:host=127\\.0\\.0\\.1,port=${other.port} is another TPM \\(or was cleared\\)`,
      ),
    );
    refused(
      capsule(['device', 'luks-key', img, '--data-dir', d.data], { ...env, CAPSULE_TPM_TCTI: other.tcti }),
      /sealed by TPM tpm2-[0-9a-f]{16}; the TPM at .* is another TPM/,
      /opens only on the TPM that sealed it/,
      3,
    );
    // A guardian on the other TPM, enrolled through the first TPM: refused before any seal store file is made.
    const d2 = device('HSM6');
    const env2 = { ...d2.env, CAPSULE_TPM_TCTI: other.tcti };
    const r = await init(d2, { args: ['--backend', 'tpm2'], env: { CAPSULE_TPM_TCTI: other.tcti } });
    assert.is(r.code, 0, r.stderr);
    const serial2 = JSON.parse(readFileSync(join(d2.data, 'guardian.json'), 'utf8')).serial;
    const third = join(work, 'other-tpm.img');
    format(third);
    const notGuardians = new RegExp(`^the TPM at ${escape(tpm.tcti)} is not the guardian's TPM ${serial2}: nothing was enrolled$`);
    await rejectsError(
      () => enrollLuks({ device: third, dataDir: d2.data, keyFile: pass, env: { ...env2, CAPSULE_TPM_TCTI: tpm.tcti } }),
      'DeviceError',
      'ERR_WRONG_MODULE',
      notGuardians,
    );
    refused(
      capsule(['device', 'luks-enroll', third, '--data-dir', d2.data, '--key-file', pass], { ...env2, CAPSULE_TPM_TCTI: tpm.tcti }),
      /is not the guardian's TPM/,
      /set CAPSULE_TPM_TCTI to the guardian's TPM/,
    );
    assert.not.ok(existsSync(join(d2.data, 'luks')), 'no seal store file was made');
    // The seal store checks the TPM again on its own connection: one it made for an unexpected TPM is removed.
    const scratch = join(work, 'scratch-data');
    await rejectsError(
      () => openLuksTpm(scratch, other.tcti, { create: true, expect: serial }),
      'DeviceError',
      'ERR_WRONG_MODULE',
      new RegExp(`^the TPM at ${escape(other.tcti)} is ${serial2}, not the guardian's TPM ${serial}$`),
    );
    assert.equal(readdirSync(join(scratch, 'luks')), [], 'no file left behind');
    // Enrolling with a seal store copied from the first TPM is refused…
    mkdirSync(join(d2.data, 'luks'), { recursive: true, mode: 0o700 });
    for (const f of ['tpm2-keystore.json', 'tpm2-auth']) copyFileSync(join(d.data, 'luks', f), join(d2.data, 'luks', f));
    await rejectsError(
      () => enrollLuks({ device: third, dataDir: d2.data, keyFile: pass, env: env2 }),
      'DeviceError',
      'ERR_WRONG_MODULE',
      /the TPM seal store .*tpm2-keystore\.json was made by another TPM than the one at swtpm:.* \(it was replaced or cleared\)/,
    );
    assert.equal(Object.keys(JSON.parse(cs(['luksDump', '--dump-json-metadata', third]).stdout.toString()).keyslots), ['0'], 'no keyslot added');
    // …and once it has its own, a blob sealed by the first TPM is refused by the TPM itself.
    for (const f of ['tpm2-keystore.json', 'tpm2-auth']) rmSync(join(d2.data, 'luks', f));
    const e = capsule(['device', 'luks-enroll', third, '--data-dir', d2.data, '--key-file', pass], env2);
    assert.is(e.code, 0, e.stderr);
    copyFileSync(sealed(uuid), join(d2.data, 'luks', `${uuid}.tpm2.lock`));
    await rejectsError(
      () => unlock(img, { CAPSULE_TPM_TCTI: other.tcti }, d2.data),
      'DeviceError',
      'ERR_WRONG_MODULE',
      new RegExp(`token 0: the TPM refused the sealed LUKS key: it was sealed by TPM ${serial}, this is TPM tpm2-[0-9a-f]{16}$`),
    );
    rmSync(third);
  } finally {
    await other.stop();
  }
  await rejectsError(
    () => unlock(img, { CAPSULE_TPM_TCTI: other.tcti }),
    'DeviceError',
    'ERR_NO_MODULE',
    /no TPM answered through swtpm:host=127\.0\.0\.1,port=\d+: the LUKS key cannot be unsealed/,
  );
  refused(capsule(['device', 'luks-key', img, '--data-dir', d.data], { ...env, CAPSULE_TPM_TCTI: other.tcti }), /no TPM answered through/);
});

test("altered blob (hash, then the TPM's check), missing seal store: ERR_LOCK_INTEGRITY / ERR_LUKS_TOKEN", async () => {
  const good = readFileSync(sealed(uuid));
  const t = tokenJson(img);
  const bad = Buffer.from(good);
  bad[bad.length - 20]! ^= 1;
  writeFileSync(sealed(uuid), bad);
  try {
    await rejectsError(() => unlock(img), 'DeviceError', 'ERR_LOCK_INTEGRITY', /does not match the token's SHA-256/);
    replaceToken(img, { ...t, bindings: [{ ...t.bindings[0], sha256: createHash('sha256').update(bad).digest('hex') }] });
    await rejectsError(() => unlock(img), 'DeviceError', 'ERR_LOCK_INTEGRITY', /the TPM refused the sealed LUKS key \(it was altered/);
    refused(capsule(['device', 'luks-key', img, '--data-dir', d.data]), /the TPM refused the sealed LUKS key/);
  } finally {
    writeFileSync(sealed(uuid), good);
    replaceToken(img, t);
  }
  // The token's path is checked as for the module binding, and a known kind must be well formed.
  replaceToken(img, { ...t, bindings: [{ ...t.bindings[0], path: `luks/${uuid}.lock` }] });
  await rejectsError(
    () => unlock(img),
    'DeviceError',
    'ERR_LUKS_TOKEN',
    /bindings\[0\]\.path: expected "luks\/[0-9a-f-]+\.tpm2\.lock", got "luks\/[0-9a-f-]+\.lock"/,
  );
  replaceToken(img, { ...t, bindings: [{ ...t.bindings[0], pcrs: [24] }] });
  await rejectsError(() => unlock(img), 'DeviceError', 'ERR_LUKS_TOKEN', /bindings\[0\]\.pcrs: expected distinct PCR numbers 0\.\.23, got \[24\]/);
  replaceToken(img, t);
  // Only the blob, without the seal store (an initramfs built before the enrolment).
  const partial = join(work, 'partial-data');
  mkdirSync(join(partial, 'luks'), { recursive: true });
  copyFileSync(sealed(uuid), join(partial, 'luks', `${uuid}.tpm2.lock`));
  await rejectsError(
    () => unlock(img, {}, partial),
    'DeviceError',
    'ERR_LUKS_TOKEN',
    /the TPM seal store .*partial-data\/luks\/tpm2-keystore\.json is missing/,
  );
  copyFileSync(join(d.data, 'luks', 'tpm2-keystore.json'), join(partial, 'luks', 'tpm2-keystore.json'));
  await rejectsError(() => unlock(img, {}, partial), 'DeviceError', 'ERR_LUKS_TOKEN', /auth file .*partial-data\/luks\/tpm2-auth is missing/);
  refused(capsule(['device', 'luks-key', img, '--data-dir', partial]), /auth file .* is missing/, /update-initramfs -u/);
  // Present but unusable (a file problem, not a missing TPM): ERR_LUKS_TOKEN naming it, the cause chained.
  writeFileSync(join(partial, 'luks', 'tpm2-auth'), Buffer.alloc(5));
  const short = await unlock(img, {}, partial).then(
    () => undefined,
    (e: unknown) => e,
  );
  expectError(
    short,
    'DeviceError',
    'ERR_LUKS_TOKEN',
    /token 0: the TPM seal store in .*partial-data\/luks cannot be used: the auth file .*partial-data\/luks\/tpm2-auth holds 5 bytes, not 32$/,
  );
  assert.is((short as Error & { cause: { code?: string } }).cause.code, 'ERR_KEYSTORE_FILE');
  copyFileSync(join(d.data, 'luks', 'tpm2-auth'), join(partial, 'luks', 'tpm2-auth'));
  writeFileSync(join(partial, 'luks', 'tpm2-keystore.json'), '{"format":"something else"}');
  await rejectsError(
    () => unlock(img, {}, partial),
    'DeviceError',
    'ERR_LUKS_TOKEN',
    /the TPM seal store in .*partial-data\/luks cannot be used: .*partial-data\/luks\/tpm2-keystore\.json is not a /,
  );
  refused(
    capsule(['device', 'luks-key', img, '--data-dir', partial]),
    /the TPM seal store in .* cannot be used/,
    /restore .*tpm2-keystore\.json and .*tpm2-auth from the backup of the data directory/,
  );
  await rejectsError(
    () => unlockLuksKey({ device: img, dataDir: d.data, backend: 'fido2' as never }),
    'TypeError',
    undefined,
    /^backend: expected "zymbit" or "tpm2", got "fido2"$/,
  );
  // And the module binding is not what this token has.
  refused(
    capsule(['device', 'luks-key', img, '--data-dir', d.data, '--backend', 'zymbit']),
    /has no zymbit-lock binding \(--backend zymbit; kinds: tpm2-seal\)/,
  );
});

test('enrolment refusals on a TPM guardian: --backend zymbit, bad --pcrs, already bound (nothing added)', async () => {
  const other = join(work, 'refusals.img');
  format(other);
  refused(
    capsule(['device', 'luks-enroll', other, '--data-dir', d.data, '--key-file', pass, '--backend', 'zymbit']),
    /--backend zymbit: the guardian in .* uses the tpm2 backend/,
  );
  refused(
    capsule(['device', 'luks-enroll', other, '--data-dir', d.data, '--key-file', pass, '--pcrs', '24']),
    /--pcrs: pcrs "24": expected distinct PCR numbers 0\.\.23/,
  );
  refused(capsule(['device', 'luks-enroll', other, '--data-dir', d.data, '--key-file', pass, '--pcrs', '7,7']), /--pcrs: .*expected distinct PCR numbers/);
  await rejectsError(
    () => enrollLuks({ device: other, dataDir: d.data, keyFile: pass, pcrs: [7, 99], env }),
    'RangeError',
    undefined,
    /^pcrs: expected distinct PCR numbers 0\.\.23 \(SHA-256 bank\), got \[7,99\]$/,
  );
  await rejectsError(
    () => enrollLuks({ device: other, dataDir: d.data, keyFile: pass, backend: 'zymbit', env }),
    'UsageError',
    'ERR_USAGE',
    /--backend zymbit: the guardian in .* uses the tpm2 backend/,
  );
  assert.equal(Object.keys(JSON.parse(cs(['luksDump', '--dump-json-metadata', other]).stdout.toString()).keyslots), ['0'], 'no keyslot added');
  await rejectsError(
    () => enrollLuks({ device: img, dataDir: d.data, keyFile: pass, env }),
    'DeviceError',
    'ERR_LUKS_ENROLLED',
    /is already bound .*\(token 0\)/,
  );
  rmSync(other);
});

/** A systemd-tpm2 token as systemd-cryptenroll 252 writes it (fields its cryptsetup plugin validates on import). */
function systemdToken(keyslot: string): Record<string, unknown> {
  return {
    type: 'systemd-tpm2',
    keyslots: [keyslot],
    'tpm2-blob': randomBytes(222).toString('base64'),
    'tpm2-pcrs': [0, 7],
    'tpm2-pcr-bank': 'sha256',
    'tpm2-primary-alg': 'ecc',
    'tpm2-policy-hash': 'ab'.repeat(32),
    'tpm2-pin': true,
  };
}
/** A clevis LUKS2 token whose JWE protected header names the tpm2 pin (as `clevis luks bind … tpm2` writes it). */
function clevisToken(keyslot: string): Record<string, unknown> {
  const header = {
    alg: 'dir',
    enc: 'A256GCM',
    clevis: { pin: 'tpm2', tpm2: { hash: 'sha256', key: 'ecc', pcr_bank: 'sha256', pcr_ids: '0,7', jwk_pub: 'AAAA', jwk_priv: 'AAAA' } },
  };
  return {
    type: 'clevis',
    keyslots: [keyslot],
    jwe: { ciphertext: '', encrypted_key: '', iv: '', protected: Buffer.from(JSON.stringify(header)).toString('base64url'), tag: '' },
  };
}

test('systemd-tpm2 and clevis tokens already on the disk: recognised, named on stderr by luks-enroll, left alone', async () => {
  const other = join(work, 'foreign.img');
  format(other);
  const systemd = systemdToken('0');
  for (const [id, t] of [
    [0, systemd],
    [1, clevisToken('0')],
  ] as const) {
    const r = cs(['token', 'import', '--token-id', String(id), '--json-file', '-', other], JSON.stringify(t));
    assert.is(r.code, 0, r.stderr);
  }
  const found = await readForeignTokens(other, env);
  assert.equal(
    found.map((f) => [f.tool, f.id]),
    [
      ['systemd-tpm2', 0],
      ['clevis', 1],
    ],
  );
  assert.equal(found[0], {
    tool: 'systemd-tpm2',
    id: 0,
    keyslots: ['0'],
    pcrs: [0, 7],
    pcrBank: 'sha256',
    primaryAlg: 'ecc',
    policyHash: 'ab'.repeat(32),
    pin: true,
    signedPcrs: [],
    pcrlock: false,
  });
  assert.is(describeForeignToken(found[0]!), 'a systemd-tpm2 token (token 0, keyslot 0) sealed to PCRs 0, 7 (sha256 bank), ecc primary key, with a PIN');
  assert.is(describeForeignToken(found[1]!), 'a clevis token (token 1, keyslot 0, pin tpm2): its tpm2 pin sealed to PCRs 0, 7 (sha256 bank), ecc primary key');
  // Hostile fields are not echoed: they come back empty.
  const hostile = foreignTokens({
    3: { type: 'systemd-tpm2', keyslots: ['1; rm'], 'tpm2-pcrs': 'x', 'tpm2-pcr-bank': '\u001b[31mred', 'tpm2-policy-hash': 'zz' },
  });
  assert.equal(hostile, [
    {
      tool: 'systemd-tpm2',
      id: 3,
      keyslots: [],
      pcrs: [],
      pcrBank: undefined,
      primaryAlg: undefined,
      policyHash: undefined,
      pin: false,
      signedPcrs: [],
      pcrlock: false,
    },
  ]);

  const e = capsule(['device', 'luks-enroll', other, '--data-dir', d.data, '--key-file', pass]);
  assert.is(e.code, 0, e.stderr);
  const lines = e.stderr.trimEnd().split('\n');
  assert.is(
    lines[0],
    `capsule: note: ${other} also has a systemd-tpm2 token (token 0, keyslot 0) sealed to PCRs 0, 7 (sha256 bank), ecc primary key, with a PIN: left as it is (either opens the disk)`,
  );
  assert.match(lines[1]!, /^capsule: note: .* also has a clevis token \(token 1, keyslot 0, pin tpm2\): its tpm2 pin sealed to PCRs 0, 7/);
  assert.match(lines[2]!, /^capsule: keyslot 1 of .* is bound to TPM .*: token 2, /);
  const meta = JSON.parse(cs(['luksDump', '--dump-json-metadata', other]).stdout.toString());
  assert.equal(Object.keys(meta.tokens).sort(), ['0', '1', '2']);
  assert.equal(tokenJson(other, 0), systemd, 'the systemd-tpm2 token is untouched');
  const k = capsule(['device', 'luks-key', other, '--data-dir', d.data]);
  assert.is(k.code, 0, k.stderr);
  assert.ok(keyOpens(other, k.stdout, 1));
  // With no capsule token, luks-key points at the other tool.
  const fresh = join(work, 'foreign-only.img');
  format(fresh);
  assert.is(cs(['token', 'import', '--token-id', '0', '--json-file', '-', fresh], JSON.stringify(systemdToken('0'))).code, 0);
  refused(
    capsule(['device', 'luks-key', fresh, '--data-dir', d.data]),
    /no capsule token in the LUKS2 header/,
    /it has a systemd-tpm2 token \(token 0, keyslot 0\) .*: unlock it with that tool/,
  );
  rmSync(other);
  rmSync(fresh);
});

test('a real systemd-cryptenroll --tpm2-device enrolment against the same swtpm is recognised', () => {
  if (spawnSync('sh', ['-c', 'command -v systemd-cryptenroll']).status !== 0) {
    console.log('SKIPPED: systemd-cryptenroll is not installed');
    return;
  }
  const other = join(work, 'systemd.img');
  format(other);
  // systemd ≥ 252 takes a TCTI ("driver:conf") as --tpm2-device, so it reaches swtpm directly.
  const se = run('systemd-cryptenroll', [`--unlock-key-file=${pass}`, `--tpm2-device=${tpm.tcti}`, '--tpm2-pcrs=7', other]);
  if (se.code !== 0) {
    console.log(`SKIPPED: systemd-cryptenroll cannot enrol here (exit ${se.code}): ${se.stderr.trim().split('\n').pop()}`);
    rmSync(other);
    return;
  }
  const t = tokenJson(other);
  assert.is(t.type, 'systemd-tpm2');
  const e = capsule(['device', 'luks-enroll', other, '--data-dir', d.data, '--key-file', pass, '--backend', 'tpm2']);
  assert.is(e.code, 0, e.stderr);
  assert.match(
    e.stderr,
    new RegExp(
      `^capsule: note: .* also has a systemd-tpm2 token \\(token 0, keyslot 1\\) sealed to PCR 7 \\(${t['tpm2-pcr-bank']} bank\\), ${t['tpm2-primary-alg']} primary key, no PIN: left as it is`,
    ),
  );
  assert.match(e.stderr, /capsule: keyslot 2 of .* is bound to TPM .*: token 1, /);
  const k = capsule(['device', 'luks-key', other, '--data-dir', d.data]);
  assert.is(k.code, 0, k.stderr);
  assert.ok(keyOpens(other, k.stdout, 2));
  assert.equal(tokenJson(other, 0), t, 'the systemd-tpm2 token is untouched');
  rmSync(other);
});

test.run();
