/**
 * The fuzz campaign in `npm test` (issue 18 Build 6): every target of fuzz/targets.ts with 1 000
 * cases at a fixed seed (the full ≥ 10^5 run is `npm run fuzz`): no untyped error, crash, hang,
 * or output for a modified input; and the harness itself is shown to catch each of those.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { drive, mutate, type FuzzResult } from '../fuzz/drive.ts';
import { SKIPPED, TARGETS } from '../fuzz/targets.ts';
import { CapsuleFormatError } from '../agent/errors.ts';

const CASES = 1000;
const SEED = 18_06;

function clean(r: FuzzResult): void {
  console.log(`  fuzz ${r.target}: ${r.cases} cases, ${r.ok} ok, ${r.typed} typed ${JSON.stringify(r.codes)}, ${(r.ms / 1000).toFixed(1)} s`);
  assert.ok(r.cases >= CASES, `${r.target}: ran ${r.cases} cases`);
  assert.equal(r.failures, [], `${r.target}: failures`);
  assert.is(r.untyped, 0, `${r.target}: untyped errors`);
  assert.is(r.crashes, 0, `${r.target}: crashes`);
  assert.is(r.hangs, 0, `${r.target}: hangs`);
  assert.is(r.wrongOutput, 0, `${r.target}: output for a modified input`);
  assert.ok(r.typed > 0, `${r.target}: the inputs reach the error paths (typed errors seen)`);
}

for (const t of TARGETS) {
  test(`fuzz ${t.name}: ${CASES} cases, only typed errors, no hang, no output for a modified input`, async () => {
    clean(await t.run({ cases: CASES, seed: SEED }));
  });
}

test('fuzz: every target the issues name runs (none is skipped, the wallet decoding included)', () => {
  assert.equal(SKIPPED, []);
  assert.ok(TARGETS.some((t) => t.name === 'wallet request decoding'));
});

test("fuzz harness: counts an untyped error, a wrong output and a hang as such (so the targets' zeros mean something)", async () => {
  const arb = fc.nat({ max: 3 });
  let n = 0;
  const r = await drive(
    'self-check',
    arb,
    async (v) => {
      n++;
      if (n === 1) throw new TypeError('untyped');
      if (n === 2) return { wrong: 'plaintext for a modified input' };
      if (n === 3) return new Promise<never>(() => {}); // never settles: a hang
      if (v % 2) throw new CapsuleFormatError('ERR_TRUNCATED', 'typed');
      return 'ok';
    },
    { cases: 8, seed: 1, hangMs: 200 },
    String,
  );
  assert.is(r.cases, 8);
  assert.is(r.untyped, 1);
  assert.is(r.wrongOutput, 1);
  assert.is(r.hangs, 1);
  assert.is(r.typed + r.ok, 5);
  assert.is(r.failures.length, 3);
  assert.match(r.failures[0]!, /^untyped TypeError: untyped — seed 1 case 0/);
});

test('fuzz harness: mutations wrap positions and never mutate their input', () => {
  const base = Uint8Array.of(1, 2, 3, 4);
  const m = mutate(base, [
    { kind: 'flip', at: 5, bit: 0 },
    { kind: 'delete', at: 3, count: 9 },
    { kind: 'append', bytes: Uint8Array.of(9) },
  ]);
  assert.equal([...m], [1, 3, 3, 9]);
  assert.equal([...base], [1, 2, 3, 4]);
});

test.run();
