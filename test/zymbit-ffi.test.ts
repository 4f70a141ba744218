/**
 * The Zymbit FFI path, exercised through the simulator in native/ loaded by the same koffi binding
 * as the real libzk_app_utils.so: open/absent module, random bytes, lock/unlock (tamper, other
 * device, persistence across contexts), P-256 signatures checked independently with node:crypto,
 * ECDH checked against node:crypto, model capabilities (ZYMKEY4 vs HSM6), slot management, and
 * proof that every library-allocated buffer is freed. Signatures are checked with @noble/curves.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createECDH, randomBytes } from 'node:crypto';
import { p256 } from '@noble/curves/nist.js';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import koffi from 'koffi';
import { ZymbitModule } from '../agent/keys/zymbit/ZymbitModule.ts';
import { ZK_NISTP256 } from '../agent/keys/zymbit/zkBindings.ts';
import { rejectsError, throwsError } from './helpers/assertError.ts';

const LIB = fileURLToPath(new URL('../native/build/libzk_sim.so', import.meta.url));
const handedOut = koffi.load(LIB).func('int zkSimHandedOut(void)') as () => number;

// Every simulated module's state directory lives under one directory, removed after the suite.
const SIMS = mkdtempSync(join(tmpdir(), 'zk-sim-'));
const simDir = () => mkdtempSync(join(SIMS, 'module-'));
test.after(() => rmSync(SIMS, { recursive: true, force: true }));

function device(model = 'HSM6', dir = simDir()): ZymbitModule {
  process.env.ZK_SIM_STATE_DIR = dir;
  process.env.ZK_SIM_MODEL = model;
  delete process.env.ZK_SIM_FAIL_OPEN;
  return ZymbitModule.open(LIB);
}

test('the simulator library was built by the test set-up', () => {
  assert.ok(existsSync(LIB), `${LIB} exists (native/build.sh)`);
});

test('absent module: a missing library and a failing zkOpen are typed errors naming the path', () => {
  throwsError(
    () => ZymbitModule.open('/nonexistent/libzk_app_utils.so'),
    'KeyStoreError',
    'ERR_MODULE_ABSENT',
    /cannot load \/nonexistent\/libzk_app_utils\.so/,
  );
  process.env.ZK_SIM_STATE_DIR = simDir();
  process.env.ZK_SIM_FAIL_OPEN = '1';
  try {
    throwsError(
      () => ZymbitModule.open(LIB),
      'KeyStoreError',
      'ERR_MODULE_ABSENT',
      new RegExp(`zkOpen failed \\(-?\\d+\\) through ${LIB.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`),
    );
  } finally {
    delete process.env.ZK_SIM_FAIL_OPEN;
  }
});

test('info and random bytes', async () => {
  const m = device();
  try {
    assert.match(m.info.model, /HSM6/);
    assert.ok(m.info.ecdh);
    assert.match(m.info.serial, /^SIM-/);
    const a = await m.randomBytes(32);
    const b = await m.randomBytes(32);
    assert.is(a.length, 32);
    assert.not.equal(a, b);
    await rejectsError(() => m.randomBytes(0), 'RangeError', undefined, /size: expected 1\.\.65536, got 0/);
  } finally {
    await m.close();
  }
});

test('lock/unlock: round trip, persistence across contexts, tamper and other device refused', async () => {
  const dir = simDir();
  const secret = randomBytes(64);
  const m = device('HSM6', dir);
  const blob = await m.lock(secret);
  await m.close();
  const again = device('HSM6', dir); // same state dir: the same device, later
  try {
    assert.ok(Buffer.from(await again.unlock(blob)).equals(secret));
    const bad = Uint8Array.from(blob);
    bad[bad.length - 3]! ^= 1;
    await rejectsError(() => again.unlock(bad), 'KeyStoreError', 'ERR_LOCK_INTEGRITY', /failed its integrity check/);
  } finally {
    await again.close();
  }
  const other = device('HSM6'); // another device
  try {
    await rejectsError(() => other.unlock(blob), 'KeyStoreError', 'ERR_LOCK_INTEGRITY', /locked by another device/);
  } finally {
    await other.close();
  }
});

test('P-256 signatures from slot 0 verify independently (@noble/curves) against the exported public key', async () => {
  const m = device();
  try {
    const digest = randomBytes(32);
    const sig = await m.sign(digest, 0);
    assert.is(sig.length, 64);
    assert.ok(await m.verify(digest, 0, sig));
    const pub = await m.publicKey(0);
    assert.is(pub.length, 64);
    // Independent check: @noble/curves, digest as given (no hashing), high-S allowed as the module signs.
    assert.ok(p256.verify(sig, digest, Uint8Array.of(4, ...pub), { prehash: false, lowS: false }));
    const flipped = Uint8Array.from(sig);
    flipped[5]! ^= 1;
    assert.not.ok(await m.verify(digest, 0, flipped));
  } finally {
    await m.close();
  }
});

test('ECDH on HSM6 agrees with node:crypto; ZYMKEY4 refuses it as a capability error', async () => {
  const m = device('HSM6');
  try {
    const peer = createECDH('prime256v1');
    peer.generateKeys();
    const peerPub = peer.getPublicKey().subarray(1); // X ‖ Y
    const shared = await m.ecdh(0, peerPub);
    const expected = peer.computeSecret(Buffer.concat([Buffer.of(4), Buffer.from(await m.publicKey(0))]));
    assert.ok(Buffer.from(shared).equals(expected));
  } finally {
    await m.close();
  }
  const z = device('ZYMKEY4');
  try {
    assert.not.ok(z.info.ecdh);
    await rejectsError(
      () => z.ecdh(0, new Uint8Array(64)),
      'KeyStoreError',
      'ERR_UNSUPPORTED_BY_MODEL',
      /zkDoRawECDH needs an HSM6, SCM or newer; this module is .*ZYMKEY4/,
    );
    await rejectsError(() => z.generateKey(ZK_NISTP256), 'KeyStoreError', 'ERR_UNSUPPORTED_BY_MODEL', /zkGenKeyPair/);
  } finally {
    await z.close();
  }
});

test('slots: factory keys 0-2, generated keys from 16, removal', async () => {
  const m = device('HSM6');
  try {
    assert.equal(await m.slots(), [0, 1, 2]);
    const slot = await m.generateKey(ZK_NISTP256);
    assert.is(slot, 16);
    assert.equal(await m.slots(), [0, 1, 2, 16]);
    await m.removeKey(16);
    assert.equal(await m.slots(), [0, 1, 2]);
    await rejectsError(() => m.removeKey(0), 'KeyStoreError', 'ERR_MODULE_CALL', /zkRemoveKey failed/);
  } finally {
    await m.close();
  }
});

test('library calls run off the event loop: timers keep firing while the module blocks', async () => {
  process.env.ZK_SIM_PRECISE_MS = '300'; // zkGetTime(precise) blocks like the real module's RTC wait
  const m = device('HSM6');
  let ticks = 0;
  const timer = setInterval(() => ticks++, 20);
  try {
    const t = await m.time(true);
    assert.ok(Math.abs(t - Date.now() / 1000) < 5, 'module clock close to the system clock');
    assert.ok(ticks >= 5, `event loop ran during the 300 ms call (${ticks} ticks of 20 ms)`);
  } finally {
    clearInterval(timer);
    delete process.env.ZK_SIM_PRECISE_MS;
    await m.close();
  }
});

test('every buffer the library handed out was freed by the binding', async () => {
  const before = handedOut();
  const m = device('HSM6');
  try {
    const blob = await m.lock(randomBytes(10));
    await m.unlock(blob);
    try {
      await m.unlock(Uint8Array.from(blob).fill(0, 30));
    } catch {
      /* integrity failure path */
    }
    await m.sign(randomBytes(32), 1);
    await m.publicKey(2);
    await m.randomBytes(8);
    await m.slots();
    await m.ecdh(0, createECDH('prime256v1').generateKeys().subarray(1));
    await m.time();
  } finally {
    await m.close();
  }
  assert.ok(handedOut() - before > 0, 'the library handed out buffers');
  assert.is(m.freed, handedOut() - before, 'each one was freed');
});

test.run();
