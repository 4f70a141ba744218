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

const LIB = fileURLToPath(new URL('../native/build/libzk_sim.so', import.meta.url));
if (!existsSync(LIB)) throw new Error(`${LIB} is missing: run bash native/build.sh first`);
process.env.ZK_SIM_STATE_DIR = mkdtempSync(join(tmpdir(), 'zk-bench-'));
process.env.ZK_SIM_MODEL = 'HSM6';
const m = ZymbitModule.open(LIB);

const median = async (f: () => unknown, n = 2000) => {
  for (let i = 0; i < 200; i++) await f();
  const xs: number[] = [];
  for (let i = 0; i < n; i++) { const t = performance.now(); await f(); xs.push(performance.now() - t); }
  return +(xs.sort((a, b) => a - b)[n >> 1]! * 1000).toFixed(1);
};

const data = randomBytes(64);
const blob = await m.lock(data);
const key = randomBytes(32);
const sealed = (() => { const n = randomBytes(12); const c = createCipheriv('aes-256-gcm', key, n); return { n, ct: Buffer.concat([c.update(data), c.final()]), tag: c.getAuthTag() }; })();
const digest = randomBytes(32);
const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const peer = createECDH('prime256v1');
peer.generateKeys();
const mine = createECDH('prime256v1');
mine.generateKeys();

const rows = [
  ['lock 64 B', await median(() => m.lock(data)), 'AES-256-GCM encrypt', await median(() => { const c = createCipheriv('aes-256-gcm', key, randomBytes(12)); c.update(data); c.final(); c.getAuthTag(); })],
  ['unlock 64 B', await median(() => m.unlock(blob)), 'AES-256-GCM decrypt', await median(() => { const d = createDecipheriv('aes-256-gcm', key, sealed.n); d.setAuthTag(sealed.tag); d.update(sealed.ct); d.final(); })],
  ['sign digest (P-256)', await median(() => m.sign(digest, 0)), 'crypto.sign P-256', await median(() => sign('sha256', digest, privateKey))],
  ['ECDH (P-256)', await median(() => m.ecdh(0, peer.getPublicKey().subarray(1))), 'ECDH computeSecret', await median(() => mine.computeSecret(peer.getPublicKey()))],
] as const;
await m.close();

console.log('\nkey custody: Zymbit FFI (simulator through koffi) vs node:crypto, medians of 2000');
console.log('| operation | FFI | node:crypto | ratio |');
console.log('|---|---|---|---|');
for (const [op, ffi, peerOp, direct] of rows) console.log(`| ${op} vs ${peerOp} | ${ffi} µs | ${direct} µs | ${(ffi / direct).toFixed(2)}× |`);
