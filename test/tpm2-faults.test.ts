/**
 * The `tpm2` KeyStore's faults, in process against swtpm (a fresh TPM per test) with tpm2-tools as
 * the outside hand that changes the TPM's state: no object, session or allocation leaks over many
 * calls (failing ones included), a wrong authValue (one dictionary-attack failure per call, never a
 * retry), the lockout itself, blobs from another TPM or altered, a key file on another TPM, PCR
 * policies after an extend, and no TPM at all.
 *
 * Deliberately not here: the KeyStore contract every backend meets (keystore.test.ts) and the
 * guardian end to end (tpm2-guardian.test.ts).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { constants, generateKeyPairSync, publicEncrypt, randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { p256 } from '@noble/curves/nist.js';
import { tpm2RsaLabel, wrapTpm2Rsa } from '../agent/crypto/tpm2RsaStanza.ts';
import { Tpm2KeyStore, TPM2_AUTH_FILE, TPM2_KEYSTORE_FILE } from '../agent/keys/Tpm2KeyStore.ts';
import { rejectsError } from './helpers/assertError.ts';
import { startSwtpm, type Swtpm } from './helpers/swtpm.ts';
import { toolsHandles, toolsProperty } from './helpers/tpm2Tools.ts';

const root = mkdtempSync(join(tmpdir(), 'capsule-tpm2-faults-'));
const tpms: Swtpm[] = [];
const stores: Tpm2KeyStore[] = [];
let n = 0;

test.after(async () => {
  for (const ks of stores) await ks.close().catch(() => {});
  for (const t of tpms) await t.stop();
  rmSync(root, { recursive: true, force: true });
});

/** A fresh TPM and a key store made on it (closed and stopped after the suite). */
async function fresh(): Promise<{ tpm: Swtpm; dir: string; ks: Tpm2KeyStore }> {
  const tpm = await startSwtpm();
  tpms.push(tpm);
  const dir = join(root, `store-${++n}`);
  const ks = await Tpm2KeyStore.create(dir, { tcti: tpm.tcti });
  stores.push(ks);
  return { tpm, dir, ks };
}

/** The store in `dir` opened again, or a copy of its key file with another authValue. */
async function reopen(tpm: Swtpm, dir: string, auth?: Uint8Array): Promise<Tpm2KeyStore> {
  let at = dir;
  if (auth) {
    at = join(root, `copy-${++n}`);
    mkdirSync(at);
    copyFileSync(join(dir, TPM2_KEYSTORE_FILE), join(at, TPM2_KEYSTORE_FILE));
    writeFileSync(join(at, TPM2_AUTH_FILE), auth);
  }
  const ks = await Tpm2KeyStore.open(at, { tcti: tpm.tcti });
  stores.push(ks);
  return ks;
}

/** A stanza body for `ks`'s RSA key: the known file key, and the label to open it with. */
function stanzaFor(modulus: Uint8Array): { key: Uint8Array; body: Uint8Array; label: Uint8Array } {
  const key = new Uint8Array(randomBytes(32));
  const id = new Uint8Array(randomBytes(16));
  return { key, body: wrapTpm2Rsa(key, modulus, id).body, label: tpm2RsaLabel(id) };
}

const sessions = (tpm: Swtpm) => [...toolsHandles(tpm, 'handles-loaded-session'), ...toolsHandles(tpm, 'handles-saved-session')];

test('500 calls (sign, lock, unlock, RSA decrypt, random bytes; failing ones among them) leave only the SRK loaded, no session, and every allocation released', async () => {
  const { tpm, ks } = await fresh();
  const objects = await ks.tpm.transientObjects();
  assert.is(objects.length, 1, 'the SRK only');
  assert.equal(toolsHandles(tpm, 'handles-transient'), objects, 'tpm2-tools sees the same');
  assert.equal(sessions(tpm), [], 'no session before');
  const pub = Uint8Array.of(4, ...(await ks.publicKey(0)));
  const s = stanzaFor(ks.tpm2Rsa.modulus);
  const data = new Uint8Array(randomBytes(100));
  const blob = await ks.lock(data);
  const tampered = Uint8Array.from(blob);
  tampered[tampered.length - 20]! ^= 1; // in the AES-GCM body: the TPM unseals, the tag fails
  const freed = ks.tpm.freed;
  let returned = 0; // calls that bring data out of the TPM (each frees at least one allocation)
  for (let i = 0; i < 500; i++) {
    switch (i % 7) {
      case 0: {
        const digest = new Uint8Array(randomBytes(32));
        assert.ok(p256.verify(await ks.sign(digest, 0), digest, pub, { prehash: false, lowS: false, format: 'compact' } as never), `signature ${i} verifies`);
        returned++;
        break;
      }
      case 1:
        assert.ok((await ks.lock(new Uint8Array(randomBytes(i % 50)))).length > 0);
        returned++;
        break;
      case 2:
        assert.equal(await ks.unlock(blob), data);
        returned++;
        break;
      case 3:
        assert.equal(await ks.tpm2Rsa.decrypt(s.body, s.label), s.key);
        returned++;
        break;
      case 4:
        assert.is((await ks.randomBytes(1 + (i % 70))).length, 1 + (i % 70));
        returned++;
        break;
      case 5:
        assert.is(await ks.tpm2Rsa.decrypt(new Uint8Array(randomBytes(256)), s.label), undefined, 'garbage is not for this key');
        break;
      default:
        await rejectsError(() => ks.unlock(tampered), 'KeyStoreError', 'ERR_LOCK_INTEGRITY', /its data does not authenticate/);
    }
  }
  assert.equal(await ks.tpm.transientObjects(), objects, 'still the SRK only');
  assert.equal(toolsHandles(tpm, 'handles-transient'), objects);
  assert.equal(sessions(tpm), [], 'no session left loaded or saved');
  assert.ok(ks.tpm.freed - freed >= returned, `allocations released: ${ks.tpm.freed - freed} for ${returned} calls returning data`);
  assert.is(await ks.tpm.lockoutCounter(), 0, 'no failure counted toward lockout');
  assert.equal(ks.health(), { state: 'ok' });
  // The session query sees sessions when there are some (tpm2-tools leaves its own saved).
  tpm.tools('tpm2_startauthsession', ['-S', join(root, `session-${++n}.ctx`)]);
  assert.is(sessions(tpm).length, 1, 'the query sees a session');
});

test('a wrong authValue: sign, RSA decrypt and unlock are refused with ERR_TPM_AUTH naming the lockout, each counting exactly one failure', async () => {
  const { tpm, dir, ks } = await fresh();
  tpm.tools('tpm2_dictionarylockout', ['-s', '-n', '10', '-t', '600', '-l', '600']); // room for the failures below
  const s = stanzaFor(ks.tpm2Rsa.modulus);
  const blob = await ks.lock(new Uint8Array(randomBytes(40)));
  const wrong = await reopen(tpm, dir, new Uint8Array(randomBytes(32)));
  const calls: Array<[string, () => Promise<unknown>]> = [
    ['Sign', () => wrong.sign(new Uint8Array(32), 0)],
    ['RSA_Decrypt', () => wrong.tpm2Rsa.decrypt(s.body, s.label)],
    ['Unseal', () => wrong.unlock(blob)],
    ['Sign', () => wrong.sign(new Uint8Array(32), 0)],
  ];
  for (const [call, fn] of calls) {
    const before = await wrong.tpm.lockoutCounter();
    let thrown: unknown;
    await rejectsError(
      () =>
        fn().catch((e) => {
          thrown = e;
          throw e;
        }),
      'KeyStoreError',
      'ERR_TPM_AUTH',
      new RegExp(`^tpm2: Esys_${call}: the TPM refused the key's authorisation value \\(.*\\); the failure counts toward lockout$`),
    );
    assert.match((thrown as { hint?: string }).hint ?? '', /the auth file in use does not match the one this key was made with .*; do not retry/);
    assert.is(await wrong.tpm.lockoutCounter(), before + 1, `${call}: exactly one failure counted (no retry)`);
  }
  // Calls that need no authorisation go on; the right store still works below the threshold.
  assert.is((await wrong.randomBytes(16)).length, 16);
  assert.equal(await ks.tpm2Rsa.decrypt(s.body, s.label), s.key);
  assert.is(await ks.tpm.lockoutCounter(), calls.length);
  assert.equal(await wrong.tpm.transientObjects(), await ks.tpm.transientObjects(), 'nothing left loaded by the failures');
});

test('lockout: with 2 tries allowed the third call meets ERR_TPM_LOCKOUT with a hint and counts nothing; the right key is refused too until the lockout is cleared', async () => {
  const { tpm, dir, ks } = await fresh();
  tpm.tools('tpm2_dictionarylockout', ['-c']);
  tpm.tools('tpm2_dictionarylockout', ['-s', '-n', '2', '-t', '600', '-l', '600']);
  assert.is(toolsProperty(tpm, 'properties-variable', 'TPM2_PT_MAX_AUTH_FAIL'), 2);
  const wrong = await reopen(tpm, dir, new Uint8Array(randomBytes(32)));
  for (let i = 1; i <= 2; i++) {
    await rejectsError(() => wrong.sign(new Uint8Array(32), 0), 'KeyStoreError', 'ERR_TPM_AUTH', /the failure counts toward lockout/);
    assert.is(await ks.tpm.lockoutCounter(), i);
  }
  const lockout = /^tpm2: Esys_Sign: the TPM is in dictionary-attack lockout \(.*\); it refuses authorised use until the lockout recovers$/;
  for (const store of [wrong, ks]) {
    let thrown: unknown;
    await rejectsError(
      () =>
        store.sign(new Uint8Array(32), 0).catch((e) => {
          thrown = e;
          throw e;
        }),
      'KeyStoreError',
      'ERR_TPM_LOCKOUT',
      lockout,
    );
    assert.match((thrown as { hint?: string }).hint ?? '', /^do not retry: wait for the recovery interval .*tpm2_dictionarylockout --clear-lockout/);
    assert.is(await ks.tpm.lockoutCounter(), 2, 'a call refused in lockout does not count');
  }
  const s = stanzaFor(ks.tpm2Rsa.modulus);
  await rejectsError(
    () => ks.tpm2Rsa.decrypt(s.body, s.label),
    'KeyStoreError',
    'ERR_TPM_LOCKOUT',
    /Esys_RSA_Decrypt: the TPM is in dictionary-attack lockout/,
  );
  const h = ks.health();
  assert.is(`${h.state} ${h.code}`, 'failing ERR_TPM_LOCKOUT', '/v1/status shows the lockout: every authorised use is refused until it recovers');
  tpm.tools('tpm2_dictionarylockout', ['-c']);
  assert.is(await ks.tpm.lockoutCounter(), 0);
  const digest = new Uint8Array(randomBytes(32));
  assert.ok(
    p256.verify(await ks.sign(digest, 0), digest, Uint8Array.of(4, ...(await ks.publicKey(0))), { prehash: false, lowS: false, format: 'compact' } as never),
    'signs again once cleared',
  );
  assert.equal(await ks.tpm2Rsa.decrypt(s.body, s.label), s.key);
  assert.equal(ks.health(), { state: 'ok' }, 'healthy again once the TPM answers');
});

test("lock blobs and key files: another TPM's blob, the key file on another TPM, truncated and bit-flipped blobs are all ERR_LOCK_INTEGRITY", async () => {
  const a = await fresh();
  const b = await fresh();
  const data = new Uint8Array(randomBytes(60));
  const blob = await a.ks.lock(data, { pcrs: [7] });
  const foreign = await b.ks.lock(data);
  await rejectsError(
    () => a.ks.unlock(foreign),
    'KeyStoreError',
    'ERR_LOCK_INTEGRITY',
    /^tpm2: this TPM refuses the blob \(.*\): it was made by another TPM, or altered$/,
  );
  // The key file (and its auth file) carried to another TPM: refused at open, naming both TPMs.
  const moved = join(root, `moved-${++n}`);
  mkdirSync(moved);
  for (const f of [TPM2_KEYSTORE_FILE, TPM2_AUTH_FILE]) copyFileSync(join(a.dir, f), join(moved, f));
  const serialA = a.ks.capabilities.serial!;
  const serialB = b.ks.capabilities.serial!;
  assert.is.not(serialA, serialB);
  await rejectsError(
    () => Tpm2KeyStore.open(moved, { tcti: b.tpm.tcti }),
    'KeyStoreError',
    'ERR_LOCK_INTEGRITY',
    new RegExp(`holds keys of TPM ${serialA}, but this TPM is ${serialB} \\(another TPM, or this one was cleared\\)`),
  );
  // Truncated anywhere.
  for (const length of [0, 3, 5, 6, 20, 100, blob.length - 29, blob.length - 17, blob.length - 1]) {
    await rejectsError(
      () => a.ks.unlock(blob.subarray(0, length)),
      'KeyStoreError',
      'ERR_LOCK_INTEGRITY',
      /^tpm2: (the lock blob fails its integrity check|this TPM refuses the blob|the key blob is not a TPM object)/,
    );
  }
  // Every single bit flipped, one at a time: header, TPM public and private areas, nonce, body, tag.
  // The PCR list (byte 6 here: one PCR) is the exception: the TPM checks the policy before the AES-GCM
  // tag can show the header was altered, so another PCR reads as changed PCRs (refused all the same).
  const pcrByte = 6;
  const seen = new Set<string>();
  for (let bit = 0; bit < blob.length * 8; bit++) {
    const flipped = Uint8Array.from(blob);
    flipped[bit >> 3]! ^= 1 << (bit & 7);
    let thrown: unknown;
    try {
      await a.ks.unlock(flipped);
    } catch (e) {
      thrown = e;
    }
    assert.ok(thrown, `bit ${bit} flipped: refused`);
    const e = thrown as { name: string; code: string; message: string };
    const expected = bit >> 3 === pcrByte && e.code === 'ERR_TPM_POLICY' ? 'ERR_TPM_POLICY' : 'ERR_LOCK_INTEGRITY';
    assert.is(`${e.name} ${e.code}`, `KeyStoreError ${expected}`, `bit ${bit} flipped: ${e.message}`);
    seen.add(e.message.replace(/\(.*\)/, '(…)').replace(/version \d+/, 'version N'));
  }
  assert.ok(seen.size >= 5, `refused at several layers: ${[...seen].join(' | ')}`);
  assert.equal(await a.ks.unlock(blob), data, 'the original still opens');
  assert.is((await a.ks.tpm.transientObjects()).length, 1, 'only the SRK loaded');
  assert.is(await a.ks.tpm.lockoutCounter(), 0, 'altered blobs count no authorisation failure');
  assert.equal(a.ks.health(), { state: 'ok' }, 'an altered blob is no TPM failure');
});

test('PCR policy: a blob locked to PCR 7 opens, and after tpm2_pcrextend 7 is refused with ERR_TPM_POLICY; a blob with no PCRs still opens', async () => {
  const { tpm, ks } = await fresh();
  const data = new Uint8Array(randomBytes(48));
  const to7 = await ks.lock(data, { pcrs: [7] });
  const toNone = await ks.lock(data, { pcrs: [] });
  assert.equal(await ks.unlock(to7), data);
  tpm.tools('tpm2_pcrextend', [`7:sha256=${randomBytes(32).toString('hex')}`]);
  let thrown: unknown;
  await rejectsError(
    () =>
      ks.unlock(to7).catch((e) => {
        thrown = e;
        throw e;
      }),
    'KeyStoreError',
    'ERR_TPM_POLICY',
    /^tpm2: Esys_Unseal: the TPM's PCRs no longer match the policy the data was sealed under, or the blob's PCR list was altered \(.*\)$/,
  );
  assert.match((thrown as { hint?: string }).hint ?? '', /the boot chain changed/);
  assert.equal(await ks.unlock(toNone), data, 'no PCRs: unaffected by the extend');
  assert.equal(await ks.unlock(await ks.lock(data, { pcrs: [7] })), data, 'sealed to the new value, it opens');
  assert.is(await ks.tpm.lockoutCounter(), 0, 'a policy mismatch is no authorisation failure');
  assert.is((await ks.tpm.transientObjects()).length, 1);
  assert.equal(sessions(tpm), [], 'the failed policy session was flushed');
});

test('no TPM: open through a closed port is ERR_MODULE_ABSENT naming the TCTI; a ciphertext for another key decrypts to undefined and the TPM goes on working', async () => {
  const { dir, ks } = await fresh();
  const port = await new Promise<number>((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const p = (srv.address() as { port: number }).port;
      srv.close(() => resolve(p));
    });
  });
  const tcti = `swtpm:host=127.0.0.1,port=${port}`;
  const absent = new RegExp(`^tpm2: no TPM answers through TCTI ${tcti.replace(/\./g, '\\.')} \\(`);
  await rejectsError(() => Tpm2KeyStore.open(dir, { tcti }), 'KeyStoreError', 'ERR_MODULE_ABSENT', absent);
  const nowhere = join(root, `none-${++n}`);
  await rejectsError(() => Tpm2KeyStore.create(nowhere, { tcti }), 'KeyStoreError', 'ERR_MODULE_ABSENT', absent);
  assert.not.ok(existsSync(join(nowhere, TPM2_KEYSTORE_FILE)), 'no key file without a TPM');
  assert.not.ok(existsSync(join(nowhere, TPM2_AUTH_FILE)), 'no auth file without a TPM');
  // Ciphertexts that are not for this key: another RSA key, another capsule's label, c ≥ n.
  const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
  const s = stanzaFor(ks.tpm2Rsa.modulus);
  const foreign = publicEncrypt({ key: other, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256', oaepLabel: s.label }, s.key);
  assert.is(await ks.tpm2Rsa.decrypt(new Uint8Array(foreign), s.label), undefined, "another key's ciphertext");
  assert.is(await ks.tpm2Rsa.decrypt(s.body, tpm2RsaLabel(new Uint8Array(randomBytes(16)))), undefined, "another capsule's label");
  assert.is(await ks.tpm2Rsa.decrypt(new Uint8Array(256).fill(0xff), s.label), undefined, 'a ciphertext above the modulus');
  assert.equal(await ks.tpm2Rsa.decrypt(s.body, s.label), s.key, 'the TPM goes on working');
  assert.is((await ks.sign(new Uint8Array(32), 0)).length, 64);
  assert.equal(ks.health(), { state: 'ok' });
  assert.is((await ks.tpm.transientObjects()).length, 1);
});

test.run();
