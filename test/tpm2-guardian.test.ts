/**
 * A guardian on a TPM 2.0 end to end: swtpm as the TPM, the real `capsule` binary, the agent as a
 * process answering real HTTP on 127.0.0.1, and tpm2-tools as the independent peer. Provisioning
 * (`--backend tpm2`, what `guardian show` reports), sealing anywhere to the `capsule-tpm1…`
 * recipient and a release through the agent (the requester opens the plaintext; the audit log is
 * signed by the TPM's P-256 key), tpm2-tools opening the same stanza (same SRK template, same
 * label), a restore from the words onto another TPM (x25519 capsules open, tpm2-rsa ones are
 * refused clearly) and a TPM that stops answering.
 *
 * Deliberately not here: the KeyStore's faults in process (tpm2-faults.test.ts) and the stanza's
 * format (vectors.test.ts).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { constants, createHash, generateKeyPairSync, publicEncrypt } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { p256 } from '@noble/curves/nist.js';
import { readHeader } from '../agent/capsule/inspect.ts';
import { openWithKey } from '../agent/capsule/open.ts';
import { sha256 } from '../agent/crypto/kdf.ts';
import { compressP256, encodeP256Key, GUARDIAN_KEY_HRP } from '../agent/crypto/p256.ts';
import { rsa2048PublicKey, tpm2RsaLabel } from '../agent/crypto/tpm2RsaStanza.ts';
import { encodeTpmRecipient, parseTpmRecipient } from '../agent/crypto/tpmRecipient.ts';
import { canonicalJson, type Json } from '../agent/daemon/AuditLog.ts';
import { STANZA_TPM2_RSA } from '../agent/format/constants.ts';
import type { CapsuleHeader } from '../agent/format/header.ts';
import { Guardian, MAX_TPM2_STANZAS_TRIED } from '../agent/guardian/Guardian.ts';
import { publicUnique, srkTemplate } from '../agent/keys/tpm2/tpmWire.ts';
import { rejectsError } from './helpers/assertError.ts';
import { assertFails, init, run, type Device } from './helpers/guardianDevice.ts';
import { post, setClock, startAgent, T } from './helpers/runningAgent.ts';
import { startSwtpm, type Swtpm } from './helpers/swtpm.ts';
import { nowhere, tpmDevice, tpmGuardian, tpmRecipients, type TpmGuardian } from './helpers/tpm2Guardian.ts';
import { toolsLoadRsa, toolsProperty, toolsRsaDecrypt, toolsSrk } from './helpers/tpm2Tools.ts';

// One guardian serves the first tests (provisioning takes seconds); the others make their own.
let shared: Promise<TpmGuardian> | undefined;
const guardian = (): Promise<TpmGuardian> => (shared ??= tpmGuardian());
const tpms: Swtpm[] = [];
const dirs: string[] = [];

test.after(async () => {
  if (shared) await (await shared.catch(() => undefined))?.stop();
  for (const t of tpms) await t.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const keyFile = (d: Device) => JSON.parse(readFileSync(join(d.data, 'tpm2-keystore.json'), 'utf8'));
const recipientOf = (d: Device, key: string) => /age1[0-9a-z]+/.exec(readFileSync(join(d.dir, key), 'utf8'))![0];
const ascii = (v: number) =>
  Buffer.from([v >>> 24, v >>> 16, v >>> 8, v & 0xff])
    .toString('latin1')
    .replace(/\0/g, '');

/** Seals `plain` in a directory that has no guardian, to `recipient`, time-locked to T. */
async function sealAnywhere(recipient: string, plain: Buffer, name: string): Promise<string> {
  const a = await nowhere();
  writeFileSync(join(a.dir, 'secret.bin'), plain);
  const s = run(a, ['seal', 'secret.bin', '--guardian', recipient, '--logic', 'policy.wasm', '--params', `{"timeLock": {"notBefore": ${T}}}`, '-o', name]);
  assert.is(s.code, 0, s.stderr);
  assert.not.ok(existsSync(a.data), 'no guardian where it was sealed');
  return join(a.dir, name);
}

async function headerOf(path: string): Promise<CapsuleHeader> {
  return (await readHeader({ path })).header;
}

async function openedWith(capsule: Uint8Array, key: Uint8Array): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of openWithKey(capsule, () => Uint8Array.from(key))) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

test("provision on a fresh swtpm: show reports backend tpm2, not hardware, a capsule-tpm1 recipient of the TPM key, and the TPM's own facts", async () => {
  const { tpm, d, r } = await guardian();
  const show = run(d, ['guardian', 'show', '--data-dir', d.data, '--json']);
  assert.is(show.code, 0, show.stderr);
  const json = JSON.parse(show.stdout);
  assert.is(json.backend, 'tpm2');
  assert.is(json.hardware, false, 'swtpm is a simulation');
  assert.match(json.stanzas['tpm2-rsa'], /^capsule-tpm1[0-9a-z]+$/);
  assert.is(json.stanzas['tpm2-rsa'], r.tpm2);
  assert.is(json.stanzas['p256-ecdh'], null, 'no ECDH slot on a TPM guardian');
  assert.is(json.capabilities.ecdh, false);
  assert.is(json.signingKey, r.signingKey);
  // The model is what the TPM says of itself, as tpm2-tools reads it independently.
  const vendor = [1, 2, 3, 4].map((i) => ascii(toolsProperty(tpm, 'properties-fixed', `TPM2_PT_VENDOR_STRING_${i}`))).join('');
  const model = `TPM 2.0 ${ascii(toolsProperty(tpm, 'properties-fixed', 'TPM2_PT_MANUFACTURER'))} ${vendor} (simulated)`.replace(/\s+/g, ' ');
  assert.is(json.model, model);
  assert.is(model, 'TPM 2.0 IBM SW TPM (simulated)');
  // The serial is the SRK fingerprint the key file was made under.
  const keys = keyFile(d);
  assert.match(json.serial, /^tpm2-[0-9a-f]{16}$/);
  assert.is(json.serial, keys.srk);
  // The recipient is the modulus of the TPM-wrapped RSA key in the key file.
  assert.equal(parseTpmRecipient(r.tpm2), publicUnique(new Uint8Array(Buffer.from(keys.rsa.public, 'base64'))).rsaModulus);
  assert.is(statSync(join(d.data, 'tpm2-keystore.json')).mode & 0o777, 0o600);
  assert.is(statSync(join(d.data, 'tpm2-auth')).mode & 0o777, 0o600);
  assert.is(statSync(join(d.data, 'tpm2-auth')).size, 32);
  const text = run(d, ['guardian', 'show', '--data-dir', d.data]);
  assert.is(text.code, 0, text.stderr);
  assert.ok(text.stdout.includes(`tpm2-rsa: ${r.tpm2} (this TPM only; not recoverable from the paper backup)\n`), text.stdout);
  assert.match(text.stdout, /^backend: tpm2\nmodel: TPM 2\.0 IBM SW TPM \(simulated\)\nserial: tpm2-[0-9a-f]{16}\n/);
});

test("sealed anywhere to capsule-tpm1…, released over HTTP by the agent on the TPM: the requester opens it; the audit log verifies and is signed by the TPM's key", async () => {
  const { d, r } = await guardian();
  const plain = Buffer.from(`the TPM guardian's secret ${'x'.repeat(100_000)}`);
  const path = await sealAnywhere(r.tpm2, plain, 'tpm.capsule');
  const header = await headerOf(path);
  assert.equal(
    header.stanzas.map((s) => s.type),
    [STANZA_TPM2_RSA],
    'one tpm2-rsa stanza, nothing the paper backup opens',
  );
  assert.is(run(d, ['keygen', '-o', 'me.key']).code, 0);
  assert.is(run(d, ['keygen', '-o', 'other.key']).code, 0);
  setClock(d, T);
  const capsule = readFileSync(path);
  const a = await startAgent(d);
  try {
    const push = run(d, ['logic', 'push', 'policy.wasm', '--guardian', a.url]);
    assert.is(push.code, 0, push.stderr);
    const rel = await post(a.url, '/v1/release', { capsule: capsule.toString('base64'), requester: recipientOf(d, 'me.key') });
    assert.is(rel.status, 200, JSON.stringify(rel.json));
    assert.is(rel.json.verdict, 'allow');
    writeFileSync(join(d.dir, 'answer.age'), Buffer.from(rel.json.answer, 'base64'));
    const age = spawnSync('age', ['-d', '-i', 'me.key', 'answer.age'], { cwd: d.dir });
    assert.is(age.status, 0, age.stderr.toString());
    assert.is(age.stdout.length, 32, 'the answer is the 32-byte file key');
    assert.ok((await openedWith(capsule, age.stdout)).equals(plain), 'the released key opens the capsule');
    assert.is(spawnSync('age', ['-d', '-i', 'other.key', 'answer.age'], { cwd: d.dir }).status, 1, 'only the requester reads the answer');
    // The requester's own path: `capsule open` asks the guardian and decrypts.
    const o = run(d, ['open', path, '--guardian', a.url, '--identity', 'me.key', '-o', 'opened.bin']);
    assert.is(o.code, 0, o.stderr);
    assert.ok(readFileSync(join(d.dir, 'opened.bin')).equals(plain));
    assert.not.match(a.log(), /^(?:ERROR|WARNING|INFO|DEBUG|TRACE):[a-z]+:/m, "no tpm2-tss logging in the agent's log");
  } finally {
    assert.is(await a.stop(), 0, 'graceful stop');
  }
  const v = run(d, ['audit', 'verify', '--data-dir', d.data, '--replay', '--guardian-key', r.signingKey]);
  assert.is(v.code, 0, v.stderr);
  const verified =
    /^ok .*audit\.log: (\d+) entries, chain and signatures valid \(guardian (capsule-guardian1[0-9a-z]+), pinned\); 2 decisions replayed with the same verdict and fuel\n$/.exec(
      v.stdout,
    );
  assert.ok(verified, v.stdout);
  assert.is(verified![2], r.signingKey);
  // Independently: every entry verifies under the TPM's P-256 key as the key file holds it, and
  // that key is the published signing key.
  const tpmKey = publicUnique(new Uint8Array(Buffer.from(keyFile(d).p256.public, 'base64'))).ecc!;
  assert.is(encodeP256Key(GUARDIAN_KEY_HRP, compressP256(tpmKey)), r.signingKey);
  const lines = readFileSync(join(d.data, 'audit.log'), 'utf8').trim().split('\n');
  assert.is(lines.length, Number(verified![1]));
  assert.ok(lines.filter((l) => JSON.parse(l).verdict === 'allow').length === 2, 'the release and the open are logged');
  for (const line of lines) {
    const { sig, ...body } = JSON.parse(line);
    const ok = p256.verify(Buffer.from(sig, 'hex'), sha256(new TextEncoder().encode(canonicalJson(body as Json))), Uint8Array.of(4, ...tpmKey), {
      prehash: false,
      lowS: true,
      format: 'compact',
    } as never);
    assert.ok(ok, `entry ${body.seq} (${body.kind}) verifies under the TPM key`);
  }
});

test("interop: tpm2-tools recreates our SRK, loads the RSA key from tpm2-keystore.json and decrypts the CLI's stanza to the file key; -l gets the NUL appended", async () => {
  const { tpm, d, r } = await guardian();
  const plain = Buffer.from('opened by tpm2-tools');
  const path = await sealAnywhere(r.tpm2, plain, 'tools.capsule');
  const capsule = readFileSync(path);
  const header = await headerOf(path);
  const stanza = header.stanzas.find((s) => s.type === STANZA_TPM2_RSA)!;
  // The file key as the guardian unwraps it (closed before the tools run: they flush every object).
  const g = await Guardian.open(d.data, { env: d.env });
  let fileKey: Uint8Array;
  try {
    fileKey = await g.unwrapFileKey(header);
  } finally {
    await g.close();
  }
  assert.ok((await openedWith(capsule, fileKey)).equals(plain), "the guardian's key opens the capsule");
  const work = mkdtempSync(join(tmpdir(), 'tpm2-tools-'));
  dirs.push(work);
  // The SRK: our template in tpmWire.ts and the command line give the same key.
  const srk = toolsSrk(tpm, work);
  const ours = srkTemplate();
  const shape = (b: Uint8Array) => Buffer.from(b.subarray(2, ours.length - 4)); // TPMT_PUBLIC without the unique point
  assert.is(
    shape(srk).toString('hex'),
    shape(ours).toString('hex'),
    `SRK template: ours has attributes 0x${Buffer.from(ours.subarray(6, 10)).toString('hex')}, tpm2_createprimary 0x${Buffer.from(srk.subarray(6, 10)).toString('hex')}`,
  );
  assert.is(`tpm2-${createHash('sha256').update(srk).digest('hex').slice(0, 16)}`, r.serial, "the tools' SRK has the fingerprint the key file was made under");
  toolsLoadRsa(tpm, work, d.data);
  // The label as text: everything but its final NUL, which must be its only zero byte.
  const label = tpm2RsaLabel(header.id);
  assert.is(label.at(-1), 0);
  assert.is(label.indexOf(0), label.length - 1);
  const text = Buffer.from(label.subarray(0, -1)).toString('latin1');
  // A ciphertext whose label lacks the NUL does not open with `-l text`: the tool sends text ‖ 00.
  const noNul = publicEncrypt(
    { key: rsa2048PublicKey(parseTpmRecipient(r.tpm2)), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256', oaepLabel: label.subarray(0, -1) },
    fileKey,
  );
  const refused = toolsRsaDecrypt(tpm, work, d.data, text, noNul);
  assert.is.not(refused.status, 0, 'label without the NUL: refused');
  assert.is(refused.plain, undefined);
  const opened = toolsRsaDecrypt(tpm, work, d.data, text, stanza.body);
  assert.is(opened.status, 0, opened.stderr);
  assert.equal(new Uint8Array(opened.plain!), fileKey, 'tpm2_rsadecrypt gives the file key');
  assert.is(tpm.tools('tpm2_getcap', ['handles-transient']).toString().trim(), '', 'the tools left nothing loaded');
});

test('restore from the 24 words onto a new TPM: the x25519 capsule opens; the tpm2-rsa capsule is refused with ERR_LOCKED_ELSEWHERE and a clear message', async () => {
  const old = await guardian();
  const plain = Buffer.from('sealed before the TPM was replaced');
  const rsaCapsule = await sealAnywhere(old.r.tpm2, plain, 'rsa.capsule');
  const xCapsule = await sealAnywhere(old.r.x25519, plain, 'x.capsule');
  const tpm = await startSwtpm();
  tpms.push(tpm);
  const fresh = tpmDevice(tpm); // nothing copied: only the words
  const restored = run(
    fresh,
    ['guardian', 'init', '--backend', 'tpm2', '--restore', '--mnemonic-from-stdin', '--data-dir', fresh.data],
    `${old.words.join(' ')}\n`,
  );
  assert.is(restored.code, 0, restored.stderr);
  assert.match(restored.stderr, /capsule: guardian restored in .* \(tpm2, TPM 2\.0 IBM SW TPM \(simulated\), tpm2-[0-9a-f]{16}\)/);
  const r = tpmRecipients(fresh);
  assert.is(r.x25519, old.r.x25519, 'the seed gives the same x25519 recipient');
  assert.is.not(r.tpm2, old.r.tpm2, 'a new TPM has a new RSA key');
  assert.is.not(r.serial, old.r.serial);
  assert.is.not(r.signingKey, old.r.signingKey);
  const x = run(fresh, ['decrypt', xCapsule, '--on-guardian', '--data-dir', fresh.data, '-o', 'x.out']);
  assert.is(x.code, 0, x.stderr);
  assert.ok(readFileSync(join(fresh.dir, 'x.out')).equals(plain));
  const refused = run(fresh, ['decrypt', rsaCapsule, '--on-guardian', '--data-dir', fresh.data, '-o', 'rsa.out']);
  assertFails(
    refused,
    new RegExp(`tpm2-rsa stanza was sealed to another TPM's key; this guardian \\(${r.serial}\\) cannot open it`),
    /a tpm2-rsa capsule opens only through the TPM whose capsule-tpm1… recipient it was sealed to; a guardian restored from paper \(or on a new TPM\)/,
  );
  assert.is(refused.stderr.trim().split('\n').length, 2, 'the error and its hint, nothing else');
  assert.not.ok(existsSync(join(fresh.dir, 'rsa.out')), 'no output');
  // The same through the API: a KeyError with its stable code.
  const g = await Guardian.open(fresh.data, { env: fresh.env });
  try {
    const header = await headerOf(rsaCapsule);
    await rejectsError(
      () => g.unwrapFileKey(header),
      'KeyError',
      'ERR_LOCKED_ELSEWHERE',
      new RegExp(`tpm2-rsa stanza was sealed to another TPM's key; this guardian \\(${r.serial}\\) cannot open it`),
    );
  } finally {
    await g.close();
  }
});

test('a guardian whose TPM stopped answering: show and decrypt exit 1 naming the TCTI, with a hint and nothing else on stderr', async () => {
  const own = await tpmGuardian();
  tpms.push(own.tpm); // stopped here on purpose; after() stops it again if the test fails first
  const xCapsule = await sealAnywhere(own.r.x25519, Buffer.from('x'), 'x.capsule');
  await own.stop();
  const tcti = own.tpm.tcti.replace(/[.]/g, '\\.');
  for (const args of [
    ['guardian', 'show', '--data-dir', own.d.data],
    ['decrypt', xCapsule, '--on-guardian', '--data-dir', own.d.data, '-o', 'x.out'],
  ]) {
    const r = run(own.d, args);
    assertFails(
      r,
      new RegExp(`^capsule: error: tpm2: no TPM answers through TCTI ${tcti} \\(`),
      /^capsule: hint: check the TPM simulator is running at that address, or set the TCTI \(CAPSULE_TPM_TCTI\)$/,
    );
    assert.equal(
      r.stderr
        .trim()
        .split('\n')
        .map((l) => l.split(':').slice(0, 2).join(':')),
      ['capsule: error', 'capsule: hint'],
      `only the error and the hint: ${r.stderr}`,
    );
    assert.is(r.stdout, '');
  }
  assert.not.ok(existsSync(join(own.d.dir, 'x.out')));
});

test('CAPSULE_TPM_AUTH_FILE outside the data directory: init works the first time, the file is made there, and the recorded path serves later opens', async () => {
  const tpm = await startSwtpm();
  tpms.push(tpm);
  const d = tpmDevice(tpm);
  const auth = join(d.dir, 'secrets', 'tpm-auth');
  mkdirSync(join(d.dir, 'secrets'));
  const r = await init(d, { args: ['--backend', 'tpm2'], env: { CAPSULE_TPM_AUTH_FILE: auth } });
  assert.is(r.code, 0, r.stderr);
  assert.is(readFileSync(auth).length, 32);
  assert.is(statSync(auth).mode & 0o777, 0o600);
  assert.not.ok(existsSync(join(d.data, 'tpm2-auth')), 'not in the data directory');
  assert.is(JSON.parse(readFileSync(join(d.data, 'guardian.json'), 'utf8')).tpmAuthFile, auth);
  const show = run(d, ['guardian', 'show', '--data-dir', d.data]); // without the variable: the recorded path
  assert.is(show.code, 0, show.stderr);
});

test("init --restore --force onto a new TPM in the same data directory keeps the old TPM's keys aside (named by its fingerprint) and says so", async () => {
  const first = await startSwtpm();
  const second = await startSwtpm();
  tpms.push(first, second);
  const d = tpmDevice(first);
  const r = await init(d, { args: ['--backend', 'tpm2'] });
  assert.is(r.code, 0, r.stderr);
  const before = readFileSync(join(d.data, 'tpm2-keystore.json'), 'utf8');
  const oldSerial = JSON.parse(before).srk as string;
  const again = run(
    d,
    ['guardian', 'init', '--backend', 'tpm2', '--restore', '--force', '--mnemonic-from-stdin', '--data-dir', d.data],
    `${r.words.join(' ')}\n`,
    { CAPSULE_TPM_TCTI: second.tcti },
  );
  assert.is(again.code, 0, again.stderr);
  const kept = join(d.data, `tpm2-keystore.${oldSerial}.json`);
  assert.match(
    again.stderr,
    new RegExp(
      `capsule: note: .*tpm2-keystore\\.json held the keys of another TPM \\(${oldSerial}\\); kept as ${kept.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}, and new keys made on this TPM`,
    ),
  );
  assert.is(readFileSync(kept, 'utf8'), before, 'the old keys, byte for byte');
  assert.is.not(JSON.parse(readFileSync(join(d.data, 'tpm2-keystore.json'), 'utf8')).srk, oldSerial);
});

test('a header with more tpm2-rsa stanzas than MAX_TPM2_STANZAS_TRIED: ours among the first 8 opens; ours 9th is not tried and the error says so', async () => {
  const g = await guardian();
  const others = Array.from({ length: MAX_TPM2_STANZAS_TRIED }, () =>
    encodeTpmRecipient(new Uint8Array(Buffer.from(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' }).n!, 'base64url'))),
  );
  const a = await nowhere();
  writeFileSync(join(a.dir, 'secret.bin'), 'many guardians');
  const seal = (order: string[], out: string) => {
    const s = run(a, ['seal', 'secret.bin', ...order.flatMap((r) => ['--guardian', r]), '--logic', 'policy.wasm', '-o', out]);
    assert.is(s.code, 0, s.stderr);
    return join(a.dir, out);
  };
  const early = seal([...others.slice(1), g.r.tpm2], 'early.capsule'); // ours 8th
  const late = seal([...others, g.r.tpm2], 'late.capsule'); // ours 9th
  const ok = run(g.d, ['decrypt', early, '--on-guardian', '--data-dir', g.d.data, '-o', 'early.out']);
  assert.is(ok.code, 0, ok.stderr);
  assert.is(readFileSync(join(g.d.dir, 'early.out'), 'utf8'), 'many guardians');
  const refused = run(g.d, ['decrypt', late, '--on-guardian', '--data-dir', g.d.data, '-o', 'late.out']);
  assertFails(
    refused,
    new RegExp(`tpm2-rsa stanza was sealed to another TPM's key \\(the first ${MAX_TPM2_STANZAS_TRIED} of ${MAX_TPM2_STANZAS_TRIED + 1} tried\\)`),
    /a tpm2-rsa capsule opens only through the TPM/,
  );
  assert.not.ok(existsSync(join(g.d.dir, 'late.out')));
});

test.run();
