/**
 * In-process CLI tests for what a subprocess cannot show: refusing binary output to a TTY, the
 * progress bar (only on a TTY, only after the delay, rate-limited), and the error contract of
 * main() for unexpected errors.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { main, report } from '../agent/cli/main.ts';
import { DELAY_MS, Progress, render } from '../agent/cli/Progress.ts';
import type { Terminal } from '../agent/cli/Terminal.ts';

class Sink extends Writable {
  text = '';
  isTTY: boolean;
  constructor(tty: boolean) {
    super();
    this.isTTY = tty;
  }
  override _write(chunk: Buffer, _e: string, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

function term(opts: { stdoutTTY?: boolean; stderrTTY?: boolean; cwd: string; clock?: () => number }): Terminal & { out: Sink; err: Sink } {
  const out = new Sink(opts.stdoutTTY ?? false);
  const err = new Sink(opts.stderrTTY ?? false);
  return { stdin: new PassThrough(), stdout: out, stderr: err, now: opts.clock ?? (() => performance.now()), cwd: opts.cwd, out, err };
}

const dir = mkdtempSync(join(tmpdir(), 'capsule-term-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(join(dir, 'any.wasm'), Uint8Array.of(0, 0x61, 0x73, 0x6d, 1, 0, 0, 0));
writeFileSync(join(dir, 'in.bin'), 'secret');

test('seal and decrypt refuse to write binary to a terminal, and write no file', async () => {
  const t = term({ stdoutTTY: true, cwd: dir });
  assert.is(await main(['keygen', '-o', 'g.key'], t), 0);
  const r = /age1[0-9a-z]+/.exec(t.err.text)![0];
  const t2 = term({ stdoutTTY: true, cwd: dir });
  assert.is(await main(['seal', 'in.bin', '--guardian', r, '--logic', 'any.wasm'], t2), 1);
  assert.is(t2.err.text, 'capsule: error: refusing to write a capsule to a terminal\ncapsule: hint: use -o FILE, or redirect stdout to a file or pipe\n');
  assert.is(t2.out.text, '');
  const t3 = term({ stdoutTTY: false, cwd: dir });
  assert.is(await main(['seal', 'in.bin', '--guardian', r, '--logic', 'any.wasm', '-o', 'x.capsule'], t3), 0);
  const t4 = term({ stdoutTTY: true, cwd: dir });
  assert.is(await main(['decrypt', 'x.capsule', '--identity', 'g.key'], t4), 1);
  assert.match(t4.err.text, /^capsule: error: refusing to write decrypted data to a terminal\n/);
  const t5 = term({ stdoutTTY: true, cwd: dir });
  assert.is(await main(['keygen'], t5), 0, 'a key file to a terminal is text, as with age-keygen');
  assert.match(t5.out.text, /^# created: .*\n# public key: age1.*\nAGE-SECRET-KEY-1/);
});

test('progress: silent when stderr is not a TTY', () => {
  let now = 0;
  const t = term({ cwd: dir, clock: () => now });
  const p = new Progress(t, 'sealing');
  now = 10_000;
  p.update(5, 10);
  p.end();
  assert.is(t.err.text, '');
});

test('progress: on a TTY, only after the delay, at most every 100 ms, cleared at the end', () => {
  let now = 0;
  const t = term({ cwd: dir, stderrTTY: true, clock: () => now });
  const p = new Progress(t, 'sealing');
  now = DELAY_MS - 1;
  p.update(1, 100);
  assert.is(t.err.text, '', 'nothing before the delay');
  now = DELAY_MS;
  p.update(50 * 1024 * 1024, 100 * 1024 * 1024);
  assert.match(t.err.text, /^\rcapsule: sealing  50% \[#{12}\.{12}\] 50\.0 MiB \/ 100\.0 MiB /);
  const drawn = t.err.text.length;
  now += 50;
  p.update(60, 100);
  assert.is(t.err.text.length, drawn, 'rate-limited');
  now += 100;
  p.update(60, 100);
  assert.ok(t.err.text.length > drawn);
  p.end();
  assert.ok(t.err.text.endsWith('\r\x1b[K'));
});

test('progress render: bounds and units', () => {
  assert.match(render('decrypting', 0, 0, 0), /100% \[#{24}\] 0 B \/ 0 B 0 B\/s$/);
  assert.match(render('x', 3 * 1024 ** 3, 3 * 1024 ** 3, 3), / 3\.0 GiB \/ 3\.0 GiB 1\.0 GiB\/s$/);
});

test('unexpected errors are reported as internal errors on one line with a hint', () => {
  const t = term({ cwd: dir });
  report(t, new Error('boom\nsecond line'));
  assert.is(t.err.text, 'capsule: error: internal error: boom second line\ncapsule: hint: this is a bug; please report it with the command you ran\n');
});

test.run();
