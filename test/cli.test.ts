/**
 * CLI scenario tests in the style of age's CLI tests: every folder under test/cli/ is one run of the
 * real bin/capsule.js (on this Node, no TTY, 60 s limit) in a fresh temporary directory. Files:
 *
 *   args                       one argument per line (an empty line is an empty argument); the token
 *                              `$DIR` in an argument becomes the temporary directory's path
 *   stdin                      optional: bytes fed to stdin (otherwise stdin is empty and closed)
 *   files/                     optional: copied into the temporary directory (the run's cwd) first
 *   exit-code                  the expected exit status
 *   expected-stderr            the expected stderr lines (line rules below; empty file = no output)
 *   expected-stdout            optional: the expected stdout lines (line rules below)
 *   expected-stdout-sha256     optional: hex SHA-256 of the stdout bytes
 *   expected-stdout-min-bytes  optional: stdout has at least this many bytes (for random output);
 *                              with none of the three stdout files, stdout must be empty
 *   expect-files               optional: `NAME [SHA256HEX]` per line: must exist afterwards (with that
 *                              content)
 *   absent-files               optional: names that must not exist afterwards (no partial output)
 *   known-bug                  optional: a description of a CLI bug this scenario exposes; the
 *                              scenario must then FAIL (it passes once the bug is fixed: then delete
 *                              this file)
 *
 * Line rules: the output is split into lines (a final newline ends the last line, it does not start
 * a new one); there must be as many lines as expected, and each expected line is either literal
 * text, or `re:` and a regular expression the whole line must match. Always checked as well: every
 * stderr line starts with `capsule:`, and no `*.partial` temporary file remains in the directory.
 * TTY refusal and the progress bar need a terminal: test/terminal.test.ts covers them in-process.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('./cli/', import.meta.url));
const BIN = fileURLToPath(new URL('../bin/capsule.js', import.meta.url));
const TIMEOUT_MS = 60_000;

interface Result {
  code: number | null;
  signal: string | null;
  stdout: Buffer;
  stderr: string;
}

/** Lines of a text: '' has none, and a final newline ends the last line. */
function lines(text: string): string[] {
  return text === '' ? [] : text.replace(/\n$/, '').split('\n');
}

function optional(dir: string, name: string): string | undefined {
  const p = join(dir, name);
  return existsSync(p) ? readFileSync(p, 'utf8') : undefined;
}

function required(dir: string, name: string): string {
  const text = optional(dir, name);
  if (text === undefined) throw new Error(`${dir}: missing the file ${name}`);
  return text;
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Compares output lines with the expected ones (literal or `re:`), with a diff on failure. */
function assertLines(what: string, actualText: string, expectedText: string): void {
  const actual = lines(actualText);
  const expected = lines(expectedText);
  // Lines that satisfy their regular expression are shown as the expectation, so the diff shows
  // only the lines that really differ.
  const shown = actual.map((line, i) => {
    const want = expected[i];
    if (want?.startsWith('re:') && new RegExp(`^(?:${want.slice(3)})$`).test(line)) return want;
    return line;
  });
  assert.fixture(shown.join('\n'), expected.join('\n'), `${what} differs`);
  assert.is(actual.length, expected.length, `${what}: line count`);
}

function run(scenario: string, dir: string): Result {
  const argsText = required(scenario, 'args');
  const args = argsText === '' ? [] : lines(argsText).map((a) => a.replaceAll('$DIR', dir));
  const stdinPath = join(scenario, 'stdin');
  const input = existsSync(stdinPath) ? readFileSync(stdinPath) : Buffer.alloc(0);
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: dir,
    env: process.env,
    input,
    timeout: TIMEOUT_MS,
    maxBuffer: 1 << 28,
    stdio: 'pipe',
  });
  // EPIPE: the CLI exited without reading all of stdin (inspect reads only the header): not an error.
  if (r.error && (r.error as NodeJS.ErrnoException).code !== 'EPIPE') throw r.error;
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr.toString('utf8') };
}

function check(scenario: string, dir: string, r: Result): void {
  assert.is(r.signal, null, `killed by ${r.signal} (timeout ${TIMEOUT_MS} ms?)`);
  const context = `\n--- stderr:\n${r.stderr}`;
  assert.is(r.code, Number(required(scenario, 'exit-code').trim()), `exit code${context}`);

  for (const line of lines(r.stderr)) {
    assert.ok(line.startsWith('capsule:'), `stderr line does not start with "capsule:": ${JSON.stringify(line)}`);
  }
  if (r.stderr !== '') assert.ok(r.stderr.endsWith('\n'), 'stderr does not end with a newline');
  assertLines('stderr', r.stderr, required(scenario, 'expected-stderr'));

  const stdoutLines = optional(scenario, 'expected-stdout');
  const stdoutHash = optional(scenario, 'expected-stdout-sha256');
  const stdoutMin = optional(scenario, 'expected-stdout-min-bytes');
  if (stdoutLines !== undefined) assertLines('stdout', r.stdout.toString('utf8'), stdoutLines);
  if (stdoutHash !== undefined) assert.is(sha256(r.stdout), stdoutHash.trim(), `stdout SHA-256 (${r.stdout.length} bytes)`);
  if (stdoutMin !== undefined) {
    assert.ok(r.stdout.length >= Number(stdoutMin.trim()), `stdout: ${r.stdout.length} bytes, expected at least ${stdoutMin.trim()}`);
  }
  if (stdoutLines === undefined && stdoutHash === undefined && stdoutMin === undefined) {
    assert.is(r.stdout.length, 0, `stdout should be empty, got ${JSON.stringify(r.stdout.subarray(0, 200).toString())}`);
  }

  for (const line of lines(optional(scenario, 'expect-files') ?? '')) {
    const [name, hash] = line.trim().split(/\s+/);
    const path = join(dir, name!);
    assert.ok(existsSync(path) && statSync(path).isFile(), `${name} should exist afterwards`);
    if (hash) assert.is(sha256(readFileSync(path)), hash, `${name}: SHA-256`);
  }
  for (const name of lines(optional(scenario, 'absent-files') ?? '')) {
    assert.not.ok(existsSync(join(dir, name.trim())), `${name.trim()} should not exist afterwards`);
  }
  const partial = (readdirSync(dir, { recursive: true }) as string[]).filter((f) => f.endsWith('.partial'));
  assert.equal(partial, [], 'temporary *.partial files were left behind');
}

const scenarios = readdirSync(ROOT, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort();

test('the scenario folders are there', () => {
  assert.ok(scenarios.length >= 30, `found ${scenarios.length} scenarios under ${ROOT}`);
});

for (const name of scenarios) {
  const scenario = join(ROOT, name);
  const knownBug = optional(scenario, 'known-bug');
  test(knownBug === undefined ? name : `${name} (known bug: expected to fail)`, () => {
    const dir = mkdtempSync(join(tmpdir(), `capsule-cli-${name}-`));
    try {
      const files = join(scenario, 'files');
      if (existsSync(files)) cpSync(files, dir, { recursive: true });
      const r = run(scenario, dir);
      if (knownBug === undefined) return check(scenario, dir, r);
      let failed = false;
      try {
        check(scenario, dir, r);
      } catch {
        failed = true;
      }
      assert.ok(failed, `${name} passes now: the known bug looks fixed; delete ${join(scenario, 'known-bug')}\n(${knownBug.trim()})`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test.run();
