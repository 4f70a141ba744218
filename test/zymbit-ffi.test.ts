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
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import koffi from 'koffi';
import { ZymbitModule } from '../agent/keys/zymbit/ZymbitModule.ts';
import { ZK_NISTP256 } from '../agent/keys/zymbit/zkBindings.ts';
import { throwsError } from './helpers/assertError.ts';

const LIB = fileURLToPath(new URL('../native/build/libzk_sim.so', import.meta.url));
const handedOut = koffi.load(LIB).func('int zkSimHandedOut(void)') as () => number;

function device(model = 'HSM6', dir = mkdtempSync(join(tmpdir(), 'zk-sim-'))): ZymbitModule {
  process.env.ZK_SIM_STATE_DIR = dir;
  process.env.ZK_SIM_MODEL = model;
  delete process.env.ZK_SIM_FAIL_OPEN;
  return ZymbitModule.open(LIB);
}

test('the simulator library was built by the test set-up', () => {
  assert.ok(existsSync(LIB), `${LIB} exists (native/build.sh)`);
});

test('absent module: a missing library and a failing zkOpen are typed errors naming the path', () => {
  throwsError(() => ZymbitModule.open('/nonexistent/libzk_app_utils.so'), 'KeyStoreError', 'ERR_MODULE_ABSENT', /cannot load \/nonexistent\/libzk_app_utils\.so/);
  process.env.ZK_SIM_STATE_DIR = mkdtempSync(join(tmpdir(), 'zk-sim-'));
  process.env.ZK_SIM_FAIL_OPEN = '1';
  try {
    throwsError(() => ZymbitModule.open(LIB), 'KeyStoreError', 'ERR_MODULE_ABSENT', new RegExp(`zkOpen failed \\(-?\\d+\\) through ${LIB.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`));
  } finally {
    delete process.env.ZK_SIM_FAIL_OPEN;
  }
});

test('info and random bytes', () => {
  const m = device();
  try {
    assert.match(m.info.model, /HSM6/);
    assert.ok(m.info.ecdh);
    assert.match(m.info.serial, /^SIM-/);
    const a = m.randomBytes(32);
    const b = m.randomBytes(32);
    assert.is(a.length, 32);
    assert.not.equal(a, b);
    throwsError(() => m.randomBytes(0), 'RangeError', undefined, /size: expected 1\.\.65536, got 0/);
  } finally {
    m.close();
  }
});

test('lock/unlock: round trip, persistence across contexts, tamper and other device refused', () => {
  const dir = mkdtempSync(join(tmpdir(), 'zk-sim-'));
  const secret = randomBytes(64);
  const m = device('HSM6', dir);
  const blob = m.lock(secret);
  m.close();
  const again = device('HSM6', dir); // same state dir: the same device, later
  try {
    assert.ok(Buffer.from(again.unlock(blob)).equals(secret));
    const bad = Uint8Array.from(blob);
    bad[bad.length - 3]! ^= 1;
    throwsError(() => again.unlock(bad), 'KeyStoreError', 'ERR_LOCK_INTEGRITY', /failed its integrity check/);
  } finally {
    again.close();
  }
  const other = device('HSM6'); // another device
  try {
    throwsError(() => other.unlock(blob), 'KeyStoreError', 'ERR_LOCK_INTEGRITY', /locked by another device/);
  } finally {
    other.close();
  }
});

test('P-256 signatures from slot 0 verify independently (@noble/curves) against the exported public key', () => {
  const m = device();
  try {
    const digest = randomBytes(32);
    const sig = m.sign(digest, 0);
    assert.is(sig.length, 64);
    assert.ok(m.verify(digest, 0, sig));
    const pub = m.publicKey(0);
    assert.is(pub.length, 64);
    // Independent check: @noble/curves, digest as given (no hashing), high-S allowed as the module signs.
    assert.ok(p256.verify(sig, digest, Uint8Array.of(4, ...pub), { prehash: false, lowS: false }));
    const flipped = Uint8Array.from(sig);
    flipped[5]! ^= 1;
    assert.not.ok(m.verify(digest, 0, flipped));
  } finally {
    m.close();
  }
});

test('ECDH on HSM6 agrees with node:crypto; ZYMKEY4 refuses it as a capability error', () => {
  const m = device('HSM6');
  try {
    const peer = createECDH('prime256v1');
    peer.generateKeys();
    const peerPub = peer.getPublicKey().subarray(1); // X ‖ Y
    const shared = m.ecdh(0, peerPub);
    const expected = peer.computeSecret(Buffer.concat([Buffer.of(4), Buffer.from(m.publicKey(0))]));
    assert.ok(Buffer.from(shared).equals(expected));
  } finally {
    m.close();
  }
  const z = device('ZYMKEY4');
  try {
    assert.not.ok(z.info.ecdh);
    throwsError(() => z.ecdh(0, new Uint8Array(64)), 'KeyStoreError', 'ERR_UNSUPPORTED_BY_MODEL', /zkDoRawECDH needs an HSM6, SCM or newer; this module is .*ZYMKEY4/);
    throwsError(() => z.generateKey(ZK_NISTP256), 'KeyStoreError', 'ERR_UNSUPPORTED_BY_MODEL', /zkGenKeyPair/);
  } finally {
    z.close();
  }
});

test('slots: factory keys 0-2, generated keys from 16, removal', () => {
  const m = device('HSM6');
  try {
    assert.equal(m.slots(), [0, 1, 2]);
    const slot = m.generateKey(ZK_NISTP256);
    assert.is(slot, 16);
    assert.equal(m.slots(), [0, 1, 2, 16]);
    m.removeKey(16);
    assert.equal(m.slots(), [0, 1, 2]);
    throwsError(() => m.removeKey(0), 'KeyStoreError', 'ERR_MODULE_CALL', /zkRemoveKey failed/);
  } finally {
    m.close();
  }
});

test('every buffer the library handed out was freed by the binding', () => {
  const before = handedOut();
  const m = device('HSM6');
  try {
    const blob = m.lock(randomBytes(10));
    m.unlock(blob);
    try { m.unlock(Uint8Array.from(blob).fill(0, 30)); } catch { /* integrity failure path */ }
    m.sign(randomBytes(32), 1);
    m.publicKey(2);
    m.randomBytes(8);
    m.slots();
    m.ecdh(0, createECDH('prime256v1').generateKeys().subarray(1));
    m.time();
  } finally {
    m.close();
  }
  assert.ok(handedOut() - before > 0, 'the library handed out buffers');
  assert.is(m.freed, handedOut() - before, 'each one was freed');
});

test.run();
