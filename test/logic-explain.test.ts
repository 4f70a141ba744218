/**
 * `capsule logic explain` (issue 19, item 4) through the real binary, with real capsules sealed by
 * `capsule seal`, real approvals made by `capsule approve`, and the standard policy module
 * (contracts-as/contracts/policy.ts) built with asc and evaluated in the real sandbox: a time lock's
 * exact opening time, a dead man's switch's "owner silent since … opens at …" with and without a
 * stored check-in, m-of-n's missing approvals with none and one given, a time lock AND m-of-n, the
 * refusal of a module that is not the capsule's logic, the usage errors, and the --json shape.
 * The search itself (explainTimes.ts) is also driven with plain functions whose answer is known,
 * including an opening time nothing announces and a window that closes again.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readHeader } from '../agent/capsule/inspect.ts';
import { buildPolicy } from '../agent/logic/build.ts';
import { explain } from '../agent/logic/explain.ts';
import { relative } from '../agent/logic/explainFormat.ts';
import { searchEarliest, type Probe } from '../agent/logic/explainTimes.ts';
import { rejectsError } from './helpers/assertError.ts';
import { capsule, type Run } from './helpers/cli.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'capsule-explain-'));
const FROM = '2026-12-03T00:00:00Z';
const T2030 = 1_893_456_000_000; // 2030-01-01T00:00:00Z
const DAY = 86_400_000;
const ETH = '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed';
let guardian = '';
let bob = '';
const keys: Record<string, string> = {}; // name → owner signing key (Ed25519, hex)

/** Exit 1 with one `capsule: error:` line matching `message` (and the hint), every stderr line prefixed. */
function assertFails(r: Run, message: RegExp, hint?: RegExp): void {
  assert.is(r.code, 1, `exit 1 (stderr: ${r.stderr})`);
  const lines = r.stderr.trim().split('\n');
  assert.match(lines.find((l) => l.startsWith('capsule: error: ')) ?? '', message);
  if (hint) assert.match(lines.find((l) => l.startsWith('capsule: hint: ')) ?? '', hint);
  for (const l of lines) assert.ok(l.startsWith('capsule:'), `stderr line starts with capsule: (${l})`);
  assert.is(r.stdout.length, 0, 'nothing on stdout');
}

function ok(r: Run): string {
  assert.is(r.code, 0, r.stderr);
  return r.stdout.toString();
}
const cli = (args: string[]) => capsule(args, dir);
const explainJson = (args: string[]) => JSON.parse(ok(cli(['logic', 'explain', 'policy.wasm', ...args, '--from', FROM, '--json'])));
const explainText = (args: string[]) => ok(cli(['logic', 'explain', 'policy.wasm', ...args, '--from', FROM]));
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.000Z$/, 'Z');

function seal(name: string, params: unknown, extra: string[] = []): number {
  ok(cli(['seal', 'secret.txt', '--guardian', guardian, '--logic', 'policy.wasm', '--params', JSON.stringify(params), ...extra, '-o', name]));
  return Date.parse(JSON.parse(ok(cli(['inspect', name, '--json']))).created);
}

const mOfN = () => ({
  threshold: 2,
  approvers: [
    { scheme: 'ed25519', key: keys.a1 },
    { scheme: 'ed25519', key: keys.a2 },
    { scheme: 'eip191', key: ETH },
  ],
});

test.before(async () => {
  writeFileSync(join(dir, 'policy.wasm'), (await buildPolicy('contracts-as/contracts/policy.ts', { cwd: ROOT })).wasm);
  writeFileSync(join(dir, 'secret.txt'), 'the last will');
  for (const k of ['g', 'owner', 'bob', 'a1', 'a2']) {
    const r = cli(['keygen', '-o', `${k}.key`]);
    assert.is(r.code, 0, r.stderr);
    keys[k] = /owner signing key \(ed25519\): ([0-9a-f]{64})/.exec(r.stderr)![1]!;
  }
  guardian = /age1[0-9a-z]+/.exec(readFileSync(join(dir, 'g.key'), 'utf8'))![0];
  bob = /age1[0-9a-z]+/.exec(readFileSync(join(dir, 'bob.key'), 'utf8'))![0];
});

test('time lock: the exact opening time, absolute and relative, with the deny reason and the sampling note', () => {
  seal('tl.capsule', { timeLock: { notBefore: '2030-01-01T00:00:00Z' } });
  const text = explainText(['--capsule', 'tl.capsule']);
  assert.match(text, /\(anyone: no requester is named\):\n  opens at 2030-01-01T00:00:00Z \(in 3 years 29 days\)/);
  assert.match(text, /denied 2026-12-03T00:00:00Z … 2029-12-31T23:59:59\.999Z: "opens at 1893456000000 \(2030-01-01T00:00:00Z\)"/);
  assert.match(text, /note: the logic is arbitrary code: these times were found by evaluating it at \d+ points .*not proved/);
  // A time that is not on a second, given as a number: found to the millisecond.
  seal('tl-ms.capsule', { timeLock: { notBefore: T2030 + 123 } });
  const j = explainJson(['--capsule', 'tl-ms.capsule']);
  assert.is(j.requesters[0].opensAt, '2030-01-01T00:00:00.123Z');
  assert.is(j.requesters[0].opensAtMs, T2030 + 123);
  assert.is(j.requesters[0].openNow, false);
  assert.is(j.requesters[0].closesAt, null);
});

test("dead man's switch without state: owner silent since the capsule was created, opens 30 days later for the beneficiary", () => {
  const created = seal('dm.capsule', { deadMan: { beneficiaries: [bob], silenceMs: 30 * DAY } }, ['--sign-with', 'owner.key']);
  const text = explainText(['--capsule', 'dm.capsule']);
  const opens = created + 30 * DAY;
  assert.ok(text.includes(`owner silent since ${iso(created)} (capsule created, `), text);
  assert.ok(text.includes(`— opens at ${iso(opens)} for ${bob}`), text);
  assert.ok(text.includes(`${bob} (named in params.deadMan.beneficiaries[0]):\n  opens at ${iso(opens)} (in `), text);
  assert.match(text, /denied .*: "owner active at \d+ .*; opens at \d+ .* without a check-in"/);
});

test("dead man's switch with --state: owner silent since the stored check-in; open now once the silence has passed", () => {
  const created = Date.parse(JSON.parse(ok(cli(['inspect', 'dm.capsule', '--json']))).created);
  const checkin = created + 10 * DAY + 7; // a check-in 10 days (and 7 ms) after sealing
  const value = Buffer.alloc(8);
  value.writeBigInt64BE(BigInt(checkin));
  writeFileSync(join(dir, 'state.json'), JSON.stringify({ [Buffer.from('lastCheckin').toString('hex')]: value.toString('hex') }));
  const text = explainText(['--capsule', 'dm.capsule', '--state', 'state.json']);
  assert.ok(text.includes(`owner silent since ${iso(checkin)} (check-in in the state, `), text);
  assert.ok(text.includes(`— opens at ${iso(checkin + 30 * DAY)} for ${bob}`), text);
  const j = explainJson(['--capsule', 'dm.capsule', '--state', 'state.json']);
  assert.is(j.requesters[0].opensAtMs, checkin + 30 * DAY);
  assert.equal(j.requesters[0].deadMan, [
    {
      path: 'params.deadMan',
      silentSince: iso(checkin),
      since: 'check-in in the state',
      silenceMs: 30 * DAY,
      byParams: iso(checkin + 30 * DAY),
      beneficiary: true,
    },
  ]);
  // From a time after the silence: open now.
  const later = ok(cli(['logic', 'explain', 'policy.wasm', '--capsule', 'dm.capsule', '--state', 'state.json', '--from', String(checkin + 31 * DAY)]));
  assert.ok(later.includes(`open now (since ${iso(checkin + 30 * DAY)} by its silenceMs) for ${bob}`), later);
});

test('m-of-n with no approval: 2 of 3 missing, who could give them; with them (simulated) it opens now', () => {
  seal('mn.capsule', { mOfN: mOfN() });
  const text = explainText(['--capsule', 'mn.capsule', '--requester', bob]);
  assert.ok(text.includes(`${bob} (given with --requester):\n  never within the horizon`), text);
  assert.ok(text.includes(`needs 2 approvals of 3 (params.mOfN): missing — 2 of {${keys.a1!.slice(0, 8)}…, ${keys.a2!.slice(0, 8)}…, 0x5aAeb6…}`), text);
  assert.ok(text.includes('with the missing approvals: open now (at 2026-12-03T00:00:00Z) (simulated)'), text);
  assert.match(text, /denied 2026-12-03T00:00:00Z … .*: "approved by only 0 of 3 approvers \(threshold 2\)"/);
  assert.match(text, /note: who approved is read from the params .* stand-in approver keys/);
  const a = explainJson(['--capsule', 'mn.capsule', '--requester', bob]).requesters[0];
  assert.is(a.opensAt, null);
  assert.equal(a.approvals, [
    {
      path: 'params.mOfN',
      threshold: 2,
      given: 0,
      missing: 2,
      logicCount: 0,
      approvers: [
        { scheme: 'ed25519', key: keys.a1, given: false },
        { scheme: 'ed25519', key: keys.a2, given: false },
        { scheme: 'eip191', key: ETH.slice(2).toLowerCase(), given: false },
      ],
    },
  ]);
  assert.is(a.ifApproved.opensAt, '2026-12-03T00:00:00Z');
});

test('m-of-n with one approval: 1 missing, the approver who gave it named; the requester is taken from the approval', () => {
  ok(cli(['approve', 'mn.capsule', '--requester', bob, '--key', 'a1.key', '-o', 'a1.json']));
  const text = explainText(['--capsule', 'mn.capsule', '--approval', 'a1.json']);
  assert.ok(text.includes(`${bob} (named by an approval given):`), text);
  assert.ok(text.includes(`missing — 1 of {${keys.a2!.slice(0, 8)}…, 0x5aAeb6…}; given by ${keys.a1!.slice(0, 8)}…`), text);
  const a = explainJson(['--capsule', 'mn.capsule', '--approval', 'a1.json']).requesters[0];
  assert.is(a.approvals[0].given, 1);
  assert.is(a.approvals[0].missing, 1);
  assert.is(a.approvals[0].logicCount, 1, 'the logic counted the same approval');
});

test('time lock AND m-of-n: never without the approvals; with them it opens at the time lock', () => {
  seal('both.capsule', { all: [{ timeLock: { notBefore: '2030-01-01T00:00:00Z' } }, { mOfN: mOfN() }] });
  ok(cli(['approve', 'both.capsule', '--requester', bob, '--key', 'a2.key', '-o', 'a2.json']));
  const text = explainText(['--capsule', 'both.capsule', '--approval', 'a2.json']);
  assert.ok(text.includes('never within the horizon'), text);
  assert.ok(text.includes(`needs 2 approvals of 3 (params.all[1].mOfN): missing — 1 of {${keys.a1!.slice(0, 8)}…, 0x5aAeb6…}`), text);
  assert.ok(text.includes('with the missing approvals: opens at 2030-01-01T00:00:00Z (in 3 years 29 days) (simulated)'), text);
  assert.match(
    text,
    /"all: denied by timeLock#0 \(opens at 1893456000000 \(2030-01-01T00:00:00Z\)\); mOfN#1 \(approved by only 1 of 3 approvers \(threshold 2\)\)"/,
  );
  const a = explainJson(['--capsule', 'both.capsule', '--approval', 'a2.json']).requesters[0];
  assert.is(a.opensAt, null);
  assert.is(a.ifApproved.opensAtMs, T2030);
  assert.is(a.ifApproved.simulated, 'stand-in approver keys in place of the listed ones');
});

test('--json shape', () => {
  const j = explainJson(['--capsule', 'tl.capsule', '--requester', bob]);
  assert.equal(Object.keys(j), ['capsule', 'from', 'until', 'horizonMs', 'sampled', 'probes', 'method', 'requesters']);
  assert.equal(Object.keys(j.capsule), ['id', 'created', 'logic']);
  assert.is(j.from, FROM);
  assert.is(j.until, '2126-12-04T00:00:00Z');
  assert.is(j.sampled, true);
  assert.ok(j.probes > 0);
  assert.match(j.method, /^the logic is arbitrary code/);
  assert.is(j.requesters.length, 1, 'only the requester given: the time lock names none');
  const r = j.requesters[0];
  assert.equal(Object.keys(r), [
    'requester',
    'source',
    'openNow',
    'opensAt',
    'opensAtMs',
    'opensIn',
    'closesAt',
    'allowReason',
    'atBoundary',
    'denials',
    'probes',
    'deadMan',
    'approvals',
    'ifApproved',
  ]);
  assert.is(r.requester, bob);
  assert.is(r.source, '--requester');
  assert.is(r.opensIn, 'in 3 years 29 days');
  assert.is(r.atBoundary, true);
  assert.equal(r.denials, [{ reason: 'opens at 1893456000000 (2030-01-01T00:00:00Z)', verdict: 'deny', first: FROM, last: '2029-12-31T23:59:59.999Z' }]);
});

test("a module that is not the capsule's logic is refused, naming both hashes (CLI and API)", async () => {
  const policy = readFileSync(join(dir, 'policy.wasm'));
  // The same module with a custom section appended: valid, but another SHA-256.
  const other = Buffer.concat([policy, Buffer.from([0, 4, 3, 0x61, 0x62, 0x63])]);
  writeFileSync(join(dir, 'other.wasm'), other);
  const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
  assertFails(
    cli(['logic', 'explain', 'other.wasm', '--capsule', 'tl.capsule']),
    new RegExp(`^capsule: error: other\\.wasm: SHA-256 ${sha(other)} is not the capsule's logic ${sha(policy)}$`),
    /not the logic module the capsule names/,
  );
  const { header } = await readHeader({ path: join(dir, 'tl.capsule') });
  await rejectsError(
    async () => explain({ module: other, moduleName: 'other.wasm', header, from: 0 }),
    'CapsuleFormatError',
    'ERR_LOGIC_HASH_MISMATCH',
    /^other\.wasm: SHA-256 [0-9a-f]{64} is not the capsule's logic [0-9a-f]{64}$/,
  );
});

test('usage errors: a bad --from, a --requester that is no recipient, no --capsule', () => {
  assertFails(
    cli(['logic', 'explain', 'policy.wasm', '--capsule', 'tl.capsule', '--from', 'tomorrow']),
    /^capsule: error: --from: expected an RFC 3339 time \(2030-01-01T00:00:00Z\) or milliseconds since the epoch, got "tomorrow"$/,
  );
  assertFails(
    cli(['logic', 'explain', 'policy.wasm', '--capsule', 'tl.capsule', '--requester', 'age1bob']),
    /^capsule: error: --requester: expected an age recipient \(age1…\), got "age1bob"$/,
  );
  assertFails(cli(['logic', 'explain', 'policy.wasm']), /--capsule/);
});

test('the search: an opening nothing announces is found to the millisecond; a window that closes again', () => {
  const from = 1_000_000;
  const opens = 123_456_789; // in no boundary and no reason
  const quiet = (at: number): Probe => ({ at, verdict: at >= opens ? 'allow' : 'deny', reason: 'not yet' });
  const a = searchEarliest(quiet, from, from + 10 ** 12, []);
  assert.is(a.opensAt, opens);
  assert.is(a.atBoundary, false);
  assert.is(a.closesAt, undefined);
  assert.ok(a.probes < 120, `${a.probes} probes`);
  // Open in [opens, closes): the expiry is found too, and the reasons before and after are kept.
  const closes = opens + 5000;
  const windowed = (at: number): Probe => ({ at, verdict: at >= opens && at < closes ? 'allow' : 'deny', reason: at < opens ? 'early' : 'expired' });
  const w = searchEarliest(windowed, from, from + 10 ** 12, [opens, closes]);
  assert.is(w.opensAt, opens);
  assert.is(w.closesAt, closes);
  assert.is(w.atBoundary, true);
  assert.equal(
    w.denials.map((d) => d.reason),
    ['early', 'expired'],
  );
  // A time only the reason names is probed: an opening one millisecond wide is found.
  const narrow = (at: number): Probe => ({ at, verdict: at === opens ? 'allow' : 'deny', reason: `opens at ${opens}` });
  assert.is(searchEarliest(narrow, from, from + 10 ** 12, []).opensAt, undefined, 'out of the plausible time range: not a time');
  const t = T2030 + 17;
  const narrowT = (at: number): Probe => ({ at, verdict: at === t ? 'allow' : 'deny', reason: `opens at ${t}` });
  assert.is(searchEarliest(narrowT, T2030 - DAY, T2030 + DAY, []).opensAt, t);
  // Never: the reasons met are reported, an error counts as a denial.
  const never = (at: number): Probe => ({ at, verdict: 'error', reason: 'ERR_TRAP: logic trapped' });
  const n = searchEarliest(never, from, from + DAY, []);
  assert.is(n.opensAt, undefined);
  assert.equal(
    n.denials.map((d) => [d.verdict, d.reason]),
    [['error', 'ERR_TRAP: logic trapped']],
  );
});

test('relative times: calendar years and days, smaller units below a day', () => {
  assert.is(relative(Date.parse(FROM), T2030), 'in 3 years 29 days');
  assert.is(relative(0, 90 * 60_000), 'in 1 hour 30 minutes');
  assert.is(relative(2 * DAY, 0), '2 days ago');
  assert.is(relative(5, 5), 'now');
  assert.is(relative(0, 1), 'in 1 ms');
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
