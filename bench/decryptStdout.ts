/**
 * Part of `npm run bench` (BENCH_ONLY=stdout): the cost of `capsule decrypt` to stdout writing
 * nothing before the whole capsule verified (issue 18 D6). Times, in this process and on the same
 * capsule, openWithKey() (plaintext streamed as each chunk verifies: the old stdout path) against
 * openVerified() (spooled through an encrypted, unlinked temporary file, then replayed: the new
 * one). Best of BENCH_ROUNDS (3), wall and CPU time; BENCH_MIB sets the size (default 256).
 * The spool goes to the OS temporary directory, as in the CLI (printed); the capsule to tmpfs when it has room.
 */
import { createHash, randomFillSync } from 'node:crypto';
import { closeSync, createReadStream, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openVerified, openWithKey } from '../agent/capsule/open.ts';
import { sealToFile } from '../agent/capsule/seal.ts';
import { generateIdentity } from '../agent/crypto/identity.ts';
import { scratchDir } from './scratch.ts';

const MIB = 1024 * 1024;
const size = Number(process.env.BENCH_MIB ?? 256) * MIB;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const dir = scratchDir('capsule-stdout-bench-', 3 * size + 64 * MIB);
try {
  console.log(`decrypt-to-stdout bench: ${size / MIB} MiB capsule in ${dir}, spool in ${tmpdir()}, ${ROUNDS} rounds`);
  const input = join(dir, 'input.bin');
  const fd = openSync(input, 'w');
  const block = Buffer.allocUnsafe(16 * MIB);
  for (let off = 0; off < size; off += block.length) writeSync(fd, randomFillSync(block), 0, Math.min(block.length, size - off));
  closeSync(fd);
  const g = generateIdentity();
  const identity = () => g; // the opener does not dispose a caller's identity
  await sealToFile({ path: input }, join(dir, 'c.capsule'), { recipients: [g.recipient], logic: { hash: createHash('sha256').update('policy').digest() } });
  rmSync(input);
  const time = async (f: () => AsyncIterable<Uint8Array>) => {
    const t = performance.now();
    const c = process.cpuUsage();
    let n = 0;
    for await (const piece of f()) n += piece.length;
    if (n !== size) throw new Error(`read ${n} bytes, expected ${size}`);
    const cpu = process.cpuUsage(c);
    return { wall: (performance.now() - t) / 1000, cpu: (cpu.user + cpu.system) / 1e6 };
  };
  const best = { stream: { wall: Infinity, cpu: Infinity }, verified: { wall: Infinity, cpu: Infinity } };
  const src = () => createReadStream(join(dir, 'c.capsule'), { highWaterMark: MIB });
  for (let r = 0; r < ROUNDS; r++) {
    for (const [k, f] of [
      ['stream', () => openWithKey(src(), identity()) as AsyncIterable<Uint8Array>],
      ['verified', () => openVerified(src(), identity())],
    ] as const) {
      const t = await time(f);
      best[k].wall = Math.min(best[k].wall, t.wall);
      best[k].cpu = Math.min(best[k].cpu, t.cpu);
    }
  }
  const mbs = (s: number) => (size / MIB / s).toFixed(0);
  console.log(`  streamed (old stdout): ${best.stream.wall.toFixed(2)} s wall (${mbs(best.stream.wall)} MiB/s), ${best.stream.cpu.toFixed(2)} s CPU`);
  console.log(`  verified first (new):  ${best.verified.wall.toFixed(2)} s wall (${mbs(best.verified.wall)} MiB/s), ${best.verified.cpu.toFixed(2)} s CPU`);
  console.log(
    `  cost: ×${(best.verified.wall / best.stream.wall).toFixed(2)} wall, ×${(best.verified.cpu / best.stream.cpu).toFixed(2)} CPU, ${size / MIB} MiB of temporary space`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
