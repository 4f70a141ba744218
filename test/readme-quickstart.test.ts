/**
 * The README's quick start works top to bottom (issue 16): its ```sh blocks under "## Quick start"
 * are run verbatim with bash, as a newcomer pastes them into a clone, and must exit 0; the file
 * opened at the end equals the file sealed, and the dry runs print the verdicts the README claims.
 *
 * The run happens in a temporary directory that looks like a fresh clone (a symbolic link to each
 * of the checkout's top-level entries), so the commands' outputs land there and never in the
 * checkout. Deliberately skipped: the block's first line, `npm install && npm run setup` (checked
 * to be there): this suite runs under `npm test`, i.e. after both.
 */
import { spawnSync } from 'node:child_process';
import { lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const SETUP_LINE = 'npm install && npm run setup';

/** The bodies of the ```sh blocks between the heading "## Quick start" and the next "## " heading. */
function quickStartBlocks(markdown: string): string[] {
  const start = markdown.indexOf('\n## Quick start\n');
  assert.ok(start >= 0, 'README.md has a "## Quick start" heading');
  const end = markdown.indexOf('\n## ', start + 1);
  const section = markdown.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
}

/** The commands of a shell block: lines joined at a trailing backslash, without blanks and comments. */
function commands(block: string): string[] {
  return block
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
}

/** Runs `script` with bash in `cwd`, stopping at the first failing command, as a careful newcomer's shell would. */
function bash(script: string, cwd: string) {
  // npx run by the project's Node 24 (first on npm test's PATH) would keep V8's compile cache in
  // $TMPDIR/node-compile-cache, outliving the test: it goes into the clone, removed with it.
  const env = { ...process.env, NODE_COMPILE_CACHE: join(cwd, '.node-compile-cache') };
  const r = spawnSync('bash', ['-euo', 'pipefail', '-c', script], { cwd, env, encoding: 'utf8', timeout: 300_000 });
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '', error: r.error };
}

test('the quick start is five commands, the first one the set-up', () => {
  const [first] = quickStartBlocks(README);
  assert.ok(first, 'a ```sh block under "## Quick start"');
  const cmds = commands(first!);
  assert.is(cmds[0], SETUP_LINE);
  assert.is(cmds.length, 5, cmds.join('\n'));
});

test('the quick start runs verbatim in a fresh clone: exit 0, the opened file equals the sealed one, the verdicts as told', () => {
  const [first, dryRuns] = quickStartBlocks(README);
  const body = first!
    .split('\n')
    .filter((l) => l.trim() !== SETUP_LINE)
    .join('\n'); // run by `npm test` already
  const clone = mkdtempSync(join(tmpdir(), 'capsule-readme-'));
  try {
    for (const entry of readdirSync(ROOT)) if (entry !== '.git') symlinkSync(join(ROOT, entry), join(clone, entry));

    const run = bash(body, clone);
    assert.is(run.code, 0, `the quick start failed (${run.error?.message ?? `exit ${run.code}`}):\n${run.stderr}`);
    const sealedName = /capsule seal (\S+)/.exec(body)![1]!;
    const openedName = /capsule decrypt \S+ .*-o (\S+)/.exec(body)![1]!;
    assert.ok(readFileSync(join(clone, openedName)).equals(readFileSync(join(clone, sealedName))), `${openedName} equals ${sealedName}`);

    assert.ok(dryRuns, 'a second ```sh block: what a guardian would decide');
    const dry = bash(dryRuns!, clone);
    assert.is(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /^deny: opens at 1893456000000 \(2030-01-01T00:00:00Z\)$/m);
    assert.match(dry.stdout, /^allow: open since 1893456000000 \(2030-01-01T00:00:00Z\)$/m);
    assert.ok(dry.stdout.indexOf('deny:') < dry.stdout.indexOf('allow:'), 'deny before 2030, then allow');
  } finally {
    // The links first, so that nothing could ever follow one into the checkout.
    for (const entry of readdirSync(clone)) if (lstatSync(join(clone, entry)).isSymbolicLink()) unlinkSync(join(clone, entry));
    rmSync(clone, { recursive: true, force: true });
  }
});

test.run();
