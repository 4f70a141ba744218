/**
 * After every other suite: the temporary directory holds exactly what it held before the first
 * suite, so every suite removed what it made (issue 16: "the suite leaves the temp directory as it
 * found it"). scripts/test.sh writes the listing at start outside TMPDIR, names it in
 * CAPSULE_TEST_TMPDIR_START, and runs this file in a process of its own once the suites' process
 * has exited (so what exit handlers remove counts as removed). Run with the others in one uvu
 * process (last: uvu runs files in name order, hence `zz-`), it compares with the listing taken
 * when this file was imported, i.e. what test bodies and hooks left.
 * Also: no test code hard-codes the system's /tmp (outside TMPDIR, where nothing would remove it);
 * the few literal uses that are not a test writing there are listed below with the reason.
 * Deliberately not here: a failure for new entries in the system's temporary directory itself or in
 * /dev/shm — other processes share them, so those are printed as a note, not asserted.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const TMP = tmpdir();

/** The names listed in `file` (one a line), or undefined when the variable naming it is unset. */
function listing(file: string | undefined): Set<string> | undefined {
  if (!file) return undefined;
  return new Set(readFileSync(file, 'utf8').split('\n').filter(Boolean));
}

/** What `dir` holds now that is not in `before`, each with its kind, for the failure message. */
function leftovers(dir: string, before: Set<string>): string[] {
  return readdirSync(dir)
    .filter((n) => !before.has(n))
    .sort()
    .map((n) => {
      let kind = '?';
      try {
        const s = statSync(join(dir, n));
        kind = s.isDirectory() ? `dir, ${readdirSync(join(dir, n)).length} entries` : `${s.size} B`;
      } catch {
        /* removed meanwhile */
      }
      return `${n} (${kind})`;
    });
}

const atImport = new Set(readdirSync(TMP));

test('every suite removed what it made in the temporary directory', () => {
  const before = listing(process.env.CAPSULE_TEST_TMPDIR_START) ?? atImport;
  const left = leftovers(TMP, before);
  assert.equal(left, [], `left in ${TMP} by the suites before this one (remove them in an after() hook or a finally):\n  ${left.join('\n  ')}`);

  noteNew(dirname(dirname(TMP)), process.env.CAPSULE_TEST_SYSTMP_START); // scripts/test.sh: TMPDIR = <system tmp>/capsule-test.XXXXXX/tmp
  // Shared memory too (podman's lock landed there before test/device-image.test.ts kept it in its own directory).
  noteNew('/dev/shm', process.env.CAPSULE_TEST_SHM_START);
});

/** Prints a note naming what is in the shared directory `dir` that its listing at start (`file`) did not hold. */
function noteNew(dir: string, file: string | undefined): void {
  const before = listing(file);
  if (!before) return;
  const fresh = leftovers(dir, before);
  if (fresh.length) console.log(`NOTE: new in ${dir} during the run (maybe other processes):\n  ${fresh.join('\n  ')}`);
}

/**
 * Literal '/tmp' paths in code that are not a test writing outside TMPDIR, by file, with why. A new
 * one fails the test below: use tmpdir() (node:os) instead, which scripts/test.sh points at a
 * directory it removes.
 */
const ALLOWED: Record<string, string> = {
  'agent/guardian/seedSandbox.ts': 'bwrap mounts a private tmpfs on /tmp inside the sandbox',
  'test/helpers/seedProbe.ts': 'runs inside the seed sandbox and lists its private /tmp',
  'test/cli-faults.test.ts': "compares paths with the sandbox's private /tmp; writes nothing there",
  'test/device-image.test.ts': "podman's runroot must be under 50 characters: a mkdtemp under /tmp, removed in after()",
  'fuzz/soak.ts': 'the usual default when TMPDIR is unset (not a test)',
};

function* sources(dir: string): Generator<string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'node_modules' || e.name.startsWith('.')) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* sources(p);
    else if (/\.(ts|js|mjs|sh)$/.test(e.name)) yield p;
  }
}

test('no code but the listed files names the system /tmp (tests write under tmpdir())', () => {
  const found: string[] = [];
  for (const top of ['agent', 'bin', 'bench', 'fuzz', 'scripts', 'test']) {
    for (const file of sources(join(ROOT, top))) {
      const rel = relative(ROOT, file);
      if (rel in ALLOWED || rel.startsWith('agent/cli/specs/')) continue; // specs: help examples, printed only
      readFileSync(file, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (/(['"`])\/tmp(\/|\1)/.test(line) && !/^\s*(\/\/|\*|#)/.test(line)) found.push(`${rel}:${i + 1}: ${line.trim()}`);
        });
    }
  }
  assert.equal(found, [], `hard-coded /tmp (use tmpdir()):\n  ${found.join('\n  ')}`);
  for (const file of Object.keys(ALLOWED)) assert.ok(statSync(join(ROOT, file)).isFile(), `${file} (listed in ALLOWED) exists`);
});

test.run();
