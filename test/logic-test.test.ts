/**
 * `capsule logic test` through the real binary (issue 19, item 3): the scenario files of every
 * standard contract pass (each case in the real sandbox, approvals and check-ins signed on the fly,
 * a real recorded drand beacon); and the ways a run fails — a file with an unknown field, a wrong
 * type or an unknown test key (one ScenarioError naming file, case and field), a policy that traps
 * in a case, an expectation not met (exit 1 with the diff).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildPolicy } from '../agent/logic/build.ts';
import { loadScenarios } from '../agent/logic/scenarioFile.ts';
import { capsule } from './helpers/cli.ts';
import { rejectsError } from './helpers/assertError.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SCENARIOS = join(ROOT, 'contracts-as/contracts/scenarios');
const CONTRACTS = ['time-lock', 'dead-man', 'm-of-n', 'allowlist', 'expiry', 'policy', 'drand-time-lock'];
const dir = mkdtempSync(join(tmpdir(), 'capsule-logic-test-'));
const HINT = 'capsule: hint: see agent/logic/SCENARIOS.md (the format) and agent/logic/scenarios.schema.json\n';

test('every standard contract has a scenario file', () => {
  const files = readdirSync(SCENARIOS)
    .filter((f) => f.endsWith('.scenarios.json'))
    .sort();
  assert.equal(files, CONTRACTS.map((c) => `${c}.scenarios.json`).sort());
});

for (const c of CONTRACTS) {
  test(`contracts-as/contracts/scenarios/${c}.scenarios.json: every case passes, allows and denies among them`, () => {
    const r = capsule(['logic', 'test', join(SCENARIOS, `${c}.scenarios.json`), '--json'], ROOT);
    assert.is(r.code, 0, r.stderr + r.stdout.toString());
    assert.is(r.stderr, '');
    const j = JSON.parse(r.stdout.toString());
    const cases = j.files[0].cases as { ok: boolean; actual: { verdict: string } }[];
    assert.is(j.failed, 0);
    assert.is(j.passed, cases.length);
    const verdicts = new Set(cases.map((x) => x.actual.verdict));
    assert.ok(verdicts.has('allow') && verdicts.has('deny'), `${c}: both verdicts tested, got ${[...verdicts]}`);
  });
}

// A prebuilt module keeps the failure tests to one build.
const timeLock = (await buildPolicy(join(ROOT, 'contracts-as/contracts/time-lock.ts'))).wasm;
writeFileSync(join(dir, 'tl.wasm'), timeLock);

/** A scenario file for the time lock in the temp folder, `cases` as given. */
function file(name: string, cases: unknown[], extra: Record<string, unknown> = {}): string {
  writeFileSync(
    join(dir, name),
    JSON.stringify(
      {
        policy: 'tl.wasm',
        keys: { alice: { type: 'age' }, t1: { type: 'ed25519' } },
        params: { notBefore: '2030-01-01T00:00:00Z' },
        cases,
        ...extra,
      },
      null,
      2,
    ),
  );
  return name;
}
const early = { name: 'early', at: '2029-01-01T00:00:00Z', requester: 'alice', expect: { verdict: 'deny' } };

test('a passing file: one line per case and the summary, exit 0', () => {
  const f = file('ok.json', [early, { name: 'on time', at: '2030-01-01T00:00:00Z', requester: 'alice', expect: { verdict: 'allow' } }]);
  const r = capsule(['logic', 'test', f], dir);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout.toString(), '✓ early  (deny, fuel 36765)\n✓ on time  (allow, fuel 36924)\n2 passed, 0 failed\n');
});

test('a failing expectation: exit 1, the diff of expected and actual, the summary', () => {
  const f = file('fail.json', [
    early,
    { name: 'too soon', at: '2029-06-01T00:00:00Z', requester: 'alice', expect: { verdict: 'allow', reason: 'open', maxFuel: 100 } },
  ]);
  const r = capsule(['logic', 'test', f], dir);
  assert.is(r.code, 1);
  assert.is(
    r.stdout.toString(),
    [
      '✓ early  (deny, fuel 36765)',
      '✗ too soon',
      '    (- expected, + actual)',
      '    - verdict: allow',
      '    + verdict: deny',
      '    - reason: "open"',
      '    + reason: "opens at 1893456000000 (2030-01-01T00:00:00Z)"',
      '    - fuel: at most 100',
      '    + fuel: 36765',
      '1 passed, 1 failed',
      '',
    ].join('\n'),
  );
  assert.is(r.stderr, 'capsule: error: 1 of 2 cases failed (fail.json)\n');
});

test('state expectations: a wrong value and a wrong changed list are shown', () => {
  const f = file('state.json', [{ ...early, expect: { verdict: 'deny', state: { opens: { u64: 1 } }, changed: ['opens'] } }]);
  const r = capsule(['logic', 'test', f, '--json'], dir);
  assert.is(r.code, 1);
  const m = JSON.parse(r.stdout.toString()).files[0].cases[0].mismatches;
  assert.equal(m, [
    { field: 'state', key: 'opens', expected: '0000000000000001', actual: 'absent' },
    { field: 'changed', expected: '6f70656e73', actual: '' },
  ]);
});

test('a policy that traps in a case: the case fails with the trap and the reason the logic set', () => {
  const f = file('trap.json', [{ ...early, params: { notBefore: false } }]);
  const r = capsule(['logic', 'test', f], dir);
  assert.is(r.code, 1);
  const out = r.stdout.toString();
  assert.match(
    out,
    '✗ early\n    (- expected, + actual)\n      error: ERR_TRAP: logic trapped: unreachable (reason set by the logic: "params.notBefore: expected unsigned integer, found false")\n',
  );
  assert.match(out, '    - verdict: deny\n    + verdict: error\n');
  assert.match(out, '      reason: "params.notBefore: expected unsigned integer, found false"\n');
  assert.match(out, '0 passed, 1 failed\n');
  // Expected, it passes.
  const g = file('trap-expected.json', [
    { ...early, params: { notBefore: false }, expect: { verdict: 'error', error: 'ERR_TRAP', reason: { pattern: '^params\\.notBefore' } } },
  ]);
  assert.is(capsule(['logic', 'test', g], dir).code, 0);
});

const refused = (f: string) => {
  const r = capsule(['logic', 'test', f], dir);
  assert.is(r.code, 1);
  assert.is(r.stdout.length, 0, 'nothing on stdout');
  return r.stderr;
};

test('bad file: an unknown field names the file, the case and the field', () => {
  const f = file('unknown-field.json', [early, { ...early, name: 'second', expect: { verdikt: 'deny' } }]);
  assert.is(
    refused(f),
    'capsule: error: unknown-field.json: case "second" (cases[1]): field "expect.verdikt": unknown field ' +
      '(expected one of: verdict, reason, error, state, changed, maxFuel)\n' +
      HINT,
  );
  const g = file('unknown-top.json', [early], { polcy: 'x.wasm' });
  assert.match(
    refused(g),
    /^capsule: error: unknown-top\.json: field "polcy": unknown field \(expected one of: \$schema, description, policy, keys, capsule, params, fuel, cases\)\n/,
  );
});

test('bad file: a wrong type names the file, the case and the field', () => {
  assert.is(
    refused(file('wrong-type.json', [{ ...early, at: true }])),
    'capsule: error: wrong-type.json: case "early" (cases[0]): field "at": expected an RFC 3339 time (2030-01-01T00:00:00Z) or milliseconds since the epoch, got boolean true\n' +
      HINT,
  );
  assert.is(
    refused(file('wrong-verdict.json', [{ ...early, expect: { verdict: 'yes' } }])),
    'capsule: error: wrong-verdict.json: case "early" (cases[0]): field "expect.verdict": expected one of "allow", "deny", "error", got the string "yes"\n' +
      HINT,
  );
  assert.is(
    refused(file('wrong-key-type.json', [early], { keys: { alice: { type: 'rsa' } } })),
    'capsule: error: wrong-key-type.json: field "keys.alice.type": expected one of "age", "ed25519", "eip191", got the string "rsa"\n' + HINT,
  );
});

test('bad file: an unknown test key names the file, the case and the field', () => {
  assert.is(
    refused(file('unknown-key.json', [{ ...early, approvals: ['t1', 'carol'] }])),
    'capsule: error: unknown-key.json: case "early" (cases[0]): field "approvals[1]": unknown test key "carol" (declared: alice, t1)\n' + HINT,
  );
  assert.is(
    refused(file('unknown-requester.json', [{ ...early, requester: 'bob' }])),
    'capsule: error: unknown-requester.json: case "early" (cases[0]): field "requester": unknown test key "bob" (declared: alice, t1)\n' + HINT,
  );
  assert.is(
    refused(file('ed-requester.json', [{ ...early, requester: 't1' }])),
    'capsule: error: ed-requester.json: case "early" (cases[0]): field "requester": test key "t1" is an ed25519 key; expected an age key\n' + HINT,
  );
  assert.is(
    refused(file('unknown-ref.json', [{ ...early, params: { requesters: ['${alice}', '${zed}'] } }])),
    'capsule: error: unknown-ref.json: case "early" (cases[0]): field "params.requesters[1]": unknown test key "zed" in "${zed}" (declared: alice, t1)\n' +
      HINT,
  );
  assert.is(
    refused(file('unknown-checkin.json', [{ ...early, checkins: [{ by: 'owner' }] }])),
    'capsule: error: unknown-checkin.json: case "early" (cases[0]): field "checkins[0].by": unknown test key "owner" (declared: alice, t1)\n' + HINT,
  );
});

test('bad file: not JSON, and stateFrom naming no earlier case', () => {
  writeFileSync(join(dir, 'not-json.json'), '{\n  "cases": [\n');
  assert.match(refused('not-json.json'), /^capsule: error: not-json\.json: not valid JSON \(line 3, column 1\): /);
  assert.is(
    refused(
      file('state-from.json', [
        { ...early, stateFrom: 'later' },
        { ...early, name: 'later' },
      ]),
    ),
    'capsule: error: state-from.json: case "early" (cases[0]): field "stateFrom": no earlier case is named "later"\n' + HINT,
  );
});

test('loadScenarios: a ScenarioError with code ERR_BAD_SCENARIO', async () => {
  file('unit.json', [{ ...early, approvals: ['nobody'] }]);
  await rejectsError(
    () => loadScenarios('unit.json', dir),
    'ScenarioError',
    'ERR_BAD_SCENARIO',
    /^unit\.json: case "early" \(cases\[0\]\): field "approvals\[0\]": unknown test key "nobody"/,
  );
  await rejectsError(() => loadScenarios('absent.json', dir), 'IoError', 'ERR_NOT_FOUND', /absent\.json/);
});

test('DIR: scenarios.json, with policy.ts and params.json beside it by default; test keys reproducible', () => {
  const withParams = mkdtempSync(join(dir, 'params-'));
  writeFileSync(join(withParams, 'params.json'), '{"notBefore": "2031-01-01T00:00:00Z"}');
  writeFileSync(
    join(withParams, 'scenarios.json'),
    JSON.stringify({
      policy: '../tl.wasm',
      keys: { alice: { type: 'age' } },
      cases: [{ ...early, expect: { verdict: 'deny', reason: 'opens at 1924992000000 (2031-01-01T00:00:00Z)' } }],
    }),
  );
  const a = capsule(['logic', 'test', withParams, '--json'], dir);
  assert.is(a.code, 0, a.stderr + a.stdout.toString());
  // Derived from the name alone: the same recipient in every run, on every machine.
  assert.is(JSON.parse(a.stdout.toString()).files[0].keys.alice.recipient, 'age1u9rtfj8tzqjuj596js5sp6a9ml5uefg2m0m2rrvdkmt2pme664sq82wzg5');
  const withSource = mkdtempSync(join(dir, 'source-'));
  writeFileSync(join(withSource, 'policy.ts'), 'export function decide(): i32 { return 1; }\n');
  writeFileSync(
    join(withSource, 'scenarios.json'),
    JSON.stringify({
      cases: [{ name: 'anyone', at: 0, requester: 'age1u9rtfj8tzqjuj596js5sp6a9ml5uefg2m0m2rrvdkmt2pme664sq82wzg5', expect: { verdict: 'allow', reason: '' } }],
    }),
  );
  const b = capsule(['logic', 'test'], withSource);
  assert.is(b.code, 0, b.stderr + b.stdout.toString());
  assert.match(b.stdout.toString(), /^✓ anyone {2}\(allow, fuel \d+\)\n1 passed, 0 failed\n$/);
  const empty = mkdtempSync(join(dir, 'empty-'));
  const c = capsule(['logic', 'test', empty], dir);
  assert.is(c.code, 1);
  assert.match(c.stderr, /^capsule: error: .*empty-\w+: a folder without scenarios\.json\n/);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
