/**
 * Interoperability with the real `age` CLI (Debian package, installed by `npm run setup`):
 * our key files are age identity files, and age-keygen's files are our guardian keys.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { capsule, sh } from './helpers/cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'capsule-interop-'));
writeFileSync(join(dir, 'any.wasm'), Uint8Array.of(0, 0x61, 0x73, 0x6d, 1, 0, 0, 0));
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('the age CLI is installed (set-up script)', () => {
  const r = sh('age', ['--version'], dir);
  assert.is(r.code, 0);
  assert.match(r.stdout.toString(), /^v?1\./);
});

test('capsule keygen output is an age identity file: age -d -i works with it', () => {
  assert.is(capsule(['keygen', '-o', 'ours.key'], dir).code, 0);
  const recipient = /# public key: (age1[0-9a-z]+)/.exec(readFileSync(join(dir, 'ours.key'), 'utf8'))![1]!;
  const secret = randomBytes(1000);
  const enc = sh('age', ['-r', recipient], dir, secret);
  assert.is(enc.code, 0, enc.stderr);
  const dec = sh('age', ['-d', '-i', 'ours.key'], dir, enc.stdout);
  assert.is(dec.code, 0, dec.stderr);
  assert.ok(dec.stdout.equals(secret));
});

test('an age-keygen identity works as a guardian key for seal and decrypt', () => {
  const kg = sh('age-keygen', ['-o', 'theirs.key'], dir);
  assert.is(kg.code, 0, kg.stderr);
  const recipient = /age1[0-9a-z]+/.exec(readFileSync(join(dir, 'theirs.key'), 'utf8'))![0];
  const secret = randomBytes(70_000);
  writeFileSync(join(dir, 'secret.bin'), secret);
  const s = capsule(['seal', 'secret.bin', '--guardian', recipient, '--logic', 'any.wasm', '-o', 'x.capsule'], dir);
  assert.is(s.code, 0, s.stderr);
  const d = capsule(['decrypt', 'x.capsule', '--identity', 'theirs.key', '-o', 'x.out'], dir);
  assert.is(d.code, 0, d.stderr);
  assert.ok(readFileSync(join(dir, 'x.out')).equals(secret));
});

test.run();
