/**
 * Part of `npm run bench`: seals and decrypts a 1 GiB file with the real CLI and, in the same run and on the
 * same files, times the `age` CLI (Debian package) as the peer. Prints MB/s, ratios and peak RSS
 * above an idle Node process; writes bench/out/results.json. Each command runs ROUNDS times,
 * interleaved with its peer; the best time of each is compared (noise here is one-sided).
 *
 * BENCH_MIB sets the size (default 1024). Files go to /dev/shm when it has room, so the figures
 * measure the tools rather than this machine's disk; otherwise to the OS temp dir (printed).
 */
import { spawn } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statfsSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const MIB = 1024 * 1024;
const size = Number(process.env.BENCH_MIB ?? 1024) * MIB;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const here = fileURLToPath(new URL('.', import.meta.url));
const bin = join(here, '../bin/capsule.js');

function pickDir(): string {
  try {
    const s = statfsSync('/dev/shm');
    if (s.bavail * s.bsize > 4 * size + 256 * MIB) return mkdtempSync('/dev/shm/capsule-bench-');
  } catch { /* no tmpfs */ }
  return mkdtempSync(join(tmpdir(), 'capsule-bench-'));
}

interface Result { seconds: number; maxRssKiB?: number }

function run(cmd: string, args: string[], report: boolean): Promise<Result> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const p = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe', report ? 'pipe' : 'ignore'] });
    let err = '';
    let rep = '';
    p.stderr!.on('data', (d) => { err += d; });
    if (report) p.stdio[3]!.on('data', (d) => { rep += d; });
    p.on('error', reject);
    p.on('close', (code) => {
      const seconds = (performance.now() - t0) / 1000;
      if (code !== 0) return reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err}`));
      resolve({ seconds, maxRssKiB: report ? (JSON.parse(rep) as { maxRssKiB: number }).maxRssKiB : undefined });
    });
  });
}

const node = process.execPath;
const dir = pickDir();
try {
  console.log(`capsule bench: ${size / MIB} MiB in ${dir}, ${ROUNDS} rounds, node ${process.version}`);
  const input = join(dir, 'input.bin');
  const fd = openSync(input, 'w');
  const block = Buffer.allocUnsafe(16 * MIB);
  for (let off = 0; off < size; off += block.length) writeSync(fd, randomFillSync(block), 0, Math.min(block.length, size - off));
  closeSync(fd);
  writeFileSync(join(dir, 'any.wasm'), Uint8Array.of(0, 0x61, 0x73, 0x6d, 1, 0, 0, 0));
  await run(node, [join(here, 'child.ts'), 'keygen', '-o', join(dir, 'g.key')], true);
  const recipient = /age1[0-9a-z]+/.exec(readFileSync(join(dir, 'g.key'), 'utf8'))![0];
  // Baseline: a plain idle Node process (no TypeScript loaded), the strictest reading of the goal.
  const idle = await run(node, ['-e', "require('fs').writeSync(3, JSON.stringify({ maxRssKiB: process.resourceUsage().maxRSS }))"], true);

  const best: Record<string, Result> = {};
  const keep = (name: string, r: Result) => {
    const b = best[name];
    if (!b || r.seconds < b.seconds) best[name] = { seconds: r.seconds, maxRssKiB: Math.max(r.maxRssKiB ?? 0, b?.maxRssKiB ?? 0) || undefined };
  };
  for (let i = 0; i < ROUNDS; i++) {
    for (const f of ['c.capsule', 'c.out', 'a.age', 'a.out']) rmSync(join(dir, f), { force: true });
    keep('capsule seal', await run(node, [join(here, 'child.ts'), 'seal', input, '--guardian', recipient, '--logic', join(dir, 'any.wasm'), '-o', join(dir, 'c.capsule')], true));
    keep('age encrypt', await run('age', ['-r', recipient, '-o', join(dir, 'a.age'), input], false));
    keep('capsule decrypt', await run(node, [join(here, 'child.ts'), 'decrypt', join(dir, 'c.capsule'), '--identity', join(dir, 'g.key'), '-o', join(dir, 'c.out')], true));
    keep('age decrypt', await run('age', ['-d', '-i', join(dir, 'g.key'), '-o', join(dir, 'a.out'), join(dir, 'a.age')], false));
    keep('capsule verify', await run(node, [join(here, 'child.ts'), 'verify', join(dir, 'c.capsule')], true));
    // The floor of any sealer that must put SHA-256(payload) in the header before the payload.
    keep('openssl sha256', await run('openssl', ['dgst', '-sha256', input], false));
  }
  const mbps = (r: Result) => size / 1e6 / r.seconds;
  const idleMiB = idle.maxRssKiB! / 1024;
  const rows = [
    ['capsule seal', 'age encrypt'],
    ['capsule decrypt', 'age decrypt'],
  ].map(([ours, peer]) => {
    const o = best[ours!]!;
    const p = best[peer!]!;
    return {
      operation: ours!, seconds: +o.seconds.toFixed(3), mbPerSec: +mbps(o).toFixed(0),
      peer: peer!, peerSeconds: +p.seconds.toFixed(3), peerMbPerSec: +mbps(p).toFixed(0),
      ratio: +(mbps(o) / mbps(p)).toFixed(2),
      peakRssMiB: +(o.maxRssKiB! / 1024).toFixed(0), aboveIdleMiB: +(o.maxRssKiB! / 1024 - idleMiB).toFixed(0),
    };
  });
  console.log(`\nidle node peak RSS: ${idleMiB.toFixed(0)} MiB`);
  console.log('| operation | time | MB/s | peer | peer time | peer MB/s | ratio | peak RSS | above idle |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(`| ${r.operation} | ${r.seconds} s | ${r.mbPerSec} | ${r.peer} | ${r.peerSeconds} s | ${r.peerMbPerSec} | ${r.ratio}× | ${r.peakRssMiB} MiB | ${r.aboveIdleMiB} MiB |`);
  }
  const v = best['capsule verify']!;
  console.log(`| capsule verify (offline, stat-based length) | ${v.seconds.toFixed(3)} s | — | — | — | — | — | ${(v.maxRssKiB! / 1024).toFixed(0)} MiB | — |`);
  const floor = best['openssl sha256']!;
  console.log(`| openssl dgst -sha256 (one hashing pass: the seal's floor) | ${floor.seconds.toFixed(3)} s | ${mbps(floor).toFixed(0)} | — | — | — | — | — | — |`);
  mkdirSync(join(here, 'out'), { recursive: true });
  writeFileSync(join(here, 'out', 'results.json'), JSON.stringify({ date: new Date().toISOString(), sizeMiB: size / MIB, dir, rounds: ROUNDS, idleMiB, rows, verifySeconds: v.seconds, sha256FloorSeconds: floor.seconds }, null, 2) + '\n');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
