/**
 * The standard unlock-logic contracts (contracts-as/contracts) and the AssemblyScript SDK under
 * them, compiled once each with the project's asc settings and run in the in-process sandbox. For
 * every contract the tests flip the verdict with exactly the input that should flip it (the time
 * at the boundary, a check-in, the M-th approval, the last allowed open, …), and check what must
 * not flip it (forged or duplicated signatures, other requesters, other capsules). Also: the same
 * decision twice gives the same verdict and fuel, state changes show in `changed`, and malformed
 * or misconfigured params are errors (never allows).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ed25519 } from '@noble/curves/ed25519.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { SandboxError } from '../agent/errors.ts';
import { encodeCanonical } from '../agent/format/cbor.ts';
import { buildPolicy } from '../agent/logic/build.ts';
import { addressOf, personalMessageDigest } from '../agent/sandbox/ethereum.ts';
import { type EvaluationInput, type EvidenceItem } from '../agent/sandbox/inputs.ts';
import { Sandbox, type DecisionRecord } from '../agent/sandbox/Sandbox.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const te = new TextEncoder();
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const keyHex = (k: string) => Buffer.from(k).toString('hex');
const fromBe64 = (b: Uint8Array | undefined) => Number(Buffer.from(b!).readBigInt64BE());

const ABI_IMPORTS = ['now_ms', 'input_size', 'input_read', 'set_reason', 'log', 'state_get', 'state_set', 'state_delete', 'verify_ed25519', 'verify_eip191'];
const CONTRACTS = ['time-lock', 'dead-man', 'm-of-n', 'allowlist', 'expiry', 'policy'];
const builds = new Map<string, Promise<Uint8Array>>();
function wasm(name: string): Promise<Uint8Array> {
  let p = builds.get(name);
  if (!p) {
    p = buildPolicy(`contracts-as/contracts/${name}.ts`, { cwd: ROOT }).then((r) => r.wasm);
    builds.set(name, p);
  }
  return p;
}

const sandbox = new Sandbox();
const ALICE = 'age1alice0000000000000000000000000000000000000000000000000000';
const BOB = 'age1bob000000000000000000000000000000000000000000000000000000';
const CAROL = 'age1carol00000000000000000000000000000000000000000000000000000';
const ID = Uint8Array.from({ length: 16 }, (_, i) => 0xa0 + i);
const CREATED = 1_700_000_000; // seconds
const DAY = 86_400_000;

const ownerSecret = new Uint8Array(32).fill(7);
const ownerKey = ed25519.getPublicKey(ownerSecret);
const strangerSecret = new Uint8Array(32).fill(9);
const approverSecrets = [1, 2, 3].map((n) => new Uint8Array(32).fill(n));
const approverKeys = approverSecrets.map((s) => ed25519.getPublicKey(s));
const ethSecret = new Uint8Array(32).fill(0x42);
const ethAddress = addressOf(secp256k1.getPublicKey(ethSecret, false));

interface Run {
  params?: unknown;
  rawParams?: Uint8Array;
  now?: number;
  requester?: string;
  evidence?: EvidenceItem[];
  state?: Map<string, Uint8Array>;
  owner?: Uint8Array | null;
}

function input(r: Run): EvaluationInput {
  return {
    now: r.now ?? CREATED * 1000,
    requester: r.requester ?? ALICE,
    capsule: { id: ID, created: CREATED, owner: r.owner ?? null, logic: new Uint8Array(32), size: 100, digest: new Uint8Array(32) },
    params: r.rawParams ?? (r.params === undefined ? undefined : encodeCanonical(r.params)),
    evidence: r.evidence ?? [],
    state: r.state ?? new Map(),
  };
}

async function run(name: string, r: Run): Promise<DecisionRecord> {
  return sandbox.evaluate(await wasm(name), input(r));
}

/** Asserts the evaluation is an ERR_TRAP (an error, never a verdict) whose reason matches `why`. */
async function traps(name: string, r: Run, why: RegExp): Promise<void> {
  const w = await wasm(name);
  let err: unknown;
  try {
    sandbox.evaluate(w, input(r));
  } catch (e) {
    err = e;
  }
  assert.instance(err, SandboxError, 'expected an error, not a verdict');
  assert.is((err as SandboxError).code, 'ERR_TRAP', (err as Error).message);
  // The sandbox keeps the reason the logic set before trapping in the error message.
  const reason = /\(reason set by the logic: (".*")\)$/.exec((err as Error).message);
  assert.ok(reason, `no reason in: ${(err as Error).message}`);
  assert.match(JSON.parse(reason![1]!) as string, why);
}

function checkin(ts: number, secret = ownerSecret, id = ID, signer = ownerKey): EvidenceItem {
  const message = te.encode(`capsule-checkin:v1:${hex(id)}:${ts}`);
  return { kind: 'checkin', scheme: 'ed25519', signer, message, signature: ed25519.sign(message, secret) };
}

function approvalMessage(requester: string, id = ID): Uint8Array {
  return te.encode(`capsule-approval:v1:${hex(id)}:${requester}`);
}

function edApproval(i: number, requester = ALICE, secret = approverSecrets[i]!): EvidenceItem {
  const message = approvalMessage(requester);
  return { kind: 'approval', scheme: 'ed25519', signer: approverKeys[i]!, message, signature: ed25519.sign(message, secret) };
}

function ethApproval(requester = ALICE): EvidenceItem {
  const message = approvalMessage(requester);
  const rec = secp256k1.sign(personalMessageDigest(message), ethSecret, { prehash: false, format: 'recovered' });
  const signature = new Uint8Array(65); // noble: v ‖ r ‖ s; Ethereum: r ‖ s ‖ v
  signature.set(rec.subarray(1), 0);
  signature[64] = rec[0]! + 27;
  return { kind: 'approval', scheme: 'eip191', signer: ethAddress, message, signature };
}

// ---- build ----

test('every standard contract compiles and imports only capsule_v1 functions it uses', async () => {
  for (const name of CONTRACTS) {
    const r = await buildPolicy(`contracts-as/contracts/${name}.ts`, { cwd: ROOT });
    builds.set(name, Promise.resolve(r.wasm));
    assert.ok(r.report.bytes < 64 * 1024, `${name}: ${r.report.bytes} bytes`);
    assert.is(r.report.memory.maxPages, 16);
    for (const i of r.report.imports) assert.ok(ABI_IMPORTS.includes(i), `${name} imports ${i}`);
  }
});

// ---- time lock ----

const NB = Date.UTC(2030, 0, 1);

test('time-lock: one ms before notBefore denies (saying when), at notBefore allows', async () => {
  const before = await run('time-lock', { params: { notBefore: NB }, now: NB - 1 });
  assert.is(before.verdict, 'deny');
  assert.is(before.reason, `opens at ${NB} (2030-01-01T00:00:00Z)`);
  const at = await run('time-lock', { params: { notBefore: NB }, now: NB });
  assert.is(at.verdict, 'allow');
  assert.equal(at.changed, []);
});

test('time-lock: notBefore as RFC 3339 text is the same instant; a bad date or unknown key is an error', async () => {
  assert.is((await run('time-lock', { params: { notBefore: '2030-01-01T00:00:00Z' }, now: NB - 1 })).verdict, 'deny');
  assert.is((await run('time-lock', { params: { notBefore: '2030-01-01T00:00:00.000Z' }, now: NB })).verdict, 'allow');
  await traps(
    'time-lock',
    { params: { notBefore: '2030-02-30T00:00:00Z' }, now: NB },
    /^params\.notBefore: expected ms since the epoch or "YYYY-MM-DDTHH:MM:SS\[\.sss\]Z"$/,
  );
  await traps('time-lock', { params: { notbefore: NB }, now: NB }, /^params\.notbefore: unknown parameter \(expected notBefore\)$/);
  await traps('time-lock', { now: NB }, /^time-lock: this logic needs params/);
  await traps('time-lock', { params: [NB], now: NB }, /^params: expected a map, found array$/);
});

// ---- dead-man switch ----

const SILENCE = 30 * DAY;
const deadParams = { owner: ownerKey, beneficiaries: [BOB], silenceMs: SILENCE };
const OPENS = CREATED * 1000 + SILENCE;

test('dead-man: silence counts from created; a beneficiary is allowed exactly at its end, nobody else ever', async () => {
  const early = await run('dead-man', { params: deadParams, requester: BOB, now: OPENS - 1 });
  assert.equal([early.verdict, early.reason.includes(`opens at ${OPENS}`)], ['deny', true]);
  assert.is((await run('dead-man', { params: deadParams, requester: BOB, now: OPENS })).verdict, 'allow');
  const other = await run('dead-man', { params: deadParams, requester: CAROL, now: OPENS + DAY });
  assert.equal([other.verdict, other.reason], ['deny', 'requester is not a beneficiary']);
});

test('dead-man: a valid owner check-in moves lastCheckin, so the allow becomes a deny', async () => {
  const now = OPENS + DAY;
  assert.is((await run('dead-man', { params: deadParams, requester: BOB, now })).verdict, 'allow');
  const ts = now - 1000;
  const c = await run('dead-man', { params: deadParams, requester: ALICE, now, evidence: [checkin(ts)] });
  assert.is(c.verdict, 'deny');
  assert.is(c.reason, 'check-in recorded');
  assert.equal(c.changed, [keyHex('lastCheckin')]);
  assert.is(fromBe64(c.state.get(keyHex('lastCheckin'))), ts);
  const after = await run('dead-man', { params: deadParams, requester: BOB, now, state: c.state });
  assert.is(after.verdict, 'deny');
  assert.match(after.reason, `opens at ${ts + SILENCE}`);
  assert.is((await run('dead-man', { params: deadParams, requester: BOB, now: ts + SILENCE, state: c.state })).verdict, 'allow');
  // An older check-in never moves lastCheckin back.
  const older = await run('dead-man', { params: deadParams, now, evidence: [checkin(ts - DAY)], state: c.state });
  assert.equal(older.changed, []);
});

test('dead-man: forged, future, wrong-capsule and non-canonical check-ins change nothing', async () => {
  const now = OPENS + DAY;
  const forged = checkin(now - 1000, strangerSecret); // claims the owner as signer
  const future = checkin(now + 1);
  const otherCapsule = checkin(now - 1000, ownerSecret, new Uint8Array(16));
  const m = te.encode(`capsule-checkin:v1:${hex(ID)}:0${now - 1000}`);
  const leadingZero: EvidenceItem = { ...checkin(0), message: m, signature: ed25519.sign(m, ownerSecret) };
  for (const ev of [forged, future, otherCapsule, leadingZero]) {
    const r = await run('dead-man', { params: deadParams, requester: BOB, now, evidence: [ev] });
    assert.is(r.verdict, 'allow', new TextDecoder().decode(ev.message));
    assert.equal(r.changed, []);
  }
});

test('dead-man: owner defaults to the capsule owner; keys may be hex text (JSON params)', async () => {
  const now = OPENS + DAY;
  const { owner: _, ...noOwner } = deadParams;
  const c = await run('dead-man', { params: noOwner, owner: ownerKey, now, evidence: [checkin(now - 5)] });
  assert.is(c.reason, 'check-in recorded');
  const hexOwner = { ...deadParams, owner: hex(ownerKey).toUpperCase() };
  const h = await run('dead-man', { params: hexOwner, now, evidence: [checkin(now - 5)] });
  assert.equal(h.changed, [keyHex('lastCheckin')]);
  await traps('dead-man', { params: noOwner, now }, /^params\.owner: required \(the capsule has no owner\)$/);
  await traps('dead-man', { params: { ...deadParams, owner: 'abcd' }, now }, /^params\.owner: expected 32 bytes/);
});

// ---- m-of-n ----

const mnParams = {
  threshold: 2,
  approvers: [
    { scheme: 'ed25519', key: approverKeys[0] },
    { scheme: 'ed25519', key: approverKeys[1] },
    { scheme: 'eip191', key: ethAddress },
  ],
};

test('m-of-n: M-1 valid approvals deny, M allow', async () => {
  const one = await run('m-of-n', { params: mnParams, evidence: [edApproval(0)] });
  assert.equal([one.verdict, one.reason], ['deny', 'approved by only 1 of 3 approvers (threshold 2)']);
  const two = await run('m-of-n', { params: mnParams, evidence: [edApproval(0), edApproval(1)] });
  assert.equal([two.verdict, two.reason], ['allow', 'approved by 2 of 3 approvers (threshold 2)']);
});

test('m-of-n: a duplicate, a forged signature, an approval for another requester or by an unlisted key do not count', async () => {
  const duplicate = edApproval(0);
  const forged = edApproval(1, ALICE, strangerSecret);
  const otherRequester = edApproval(1, BOB);
  const stranger = { ...edApproval(1, ALICE, strangerSecret), signer: ed25519.getPublicKey(strangerSecret) };
  for (const ev of [duplicate, forged, otherRequester, stranger]) {
    assert.is((await run('m-of-n', { params: mnParams, evidence: [edApproval(0), ev] })).verdict, 'deny');
  }
});

test('m-of-n: an EIP-191 approval from a real secp256k1 key counts (key as 0x-hex text too)', async () => {
  assert.is((await run('m-of-n', { params: mnParams, evidence: [ethApproval(), edApproval(1)] })).verdict, 'allow');
  const textKeys = { threshold: 1, approvers: [{ scheme: 'eip191', key: `0x${hex(ethAddress)}` }] };
  assert.is((await run('m-of-n', { params: textKeys, evidence: [ethApproval()] })).verdict, 'allow');
  const bad = ethApproval();
  bad.signature[10] = bad.signature[10]! ^ 1;
  assert.is((await run('m-of-n', { params: textKeys, evidence: [bad] })).verdict, 'deny');
});

test('m-of-n: threshold outside 1..N, duplicate approvers or a bad scheme are errors', async () => {
  await traps('m-of-n', { params: { ...mnParams, threshold: 4 } }, /^params\.threshold: must be 1\.\.3/);
  await traps('m-of-n', { params: { ...mnParams, threshold: 0 } }, /^params\.threshold: must be 1\.\.3/);
  await traps(
    'm-of-n',
    { params: { threshold: 1, approvers: [mnParams.approvers[0], mnParams.approvers[0]] } },
    /^params\.approvers\[1\]: same approver as approvers\[0\]$/,
  );
  await traps(
    'm-of-n',
    { params: { threshold: 1, approvers: [{ scheme: 'rsa', key: approverKeys[0] }] } },
    /^params\.approvers\[0\]\.scheme: expected "ed25519" or "eip191"$/,
  );
});

// ---- allowlist ----

test('allowlist: listed requester allowed (case-insensitively), others denied', async () => {
  const params = { requesters: [BOB, ALICE] };
  assert.is((await run('allowlist', { params, requester: ALICE })).verdict, 'allow');
  assert.is((await run('allowlist', { params, requester: ALICE.toUpperCase() })).verdict, 'allow');
  const out = await run('allowlist', { params, requester: CAROL });
  assert.equal([out.verdict, out.reason], ['deny', 'requester is not on the allowlist']);
  await traps('allowlist', { params: { requesters: [] } }, /^params\.requesters: must not be empty$/);
});

// ---- expiry ----

test('expiry: notAfter itself allows, one ms later denies', async () => {
  assert.is((await run('expiry', { params: { notAfter: NB }, now: NB })).verdict, 'allow');
  const late = await run('expiry', { params: { notAfter: NB }, now: NB + 1 });
  assert.equal([late.verdict, late.reason], ['deny', `expired at ${NB} (2030-01-01T00:00:00Z)`]);
});

test('expiry: maxOpens counts allows in state carried between evaluations', async () => {
  const params = { maxOpens: 2 };
  const first = await run('expiry', { params });
  assert.is(first.verdict, 'allow');
  assert.equal(first.changed, [keyHex('opens')]);
  assert.is(fromBe64(first.state.get(keyHex('opens'))), 1);
  const second = await run('expiry', { params, state: first.state });
  assert.is(second.verdict, 'allow');
  assert.is(fromBe64(second.state.get(keyHex('opens'))), 2);
  const third = await run('expiry', { params, state: second.state });
  assert.equal([third.verdict, third.reason, third.changed], ['deny', 'opened 2 of 2 times', []]);
  await traps('expiry', { params: {} }, /^params: give notAfter, maxOpens or both$/);
});

// ---- policy combinator ----

const lock = { timeLock: { notBefore: NB } };
const list = { allowlist: { requesters: [ALICE] } };

test('policy all: allows only when every rule does; the deny names the failing rule', async () => {
  const params = { all: [lock, list] };
  assert.is((await run('policy', { params, now: NB })).verdict, 'allow');
  const early = await run('policy', { params, now: NB - 1 });
  assert.is(early.verdict, 'deny');
  assert.is(early.reason, `all: denied by timeLock#0 (opens at ${NB} (2030-01-01T00:00:00Z))`);
  const stranger = await run('policy', { params, now: NB, requester: CAROL });
  assert.match(stranger.reason, /^all: denied by allowlist#1 /);
});

test('policy any: one allowing rule is enough; the deny names every rule', async () => {
  const params = { any: [lock, list] };
  assert.is((await run('policy', { params, now: NB - 1 })).verdict, 'allow');
  assert.is((await run('policy', { params, now: NB, requester: CAROL })).verdict, 'allow');
  const none = await run('policy', { params, now: NB - 1, requester: CAROL });
  assert.is(none.verdict, 'deny');
  assert.match(none.reason, /^any: none allow: timeLock#0 \(opens at .*; allowlist#1 \(requester is not on the allowlist\)$/);
});

test('policy: nested rules; m-of-n or dead-man; expiry counts only final allows, under its own key', async () => {
  const params = {
    all: [
      { expiry: { maxOpens: 1 } },
      { any: [{ mOfN: { threshold: 1, approvers: [{ scheme: 'ed25519', key: hex(approverKeys[0]!) }] } }, { deadMan: deadParams }] },
    ],
  };
  const denied = await run('policy', { params, requester: BOB, now: OPENS - 1 });
  assert.is(denied.verdict, 'deny');
  assert.equal(denied.changed, []); // the expiry rule allowed, but the policy did not: no open counted
  const approved = await run('policy', { params, requester: ALICE, evidence: [edApproval(0)] });
  assert.is(approved.verdict, 'allow');
  assert.equal(approved.changed, [keyHex('0:opens')]);
  const again = await run('policy', { params, requester: BOB, now: OPENS, state: approved.state });
  assert.is(again.verdict, 'deny');
  assert.match(again.reason, /expiry#0 \(opened 1 of 1 times\)/);
  const checkedIn = await run('policy', { params, now: OPENS, evidence: [checkin(OPENS - 1)] });
  assert.equal(checkedIn.changed, [keyHex('1.1:lastCheckin')]);
});

test('policy: an unknown rule, an empty list or a two-key rule is an error', async () => {
  await traps('policy', { params: { all: [{ notARule: {} }] } }, /^params\.all\[0\]\.notARule: unknown rule/);
  await traps('policy', { params: { any: [] } }, /^params\.any: must list at least one rule$/);
  await traps('policy', { params: { ...lock, ...list } }, /^params: a rule is a map with exactly one key/);
});

test('policy: a long deny reason is cut to 256 bytes, not an error', async () => {
  const many = Array.from({ length: 20 }, (_, i) => ({ timeLock: { notBefore: NB + i } }));
  const r = await run('policy', { params: { any: many }, now: 0 });
  assert.is(r.verdict, 'deny');
  assert.ok(Buffer.byteLength(r.reason) <= 256);
  assert.ok(r.reason.endsWith('…'));
});

// ---- SDK strictness ----

test('SDK CBOR reader: non-shortest, unsorted, truncated or tagged params are errors', async () => {
  const cases = [
    Uint8Array.of(0xa1, 0x69, ...te.encode('notBefore'), 0x18, 0x05), // 5 encoded in two bytes
    Uint8Array.of(0xa2, 0x61, 0x62, 0x01, 0x61, 0x61, 0x02), // keys "b" before "a"
    Uint8Array.of(0xa1, 0x69, ...te.encode('notBefore'), 0x1b, 0, 0), // truncated
    Uint8Array.of(0xc1, 0x00), // tag
    Uint8Array.of(0xa1, 0x69, ...te.encode('notBefore'), 0x00, 0x00), // trailing byte
  ];
  const why = [/shortest form/, /deterministic order/, /truncated item head/, /tags are not allowed/, /trailing bytes/];
  for (const [i, rawParams] of cases.entries()) await traps('time-lock', { rawParams, now: NB }, new RegExp(`^params: CBOR at byte \\d+: .*${why[i]!.source}`));
  const ok = Uint8Array.of(0xa1, 0x69, ...te.encode('notBefore'), 0x05);
  assert.is((await run('time-lock', { rawParams: ok, now: 5 })).verdict, 'allow');
});

test('SDK self-test module: int keys, floats, nested items, UTF-8, sticky try-errors, helpers, state', async () => {
  const r = await buildPolicy('contracts-as/test/sdk-selftest.ts', { cwd: ROOT });
  const params = encodeCanonical(
    new Map<unknown, unknown>([
      [1, 'one'],
      [-3, 'minus three'],
      ['f16', 1.5],
      ['f32', 100000.5],
      ['f64', 0.1],
      ['neg', -1000],
      ['big', Number.MAX_SAFE_INTEGER],
      ['list', [1, [2, 3], new Map([['a', null]])]],
      ['t', true],
      ['f', false],
      ['n', null],
      ['utf', 'h\u00e9llo \u2713 \u{1f600}'],
      ['bytes', Uint8Array.of(1, 2, 3)],
    ]),
  );
  const rec = sandbox.evaluate(r.wasm, { ...input({}), params });
  assert.is(rec.reason, 'sdk self-test passed');
  assert.is(rec.verdict, 'allow');
  assert.equal(rec.logs, ['self-test: ok']);
  assert.equal(rec.changed, [keyHex('counter'), keyHex('greeting')]);
  assert.is(fromBe64(rec.state.get(keyHex('counter'))), 42);
  assert.is(Buffer.from(rec.state.get(keyHex('greeting'))!).toString(), 'h\u00e9llo');
});

test('SDK: non-ASCII text is validated and compared; invalid UTF-8 or a float where an integer goes is an error', async () => {
  const odd = 'age1\u00fcber';
  assert.is((await run('allowlist', { params: { requesters: [odd] }, requester: odd })).verdict, 'allow');
  assert.is((await run('allowlist', { params: { requesters: [odd] }, requester: 'age1uber' })).verdict, 'deny');
  const badUtf8 = Uint8Array.of(0xa1, 0x6a, ...te.encode('requesters'), 0x81, 0x62, 0xc3, 0x28);
  await traps('allowlist', { rawParams: badUtf8 }, /^params: CBOR at byte \d+: text string is not valid UTF-8$/);
  await traps('time-lock', { params: { notBefore: 1.5 } }, /^params\.notBefore: expected unsigned integer, found float$/);
  await traps('time-lock', { params: { notBefore: -1 } }, /^params\.notBefore: expected unsigned integer, found negative integer$/);
});

test('README: every complete JSON params example is accepted by its contract (a verdict, not an error)', async () => {
  const text = readFileSync(join(ROOT, 'contracts-as/contracts/README.md'), 'utf8');
  let checked = 0;
  for (const section of text.split(/^## /m).slice(1)) {
    const name = section.split(/[\s(]/)[0]!;
    if (!CONTRACTS.includes(name)) continue;
    for (const [, json] of section.matchAll(/```json\n([\s\S]*?)```/g)) {
      const filled = json!.replaceAll('age1alice…', ALICE).replaceAll('age1bob…', BOB).replaceAll('age1…', CAROL);
      const params = JSON.parse(filled) as unknown;
      const r = await run(name, { params, requester: ALICE, owner: ownerKey });
      assert.ok(r.verdict === 'allow' || r.verdict === 'deny', name);
      checked++;
    }
  }
  assert.is(checked, CONTRACTS.length, 'one example per contract');
});

test('the same decision twice (in a fresh sandbox too): identical verdict, reason, fuel, state and inputs digest', async () => {
  const cases: [string, Run][] = [
    ['time-lock', { params: { notBefore: NB }, now: NB }],
    ['dead-man', { params: deadParams, now: OPENS, evidence: [checkin(OPENS - 7)] }],
    ['m-of-n', { params: mnParams, evidence: [edApproval(0), ethApproval()] }],
    ['expiry', { params: { maxOpens: 5 } }],
    ['policy', { params: { any: [lock, list] }, now: NB - 1, requester: CAROL }],
  ];
  const other = new Sandbox();
  for (const [name, r] of cases) {
    const a = await run(name, r);
    const b = await run(name, r);
    const c = other.evaluate(await wasm(name), input(r));
    const view = (d: DecisionRecord) => [d.verdict, d.reason, d.fuel, d.inputsSha256, d.changed, [...d.state].map(([k, v]) => [k, hex(v)])];
    assert.equal(view(a), view(b), name);
    assert.equal(view(a), view(c), name);
  }
});

test('fuel: every contract allows well inside the default fuel limit', async () => {
  const fuel: Record<string, number> = {
    'time-lock': (await run('time-lock', { params: { notBefore: NB }, now: NB })).fuel,
    'dead-man': (await run('dead-man', { params: deadParams, requester: BOB, now: OPENS })).fuel,
    'm-of-n': (await run('m-of-n', { params: mnParams, evidence: [edApproval(0), ethApproval()] })).fuel,
    allowlist: (await run('allowlist', { params: { requesters: [ALICE] } })).fuel,
    expiry: (await run('expiry', { params: { notAfter: NB, maxOpens: 3 } })).fuel,
    policy: (await run('policy', { params: { all: [lock, list] }, now: NB })).fuel,
  };
  // A tenth of the default limit at most (signature checks are priced at their CPU cost: ABI.md §6).
  for (const [name, f] of Object.entries(fuel)) assert.ok(f > 0 && f < 5_000_000, `${name}: ${f}`);
  if (process.env.CONTRACTS_FUEL) console.log(JSON.stringify(fuel));
});

test.run();
