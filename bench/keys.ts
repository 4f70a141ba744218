/**
 * Key-custody benchmark (part of `npm run bench`): latency of lock / unlock / sign / ECDH through
 * the Zymbit FFI path (koffi → the simulator library in native/, built by `npm test`'s set-up or
 * `bash native/build.sh`), each beside the same operation done directly with node:crypto in the
 * same run. On a device the FFI figures become the module's; here they measure the binding.
 */
import { createCipheriv, createDecipheriv, createECDH, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ZymbitModule } from '../agent/keys/zymbit/ZymbitModule.ts';
import { loadZkLibrary } from '../agent/keys/zymbit/zkBindings.ts';
import { ZymbitKeyStore } from '../agent/keys/ZymbitKeyStore.ts';
import { bip39Seed, deriveGuardianKeys, guardianRecipients } from '../agent/keys/hierarchy.ts';
import { Guardian, slotSigningKey } from '../agent/guardian/Guardian.ts';
import { writeGuardianFile } from '../agent/guardian/GuardianFile.ts';
import { encodeP256Key, GUARDIAN_KEY_HRP } from '../agent/crypto/p256.ts';
import { parseRecipient } from '../agent/crypto/identity.ts';
import { unwrapX25519, wrapX25519 } from '../agent/crypto/x25519Stanza.ts';
import type { CapsuleHeader } from '../agent/format/header.ts';

const LIB = fileURLToPath(new URL('../native/build/libzk_sim.so', import.meta.url));
if (!existsSync(LIB)) throw new Error(`${LIB} is missing: run bash native/build.sh first`);
process.env.ZK_SIM_STATE_DIR = mkdtempSync(join(tmpdir(), 'zk-bench-'));
process.env.ZK_SIM_MODEL = 'HSM6';
const m = ZymbitModule.open(LIB);

const median = async (f: () => unknown, n = 2000) => {
  for (let i = 0; i < Math.min(200, n); i++) await f();
  const xs: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await f();
    xs.push(performance.now() - t);
  }
  return +(xs.sort((a, b) => a - b)[n >> 1]! * 1000).toFixed(1);
};

const data = randomBytes(64);
const blob = await m.lock(data);
const key = randomBytes(32);
const sealed = (() => {
  const n = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, n);
  return { n, ct: Buffer.concat([c.update(data), c.final()]), tag: c.getAuthTag() };
})();
const digest = randomBytes(32);
const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const peer = createECDH('prime256v1');
peer.generateKeys();
const mine = createECDH('prime256v1');
mine.generateKeys();

// The raw binding, called synchronously: what the FFI itself costs, before the thread hand-off.
const lib = loadZkLibrary(LIB);
const ctx: [unknown] = [null];
lib.zkOpen(ctx);
const syncSign = () => {
  const o: [unknown] = [null];
  const n: [number] = [0];
  lib.zkGenECDSASigFromDigest(ctx[0], digest, 0, o, n);
  lib.free(o[0]);
};

const rows = [
  [
    'lock 64 B',
    await median(() => m.lock(data)),
    'AES-256-GCM encrypt',
    await median(() => {
      const c = createCipheriv('aes-256-gcm', key, randomBytes(12));
      c.update(data);
      c.final();
      c.getAuthTag();
    }),
  ],
  [
    'unlock 64 B',
    await median(() => m.unlock(blob)),
    'AES-256-GCM decrypt',
    await median(() => {
      const d = createDecipheriv('aes-256-gcm', key, sealed.n);
      d.setAuthTag(sealed.tag);
      d.update(sealed.ct);
      d.final();
    }),
  ],
  ['sign digest (P-256)', await median(() => m.sign(digest, 0)), 'crypto.sign P-256', await median(() => sign('sha256', digest, privateKey))],
  [
    'ECDH (P-256)',
    await median(() => m.ecdh(0, peer.getPublicKey().subarray(1))),
    'ECDH computeSecret',
    await median(() => mine.computeSecret(peer.getPublicKey())),
  ],
  ['sign digest, raw binding on the event loop', await median(syncSign), 'crypto.sign P-256', await median(() => sign('sha256', digest, privateKey))],
] as const;
await m.close();
lib.zkClose(ctx[0]);

// A guardian's per-capsule key work: unlock the seed in the module, derive the identity keys
// (BIP39 PBKDF2 + HKDF), unwrap an x25519 stanza — against unwrapping with a key kept in memory.
const dataDir = mkdtempSync(join(tmpdir(), 'guardian-bench-'));
const entropy = randomBytes(32);
const ks = ZymbitKeyStore.open(LIB);
const recipients = guardianRecipients(entropy);
await writeGuardianFile(
  dataDir,
  {
    format: 'capsule-guardian/v1',
    created: new Date().toISOString(),
    restored: false,
    backend: 'zymbit',
    library: LIB,
    model: ks.capabilities.model,
    serial: ks.capabilities.serial,
    ecdh: true,
    signingSlot: 0,
    recipients: { x25519: recipients.x25519, p256: recipients.p256 },
    signingKey: encodeP256Key(GUARDIAN_KEY_HRP, await slotSigningKey(ks, 0)),
    lockedSeed: Buffer.from(await ks.lock(bip39Seed(entropy))).toString('base64'),
    isolation: 'bench',
  },
  false,
);
await ks.close();
const g = await Guardian.open(dataDir, { env: { ...process.env, CAPSULE_ZYMBIT_LIB: LIB } });
const id = randomBytes(16);
const stanza = wrapX25519(randomBytes(32), parseRecipient(recipients.x25519), id);
const header = { stanzas: [stanza], id } as unknown as CapsuleHeader;
const kept = deriveGuardianKeys(entropy);
const guardianRow = [await median(() => g.unwrapFileKey(header), 300), await median(() => unwrapX25519(stanza, 0, kept.x25519, id), 300)] as const;
kept.dispose();
await g.close();

console.log('\nkey custody: Zymbit FFI (simulator through koffi) vs node:crypto, medians of 2000');
console.log('| operation | FFI | node:crypto | ratio |');
console.log('|---|---|---|---|');
for (const [op, ffi, peerOp, direct] of rows) console.log(`| ${op} vs ${peerOp} | ${ffi} µs | ${direct} µs | ${(ffi / direct).toFixed(2)}× |`);
console.log(
  `| guardian unwrap (module unlocks seed, keys derived, x25519) vs x25519 unwrap with a key in memory | ${guardianRow[0]} µs | ${guardianRow[1]} µs | ${(guardianRow[0] / guardianRow[1]).toFixed(2)}× |`,
);
