/**
 * Fuzz campaign target (issue 18 Build 6): the generated hostile-Wasm corpus
 * (test/helpers/hostileCorpus.ts, ≥ 200 modules in families straddling every sandbox limit)
 * pushed to and released on a real agent over HTTP. Reports cases, contained (the prescribed typed
 * outcome), wrongly allowed (an allow the case forbids) and agent deaths (the agent process gone;
 * a new one is started so the run continues). The corpus is fixed: `cases` and `seed` do not
 * apply; `deadlineMs` bounds the run.
 */
import type { FuzzOptions } from '../drive.ts';
import type { HostileResult } from '../targets.ts';
import { startRig, type Rig } from '../../test/helpers/agentRig.ts';
import { hostileCorpus } from '../../test/helpers/hostileCorpus.ts';
import { alive, runOverHttp } from '../../test/helpers/hostileOverHttp.ts';

const CONFIG = { clientFuelPerMinute: 0, maxModules: 100_000, maxModuleStoreBytes: 2 ** 30 };

export async function run(opts: FuzzOptions & { log?: (line: string) => void }): Promise<HostileResult> {
  const log = opts.log ?? (() => {});
  const end = performance.now() + (opts.deadlineMs ?? 30 * 60_000);
  const result: HostileResult = { cases: 0, contained: 0, wronglyAllowed: 0, agentDeaths: 0 };
  let rig: Rig = await startRig(CONFIG);
  try {
    for (const c of hostileCorpus()) {
      if (performance.now() > end) break;
      let outcome;
      try {
        outcome = await runOverHttp(rig, c);
      } catch (e) {
        outcome = { contained: false, wronglyAllowed: false, got: `request failed: ${(e as Error).message}` };
      }
      result.cases++;
      if (outcome.contained) result.contained++;
      else log(`hostile Wasm: ${c.family} / ${c.name}: expected ${c.expect}, got ${outcome.got}`);
      if (outcome.wronglyAllowed) result.wronglyAllowed++;
      if (!alive(rig.pid)) {
        result.agentDeaths++;
        log(`hostile Wasm: the agent died on ${c.family} / ${c.name}; starting another`);
        await rig.cleanup();
        rig = await startRig(CONFIG);
      }
    }
  } finally {
    await rig.cleanup();
  }
  return result;
}
