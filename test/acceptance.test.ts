/**
 * The acceptance run, through the real binary: keygen → seal → verify → decrypt reproduces
 * 1 byte, exactly 64 KiB and 200 MiB inputs byte for byte; flipping single bytes anywhere in the big
 * capsule makes verify or decrypt exit 1 with `capsule: error:` and leaves no output file.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { drbg } from './helpers/drbg.ts';
import { spawn } from 'node:child_process';
import { BIN, capsule } from './helpers/cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'capsule-accept-'));
writeFileSync(join(dir, 'any.wasm'), Uint8Array.of(0, 0x61, 0x73, 0x6d, 1, 0, 0, 0));
assert.is(capsule(['keygen', '-o', 'g.key'], dir).code, 0);
const recipient = /age1[0-9a-z]+/.exec(readFileSync(join(dir, 'g.key'), 'utf8'))![0];
test.after(() => rmSync(dir, { recursive: true, force: true }));

function sha(path: string): string {
  const h = createHash('sha256');
  const fd = openSync(path, 'r');
  const buf = Buffer.alloc(1 << 20);
  let n;
  while ((n = readSync(fd, buf)) > 0) h.update(buf.subarray(0, n));
  closeSync(fd);
  return h.digest('hex');
}

function writeInput(name: string, size: number): void {
  const fd = openSync(join(dir, name), 'w');
  const rnd = drbg(`acceptance ${name}`);
  const block = Buffer.from(rnd(1 << 20));
  for (let off = 0; off < size; off += block.length) {
    block[0] = off & 0xff; // vary blocks cheaply
    writeSync(fd, block, 0, Math.min(block.length, size - off));
  }
  closeSync(fd);
}

for (const [name, size] of [
  ['one', 1],
  ['k64', 65536],
  ['big', 200 * 1024 * 1024],
] as const) {
  test(`seal / verify / decrypt reproduce a ${size}-byte input`, () => {
    writeInput(`${name}.bin`, size);
    const s = capsule(['seal', `${name}.bin`, '--guardian', recipient, '--logic', 'any.wasm', '-o', `${name}.capsule`], dir);
    assert.is(s.code, 0, s.stderr);
    assert.match(s.stderr, /^capsule: sealed [0-9a-f]{32} with 1 key stanza\(s\) -> /);
    const v = capsule(['verify', `${name}.capsule`, '--logic', 'any.wasm'], dir);
    assert.is(v.code, 0, v.stderr);
    const d = capsule(['decrypt', `${name}.capsule`, '--identity', 'g.key', '-o', `${name}.out`], dir);
    assert.is(d.code, 0, d.stderr);
    assert.is(d.stderr, '');
    assert.is(sha(join(dir, `${name}.out`)), sha(join(dir, `${name}.bin`)));
  });
}

test('flipping single bytes of the 200 MiB capsule: verify or decrypt exits 1, no out.bin', () => {
  const path = join(dir, 'big.capsule');
  const size = statSync(path).size;
  const positions = [0, 9, 14, 20, 60, 150, 250, 100_000, size >> 1, size - 17, size - 1];
  for (const pos of positions) {
    const fd = openSync(path, 'r+');
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, pos);
    writeSync(fd, Buffer.of(b[0]! ^ 0x04), 0, 1, pos);
    try {
      const v = capsule(['verify', 'big.capsule'], dir);
      const d = v.code === 0 ? capsule(['decrypt', 'big.capsule', '--identity', 'g.key', '-o', 'out.bin'], dir) : v;
      assert.is(d.code, 1, `byte ${pos}: exit code`);
      assert.match(d.stderr, /^capsule: error: .+\ncapsule: hint: .+\n$/, `byte ${pos}: stderr`);
      assert.not.ok(existsSync(join(dir, 'out.bin')), `byte ${pos}: no out.bin`);
      assert.equal(
        readdirSync(dir).filter((f) => f.endsWith('.partial')),
        [],
      );
    } finally {
      writeSync(fd, b, 0, 1, pos);
      closeSync(fd);
    }
  }
});

test('SIGINT during decrypt: exit 130, "capsule: error: interrupted", no output or temporary file left', async () => {
  const child = spawn(process.execPath, [BIN, 'decrypt', 'big.capsule', '--identity', 'g.key', '-o', 'interrupted.bin'], { cwd: dir });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  // Interrupt once the temporary output exists, i.e. in the middle of writing plaintext.
  for (let i = 0; i < 200 && !readdirSync(dir).some((f) => f.endsWith('.partial')); i++) await new Promise((r) => setTimeout(r, 10));
  child.kill('SIGINT');
  const code = await new Promise<number | null>((r) => child.on('close', r));
  assert.is(code, 130);
  assert.is(stderr, 'capsule: error: interrupted\n');
  assert.not.ok(existsSync(join(dir, 'interrupted.bin')));
  assert.equal(
    readdirSync(dir).filter((f) => f.endsWith('.partial')),
    [],
  );
});

test.run();
