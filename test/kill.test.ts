/**
 * The kill -9 campaign in `npm test` (issue 18 Build 6): 10 runs through fuzz/kill.ts — SIGKILL
 * during seal, decrypt, release, sign, module push, guardian init and IPFS fetch, rotating — each
 * checked for partial output under a final name, lost acknowledged audit entries, database
 * integrity, restart and `audit verify` (the full ≥ 100-run campaign is `npm run fuzz`).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { killCampaign, OPERATIONS } from '../fuzz/kill.ts';

const SEED = Number(process.env.KILL_SEED ?? 1806);

test(`kill -9: 10 runs over ${OPERATIONS.length} operations (seed ${SEED}) are all clean`, async () => {
  const r = await killCampaign({ runs: 10, seed: SEED, log: (s) => console.log(`  ${s}`) });
  console.log(`  kill -9: ${r.clean}/${r.runs} clean, by operation ${JSON.stringify(r.byOperation)}, leftover .partial files ${r.partialsLeft}`);
  assert.is(r.runs, 10);
  assert.equal(r.failures, []);
  assert.is(r.clean, 10);
  for (const op of OPERATIONS) assert.ok(r.byOperation[op]?.runs, `${op} was killed at least once`);
});

test.run();
