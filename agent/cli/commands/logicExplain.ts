/**
 * `capsule logic explain POLICY.wasm --capsule C …`: reads the module, the capsule's header, the
 * state and evidence files and the requesters given, and prints when the capsule opens for whom
 * and what is missing (logic/explain.ts), as text or --json (logic/explainFormat.ts).
 *
 * Deliberately not here: the evaluation and the search (logic/explain.ts, logic/explainTimes.ts).
 */
import { readHeader } from '../../capsule/inspect.ts';
import { parseRecipient } from '../../crypto/identity.ts';
import { UsageError } from '../../errors.ts';
import { parseTimeArg } from '../../logic/evaluate.ts';
import { explain as explainCapsule } from '../../logic/explain.ts';
import { explanationJson, formatExplanation } from '../../logic/explainFormat.ts';
import { parseEvidence, parseState } from '../../sandbox/evidence.ts';
import type { EvidenceItem } from '../../sandbox/inputs.ts';
import { list, need, parse, str } from '../args.ts';
import { inputOf, loadModule, readJsonFile } from '../files.ts';
import { LOGIC_EXPLAIN } from '../specs/logic.ts';
import { writeOut, type Terminal } from '../Terminal.ts';

/**
 * `capsule logic explain`.
 * @throws CapsuleFormatError ERR_LOGIC_HASH_MISMATCH (the module is not the capsule's logic), and as
 *   readHeader; UsageError ERR_USAGE (a bad option, --from, --requester, state or approval file);
 *   SandboxError ERR_INVALID_MODULE
 */
export async function explain(argv: string[], t: Terminal): Promise<number> {
  const p = parse(argv, LOGIC_EXPLAIN);
  const name = p.positionals[0]!;
  const module = await loadModule(t, name);
  const { header } = await readHeader(inputOf(t, need(p, 'capsule', LOGIC_EXPLAIN.synopsis)));
  const requesters = list(p, 'requester');
  for (const r of requesters) {
    try {
      parseRecipient(r); // a typo is an error, not a requester nobody is
    } catch (cause) {
      throw new UsageError('ERR_USAGE', `--requester: expected an age recipient (age1…), got ${JSON.stringify(r.slice(0, 80))}`, {
        cause,
        hint: 'a requester is the age1… public key the key would be released to',
      });
    }
  }
  const fromArg = str(p, 'from');
  const from = fromArg === undefined ? Date.now() : parseTimeArg(fromArg, '--from');
  const evidence: EvidenceItem[] = [];
  for (const f of list(p, 'approval')) evidence.push(...parseEvidence(await readJsonFile(t, f), f));
  const stateFile = str(p, 'state');
  const state = stateFile ? parseState(await readJsonFile(t, stateFile), stateFile) : new Map<string, Uint8Array>();
  const e = explainCapsule({ module, moduleName: name, header, state, evidence, requesters, from });
  await writeOut(t, p.values.json ? JSON.stringify(explanationJson(e), null, 2) + '\n' : formatExplanation(e));
  return 0;
}
