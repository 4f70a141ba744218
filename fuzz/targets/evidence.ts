/**
 * Fuzz target: the evidence and state parsers (agent/sandbox/evidence.ts parseEvidence,
 * parseState) — what `capsule logic run/open/sign-request` read from files and what the agent's
 * routes parse after schema validation — on arbitrary JSON values and on valid items with one
 * field replaced. Property: a result or a typed DceError (UsageError ERR_USAGE); no hang.
 */
import fc from 'fast-check';
import { parseEvidence, parseState } from '../../agent/sandbox/evidence.ts';
import { drive, type FuzzOptions, type FuzzResult, type Verdict } from '../drive.ts';

const VALID = { kind: 'approval', scheme: 'ed25519', signer: 'ab'.repeat(32), message: '00ff', signature: 'cd'.repeat(64) };

export async function run(opts: FuzzOptions): Promise<FuzzResult> {
  const field = fc.constantFrom('kind', 'scheme', 'signer', 'message', 'signature', '__proto__', 'constructor', 'extra');
  const anyValue = fc.oneof(
    fc.jsonValue({ maxDepth: 3 }),
    fc.constantFrom('eip191', 'checkin', 'AB', 'abc', '', 'ab'.repeat(20), 'ab'.repeat(33)),
    fc.anything({ maxDepth: 2 }),
  );
  const item = fc.tuple(fc.array(fc.tuple(field, anyValue), { minLength: 1, maxLength: 3 }), fc.boolean()).map(([changes, del]) => {
    const o: Record<string, unknown> = { ...VALID };
    for (const [k, v] of changes) {
      if (del) delete o[k];
      else Object.defineProperty(o, k, { value: v, enumerable: true, configurable: true, writable: true });
    }
    return o;
  });
  const arb = fc.tuple(
    fc.oneof(
      { weight: 5, arbitrary: item },
      { weight: 2, arbitrary: fc.array(item, { maxLength: 4 }) },
      { weight: 3, arbitrary: fc.anything({ maxDepth: 3 }) },
    ),
    fc.boolean(),
  );
  const evaluate = ([json, asState]: [unknown, boolean]): Verdict => {
    if (asState) parseState(json, 'state.json');
    else parseEvidence(json, 'approval.json');
    return 'ok';
  };
  return drive('evidence parser', arb, evaluate, opts, ([json, asState]) => `${asState ? 'state' : 'evidence'} ${safeJson(json)}`);
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}
