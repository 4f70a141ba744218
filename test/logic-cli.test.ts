/**
 * Unlock logic through the real binary, as the acceptance run: build and check the
 * standard time lock, seal a capsule with its params, and dry-run the decision just before and at
 * the unlock time (deny → allow). Each run is a separate process, so identical JSON records also
 * show the decision is reproducible across processes.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { capsule } from './helpers/cli.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'capsule-logic-'));
let recipient = '';

test('logic build and logic check of contracts-as/contracts/time-lock.ts', () => {
  const b = capsule(['logic', 'build', join(ROOT, 'contracts-as/contracts/time-lock.ts'), '-o', 'tl.wasm'], dir);
  assert.is(b.code, 0, b.stderr);
  assert.match(b.stderr, /^capsule: built tl\.wasm: \d+ bytes, sha256 [0-9a-f]{64}, imports .*now_ms/);
  assert.ok(existsSync(join(dir, 'tl.wasm')));
  const c = capsule(['logic', 'check', 'tl.wasm', '--json'], dir);
  assert.is(c.code, 0, c.stderr);
  const report = JSON.parse(c.stdout.toString());
  assert.is(report.ok, true);
  assert.is(report.abi, 'capsule_v1');
  assert.is(report.memory.maxPages, 16);
});

test('seal a capsule with time-lock params', () => {
  assert.is(capsule(['keygen', '-o', 'g.key'], dir).code, 0);
  recipient = /age1[0-9a-z]+/.exec(readFileSync(join(dir, 'g.key'), 'utf8'))![0];
  writeFileSync(join(dir, 'will.txt'), 'the last will');
  const s = capsule(
    ['seal', 'will.txt', '--guardian', recipient, '--logic', 'tl.wasm', '--params', '{"notBefore":"2030-01-01T00:00:00Z"}', '-o', 'will.capsule'],
    dir,
  );
  assert.is(s.code, 0, s.stderr);
});

const run = (at: string) => capsule(['logic', 'run', 'tl.wasm', '--capsule', 'will.capsule', '--requester', recipient, '--at', at, '--json'], dir);

test('logic run: deny one millisecond before T, allow at T', () => {
  const before = run('2029-12-31T23:59:59.999Z');
  assert.is(before.code, 0, before.stderr);
  const b = JSON.parse(before.stdout.toString());
  assert.is(b.verdict, 'deny');
  assert.match(b.reason, /2030-01-01T00:00:00/);
  const at = run('2030-01-01T00:00:00Z');
  assert.is(at.code, 0, at.stderr);
  assert.is(JSON.parse(at.stdout.toString()).verdict, 'allow');
});

test('the same decision in two processes: identical record, fuel included', () => {
  const a = run('2029-06-01T00:00:00Z');
  const b = run('2029-06-01T00:00:00Z');
  assert.is(a.code, 0, a.stderr);
  assert.is(a.stdout.toString(), b.stdout.toString());
  assert.ok(JSON.parse(a.stdout.toString()).fuel > 0);
});

test('text output: verdict, reason and fuel', () => {
  const r = capsule(['logic', 'run', 'tl.wasm', '--capsule', 'will.capsule', '--requester', recipient, '--at', '2029-01-01T00:00:00Z'], dir);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout.toString(), /^deny: .*2030-01-01T00:00:00.*\n  fuel: \d+ of 50000000\n/);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
