/**
 * The build cache (agent/logic/BuildCache.ts): an unchanged policy is not compiled again; any change
 * to a file the build read, a file appearing where asc looked and found nothing (an SDK installed
 * into the project), or a damaged cache entry is a miss and a real build. Real asc builds.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildPolicy, ENGINE_SDK_DIR } from '../agent/logic/build.ts';
import { BuildCache } from '../agent/logic/BuildCache.ts';
import { capsule } from './helpers/cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'build-cache-'));
const cache = new BuildCache(join(dir, 'cache'));
const src = (n: number) =>
  `import { allow, deny, now } from "@capsule-engine/sdk";\nexport function decide(): i32 { return now() > ${n} ? allow("later") : deny("too early"); }\n`;
const project = join(dir, 'project');
mkdirSync(project);
writeFileSync(join(project, 'policy.ts'), src(1));

test.after(() => rmSync(dir, { recursive: true, force: true }));

test('an unchanged policy comes from the cache, byte for byte; a changed one is built again', async () => {
  const a = await buildPolicy('policy.ts', { cwd: project, cache });
  assert.is(a.fromCache, false);
  const b = await buildPolicy('policy.ts', { cwd: project, cache });
  assert.is(b.fromCache, true);
  assert.equal(b.wasm, a.wasm);
  assert.equal(b.report, a.report);
  writeFileSync(join(project, 'policy.ts'), src(2));
  const c = await buildPolicy('policy.ts', { cwd: project, cache });
  assert.is(c.fromCache, false);
  assert.not.equal(c.wasm, a.wasm);
  assert.is((await buildPolicy('policy.ts', { cwd: project, cache })).fromCache, true);
});

test('an SDK installed into the project where asc found none before is a miss (the probe was recorded as absent)', async () => {
  writeFileSync(join(project, 'policy.ts'), src(3));
  assert.is((await buildPolicy('policy.ts', { cwd: project, cache })).fromCache, false);
  assert.is((await buildPolicy('policy.ts', { cwd: project, cache })).fromCache, true);
  const own = join(project, 'node_modules', '@capsule-engine', 'sdk');
  cpSync(ENGINE_SDK_DIR, own, { recursive: true });
  try {
    const r = await buildPolicy('policy.ts', { cwd: project, cache });
    assert.is(r.fromCache, false);
    assert.ok(
      r.sdks.some((s) => s.dir.startsWith(own)),
      "built against the project's SDK",
    );
  } finally {
    rmSync(join(project, 'node_modules'), { recursive: true, force: true });
  }
});

test('a damaged entry (module or record) is a miss and is replaced by a good build', async () => {
  writeFileSync(join(project, 'policy.ts'), src(4));
  const good = await buildPolicy('policy.ts', { cwd: project, cache });
  for (const f of readdirSync(cache.dir).filter((n) => n.endsWith('.wasm'))) writeFileSync(join(cache.dir, f), Uint8Array.of(0, 0x61, 0x73, 0x6d));
  const again = await buildPolicy('policy.ts', { cwd: project, cache });
  assert.is(again.fromCache, false);
  assert.equal(again.wasm, good.wasm);
  for (const f of readdirSync(cache.dir).filter((n) => n.endsWith('.json'))) writeFileSync(join(cache.dir, f), '{"format": 1, "files": "not a list"');
  assert.is((await buildPolicy('policy.ts', { cwd: project, cache })).fromCache, false);
  assert.is((await buildPolicy('policy.ts', { cwd: project, cache })).fromCache, true);
});

test('a failed build is not cached: the error comes every time', async () => {
  writeFileSync(join(project, 'broken.ts'), 'export function decide(): i32 { return 1 +; }\n');
  for (let i = 0; i < 2; i++) {
    const e = await buildPolicy('broken.ts', { cwd: project, cache }).then(
      () => undefined,
      (x: Error & { code?: string }) => x,
    );
    assert.is(e?.code, 'ERR_BUILD');
  }
});

test('CAPSULE_BUILD_CACHE names the directory or turns it off; capsule logic build uses it', () => {
  assert.is(BuildCache.forUser({ CAPSULE_BUILD_CACHE: 'off', HOME: dir }), undefined);
  assert.is(BuildCache.forUser({ CAPSULE_BUILD_CACHE: join(dir, 'x') })?.dir, join(dir, 'x'));
  assert.is(BuildCache.forUser({ XDG_CACHE_HOME: join(dir, 'xdg') })?.dir, join(dir, 'xdg', 'digital-capsule-engine', 'build-cache'));
  writeFileSync(join(project, 'policy.ts'), src(5));
  const env = { CAPSULE_BUILD_CACHE: join(dir, 'cli-cache') };
  const first = capsule(['logic', 'build', 'policy.ts', '-o', 'one.wasm'], project, undefined, env);
  assert.is(first.code, 0, first.stderr);
  const second = capsule(['logic', 'build', 'policy.ts', '-o', 'two.wasm'], project, undefined, env);
  assert.is(second.code, 0, second.stderr);
  assert.equal(readFileSync(join(project, 'two.wasm')), readFileSync(join(project, 'one.wasm')));
  assert.is(readdirSync(join(dir, 'cli-cache')).filter((n) => n.endsWith('.wasm')).length, 1);
});

test.run();
