/**
 * One contract suite over every KeyStore backend: `soft` (passphrase-locked file), `zymbit`
 * through the simulator library in native/ (built by the test set-up; the same koffi binding as
 * the real module) and `tpm2` on a fresh swtpm per store (a real TPM 2.0 implementation, through
 * tpm2-tss as on a device; "another custodian" is another swtpm). Each
 * backend must: give random bytes, lock/unlock with a custodian-bound key (tamper and foreign blobs
 * refused with ERR_LOCK_INTEGRITY), export 64-byte P-256 slot keys, sign raw digests that verify
 * independently (@noble/curves), do ECDH that agrees with node:crypto (or refuse it, typed, where
 * the backend has none: tpm2), and refuse use after close.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createECDH, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { p256 } from '@noble/curves/nist.js';
import type { KeyStore } from '../agent/keys/KeyStore.ts';
import { SoftKeyStore } from '../agent/keys/SoftKeyStore.ts';
import { Tpm2KeyStore } from '../agent/keys/Tpm2KeyStore.ts';
import { ZymbitKeyStore } from '../agent/keys/ZymbitKeyStore.ts';
import { rejectsError } from './helpers/assertError.ts';
import { startSwtpm, type Swtpm } from './helpers/swtpm.ts';

const SIM = fileURLToPath(new URL('../native/build/libzk_sim.so', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'capsule-keystore-'));
let n = 0;

const tpms: Swtpm[] = [];
/** Slots each backend has, and whether it does ECDH. */
const SHAPE: Record<string, { slots: number[]; ecdh: boolean }> = {
  soft: { slots: [0, 1, 2], ecdh: true },
  zymbit: { slots: [0, 1, 2], ecdh: true },
  tpm2: { slots: [0], ecdh: false },
};

const BACKENDS: Record<string, () => Promise<KeyStore>> = {
  soft: () => SoftKeyStore.create(join(dir, `soft-${++n}.json`), 'correct horse battery staple'),
  zymbit: async () => {
    process.env.ZK_SIM_STATE_DIR = mkdtempSync(join(dir, 'zk-sim-')); // removed with `dir`
    process.env.ZK_SIM_MODEL = 'HSM6';
    delete process.env.ZK_SIM_FAIL_OPEN;
    return ZymbitKeyStore.open(SIM);
  },
  tpm2: async () => {
    const tpm = await startSwtpm();
    tpms.push(tpm);
    return Tpm2KeyStore.create(mkdtempSync(join(dir, 'tpm2-')), { tcti: tpm.tcti });
  },
};

for (const [name, make] of Object.entries(BACKENDS)) {
  test(`${name}: random bytes, capabilities`, async () => {
    const ks = await make();
    try {
      assert.is(ks.capabilities.backend, name);
      assert.is(ks.capabilities.hardware, false, 'neither the soft store nor a simulator is hardware');
      const a = await ks.randomBytes(32);
      assert.is(a.length, 32);
      assert.not.equal(a, await ks.randomBytes(32));
    } finally {
      await ks.close();
    }
  });

  test(`${name}: lock/unlock; tampered and foreign blobs refused`, async () => {
    const ks = await make();
    const other = await make();
    try {
      const data = randomBytes(100);
      const blob = await ks.lock(data);
      assert.ok(Buffer.from(await ks.unlock(blob)).equals(data));
      const bad = Uint8Array.from(blob);
      bad[bad.length - 1]! ^= 1;
      await rejectsError(() => ks.unlock(bad), 'KeyStoreError', 'ERR_LOCK_INTEGRITY', /integrity/);
      await rejectsError(() => other.unlock(blob), 'KeyStoreError', 'ERR_LOCK_INTEGRITY', /integrity/);
    } finally {
      await ks.close();
      await other.close();
    }
  });

  test(`${name}: slot keys sign raw digests that verify independently; ECDH agrees with node:crypto`, async () => {
    const ks = await make();
    const shape = SHAPE[name]!;
    try {
      for (const slot of shape.slots) {
        const pub = await ks.publicKey(slot);
        assert.is(pub.length, 64);
        const digest = randomBytes(32);
        const sig = await ks.sign(digest, slot);
        assert.ok(p256.verify(sig, digest, Uint8Array.of(4, ...pub), { prehash: false, lowS: false }), `slot ${slot}`);
      }
      const peer = createECDH('prime256v1');
      peer.generateKeys();
      assert.is(ks.capabilities.ecdh, shape.ecdh);
      if (!shape.ecdh) {
        await rejectsError(() => ks.ecdh(0, peer.getPublicKey().subarray(1)), 'KeyStoreError', 'ERR_UNSUPPORTED_BY_MODEL', /no ECDH/);
        await rejectsError(() => ks.sign(new Uint8Array(32), shape.slots.length), 'KeyStoreError', 'ERR_MODULE_CALL', /no key in slot/);
      } else {
        const shared = await ks.ecdh(1, peer.getPublicKey().subarray(1));
        assert.ok(Buffer.from(shared).equals(peer.computeSecret(Buffer.concat([Buffer.of(4), Buffer.from(await ks.publicKey(1))]))));
      }
      await rejectsError(() => ks.sign(new Uint8Array(31), 0), 'TypeError', undefined, /digest: expected 32 bytes, got 31/);
    } finally {
      await ks.close();
    }
    await rejectsError(() => ks.randomBytes(4), 'KeyStoreError', 'ERR_MODULE_CALL', /closed/);
  });
}

test('soft: wrong passphrase and missing file are typed errors', async () => {
  const path = join(dir, 'pw.json');
  await (await SoftKeyStore.create(path, 'correct horse battery staple')).close();
  await rejectsError(() => SoftKeyStore.open(path, 'incorrect horse battery'), 'KeyStoreError', 'ERR_LOCK_INTEGRITY', /wrong passphrase/);
  await rejectsError(() => SoftKeyStore.open(join(dir, 'nope.json'), 'x'.repeat(10)), 'KeyStoreError', 'ERR_MODULE_ABSENT', /cannot read/);
  await rejectsError(() => SoftKeyStore.create(path, 'correct horse battery staple'), 'KeyStoreError', 'ERR_MODULE_CALL', /cannot create .*EEXIST/);
});

test.after(async () => {
  for (const t of tpms) await t.stop();
  rmSync(dir, { recursive: true, force: true });
});

test.run();
