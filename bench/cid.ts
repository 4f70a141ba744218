/**
 * CID computation vs sealing (part of `npm run bench`; BENCH_ONLY=cid; issue #6, started): a
 * 256 MiB payload (BENCH_CID_MIB) is sealed to a capsule file, then the capsule's CID is computed
 * with the content stores' import settings (agent/store/importSettings.ts) from the file. Both in
 * this process, on tmpfs when it has room; the ratio says what publishing adds to sealing.
 */
import { scratchDir } from './scratch.ts';
import { randomFillSync } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sealToFile } from '../agent/capsule/seal.ts';
import { generateIdentity } from '../agent/crypto/identity.ts';
import { bytesOf } from '../agent/io/sources.ts';
import { computeCid } from '../agent/store/importSettings.ts';

const MIB = 1024 * 1024;
const size = Number(process.env.BENCH_CID_MIB ?? 256) * MIB;
const dir = scratchDir('cid-bench-', 3 * size);
const payload = join(dir, 'payload.bin');
const buf = Buffer.alloc(size);
randomFillSync(buf);
writeFileSync(payload, buf);
const id = generateIdentity();
const best = async (f: () => Promise<unknown>, n = 3) => {
  let t = Infinity;
  for (let i = 0; i < n; i++) {
    const s = performance.now();
    await f();
    t = Math.min(t, performance.now() - s);
  }
  return t;
};
const capsule = join(dir, 'c.capsule');
const sealMs = await best(async () => {
  rmSync(capsule, { force: true });
  await sealToFile({ path: payload }, capsule, { recipients: [id.recipient], logic: { hash: new Uint8Array(32) } });
});
let cid = '';
const cidMs = await best(async () => {
  cid = (await computeCid(bytesOf({ path: capsule }))).toString();
});
rmSync(dir, { recursive: true, force: true });
const mbs = (ms: number) => (size / (1e6 * (ms / 1000))).toFixed(0);
console.log(`\ncontent addressing: ${size / MIB} MiB capsule (${dir.startsWith('/dev/shm') ? 'tmpfs' : 'disk'}), best of 3, same process`);
console.log('| operation | time | MB/s | speed relative to seal |');
console.log('|---|---|---|---|');
console.log(`| seal (capsule seal speed) | ${sealMs.toFixed(0)} ms | ${mbs(sealMs)} | 1.00× |`);
console.log(`| CID of the capsule (CIDv1, raw leaves, 256 KiB, 174 links) | ${cidMs.toFixed(0)} ms | ${mbs(cidMs)} | ${(sealMs / cidMs).toFixed(2)}× |`);
console.log(`(${cid})`);
