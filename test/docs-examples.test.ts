/**
 * Docs that run (issue 19, item 5): every fenced block of README.md, contracts-as/README.md,
 * contracts-as/contracts/README.md and contracts-as/ABI.md is extracted (test/helpers/docBlocks.ts)
 * and given exactly one treatment, printed in a list; a block the rules below do not cover fails
 * the suite, so a new example is run or explicitly excused, never silently ignored.
 *
 * Treatments:
 * - ```sh: run with `bash -euo pipefail` in a fresh folder outside the repository; must exit 0.
 *   `capsule` and `npx capsule` are the real bin/capsule.js (shims first on PATH; any other npx is
 *   refused). The folder holds a symbolic link `contracts-as` to the checkout (the docs name
 *   clone-relative paths) and a copy of each prepared file the block uses, unless the block's first
 *   mention of it is as an output (`-o NAME`). Prepared: guardian.key, approver.key, alice.key,
 *   bob.key (keygen; owner.key too, which signs the capsules of the json checks but is never
 *   copied); will.pdf; time-lock.wasm and policy.wasm (`logic build` of the standard
 *   contracts); policy.json (`all` of a 2030 time lock and 1-of-1 approvals by approver.key);
 *   will.capsule (will.pdf sealed to guardian.key with policy.wasm and policy.json); a1.json and
 *   a.json (approver.key's approval of will.capsule for the `age1…` below). SH_CHECKS holds what
 *   some blocks' comments promise, checked on their output.
 *   README's "Agent" block is run line by line instead, against a real `capsule agent` (AGENT_SUBST).
 *   Not run: README's "Quick start" blocks (run verbatim by test/readme-quickstart.test.ts) and
 *   blocks marked `<!-- not run: reason -->` on the line before the fence (a guardian device, a
 *   running agent, the network, root); the reason is listed.
 * - ```ts / ```typescript / ```as with `export function decide` or an import of
 *   `@capsule-engine/sdk`: written as my-policy.ts into a folder of its own outside the repository
 *   (no node_modules: the SDK comes from the engine, by package name) and built with the real
 *   `capsule logic build`; AS_CHECKS then runs some of them. `<!-- fragment: reason -->` skips one,
 *   listed with the reason.
 * - ```json under a standard contract's heading (PARAMS): its params, sealed into a capsule and run
 *   with `capsule logic run` by that contract (a capsule rule inside policy.wasm, a wallet rule
 *   inside wallet/policy.wasm): must evaluate without error, i.e. the contract accepts them.
 *   Under "Signed messages": must have the fields of a file `capsule approve` writes.
 * - ```js: only `import { … } from 'digital-capsule-engine[/sub]'` lines; the subpath must be in
 *   package.json's exports and every name exported by its source entry (agent/…/index.ts).
 * - a bare ``` or ```cddl: literal text (a formula, a grammar, message formats, a file tree) or a
 *   specification; nothing to run.
 *
 * - README's "Agent" block: a provisioned guardian (simulator module, test/helpers/runningAgent.ts)
 *   with will.capsule sealed as the block's first comment says (its `--params`, placeholders
 *   substituted) and approver.key; the block's `capsule agent … &` line is the agent the test starts
 *   itself (127.0.0.1, a free port, a file clock at the present, the block's `config.json:` comment
 *   as its config) and stops after the suite. Every other command runs in the device's folder and
 *   must exit 0, unless the comment after it reads `→ capsule: error: …`: then it must exit 1 with
 *   that error (`…` matches anything). Substitutions: AGENT_SUBST. The approved open must write the
 *   sealed will.pdf back.
 *
 * Placeholders, substituted in sh and json blocks before they run (SUBST): `age1…` is guardian.key's
 * recipient (the guardian sealed to and the requester), `age1alice…` / `age1bob…` those of
 * alice.key / bob.key, `capsule-ecdh1…` the p256-ecdh recipient of a fresh P-256 key. A `…` left
 * in a command after substitution fails the block. Output shown in comments is checked only where
 * SH_CHECKS says. Built policies are kept in a build cache (XDG_CACHE_HOME inside the test's folder), so
 * each distinct source is compiled once.
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ECDH_RECIPIENT_HRP, encodeP256Key, p256PublicKey, scalarFromBytes } from '../agent/crypto/p256.ts';
import { BIN } from './helpers/cli.ts';
import { type DocBlock, docBlocks, shellCommands, shellSteps } from './helpers/docBlocks.ts';
import { provisioned, type Running, setClock, startAgent } from './helpers/runningAgent.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DOCS = ['README.md', 'contracts-as/README.md', 'contracts-as/contracts/README.md', 'contracts-as/ABI.md'];
const AT = '2031-06-02T10:00:00Z'; // a Monday, after every example's notBefore, before its notAfter

/** How the params of a contract's section are run: by which module, wrapped in which rule key. */
const PARAMS: Record<string, { module: string; wrap?: string }> = {
  'time-lock': { module: 'time-lock.wasm' },
  'drand-time-lock': { module: 'drand-time-lock.wasm' },
  'dead-man': { module: 'policy.wasm', wrap: 'deadMan' },
  'm-of-n': { module: 'policy.wasm', wrap: 'mOfN' },
  allowlist: { module: 'policy.wasm', wrap: 'allowlist' },
  expiry: { module: 'policy.wasm', wrap: 'expiry' },
  'policy (combinator)': { module: 'policy.wasm' },
  'wallet/recipient-allowlist': { module: 'wallet-policy.wasm', wrap: 'recipients' },
  'wallet/tx-cap': { module: 'wallet-policy.wasm', wrap: 'txCap' },
  'wallet/daily-limit': { module: 'wallet-policy.wasm', wrap: 'dailyLimit' },
  'wallet/chain-allowlist': { module: 'wallet-policy.wasm', wrap: 'chains' },
  'wallet/co-signers': { module: 'wallet-policy.wasm', wrap: 'coSigners' },
  'wallet/time-window': { module: 'wallet-policy.wasm', wrap: 'timeWindow' },
  'wallet/contract-calls': { module: 'wallet-policy.wasm', wrap: 'contractCalls' },
  'wallet/policy': { module: 'wallet-policy.wasm' },
};
/** The modules prepared in the fixtures folder, by source. */
const MODULES: Record<string, string> = {
  'time-lock.wasm': 'contracts-as/contracts/time-lock.ts',
  'policy.wasm': 'contracts-as/contracts/policy.ts',
  'wallet-policy.wasm': 'contracts-as/contracts/wallet/policy.ts',
  'drand-time-lock.wasm': 'contracts-as/contracts/drand-time-lock.ts',
};
const FIXTURES = [
  'guardian.key',
  'approver.key',
  'alice.key',
  'bob.key',
  'will.pdf',
  'time-lock.wasm',
  'policy.wasm',
  'policy.json',
  'will.capsule',
  'a1.json',
  'a.json',
];

/** The README's Agent block: its background line, which the test replaces by an agent it starts. */
const AGENT_STARTED = 'npx capsule agent --data-dir ~/guardian --config config.json &';
/** What the Agent block's placeholders stand for (`url` is known once the agent has started). */
interface AgentRig {
  url: string;
  data: string;
  requester: string;
  approver: string;
  digest: string;
  logic: string;
}
/** Substitutions in the Agent block (commands, the sealing params, the config, the expected errors), in order. */
const AGENT_SUBST: [string, (r: AgentRig) => string][] = [
  ['http://127.0.0.1:7373', (r) => r.url], // the agent the test started, on a free port
  ['--guardian …', (r) => `--guardian ${r.url}`],
  ['~/guardian', (r) => r.data], // the provisioned guardian's data directory
  ['<64 hex>', (r) => r.digest], // SHA-256 of a message
  ['age1…', (r) => r.requester], // me.key's recipient: the requester
  ['<approver.key public key>', (r) => r.approver], // its ed25519 key, hex
  ['<sha256 of policy.wasm>', (r) => r.logic], // the module the guardian's policy.wasm is
];

type Treatment =
  | { kind: 'sh' | 'as' | 'js' | 'evidence' | 'agent' }
  | { kind: 'params'; module: string; wrap?: string }
  | { kind: 'skip'; reason: string }
  | { kind: 'unknown'; reason: string };

/** The one treatment of `b` (see the header). */
function treatment(b: DocBlock): Treatment {
  if (b.marker?.kind === 'not run') return { kind: 'skip', reason: `not run: ${b.marker.reason}` };
  if (b.file === 'README.md' && b.heading === 'Quick start' && b.lang === 'sh')
    return { kind: 'skip', reason: 'run verbatim by test/readme-quickstart.test.ts' };
  if (b.file === 'README.md' && b.heading === 'Agent' && b.lang === 'sh') return { kind: 'agent' };
  if (b.marker?.kind === 'fragment') {
    return ['ts', 'typescript', 'as'].includes(b.lang)
      ? { kind: 'skip', reason: `fragment: ${b.marker.reason}` }
      : { kind: 'unknown', reason: 'a fragment marker on a block that is not AssemblyScript' };
  }
  switch (b.lang) {
    case 'sh':
      return { kind: 'sh' };
    case 'ts':
    case 'typescript':
    case 'as':
      return /export function decide\b|@capsule-engine\/sdk/.test(b.body)
        ? { kind: 'as' }
        : { kind: 'unknown', reason: 'TypeScript that is neither a policy (decide) nor imports the SDK' };
    case 'js':
      return b.body.split('\n').every((l) => !l.trim() || IMPORT.test(l))
        ? { kind: 'js' }
        : { kind: 'unknown', reason: "JavaScript other than imports from 'digital-capsule-engine'" };
    case 'json':
      if (b.heading === 'Signed messages') return { kind: 'evidence' };
      return PARAMS[b.heading]
        ? { kind: 'params', ...PARAMS[b.heading]! }
        : { kind: 'unknown', reason: `JSON under "${b.heading}", which names no contract in PARAMS` };
    case '':
      return { kind: 'skip', reason: 'literal text (no language): nothing to run' };
    case 'cddl':
      return { kind: 'skip', reason: 'CDDL specification: nothing to run' };
    default:
      return { kind: 'unknown', reason: `language "${b.lang}" has no rule` };
  }
}
const IMPORT = /^import \{([^}]*)\} from '(digital-capsule-engine(?:\/[a-z]+)?)';$/;

// ---- the folder, the shims, the prepared files ----

const TMP = mkdtempSync(join(tmpdir(), 'capsule-docs-'));
const FIX = join(TMP, 'fixtures');
const links: string[] = [];
const ENV = { ...process.env, PATH: `${join(TMP, 'bin')}:${process.env.PATH}`, XDG_CACHE_HOME: join(TMP, 'cache') };
delete (ENV as Record<string, string | undefined>).CAPSULE_BUILD_CACHE;
delete (ENV as Record<string, string | undefined>).CAPSULE_COMPILE_CACHE;
const SUBST: [string, string][] = [];
let approverKey = '';

function link(dir: string): void {
  symlinkSync(join(ROOT, 'contracts-as'), join(dir, 'contracts-as'));
  links.push(join(dir, 'contracts-as'));
}

/** Runs a bash script in `cwd` with the shims; stops at the first failing command. */
function bash(script: string, cwd: string) {
  const r = spawnSync('bash', ['-euo', 'pipefail', '-c', script], { cwd, env: ENV, encoding: 'utf8', timeout: 300_000 });
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '', error: r.error };
}

/** `capsule ARGS` (the shim) in `cwd`, which must succeed; its stdout and stderr. */
function capsule(args: string, cwd: string): { stdout: string; stderr: string } {
  const r = bash(`capsule ${args}`, cwd);
  assert.is(r.code, 0, `capsule ${args}: ${r.error?.message ?? r.stderr}`);
  return r;
}

const recipientOf = (dir: string, key: string) => /age1[0-9a-z]+/.exec(readFileSync(join(dir, key), 'utf8'))![0];

test.before(() => {
  try {
    prepare();
  } catch (e) {
    rmSync(TMP, { recursive: true, force: true }); // nothing left behind when set-up fails
    throw e;
  }
});

/** The shims and the prepared files (see the header). */
function prepare(): void {
  mkdirSync(join(TMP, 'bin'));
  writeFileSync(join(TMP, 'bin', 'capsule'), `#!/bin/sh\nexec '${process.execPath}' '${BIN}' "$@"\n`);
  writeFileSync(
    join(TMP, 'bin', 'npx'),
    '#!/bin/sh\n[ "$1" = capsule ] || { echo "docs-examples: only npx capsule is provided, not npx $1" >&2; exit 127; }\nshift\nexec capsule "$@"\n',
  );
  for (const f of ['capsule', 'npx']) chmodSync(join(TMP, 'bin', f), 0o755);
  mkdirSync(FIX);
  link(FIX);
  for (const k of ['guardian', 'alice', 'bob', 'owner']) capsule(`keygen -o ${k}.key`, FIX);
  approverKey = /\(ed25519\): ([0-9a-f]{64})/.exec(capsule('keygen -o approver.key', FIX).stderr)![1]!;
  writeFileSync(join(FIX, 'will.pdf'), 'my last will\n');
  for (const [out, src] of Object.entries(MODULES)) capsule(`logic build ${src} -o ${out}`, FIX);
  const requester = recipientOf(FIX, 'guardian.key');
  const policy = {
    all: [{ timeLock: { notBefore: '2030-01-01T00:00:00Z' } }, { mOfN: { threshold: 1, approvers: [{ scheme: 'ed25519', key: approverKey }] } }],
  };
  writeFileSync(join(FIX, 'policy.json'), JSON.stringify(policy));
  capsule(`seal will.pdf --guardian ${requester} --logic policy.wasm --params-file policy.json -o will.capsule`, FIX);
  capsule(`approve will.capsule --requester ${requester} --key approver.key -o a1.json`, FIX);
  copyFileSync(join(FIX, 'a1.json'), join(FIX, 'a.json'));
  SUBST.push(
    ['capsule-ecdh1…', encodeP256Key(ECDH_RECIPIENT_HRP, p256PublicKey(scalarFromBytes(randomBytes(48))))],
    ['age1alice…', recipientOf(FIX, 'alice.key')],
    ['age1bob…', recipientOf(FIX, 'bob.key')],
    ['age1…', requester],
  );
}

let agent: Running | undefined;
let guardian: { cleanup(): void } | undefined;

test.after(async () => {
  await agent?.stop();
  guardian?.cleanup();
  for (const l of links) if (existsSync(l)) unlinkSync(l); // never followed into the checkout
  rmSync(TMP, { recursive: true, force: true });
});

const substitute = (text: string) => SUBST.reduce((t, [from, to]) => t.replaceAll(from, to), text);

/** A fresh folder for `b` with the prepared files it reads. */
function workdir(b: DocBlock): string {
  const dir = mkdtempSync(join(TMP, 'block-'));
  link(dir);
  for (const f of FIXTURES) {
    const at = b.body.search(new RegExp(`(^|[\\s=])${f.replace('.', '\\.')}(?=\\s|$)`, 'm'));
    if (at < 0) continue;
    if (/(-o|--output)\s+$/.test(b.body.slice(0, at + 1))) continue; // the block makes it
    copyFileSync(join(FIX, f), join(dir, f));
  }
  return dir;
}

// ---- the treatments ----

function runShell(b: DocBlock): void {
  const script = substitute(b.body);
  for (const cmd of shellCommands(script)) {
    const code = cmd.replace(/\s#.*$/, '');
    assert.not.ok(code.includes('…'), `${b.file}:${b.line}: a placeholder with no substitution in: ${code}`);
  }
  const r = bash(script, workdir(b));
  assert.is(r.code, 0, `${b.file}:${b.line} failed (${r.error?.message ?? `exit ${r.code}`}):\n${r.stderr}`);
  for (const re of SH_CHECKS[`${b.file}#${b.heading}`] ?? []) assert.match(r.stdout, re, `${b.file}:${b.line}: its output`);
}

/** A pattern for an expected error as the docs write it: literal text, `…` for anything. */
const expectation = (text: string) =>
  new RegExp(
    `^${text
      .split('…')
      .map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}`,
    'm',
  );

/** The Agent block against a real agent (see the header). */
async function runAgentBlock(b: DocBlock): Promise<void> {
  const g = await provisioned();
  guardian = g;
  const { d, x25519 } = g;
  const sha256 = (x: string | Uint8Array) => createHash('sha256').update(x).digest('hex');
  const rig: AgentRig = {
    url: '',
    data: d.data,
    requester: recipientOf(d.dir, 'me.key'),
    approver: approverKey,
    digest: sha256('pay 1 coin to bob'),
    logic: sha256(readFileSync(join(d.dir, 'policy.wasm'))),
  };
  const sub = (t: string) => AGENT_SUBST.reduce((x, [from, to]) => x.replaceAll(from, to(rig)), t);
  const env = { ...d.env, PATH: ENV.PATH, XDG_CACHE_HOME: ENV.XDG_CACHE_HOME };
  const sh = (cmd: string) => spawnSync('bash', ['-euo', 'pipefail', '-c', cmd], { cwd: d.dir, env, encoding: 'utf8', timeout: 120_000 });
  const comments = b.body
    .split('\n')
    .filter((l) => l.startsWith('#'))
    .map((l) => l.replace(/^#\s*/, ''))
    .join(' ');
  const params = /--params '([^']*)'/.exec(comments)?.[1];
  const config = /^#\s*config\.json: (.*)$/m.exec(b.body)?.[1];
  assert.ok(params && config, `${b.file}:${b.line}: comments giving will.capsule's --params '…' and a config.json: line`);
  const will = 'my last will\n';
  writeFileSync(join(d.dir, 'will.pdf'), will);
  copyFileSync(join(FIX, 'approver.key'), join(d.dir, 'approver.key'));
  setClock(d, Date.now()); // before the 2030 time lock, within the dead man's silence
  const seal = sh(`capsule seal will.pdf --guardian ${x25519} --logic policy.wasm --sign-with owner.key --params '${sub(params!)}' -o will.capsule`);
  assert.is(seal.status, 0, `${b.file}:${b.line}: sealing will.capsule as the comment says: ${seal.stderr}`);
  rmSync(join(d.dir, 'will.pdf')); // the approved open writes it back
  for (const step of shellSteps(b.body)) {
    const at = `${b.file}:${b.line + step.line}`;
    const code = step.command.replace(/\s+#.*$/, '');
    if (code === AGENT_STARTED) {
      agent = await startAgent(d, JSON.parse(sub(config!)));
      rig.url = agent.url;
      continue;
    }
    assert.ok(rig.url || !/127\.0\.0\.1:7373|--guardian/.test(code), `${at}: a guardian named before the agent is started: ${code}`);
    assert.not.ok(sub(code).includes('…'), `${at}: a placeholder with no substitution in: ${sub(code)}`);
    assert.not.ok(code.endsWith('&'), `${at}: a background command other than the agent (${AGENT_STARTED}): ${code}`);
    const r = sh(sub(code));
    const fails = step.notes.find((n) => n.startsWith('→ capsule: error: '));
    if (fails) {
      assert.is(r.status, 1, `${at}: expected to fail (${fails}), got exit ${r.status}:\n${r.stderr}`);
      assert.match(r.stderr, expectation(sub(fails.slice(2))), `${at}: its error`);
    } else assert.is(r.status, 0, `${at} failed (exit ${r.status}):\n${r.stderr}`);
  }
  assert.ok(agent, `${b.file}:${b.line}: the block starts the agent with: ${AGENT_STARTED}`);
  assert.is(readFileSync(join(d.dir, 'will.pdf'), 'utf8'), will, 'the approved open wrote the sealed will.pdf');
}

/** What some shell examples' comments promise, checked on their stdout, by file and heading. */
const SH_CHECKS: Record<string, RegExp[]> = {
  'README.md#Sealing and opening': [
    /^owner: +ed25519:[0-9a-f]{64} \(signed\)$/m, // inspect: "header: logic, params, sizes, stanzas, owner"
    /^params: +\{"notBefore":"2030-01-01T00:00:00Z"\}$/m,
    /^stanza 1: +p256-ecdh/m,
    /^ {2}ok: logic module SHA-256 matches$/m, // verify: offline checks
  ],
  'README.md#Unlock logic': [
    /^ {2}imports: /m, // check: "hash, imports, memory"
    /^ {2}memory: /m,
    /"verdict": "allow",\n {2}"reason": "all: 2 of 2 rules allow",\n {2}"fuel": \d+,[\s\S]*"logs": \[\],\n {2}"state": \{\}/, // run --json: "verdict, reason, fuel, logs, state"
  ],
};

/** Behaviour checks of policies in the docs, by file and heading: [params, time, expected first line]. */
const AS_CHECKS: Record<string, [string, string, RegExp][]> = {
  'contracts-as/README.md#contracts-as/': [
    ['{"notBefore":"2030-01-01T00:00:00Z"}', '2029-12-31T23:59:59Z', /^deny: opens at 1893456000000 \(2030-01-01T00:00:00Z\)$/],
    ['{"notBefore":"2030-01-01T00:00:00Z"}', '2030-01-01T00:00:00Z', /^allow: open$/], // a Tuesday
    ['{"notBefore":1893456000000}', '2030-01-05T12:00:00Z', /^deny: closed at weekends \(UTC\)$/], // a Saturday
  ],
};

function buildPolicySource(b: DocBlock): void {
  const dir = mkdtempSync(join(TMP, 'policy-'));
  writeFileSync(join(dir, 'my-policy.ts'), b.body);
  const built = bash('capsule logic build my-policy.ts -o my-policy.wasm', dir);
  assert.is(built.code, 0, `${b.file}:${b.line}: capsule logic build failed:\n${built.stderr}`);
  const key = recipientOf(FIX, 'guardian.key');
  for (const [i, [params, at, expect]] of (AS_CHECKS[`${b.file}#${b.heading}`] ?? []).entries()) {
    capsule(`seal ${join(FIX, 'will.pdf')} --guardian ${key} --logic my-policy.wasm --params '${params}' -o c${i}.capsule`, dir);
    const line = capsule(`logic run my-policy.wasm --capsule c${i}.capsule --requester ${key} --at ${at}`, dir).stdout.split('\n')[0]!;
    assert.match(line, expect, `${b.file}:${b.line} with ${params} at ${at}`);
  }
}

function runParams(b: DocBlock, module: string, wrap?: string): void {
  const params = JSON.parse(substitute(b.body));
  const name = `params-${b.line}`;
  writeFileSync(join(FIX, `${name}.json`), JSON.stringify(wrap ? { [wrap]: params } : params));
  const key = recipientOf(FIX, 'guardian.key');
  // Signed, as an owner would: a dead man's switch without an `owner` param takes the capsule's owner key.
  capsule(`seal will.pdf --guardian ${key} --logic ${module} --params-file ${name}.json --sign-with owner.key -o ${name}.capsule`, FIX);
  const r = bash(`capsule logic run ${module} --capsule ${name}.capsule --requester ${key} --at ${AT}`, FIX);
  assert.is(r.code, 0, `${b.file}:${b.line}: ${module} refused the example's params:\n${r.stderr}`);
}

function checkEvidence(b: DocBlock): void {
  const shown = JSON.parse(b.body) as Record<string, unknown>;
  const real = JSON.parse(readFileSync(join(FIX, 'a1.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(Object.keys(shown).sort(), Object.keys(real).sort(), 'the fields of an approval file');
  assert.is(shown.kind, real.kind);
  assert.is(shown.scheme, real.scheme);
}

async function checkImports(b: DocBlock): Promise<void> {
  const exportsMap = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).exports as Record<string, unknown>;
  for (const l of b.body.split('\n').filter((x) => x.trim())) {
    const [, names, spec] = IMPORT.exec(l)!;
    const sub = spec!.slice('digital-capsule-engine'.length);
    assert.ok(exportsMap[`.${sub}`], `${spec} is in package.json's exports`);
    const mod = (await import(join(ROOT, 'agent', sub, 'index.ts'))) as Record<string, unknown>;
    for (const n of names!.split(',').map((x) => x.trim())) assert.ok(n in mod, `${spec} exports ${n}`);
  }
}

// ---- one test per block, and the list ----

const blocks = DOCS.flatMap((f) => docBlocks(readFileSync(join(ROOT, f), 'utf8'), f));
const plans = blocks.map((b) => ({ b, t: treatment(b) }));

test('every block of the four documents has a treatment (the list)', () => {
  const label = (t: Treatment) =>
    t.kind === 'skip' || t.kind === 'unknown'
      ? `${t.kind}: ${t.reason}`
      : t.kind === 'params'
        ? `params, run by ${t.module}${t.wrap ? ` as ${t.wrap}` : ''}`
        : t.kind;
  console.log(plans.map(({ b, t }) => `  ${b.file}:${b.line} [${b.lang || 'text'}] "${b.heading}": ${label(t)}`).join('\n'));
  const unknown = plans.filter(({ t }) => t.kind === 'unknown');
  assert.is(
    unknown.length,
    0,
    `blocks with no treatment (add a rule, or a <!-- not run: reason --> marker):\n${unknown.map(({ b, t }) => `${b.file}:${b.line}: ${(t as { reason: string }).reason}`).join('\n')}`,
  );
  assert.ok(
    plans.some(({ t }) => t.kind === 'sh') && plans.some(({ t }) => t.kind === 'as') && plans.some(({ t }) => t.kind === 'params'),
    'each kind runs at least once',
  );
});

test('the tables name only blocks that exist, and the rules refuse what they do not know', () => {
  for (const k of Object.keys(SH_CHECKS))
    assert.ok(
      plans.some(({ b, t }) => t.kind === 'sh' && `${b.file}#${b.heading}` === k),
      `a shell block at ${k}`,
    );
  for (const h of Object.keys(PARAMS))
    assert.ok(
      plans.some(({ b, t }) => t.kind === 'params' && b.heading === h),
      `a json block under "${h}"`,
    );
  assert.is(plans.filter(({ t }) => t.kind === 'agent').length, 1, "README's Agent block, run against an agent");
  for (const k of Object.keys(AS_CHECKS))
    assert.ok(
      plans.some(({ b, t }) => t.kind === 'as' && `${b.file}#${b.heading}` === k),
      `an AssemblyScript block at ${k}`,
    );
  const doc = '# X\n```python\nprint(1)\n```\n<!-- fragment: a part -->\n```sh\nls\n```\n```ts\nconst a = 1;\n```\n```json\n{}\n```\n';
  assert.equal(
    docBlocks(doc, 'x.md').map((b) => treatment(b).kind),
    ['unknown', 'unknown', 'unknown', 'unknown'],
  );
  assert.throws(() => docBlocks('<!-- not run -->\n```sh\nls\n```\n', 'x.md'), /x\.md:1: a marker needs a reason/);
  assert.throws(() => docBlocks('```sh\nls\n', 'x.md'), /x\.md:1: a code fence that is never closed/);
  assert.throws(() => docBlocks('  ```sh\nls\n  ```\n', 'x.md'), /x\.md:1: an indented or ~~~ fence/);
  const [marked] = docBlocks('text\n<!-- not run: needs a device -->\n```sh\nls\n```\n', 'x.md');
  assert.equal(treatment(marked!), { kind: 'skip', reason: 'not run: needs a device' });
});

/** The message `fn` fails with (uvu's assert.throws rethrows assertion errors instead of matching them). */
function failure(fn: () => void): string {
  try {
    fn();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected a failure');
}

test("the Agent block's steps: commands with the comments after them; expected errors with … as a wildcard", () => {
  assert.equal(shellSteps('# before any command\na \\\n  b  # c\n#   → capsule: error: x … y\nc\n'), [
    { command: 'a  b  # c', line: 2, notes: ['→ capsule: error: x … y'] },
    { command: 'c', line: 5, notes: [] },
  ]);
  const e = expectation("capsule: error: guardian …: denied by the capsule's logic: any: none allow: timeLock#0 (opens at …");
  assert.match("capsule: error: guardian http://127.0.0.1:9: denied by the capsule's logic: any: none allow: timeLock#0 (opens at 1 (2030))", e);
  assert.not.match("capsule: error: guardian http://127.0.0.1:9: denied by the capsule's logic: any: none allow: mOfN#1 (approved by 0", e);
  assert.not.match('capsule: hint: x', expectation('capsule: error: …'));
});

test('a shell example that fails, or keeps a placeholder, fails its block', () => {
  const block = (body: string): DocBlock => ({ file: 'x.md', line: 1, lang: 'sh', body, heading: 'X' });
  assert.match(
    failure(() => runShell(block('capsule inspect missing.capsule\n'))),
    /^x\.md:1 failed \(exit 1\):\ncapsule: error: missing\.capsule: no such file/,
  );
  assert.match(
    failure(() => runShell(block('capsule seal will.pdf --guardian capsule-tpm1… --logic policy.wasm -o x.capsule\n'))),
    /^x\.md:1: a placeholder with no substitution in: capsule seal/,
  );
  assert.match(
    failure(() => runShell(block('npx other\n'))),
    /only npx capsule is provided, not npx other/,
  );
});

for (const { b, t } of plans) {
  if (t.kind === 'skip' || t.kind === 'unknown') continue;
  test(`${b.file}:${b.line} (${b.heading}): ${t.kind}`, async () => {
    if (t.kind === 'sh') runShell(b);
    else if (t.kind === 'as') buildPolicySource(b);
    else if (t.kind === 'params') runParams(b, t.module, t.wrap);
    else if (t.kind === 'evidence') checkEvidence(b);
    else if (t.kind === 'agent') await runAgentBlock(b);
    else await checkImports(b);
  });
}

test.run();
