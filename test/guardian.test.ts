/**
 * Guardian key custody end to end, through the real `capsule` binary and the Zymbit simulator
 * loaded by the production koffi binding (CAPSULE_ZYMBIT_LIB): provisioning with the words shown
 * once and confirmed, sealing to the guardian's recipients and on the guardian (zymbit-lock,
 * header signature), decrypting on it, restoring from the words on a new module, and every fault
 * the issue names (module absent, wrong model, tampered lock blob, wrong checksum, existing
 * guardian, unconfirmed words, kill -9 at any moment of init).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateMnemonic } from '@scure/bip39';
import { wordlist } from '@scure/bip39/wordlists/english.js';
import koffi from 'koffi';
import { readHeader } from '../agent/capsule/inspect.ts';
import { Guardian } from '../agent/guardian/Guardian.ts';
import type { ZymbitKeyStore } from '../agent/keys/ZymbitKeyStore.ts';
import { BIN } from './helpers/cli.ts';
import { assertFails, device, init, LIB, recipients, run, secretFile } from './helpers/guardianDevice.ts';

test('init on the simulator (HSM6): 24 valid words once, confirmed, guardian.json 0600 with recipients and signing key', async () => {
  const d = device();
  const r = await init(d);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.words.length, 24);
  assert.ok(validateMnemonic(r.words.join(' '), wordlist), 'BIP39 checksum');
  assert.match(r.stderr, /capsule: confirm words #\d+, #\d+, #\d+ \(one per line on stdin\)/);
  assert.match(r.stderr, /capsule: guardian provisioned in .* \(zymbit, HSM6 \(simulated\), SIM-[0-9a-f]+\)/);
  assert.is(statSync(join(d.data, 'guardian.json')).mode & 0o777, 0o600);
  const file = readFileSync(join(d.data, 'guardian.json'), 'utf8');
  // Single words can occur by chance (the record's own text says "process", "network", "user"…),
  // so look for any two consecutive recovery words, in any case or separator.
  for (let i = 0; i + 1 < r.words.length; i++) {
    assert.not.match(file, new RegExp(`${r.words[i]}[^a-z]{0,3}${r.words[i + 1]}`, 'i'), 'no run of recovery words in guardian.json');
  }
  const k = recipients(d);
  assert.match(k.x25519, /^age1[0-9a-z]{58}$/);
  assert.match(k.p256!, /^capsule-ecdh1[0-9a-z]+$/);
  assert.match(k.signingKey, /^capsule-guardian1[0-9a-z]+$/);
  const show = run(d, ['guardian', 'show', '--data-dir', d.data]);
  assert.is(show.code, 0, show.stderr);
  assert.ok(
    show.stdout.includes(`x25519: ${k.x25519}\n`) && show.stdout.includes(`p256-ecdh: ${k.p256}\n`) && show.stdout.includes(`signing-key: ${k.signingKey}\n`),
  );
  assert.match(show.stdout, /seed-process: bubblewrap: new user, pid, network, ipc, uts and cgroup namespaces; .*seccomp: \d+ syscalls denied\n/);
  const json = JSON.parse(run(d, ['guardian', 'show', '--data-dir', d.data, '--json']).stdout);
  assert.is(json.stanzas['x25519'], k.x25519);
  assert.is(json.capabilities.ecdh, true);
});

test('seal to the guardian (x25519, p256-ecdh, on-device zymbit-lock) and decrypt on it; the guardian signature verifies offline', async () => {
  const d = device();
  assert.is((await init(d)).code, 0);
  const k = recipients(d);
  const plain = secretFile(d);
  const seals: Array<[string, string[]]> = [
    ['x.capsule', ['--guardian', k.x25519]],
    ['p.capsule', ['--guardian', k.p256!]],
    ['lock.capsule', ['--on-guardian', 'zymbit-lock', '--data-dir', d.data]],
    ['both.capsule', ['--on-guardian', 'x25519', '--on-guardian', 'p256-ecdh', '--data-dir', d.data]],
  ];
  for (const [out, args] of seals) {
    const s = run(d, ['seal', 'secret.bin', ...args, '--logic', 'policy.wasm', '-o', out]);
    assert.is(s.code, 0, s.stderr);
    const o = run(d, ['decrypt', out, '--on-guardian', '--data-dir', d.data, '-o', `${out}.out`]);
    assert.is(o.code, 0, o.stderr);
    assert.ok(readFileSync(join(d.dir, `${out}.out`)).equals(plain), `${out} round-trips`);
  }
  const lockSeal = run(d, ['seal', 'secret.bin', '--on-guardian', 'zymbit-lock', '--data-dir', d.data, '--logic', 'policy.wasm', '-o', 'again.capsule']);
  assert.match(lockSeal.stderr, /capsule: warning: zymbit-lock: only this device's module can open this capsule; the paper backup cannot/);
  // Streaming from stdin works too (the header is read first, then the module unwraps).
  const piped = spawnSync(process.execPath, [BIN, 'decrypt', '-', '--on-guardian', '--data-dir', d.data], {
    cwd: d.dir,
    env: d.env,
    input: readFileSync(join(d.dir, 'lock.capsule')),
  });
  assert.is(piped.status, 0, piped.stderr.toString());
  assert.ok(piped.stdout.equals(plain));

  const v = run(d, ['verify', 'lock.capsule', '--guardian-key', k.signingKey]);
  assert.is(v.code, 0, v.stderr);
  assert.match(v.stdout, /ok: guardian signature \(ECDSA P-256, low S\)\n {2}ok: signed by the given guardian key/);
  assertFails(
    run(d, ['verify', 'x.capsule', '--guardian-key', k.signingKey]),
    /header\.guardian: absent, but a guardian key was given/,
    /sealed off the device/,
  );
  const other = device();
  assert.is((await init(other)).code, 0);
  assertFails(
    run(d, ['verify', 'lock.capsule', '--guardian-key', recipients(other).signingKey]),
    /header\.guardian: signed by capsule-guardian1[0-9a-z]+, not by the given guardian key/,
  );
  assertFails(run(d, ['verify', 'lock.capsule', '--guardian-key', 'capsule-guardian1nope']), /--guardian-key: expected capsule-guardian1…/);
  // A capsule for another guardian: a clear no-match, no output left behind.
  const foreign = run(other, ['decrypt', join(d.dir, 'x.capsule'), '--on-guardian', '--data-dir', other.data, '-o', 'nope.bin']);
  assertFails(foreign, /none of 1 stanza\(s\) \(x25519\) is for this guardian/, /compare its recipients with `capsule guardian show`/);
  assert.not.ok(existsSync(join(other.dir, 'nope.bin')));
});

test('restore from the words on a new module: same recipients, opens x25519 and p256-ecdh capsules, refuses zymbit-lock clearly', async () => {
  const old = device();
  const first = await init(old);
  assert.is(first.code, 0);
  const k = recipients(old);
  const plain = secretFile(old);
  for (const [out, args] of [
    ['x.capsule', ['--guardian', k.x25519]],
    ['p.capsule', ['--guardian', k.p256!]],
    ['lock.capsule', ['--on-guardian', 'zymbit-lock', '--data-dir', old.data]],
  ] as const) {
    assert.is(run(old, ['seal', 'secret.bin', ...args, '--logic', 'policy.wasm', '-o', out]).code, 0);
  }
  const fresh = device(); // another module, empty data directory
  const restored = run(
    fresh,
    ['guardian', 'init', '--restore', '--mnemonic-from-stdin', '--data-dir', fresh.data],
    `  ${first.words.join('  ').toUpperCase()}  \n`,
  );
  assert.is(restored.code, 0, restored.stderr);
  assert.match(restored.stderr, /capsule: guardian restored in/);
  assert.not.match(restored.stdout + restored.stderr, new RegExp(first.words.slice(0, 3).join(' ')), 'the words are not echoed');
  const k2 = recipients(fresh);
  assert.is(k2.x25519, k.x25519);
  assert.is(k2.p256, k.p256);
  assert.is.not(k2.signingKey, k.signingKey, "the signing key is the new module's slot key");
  for (const name of ['x.capsule', 'p.capsule']) {
    const o = run(fresh, ['decrypt', join(old.dir, name), '--on-guardian', '--data-dir', fresh.data, '-o', `${name}.out`]);
    assert.is(o.code, 0, o.stderr);
    assert.ok(readFileSync(join(fresh.dir, `${name}.out`)).equals(plain));
  }
  const refused = run(fresh, ['decrypt', join(old.dir, 'lock.capsule'), '--on-guardian', '--data-dir', fresh.data, '-o', 'lock.out']);
  assertFails(
    refused,
    /zymbit-lock stanza was locked by another module \(or altered\); this guardian \(SIM-[0-9a-f]+\) cannot open it/,
    /a guardian restored from paper opens only x25519 and p256-ecdh capsules/,
  );
  assert.not.ok(existsSync(join(fresh.dir, 'lock.out')), 'no output');
});

test('restore refuses a wrong checksum, an unknown word and a short phrase, storing nothing', async () => {
  const d = device();
  const words = (await init(device())).words;
  const swapped = [...words];
  [swapped[0], swapped[1]] = [swapped[1]!, swapped[0]!];
  const cases: Array<[string, RegExp]> = [
    [
      words
        .slice(0, 23)
        .concat(words[23] === 'zoo' ? 'abandon' : 'zoo')
        .join(' '),
      /mnemonic: checksum does not match \(a word is wrong or two are swapped\)/,
    ],
    [words.slice(0, 23).join(' '), /mnemonic: expected 24 words, got 23/],
    [[...words.slice(0, 4), 'notaword', ...words.slice(5)].join(' '), /mnemonic: word 5 is not in the BIP39 English word list/],
  ];
  if (swapped.join(' ') !== words.join(' ')) cases.push([swapped.join(' '), /checksum does not match|^capsule: error: /]);
  for (const [phrase, message] of cases) {
    const r = run(d, ['guardian', 'init', '--restore', '--mnemonic-from-stdin', '--data-dir', d.data], phrase + '\n');
    if (phrase === swapped.join(' ') && r.code === 0) continue; // a swap can keep the checksum (1 in 256)
    assertFails(r, message, /paper backup/);
    assert.not.match(r.stderr, /notaword/, 'the typed word is not echoed');
    assert.not.ok(existsSync(join(d.data, 'guardian.json')), 'nothing stored');
  }
});

test('init: a mistyped confirmation word stores nothing; an existing guardian needs --force', async () => {
  const d = device();
  const wrong = await init(d, { answer: (w, pos) => pos.map((i, n) => (n === 1 ? (w[i] === 'abandon' ? 'ability' : 'abandon') : w[i])).join('\n') + '\n' });
  assertFails(wrong, /word #\d+ does not match the recovery words; nothing was stored/, /makes a new seed/);
  assert.not.ok(existsSync(join(d.data, 'guardian.json')));
  assert.is((await init(d)).code, 0);
  const before = recipients(d);
  const again = await init(d);
  assertFails(again, /guardian\.json already exists: refusing to replace a guardian/, /pass --force/);
  assert.is(again.stdout, '', 'no words shown when refusing');
  assert.equal(recipients(d), before);
  const forced = await init(d, { args: ['--force'] });
  assert.is(forced.code, 0, forced.stderr);
  assert.is.not(recipients(d).x25519, before.x25519, 'a new seed');
});

test('init refuses to show the words on a non-terminal stdout, or to confirm without a terminal, unless told', () => {
  const d = device();
  assertFails(
    run(d, ['guardian', 'init', '--data-dir', d.data]),
    /refusing to write the recovery words to a stdout that is not a terminal/,
    /--mnemonic-to-stdout/,
  );
  assertFails(
    run(d, ['guardian', 'init', '--data-dir', d.data, '--mnemonic-to-stdout']),
    /confirming the words needs a terminal; stdin is not one/,
    /--confirm-words-from-stdin/,
  );
  assertFails(
    run(d, ['guardian', 'init', '--data-dir', d.data, '--restore']),
    /restoring reads the 24 words from a terminal; stdin is not one/,
    /--mnemonic-from-stdin/,
  );
  assertFails(run(d, ['guardian', 'init', '--data-dir', d.data, '--backend', 'tpm9']), /--backend: expected zymbit, tpm2 or soft, got "tpm9"/);
  assertFails(run(d, ['guardian', 'show', '--data-dir', d.data]), /no guardian in .*data \(guardian\.json is absent\)/, /capsule guardian init/);
  assertFails(run(d, ['guardian', 'frob']), /guardian: unknown subcommand "frob"/);
});

test('ZYMKEY4 (no ECDH): no P-256 recipient, and sealing p256-ecdh on it is a typed error at seal time', async () => {
  const d = device('ZYMKEY4');
  assert.is((await init(d)).code, 0);
  assert.is(recipients(d).p256, null);
  assert.match(run(d, ['guardian', 'show', '--data-dir', d.data]).stdout, /p256-ecdh: unavailable \(ZYMKEY4 \(simulated\) has no ECDH\)/);
  secretFile(d);
  const r = run(d, ['seal', 'secret.bin', '--on-guardian', 'p256-ecdh', '--data-dir', d.data, '--logic', 'policy.wasm', '-o', 'p.capsule']);
  assertFails(r, /p256-ecdh: this guardian's module \(ZYMKEY4 \(simulated\)\) has no ECDH, so it offers no P-256 recipient/, /needs an HSM6, SCM or newer/);
  assert.not.ok(existsSync(join(d.dir, 'p.capsule')));
  // zymbit-lock and x25519 work on ZYMKEY4.
  const ok = run(d, [
    'seal',
    'secret.bin',
    '--on-guardian',
    'zymbit-lock',
    '--on-guardian',
    'x25519',
    '--data-dir',
    d.data,
    '--logic',
    'policy.wasm',
    '-o',
    'l.capsule',
  ]);
  assert.is(ok.code, 0, ok.stderr);
  assert.is(run(d, ['decrypt', 'l.capsule', '--on-guardian', '--data-dir', d.data, '-o', 'l.out']).code, 0);
});

test('module absent: a missing library and a failing zkOpen name the library path, with a hint', async () => {
  const d = device();
  const missing = await init(d, { env: { CAPSULE_ZYMBIT_LIB: '/nonexistent/libzk_app_utils.so' } });
  assertFails(missing, /zymbit: cannot load \/nonexistent\/libzk_app_utils\.so/, /CAPSULE_ZYMBIT_LIB/);
  const closed = await init(d, { env: { ZK_SIM_FAIL_OPEN: '1' } });
  assertFails(
    closed,
    new RegExp(`zymbit: zkOpen failed \\(-?\\d+\\) through ${LIB.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: no security module answered`),
    /zkifc/,
  );
  assert.not.ok(existsSync(join(d.data, 'guardian.json')));
});

test('a tampered locked seed is an integrity error; a guardian moved to another module is refused', async () => {
  const d = device();
  assert.is((await init(d)).code, 0);
  secretFile(d);
  assert.is(run(d, ['seal', 'secret.bin', '--guardian', recipients(d).x25519, '--logic', 'policy.wasm', '-o', 'x.capsule']).code, 0);
  const path = join(d.data, 'guardian.json');
  const good = readFileSync(path, 'utf8');
  const rec = JSON.parse(good);
  const blob = Buffer.from(rec.lockedSeed, 'base64');
  blob[blob.length - 5]! ^= 1;
  writeFileSync(path, JSON.stringify({ ...rec, lockedSeed: blob.toString('base64') }));
  assertFails(run(d, ['decrypt', 'x.capsule', '--on-guardian', '--data-dir', d.data, '-o', 'x.out']), /zymbit: locked blob failed its integrity check/);
  assert.not.ok(existsSync(join(d.dir, 'x.out')));
  writeFileSync(path, good);
  const elsewhere = mkdtempSync(join(tmpdir(), 'other-module-'));
  try {
    assertFails(
      run(d, ['guardian', 'show', '--data-dir', d.data], undefined, { ZK_SIM_STATE_DIR: elsewhere }),
      /guardian in .* was provisioned on module SIM-[0-9a-f]+, but this module is SIM-[0-9a-f]+/,
      /restore from the paper backup/,
    );
  } finally {
    rmSync(elsewhere, { recursive: true, force: true });
  }
});

test('kill -9 at any moment of init leaves no guardian or a complete one; the next init clears any temporary file', async () => {
  const d = device();
  const outcomes = new Set<string>();
  for (const ms of [0, 60, 120, 200, 280, 360, 450, 600, 900]) {
    const r = await init(d, { killAfterMs: ms, args: ['--force'] });
    const present = existsSync(join(d.data, 'guardian.json'));
    if (present) {
      const show = run(d, ['guardian', 'show', '--data-dir', d.data]);
      assert.is(show.code, 0, `a guardian.json left after kill at ${ms} ms is complete: ${show.stderr}`);
    }
    outcomes.add(r.signal === 'SIGKILL' ? (present ? 'killed-with-guardian' : 'killed-without') : `exit-${r.code}`);
  }
  assert.ok(outcomes.has('killed-without'), `some kills landed before the guardian existed (${[...outcomes]})`);
  assert.is((await init(d, { args: ['--force'] })).code, 0);
  assert.equal(
    readdirSync(d.data).filter((f) => f.endsWith('.partial')),
    [],
    'no temporary file after a completed init',
  );
  // The seed process notices its parent is gone and exits (it must not linger holding the seed).
  await new Promise((r) => setTimeout(r, 400));
  const left = spawnSync('pgrep', ['-f', `seedChild.ts.*${d.data.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`])
    .stdout.toString()
    .trim();
  assert.is(left, '', 'no seed process left running');
});

test('soft backend (development): provisions with a passphrase from the environment, labelled not for production', async () => {
  const d = device();
  const noPass = run(d, ['guardian', 'init', '--backend', 'soft', '--data-dir', d.data, '--mnemonic-to-stdout', '--confirm-words-from-stdin']);
  assertFails(noPass, /the soft backend needs a passphrase: CAPSULE_SOFT_PASSPHRASE_FILE .*, or CAPSULE_SOFT_PASSPHRASE/);
  const env = { CAPSULE_SOFT_PASSPHRASE: 'correct horse battery' };
  const r = await init(d, { args: ['--backend', 'soft'], env });
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, /capsule: warning: the soft backend keeps keys in a passphrase-locked file, NOT in hardware: development only/);
  const plain = secretFile(d);
  const show = run(d, ['guardian', 'show', '--data-dir', d.data], undefined, env);
  assert.match(show.stdout, /backend: soft \(NOT FOR PRODUCTION\)/);
  assert.is(
    run(
      d,
      ['seal', 'secret.bin', '--on-guardian', 'zymbit-lock', '--on-guardian', 'p256-ecdh', '--data-dir', d.data, '--logic', 'policy.wasm', '-o', 's.capsule'],
      undefined,
      env,
    ).code,
    0,
  );
  assert.is(run(d, ['decrypt', 's.capsule', '--on-guardian', '--data-dir', d.data, '-o', 's.out'], undefined, env).code, 0);
  assert.ok(readFileSync(join(d.dir, 's.out')).equals(plain));
  assertFails(
    run(d, ['guardian', 'show', '--data-dir', d.data], undefined, { CAPSULE_SOFT_PASSPHRASE: 'wrong passphrase' }),
    /soft key store: wrong passphrase/,
  );
});

test('in process: guardian operations through the FFI free every buffer the library hands out', async () => {
  const d = device();
  assert.is((await init(d)).code, 0);
  secretFile(d);
  assert.is(
    run(d, [
      'seal',
      'secret.bin',
      '--on-guardian',
      'zymbit-lock',
      '--on-guardian',
      'p256-ecdh',
      '--data-dir',
      d.data,
      '--logic',
      'policy.wasm',
      '-o',
      'l.capsule',
    ]).code,
    0,
  );
  process.env.ZK_SIM_STATE_DIR = d.env.ZK_SIM_STATE_DIR;
  process.env.ZK_SIM_MODEL = 'HSM6';
  delete process.env.ZK_SIM_FAIL_OPEN;
  const handedOut = koffi.load(LIB).func('int zkSimHandedOut(void)') as () => number;
  const before = handedOut();
  const g = await Guardian.open(d.data, { env: d.env });
  const module = (g.keyStore as ZymbitKeyStore).module;
  try {
    const parsed = await readHeader({ path: join(d.dir, 'l.capsule') });
    const viaLock = await g.unwrapFileKey(parsed.header); // zymbit-lock first: the module unlocks it
    assert.is(viaLock.length, 32);
    const p256Only = { ...parsed.header, stanzas: parsed.header.stanzas.filter((s) => s.type === 'p256-ecdh') };
    const viaSeed = await g.unwrapFileKey(p256Only); // p256-ecdh: the seed is unlocked, keys derived
    assert.equal(viaSeed, viaLock, 'both stanzas carry the same file key');
    const sig = await g.onGuardianSeal(['x25519']).guardian.sign(new Uint8Array(32).fill(7));
    assert.is(sig.length, 64);
  } finally {
    await g.close();
  }
  assert.ok(handedOut() - before >= 6, 'the library handed out buffers (model, firmware, serial, unlocks, signature)');
  assert.is(module.freed, handedOut() - before, 'each one was freed');
});

test.run();
