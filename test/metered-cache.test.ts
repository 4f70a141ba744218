/**
 * Metered binaries cached on disk in the module store (issue 15): a module is validated and
 * metered once, when it enters the store, and its metered binary kept beside it
 * (modules/<sha>.<key>.metered); later decisions and a restarted agent read it, and the agent's
 * sandbox workers only compile metered bytes, so they never load Binaryen.
 *
 * Checks: the standard contracts give the same verdict, reason, fuel and state on every path
 * (metered now in-process as `logic run` and `audit verify --replay` do, checked by the module
 * checker, from memory, from the file after a "restart", in a worker); damaged, truncated, foreign,
 * other-version and other-limits files are ignored and replaced, never trusted; a restarted store
 * and scheduler decide on a known module without spawning the module checker; the files count in
 * the store's byte quota; an `alwaysMetered` worker (and the thread that drives it) never loads
 * Binaryen, even when its compiled module was evicted, while a default worker does.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createHash } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { DecisionScheduler } from '../agent/daemon/DecisionScheduler.ts';
import { ModuleStore } from '../agent/daemon/ModuleStore.ts';
import { encodeCanonical } from '../agent/format/cbor.ts';
import { buildPolicy } from '../agent/logic/build.ts';
import type { EvaluationInput, EvidenceItem } from '../agent/sandbox/inputs.ts';
import { DEFAULT_LIMITS, resolveLimits } from '../agent/sandbox/limits.ts';
import { MeteredSandbox } from '../agent/sandbox/MeteredSandbox.ts';
import { decodeMeteredFile, encodeMeteredFile, meteredFileName, METERED_FORMAT_VERSION } from '../agent/sandbox/meteredFile.ts';
import { ModuleChecker } from '../agent/sandbox/ModuleChecker.ts';
import { Sandbox, type DecisionRecord } from '../agent/sandbox/Sandbox.ts';
import { checkAndMeter } from '../agent/sandbox/validate.ts';
import { WorkerSandbox } from '../agent/sandbox/WorkerSandbox.ts';
import { rejectsError, throwsError } from './helpers/assertError.ts';
import { GOOD_POLICY, wat } from './helpers/wat.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const te = new TextEncoder();
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

// ---- the standard contracts and one decision each (as test/contracts.test.ts makes them) ----

const ALICE = 'age1alice0000000000000000000000000000000000000000000000000000';
const BOB = 'age1bob000000000000000000000000000000000000000000000000000000';
const ID = Uint8Array.from({ length: 16 }, (_, i) => 0xa0 + i);
const CREATED = 1_700_000_000;
const DAY = 86_400_000;
const NB = Date.UTC(2030, 0, 1);
const ownerSecret = new Uint8Array(32).fill(7);
const ownerKey = ed25519.getPublicKey(ownerSecret);
const approverSecrets = [1, 2].map((n) => new Uint8Array(32).fill(n));
const approverKeys = approverSecrets.map((s) => ed25519.getPublicKey(s));

function input(params: unknown, over: Partial<EvaluationInput> = {}): EvaluationInput {
  return {
    now: CREATED * 1000,
    requester: ALICE,
    capsule: { id: ID, created: CREATED, owner: null, logic: new Uint8Array(32), size: 100, digest: new Uint8Array(32) },
    params: encodeCanonical(params),
    evidence: [],
    state: new Map(),
    ...over,
  };
}
function checkin(ts: number): EvidenceItem {
  const message = te.encode(`capsule-checkin:v1:${hex(ID)}:${ts}`);
  return { kind: 'checkin', scheme: 'ed25519', signer: ownerKey, message, signature: ed25519.sign(message, ownerSecret) };
}
function approval(i: number): EvidenceItem {
  const message = te.encode(`capsule-approval:v1:${hex(ID)}:${ALICE}`);
  return { kind: 'approval', scheme: 'ed25519', signer: approverKeys[i]!, message, signature: ed25519.sign(message, approverSecrets[i]!) };
}

const SILENCE = 30 * DAY;
const CASES: Array<[string, EvaluationInput]> = [
  ['time-lock', input({ notBefore: NB }, { now: NB })],
  ['time-lock', input({ notBefore: NB }, { now: NB - 1 })],
  [
    'dead-man',
    input(
      { owner: ownerKey, beneficiaries: [BOB], silenceMs: SILENCE },
      { requester: BOB, now: CREATED * 1000 + SILENCE, evidence: [checkin(CREATED * 1000 + SILENCE - 7)] },
    ),
  ],
  ['m-of-n', input({ threshold: 2, approvers: approverKeys.map((key) => ({ scheme: 'ed25519', key })) }, { evidence: [approval(0), approval(1)] })],
  ['allowlist', input({ requesters: [ALICE] }, { requester: BOB })],
  ['expiry', input({ maxOpens: 5 })],
  ['policy', input({ any: [{ timeLock: { notBefore: NB } }, { allowlist: { requesters: [ALICE] } }] }, { now: NB - 1 })],
];
const builds = new Map<string, Promise<Uint8Array>>();
const wasm = (name: string) => {
  if (!builds.has(name))
    builds.set(
      name,
      buildPolicy(`contracts-as/contracts/${name}.ts`, { cwd: ROOT }).then((r) => r.wasm),
    );
  return builds.get(name)!;
};
const view = (d: DecisionRecord) => [
  d.verdict,
  d.reason,
  d.fuel,
  d.fuelTable,
  d.inputsSha256,
  d.moduleSha256,
  d.changed,
  [...d.state].map(([k, v]) => [k, hex(v)]),
];

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'metered-'));
}

/** A store with the metered cache, checks in `checker`, log lines collected. */
function storeOver(dir: string, checker: ModuleChecker, options: { maxBytes?: number } = {}) {
  const logged: Array<{ event: string; fields: Record<string, unknown> }> = [];
  const store = new ModuleStore(dir, {
    ...options,
    meteredCache: { check: (b, l) => checker.check(b, l) },
    log: (event, fields) => logged.push({ event, fields }),
  });
  return { store, logged };
}

// ---- determinism across paths ----

test('the standard contracts: the same verdict, reason, fuel and state metered now, by the checker, from memory, from the file after a restart, in-process and in an alwaysMetered worker', async () => {
  const dir = tempDir();
  const first = new ModuleChecker();
  const again = new ModuleChecker();
  const worker = new WorkerSandbox({}, { alwaysMetered: true });
  await worker.start();
  try {
    const one = storeOver(dir, first);
    const now = new Sandbox(); // validate and meter in this process: `logic run`, `audit verify --replay`
    for (const [name, inp] of CASES) {
      const module = await wasm(name);
      await one.store.add(module); // checked and metered in the checker's worker, written beside the module
      const fromCheck = await one.store.metered(module);
      const fromMemory = await one.store.metered(module);
      assert.is(fromMemory.metered, fromCheck.metered, `${name}: the same bytes object from memory`);
      assert.equal(fromCheck.metered, checkAndMeter(module, DEFAULT_LIMITS).metered, `${name}: the checker meters as this process does`);
      const uncached = now.evaluate(module, inp);
      const paths = {
        memory: new MeteredSandbox().evaluate(module, inp, fromMemory.metered),
        worker: await worker.evaluate(module, inp, fromMemory.metered),
      };
      for (const [path, r] of Object.entries(paths)) assert.equal(view(r), view(uncached), `${name}: ${path} vs metered now`);
    }
    assert.equal(one.store.meteredServed, { memory: CASES.length * 2, disk: 0, checked: new Set(CASES.map(([n]) => n)).size });
    // A restart: a new store over the same directory, a new checker, nothing in memory.
    const two = storeOver(dir, again);
    const fresh = new WorkerSandbox({}, { alwaysMetered: true });
    await fresh.start();
    try {
      for (const [name, inp] of CASES) {
        const module = (await two.store.get(sha(await wasm(name))))!;
        const fromDisk = await two.store.metered(module);
        const uncached = now.evaluate(module, inp);
        assert.equal(view(new MeteredSandbox().evaluate(module, inp, fromDisk.metered)), view(uncached), `${name}: file, in-process`);
        assert.equal(view(await fresh.evaluate(module, inp, fromDisk.metered)), view(uncached), `${name}: file, in a fresh worker`);
        assert.equal(fromDisk.report, checkAndMeter(module, DEFAULT_LIMITS).report, `${name}: the report is kept too`);
      }
    } finally {
      await fresh.stop();
    }
    assert.is(two.store.meteredServed!.checked, 0, 'nothing metered again');
    assert.is(again.spawned, 0, 'no module checker started after the restart');
    assert.equal(two.logged, []);
  } finally {
    await worker.stop();
    await first.close();
    await again.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---- damaged and foreign files ----

test('a damaged, truncated, foreign, other-version or other-limits file is ignored (logged), metered again and replaced', async () => {
  const dir = tempDir();
  const checker = new ModuleChecker();
  try {
    const a = await wasm('time-lock');
    const b = await wasm('expiry');
    const seed = storeOver(dir, checker);
    await seed.store.add(a);
    await seed.store.add(b);
    const fileA = join(dir, meteredFileName(sha(a), DEFAULT_LIMITS));
    const fileB = join(dir, meteredFileName(sha(b), DEFAULT_LIMITS));
    const good = readFileSync(fileA);
    const goodB = readFileSync(fileB);
    assert.ok(decodeMeteredFile(good, sha(a), DEFAULT_LIMITS).ok, 'the file as written decodes');
    const flip = (at: number) => {
      const c = Buffer.from(good);
      c[at]! ^= 1;
      return c;
    };
    const versioned = Buffer.from(good);
    versioned.writeUInt16BE(METERED_FORMAT_VERSION + 1, 8);
    const otherLimits = resolveLimits({ maxTableElements: 2048 });
    const cases: Array<[string, Uint8Array, RegExp]> = [
      ['a flipped bit in the metered bytes', flip(good.length - 10), /^digest mismatch \(damaged\)$/],
      ['a flipped bit in the report', flip(good.indexOf('"functions"')), /^digest mismatch|^report/],
      ['truncated', good.subarray(0, good.length - 1), /^\d+ bytes, the header says \d+$/],
      ['not a metered file', Buffer.from('\0asm garbage'), /^not a metered-binary file \(magic\)$/],
      ['another format version', versioned, new RegExp(`^format version ${METERED_FORMAT_VERSION + 1}, expected ${METERED_FORMAT_VERSION}$`)],
      ["another module's file", goodB, new RegExp(`module=${sha(b)}".*expected ".*module=${sha(a)}"$`)],
      [
        'made under other limits',
        encodeMeteredFile(sha(a), otherLimits, checkAndMeter(a, otherLimits)),
        /maxTableElements=2048 module=.*expected ".*maxTableElements=1024 module=/,
      ],
    ];
    await checker.close(); // each case below starts it afresh
    for (const [what, bytes, why] of cases) {
      writeFileSync(fileA, bytes);
      const before = checker.spawned;
      const { store, logged } = storeOver(dir, checker);
      const got = await store.metered(a);
      assert.equal(got.metered, checkAndMeter(a, DEFAULT_LIMITS).metered, `${what}: metered again`);
      assert.equal(store.meteredServed, { memory: 0, disk: 0, checked: 1 }, what);
      assert.is(checker.spawned, before + 1, `${what}: the checker ran`);
      assert.is(logged.length, 1, `${what}: ${JSON.stringify(logged)}`);
      assert.is(logged[0]!.event, 'metered-cache-ignored');
      assert.is(logged[0]!.fields.path, fileA);
      assert.match(String(logged[0]!.fields.why), why, what);
      assert.equal(readFileSync(fileA), good, `${what}: replaced by what the checker made`);
      await checker.close();
    }
    // Module B's own file was never touched, and an intact file is used as it is.
    const { store } = storeOver(dir, checker);
    const before = checker.spawned;
    await store.metered(b);
    assert.equal(store.meteredServed, { memory: 0, disk: 1, checked: 0 });
    assert.is(checker.spawned, before);
    assert.equal(readFileSync(fileB), goodB);
  } finally {
    await checker.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the file format: boundary checks, and a key that changes with what metering depends on (not with fuel or maxCallDepth)', () => {
  const m = wat(GOOD_POLICY);
  const checked = checkAndMeter(m, DEFAULT_LIMITS);
  throwsError(() => encodeMeteredFile('ABC', DEFAULT_LIMITS, checked), 'RangeError', undefined, /^sha256: expected 64 lowercase hex digits, got "ABC"$/);
  const h = sha(m);
  assert.is(
    meteredFileName(h, DEFAULT_LIMITS),
    meteredFileName(h, resolveLimits({ fuel: 7, maxCallDepth: 9, timeoutMs: 5 })),
    'fuel, depth and time limits do not shape the metered bytes',
  );
  assert.is.not(meteredFileName(h, DEFAULT_LIMITS), meteredFileName(h, resolveLimits({ maxTableElements: 10 })));
  assert.match(meteredFileName(h, DEFAULT_LIMITS), new RegExp(`^${h}\\.[0-9a-f]{16}\\.metered$`));
  const file = encodeMeteredFile(h, DEFAULT_LIMITS, checked);
  const back = decodeMeteredFile(file, h, DEFAULT_LIMITS);
  assert.ok(back.ok);
  if (back.ok) assert.equal([back.metered, back.report], [checked.metered, checked.report]);
  assert.equal(decodeMeteredFile(file, 'ab'.repeat(32), DEFAULT_LIMITS).ok, false, 'bound to its module');
  assert.equal(decodeMeteredFile(new Uint8Array(0), h, DEFAULT_LIMITS), { ok: false, why: 'not a metered-binary file (magic)' });
});

// ---- restart, quota ----

test('a restarted store and scheduler decide on a known module without starting the module checker; a module stored before the cache is metered once, then kept', async () => {
  const dir = tempDir();
  const checker = new ModuleChecker();
  const later = new ModuleChecker();
  const module = await wasm('time-lock');
  const [, inp] = CASES[0]!;
  const agent = async (c: ModuleChecker) => {
    const { store } = storeOver(dir, c);
    const scheduler = new DecisionScheduler({
      workers: [new WorkerSandbox({}, { alwaysMetered: true })],
      maxQueued: 8,
      fuelPerMinute: 0,
      fuelLimit: DEFAULT_LIMITS.fuel,
      timeoutMs: DEFAULT_LIMITS.timeoutMs,
      meter: (m) => store.metered(m, DEFAULT_LIMITS),
    });
    await scheduler.start();
    return { store, scheduler };
  };
  try {
    const a = await agent(checker);
    await a.store.add(module);
    const before = await a.scheduler.evaluate(module, inp);
    await a.scheduler.stop();
    assert.is(checker.spawned, 1);
    const b = await agent(later);
    try {
      const stored = (await b.store.get(sha(module)))!;
      const after = await b.scheduler.evaluate(stored, inp);
      assert.equal(view(after), view(before));
      assert.equal(b.store.meteredServed, { memory: 0, disk: 1, checked: 0 });
      assert.is(later.spawned, 0, 'the restarted agent started no module checker');
    } finally {
      await b.scheduler.stop();
    }
    // A module stored by a version without the cache (its .wasm only): metered at its first
    // decision, written then, and read from the file after the next restart.
    const other = await wasm('allowlist');
    await new ModuleStore(dir).add(other);
    assert.ok(!readdirSync(dir).some((n) => n.startsWith(sha(other)) && n.endsWith('.metered')), 'no file without the cache');
    const c = await agent(later);
    try {
      await c.scheduler.evaluate(other, CASES[4]![1]);
      assert.equal(c.store.meteredServed, { memory: 0, disk: 0, checked: 1 });
      assert.ok(readdirSync(dir).includes(meteredFileName(sha(other), DEFAULT_LIMITS)));
    } finally {
      await c.scheduler.stop();
    }
    const d = await agent(later);
    try {
      await d.scheduler.evaluate(other, CASES[4]![1]);
      assert.equal(d.store.meteredServed, { memory: 0, disk: 1, checked: 0 });
    } finally {
      await d.scheduler.stop();
    }
  } finally {
    await checker.close();
    await later.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("metered files count toward the store's byte quota (not its module count); one that would pass the quota is not written, the module is still stored", async () => {
  const dir = tempDir();
  const checker = new ModuleChecker();
  try {
    const a = await wasm('time-lock');
    const b = await wasm('expiry');
    const { store } = storeOver(dir, checker);
    await store.add(a);
    const files = readdirSync(dir).sort();
    assert.equal(files, [`${sha(a)}.wasm`, meteredFileName(sha(a), DEFAULT_LIMITS)].sort());
    const bytes = files.reduce((n, f) => n + statSync(join(dir, f)).size, 0);
    assert.equal(await store.usage(), { bytes, count: 1 });
    // After a restart the files are counted from the disk the same way.
    const tight = storeOver(dir, checker, { maxBytes: bytes + b.length + 100 });
    assert.equal(await tight.store.usage(), { bytes, count: 1 });
    await tight.store.add(b); // fits; its metered file would not
    assert.ok(readdirSync(dir).includes(`${sha(b)}.wasm`));
    assert.ok(!readdirSync(dir).includes(meteredFileName(sha(b), DEFAULT_LIMITS)), 'not written above the quota');
    assert.equal(await tight.store.usage(), { bytes: bytes + b.length, count: 2 });
    assert.ok(
      tight.logged.some((l) => l.event === 'metered-not-cached' && /above maxModuleStoreBytes/.test(String(l.fields.why))),
      JSON.stringify(tight.logged),
    );
    assert.ok((await tight.store.metered(b)).metered.length > 0, 'still metered (in memory)');
    await rejectsError(
      () => storeOver(dir, checker).store.metered(Uint8Array.of(1, 2, 3)),
      'SandboxError',
      'ERR_INVALID_MODULE',
      /not a valid WebAssembly binary/,
    );
  } finally {
    await checker.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---- the worker never loads Binaryen ----

test('an alwaysMetered worker never loads Binaryen (nor does the thread that drives it), also after its compiled module was evicted; a default worker does', async () => {
  const dir = tempDir();
  try {
    // 70 distinct modules (the worker keeps 64 compiled): the policy plus a custom section each.
    const base = wat(GOOD_POLICY);
    const modules = Array.from({ length: 70 }, (_, i) => Buffer.concat([base, Buffer.from([0, 6, 3, ...Buffer.from('pad'), i, 0])]));
    writeFileSync(
      join(dir, 'modules.json'),
      JSON.stringify(modules.map((m) => [Buffer.from(m).toString('base64'), Buffer.from(checkAndMeter(m, DEFAULT_LIMITS).metered).toString('base64')])),
    );
    // Every module any thread of the child loads, with the thread's id.
    writeFileSync(
      join(dir, 'hook.mjs'),
      `import { registerHooks } from 'node:module';
import { appendFileSync } from 'node:fs';
import { threadId } from 'node:worker_threads';
registerHooks({ load(url, context, next) { appendFileSync(${JSON.stringify(join(dir, 'loaded.txt'))}, threadId + ' ' + url + '\\n'); return next(url, context); } });
`,
    );
    // A script file, not -e: workers inherit the process's options, and --input-type is refused there.
    writeFileSync(
      join(dir, 'child.mjs'),
      `
      import { readFileSync } from 'node:fs';
      import { WorkerSandbox } from ${JSON.stringify(pathToFileURL(join(ROOT, 'agent/sandbox/WorkerSandbox.ts')).href)};
      const pairs = JSON.parse(readFileSync(${JSON.stringify(join(dir, 'modules.json'))}, 'utf8')).map(([m, x]) => [Buffer.from(m, 'base64'), Buffer.from(x, 'base64')]);
      const input = { now: 5000, requester: 'age1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq0gq7m',
        capsule: { id: new Uint8Array(16).fill(1), created: 1, owner: null, logic: new Uint8Array(32), size: 10, digest: new Uint8Array(32) } };
      const out = [];
      const metered = new WorkerSandbox({}, { alwaysMetered: true }); // thread 1
      await metered.start();
      for (const [m, x] of pairs) out.push((await metered.evaluate(m, input, x)).fuel);
      out.push((await metered.evaluate(pairs[0][0], input, pairs[0][1])).fuel); // evicted there: sent again
      await metered.stop();
      const plain = new WorkerSandbox(); // thread 2: meters itself
      await plain.start();
      out.push((await plain.evaluate(pairs[0][0], input)).fuel);
      await plain.stop();
      console.log(JSON.stringify(out));
    `,
    );
    const child = spawnSync(process.execPath, ['--import', pathToFileURL(join(dir, 'hook.mjs')).href, join(dir, 'child.mjs')], { encoding: 'utf8', cwd: ROOT });
    assert.is(child.status, 0, child.stderr);
    const fuel = JSON.parse(child.stdout) as number[];
    assert.is(fuel.length, 72);
    assert.ok(
      fuel.every((f) => f === fuel[0] && f > 0),
      `the same fuel everywhere: ${fuel}`,
    );
    const loaded = readFileSync(join(dir, 'loaded.txt'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(' ') as [string, string]);
    const by = (t: string) => loaded.filter(([id]) => id === t).map(([, url]) => url);
    assert.ok(
      by('1').some((u) => u.endsWith('/agent/sandbox/MeteredSandbox.ts')),
      "the hook sees the alwaysMetered worker's modules",
    );
    assert.equal(
      by('1').filter((u) => /binaryen|validate\.ts|meter\.ts/.test(u)),
      [],
      'the alwaysMetered worker loaded no Binaryen',
    );
    assert.equal(
      by('0').filter((u) => /binaryen|validate\.ts|meter\.ts/.test(u)),
      [],
      'nor did the thread driving it',
    );
    assert.ok(
      by('2').some((u) => u.includes('/node_modules/binaryen/')),
      'a default worker loads Binaryen (the probe works)',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('MeteredSandbox: without metered bytes and without the meter, prepare() is a typed error; prepareAsync() loads the meter', async () => {
  const m = wat(GOOD_POLICY);
  const sb = new MeteredSandbox();
  assert.is(sb.canMeter, false);
  throwsError(
    () => sb.prepare(m),
    'SandboxError',
    'ERR_SANDBOX',
    new RegExp(`^logic module ${sha(m)}: no metered binary was given and this sandbox has not loaded the meter \\(use prepareAsync\\)$`),
  );
  const inp = CASES[0]![1];
  const r = await sb.evaluateAsync(m, { ...inp, params: undefined });
  assert.is(sb.canMeter, true);
  assert.equal(view(r), view(new Sandbox().evaluate(m, { ...inp, params: undefined })));
});

test.run();
