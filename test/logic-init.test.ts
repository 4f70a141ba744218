/**
 * Issue 19 items 1 and 2, as an author outside this repository meets them: `capsule logic init` in a
 * temporary folder, then `capsule logic build` (the SDK imported by package name, resolved from the
 * engine since the folder has no node_modules) and `capsule logic test` there — green; one expected
 * verdict changed — exit 1 with a readable diff. Also: a non-empty folder is refused; a compile
 * error shows file:line:col, the source line and a caret; an SDK in the project's node_modules is
 * preferred, and one for another ABI or major version is refused naming both versions; the SDK's
 * duration helper refuses months with a trap that says why.
 *
 * Every run is the real binary in a fresh process (test/helpers/cli.ts); each test's folder is
 * under os.tmpdir() and removed at the end.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BuildError, ENGINE_SDK_DIR, buildPolicy, checkSdk } from '../agent/logic/build.ts';
import { SandboxError } from '../agent/errors.ts';
import { Sandbox } from '../agent/sandbox/Sandbox.ts';
import { capsule } from './helpers/cli.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const top = mkdtempSync(join(tmpdir(), 'capsule-logic-init-'));
const project = join(top, 'my-policy');

test('the temporary folder is outside the repository', () => {
  assert.ok(relative(ROOT, top).startsWith('..'), `${top} is inside ${ROOT}`);
});

test('logic init writes policy.ts, params.json, scenarios.json and README.md; the policy imports the SDK by name and uses the calendar', () => {
  const r = capsule(['logic', 'init', 'my-policy'], top);
  assert.is(r.code, 0, r.stderr);
  assert.equal(
    r.stdout.toString().trim().split('\n'),
    ['policy.ts', 'params.json', 'scenarios.json', 'README.md'].map((f) => join('my-policy', f)),
  );
  assert.match(r.stderr, /^capsule: created a policy project in my-policy: policy\.ts, params\.json, scenarios\.json, README\.md$/m);
  assert.equal(readdirSync(project).sort(), ['README.md', 'params.json', 'policy.ts', 'scenarios.json']);
  const policy = readFileSync(join(project, 'policy.ts'), 'utf8');
  assert.match(policy, /^} from "@capsule-engine\/sdk";$/m);
  assert.not.match(policy, /from "\.|contracts-as/, 'no relative import into a checkout');
  assert.match(policy, /utcWeekday\(t\)/);
  assert.match(policy, /utcHour\(t\)/);
  assert.match(policy, /milliseconds since the epoch/);
  assert.equal(JSON.parse(readFileSync(join(project, 'params.json'), 'utf8')), { notBefore: '2030-01-01T00:00:00Z', fromHour: 9, toHour: 17 });
});

test('logic build there: the SDK comes from the installed engine (no node_modules in the folder)', () => {
  assert.not.ok(existsSync(join(project, 'node_modules')));
  const r = capsule(['logic', 'build', 'policy.ts', '-o', 'policy.wasm'], project);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, /^capsule: built policy\.wasm: \d+ bytes, sha256 [0-9a-f]{64}, imports now_ms/m);
  assert.ok(existsSync(join(project, 'policy.wasm')));
});

test('logic test there: every case passes, exit 0', () => {
  const r = capsule(['logic', 'test'], project);
  assert.is(r.code, 0, `${r.stdout}\n${r.stderr}`);
  const out = r.stdout.toString();
  assert.match(out, /^✓ allows on Tuesday 2030-01-01 at 10:00 UTC/m);
  assert.match(out, /^✓ denies on a Saturday/m);
  assert.match(out, /^6 passed, 0 failed$/m);
});

test('one expected verdict changed: the run fails with a diff of expected and actual, exit 1', () => {
  const file = join(project, 'scenarios.json');
  const good = readFileSync(file, 'utf8');
  const s = JSON.parse(good);
  assert.is(s.cases[4].expect.verdict, 'deny');
  s.cases[4].expect.verdict = 'allow'; // "denies on a Saturday"
  writeFileSync(file, JSON.stringify(s, null, 2));
  try {
    const r = capsule(['logic', 'test'], project);
    assert.is(r.code, 1, `${r.stdout}\n${r.stderr}`);
    const out = r.stdout.toString();
    assert.match(out, /^✗ denies on a Saturday$/m);
    assert.match(out, /^\s+- verdict: allow$/m);
    assert.match(out, /^\s+\+ verdict: deny$/m);
    assert.match(out, /closed on Saturday \(UTC\)/);
    assert.match(out, /^5 passed, 1 failed$/m);
    assert.match(r.stderr, /^capsule: error: 1 of 6 cases failed/m);
  } finally {
    writeFileSync(file, good);
  }
});

test('logic init refuses a non-empty folder (nothing written) and a file', () => {
  const before = readFileSync(join(project, 'policy.ts'), 'utf8');
  writeFileSync(join(project, 'policy.ts'), before + '// mine\n');
  const r = capsule(['logic', 'init', 'my-policy'], top);
  assert.is(r.code, 1);
  assert.is(r.stdout.length, 0);
  assert.match(r.stderr, /^capsule: error: my-policy: the folder is not empty \(\d+ entries: /m);
  assert.match(r.stderr, /^capsule: hint: pass a new or empty folder/m);
  assert.ok(readFileSync(join(project, 'policy.ts'), 'utf8').endsWith('// mine\n'), "the author's file was kept");
  writeFileSync(join(project, 'policy.ts'), before);
  const f = capsule(['logic', 'init', 'my-policy/README.md'], top);
  assert.is(f.code, 1);
  assert.match(f.stderr, /^capsule: error: my-policy\/README\.md: is a file, expected a new or empty folder$/m);
  const empty = join(top, 'empty');
  mkdirSync(empty);
  assert.is(capsule(['logic', 'init', 'empty'], top).code, 0, 'an existing empty folder is fine');
  assert.equal(readdirSync(empty).length, 4);
});

test('logic init --help shows the synopsis and examples', () => {
  const r = capsule(['logic', 'init', '--help'], top);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout.toString(), /^usage: capsule logic init DIR$/m);
  assert.match(r.stdout.toString(), /capsule logic init my-policy && cd my-policy/);
});

test('a compile error: file:line:col, error code and message, then the source line and a caret under the column', () => {
  writeFileSync(
    join(project, 'broken.ts'),
    'import { allow, now } from "@capsule-engine/sdk";\n\nexport function decide(): i32 {\n  if (now() > 0) return nope;\n  return allow("ok");\n}\n',
  );
  const r = capsule(['logic', 'build', 'broken.ts', '-o', 'broken.wasm'], project);
  assert.is(r.code, 1);
  const lines = r.stderr.trimEnd().split('\n');
  assert.is(lines[0], "capsule: error: broken.ts:4:25: error TS2304: Cannot find name 'nope'.");
  assert.is(lines[1], 'capsule:  4 |   if (now() > 0) return nope;');
  assert.is(lines[2], 'capsule:    |                         ^');
  assert.match(lines.at(-1)!, /^capsule: hint: fix the policy source/);
  assert.ok(
    lines.every((l) => l.startsWith('capsule: ')),
    r.stderr,
  );
  assert.not.ok(existsSync(join(project, 'broken.wasm')));
  rmSync(join(project, 'broken.ts'));
});

/** A copy of the engine's SDK in the project's node_modules, its package.json changed by `edit`. */
function localSdk(edit: (pkg: Record<string, unknown>) => void): string {
  const dir = join(project, 'node_modules', '@capsule-engine', 'sdk');
  rmSync(join(project, 'node_modules'), { recursive: true, force: true });
  cpSync(ENGINE_SDK_DIR, dir, { recursive: true });
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  edit(pkg);
  writeFileSync(join(dir, 'package.json'), JSON.stringify(pkg));
  return dir;
}

test("an SDK in the project's node_modules is preferred to the engine's", async () => {
  const dir = localSdk(() => {});
  try {
    const r = await buildPolicy('policy.ts', { cwd: project });
    assert.equal(
      r.sdks.map((s) => [s.dir, s.version, s.abi]),
      [[dir + '/', '1.0.0', 'capsule_v1']],
    );
  } finally {
    rmSync(join(project, 'node_modules'), { recursive: true, force: true });
  }
  const engine = await buildPolicy('policy.ts', { cwd: project });
  assert.equal(
    engine.sdks.map((s) => s.dir),
    [ENGINE_SDK_DIR],
  );
});

test('an SDK for another ABI is refused with both versions named (CLI and library)', async () => {
  localSdk((pkg) => {
    pkg.version = '2.0.0';
    pkg.capsule = { abi: 'capsule_v2' };
  });
  try {
    const r = capsule(['logic', 'build', 'policy.ts', '-o', 'v2.wasm'], project);
    assert.is(r.code, 1);
    assert.match(
      r.stderr,
      /^capsule: error: @capsule-engine\/sdk 2\.0\.0 \(ABI capsule_v2\) at .*node_modules\/@capsule-engine\/sdk\/ does not match this engine: it runs ABI capsule_v1 with SDK 1\.x$/m,
    );
    assert.match(r.stderr, /^capsule: hint: install @capsule-engine\/sdk@1 /m);
    assert.not.ok(existsSync(join(project, 'v2.wasm')));
    let err: unknown;
    try {
      await buildPolicy('policy.ts', { cwd: project });
    } catch (e) {
      err = e;
    }
    assert.instance(err, BuildError);
    assert.is((err as BuildError).code, 'ERR_SDK_VERSION');
  } finally {
    rmSync(join(project, 'node_modules'), { recursive: true, force: true });
  }
});

test('an SDK of an unsupported major version is refused even for the same ABI; a missing package.json too', () => {
  const dir = localSdk((pkg) => {
    pkg.version = '7.1.0';
  });
  try {
    assert.throws(
      () => checkSdk(dir),
      (e: unknown) =>
        e instanceof BuildError && e.code === 'ERR_SDK_VERSION' && /sdk 7\.1\.0 \(ABI capsule_v1\) .* runs ABI capsule_v1 with SDK 1\.x/.test(e.message),
    );
    rmSync(join(dir, 'package.json'));
    assert.throws(
      () => checkSdk(dir),
      (e: unknown) => e instanceof BuildError && e.code === 'ERR_SDK_VERSION' && /no readable package\.json/.test(e.message),
    );
  } finally {
    rmSync(join(project, 'node_modules'), { recursive: true, force: true });
  }
  assert.is(checkSdk(ENGINE_SDK_DIR).version, JSON.parse(readFileSync(join(ENGINE_SDK_DIR, 'package.json'), 'utf8')).version);
});

test("the engine SDK's package.json and version.ts agree (name, version, ABI, ascMain)", () => {
  const pkg = JSON.parse(readFileSync(join(ENGINE_SDK_DIR, 'package.json'), 'utf8'));
  const ts = readFileSync(join(ENGINE_SDK_DIR, 'version.ts'), 'utf8');
  assert.is(pkg.name, '@capsule-engine/sdk');
  assert.is(pkg.ascMain, 'index.ts');
  assert.ok(existsSync(join(ENGINE_SDK_DIR, pkg.ascMain)));
  assert.match(ts, new RegExp(`SDK_VERSION = "${pkg.version.replace(/\./g, '\\.')}"`));
  assert.match(ts, new RegExp(`SDK_ABI = "${pkg.capsule.abi}"`));
});

test('durationMs refuses months and years with a trap that says why', async () => {
  writeFileSync(
    join(project, 'months.ts'),
    'import { allow, durationMs } from "@capsule-engine/sdk";\n' +
      'export function decide(): i32 {\n  return allow(durationMs("P1M", "params.every").toString());\n}\n',
  );
  try {
    const { wasm } = await buildPolicy('months.ts', { cwd: project });
    let err: unknown;
    try {
      new Sandbox().evaluate(wasm, {
        now: 0,
        requester: 'age1x',
        evidence: [],
        state: new Map(),
        params: undefined,
        capsule: { id: new Uint8Array(16), created: 0, owner: null, logic: new Uint8Array(32), size: 0, digest: new Uint8Array(32) },
      });
    } catch (e) {
      err = e;
    }
    assert.instance(err, SandboxError);
    assert.is((err as SandboxError).code, 'ERR_TRAP');
    assert.match((err as Error).message, /params\.every: \\"P1M\\" has years or months, which have no fixed length in ms; use addDuration/);
  } finally {
    rmSync(join(project, 'months.ts'));
  }
});

test.after(() => {
  rmSync(top, { recursive: true, force: true });
});

test.run();
