/**
 * The scenario runner behind `capsule logic test` (agent/logic/SCENARIOS.md): builds or reads the
 * module once, compiles it once in the real sandbox (sandbox/Sandbox.ts, with the guardian's fuel
 * limit unless the file sets one), then evaluates every case on a fresh instance with the real host,
 * its input built as the guardian builds it (evaluate.ts factsInput → sandbox/inputs.ts), and
 * compares verdict, reason, error, state, changed keys and fuel with what the case expects.
 *
 * A case whose logic traps (or runs out of fuel) is an outcome, `error`, carrying the code, the
 * message and the reason the logic had set: it passes only when it expects `"verdict": "error"`.
 *
 * Deliberately not here: reading the file (scenarioFile.ts), the report's text (scenarioReport.ts),
 * and the guardian's own checks around a decision (requester authentication, replay caches, the
 * refusal of a state change for an unauthenticated requester: the agent's Decider).
 */
import { readFile } from 'node:fs/promises';
import { SandboxError } from '../errors.ts';
import { ioError } from '../io/sources.ts';
import type { CapsuleFacts } from '../sandbox/inputs.ts';
import { Sandbox } from '../sandbox/Sandbox.ts';
import { buildPolicy } from './build.ts';
import { BuildCache } from './BuildCache.ts';
import { factsInput } from './evaluate.ts';
import { loadScenarios, type Expectation, type ScenarioCase, type ScenarioSuite } from './scenarioFile.ts';
import type { TestKeyForms } from './scenarioKeys.ts';

/** What a case came to. State keys are hex (the sandbox's), as are values. */
export interface Outcome {
  verdict: 'allow' | 'deny' | 'error';
  reason: string;
  /** With verdict "error": the sandbox's code and message. */
  error?: { code: string; message: string };
  /** Fuel used (absent for an error: the run did not finish). */
  fuel?: number;
  state: Map<string, Uint8Array>;
  changed: string[];
}

/** One expectation not met. */
export interface Mismatch {
  field: 'verdict' | 'reason' | 'error' | 'state' | 'changed' | 'fuel' | 'stateFrom';
  /** The state key (hex) for a state mismatch. */
  key?: string;
  expected: string;
  actual: string;
}

export interface CaseResult {
  name: string;
  index: number;
  ok: boolean;
  expect: Expectation;
  outcome: Outcome;
  mismatches: Mismatch[];
}

export interface SuiteResult {
  file: string;
  policy: string;
  moduleSha256: string;
  fuelLimit: number;
  capsule: { id: string; created: number; owner: string | null };
  keys: Record<string, TestKeyForms>;
  cases: CaseResult[];
  passed: number;
  failed: number;
}

/**
 * Runs a scenario file.
 * @param file - The file as the user named it.
 * @param cwd - What it is relative to.
 * @throws ScenarioError ERR_BAD_SCENARIO; IoError ERR_NOT_FOUND, ERR_IO; BuildError ERR_BUILD (a .ts
 *   that does not compile); SandboxError ERR_INVALID_MODULE (a module the guardian would refuse)
 */
export async function runScenarioFile(file: string, cwd: string): Promise<SuiteResult> {
  const suite = await loadScenarios(file, cwd);
  try {
    return runSuite(suite, await moduleOf(suite));
  } finally {
    suite.keys.dispose();
  }
}

async function moduleOf(suite: ScenarioSuite): Promise<Uint8Array> {
  // Built once per run, and not at all when the source is unchanged since the last build (BuildCache).
  if (suite.policy.path.endsWith('.ts')) return (await buildPolicy(suite.policy.path, { cache: BuildCache.forUser() })).wasm;
  try {
    return new Uint8Array(await readFile(suite.policy.path));
  } catch (cause) {
    throw ioError(suite.policy.shown, 'read', cause);
  }
}

/**
 * Runs prepared cases against `module` (compiled once; a fresh instance per case).
 * @throws SandboxError ERR_INVALID_MODULE, ERR_SANDBOX (the module, before any case runs)
 */
export function runSuite(suite: ScenarioSuite, module: Uint8Array): SuiteResult {
  const sandbox = new Sandbox({ fuel: suite.fuel });
  const { sha256 } = sandbox.prepare(module); // validation, metering and V8's compile, once
  const capsule: CapsuleFacts = { ...suite.capsule, logic: new Uint8Array(Buffer.from(sha256, 'hex')) };
  const results: CaseResult[] = [];
  for (const c of suite.cases) {
    const from = c.stateFrom === undefined ? undefined : results[c.stateFrom]!;
    let outcome: Outcome;
    if (from && from.outcome.verdict === 'error') {
      outcome = {
        verdict: 'error',
        reason: '',
        state: new Map(),
        changed: [],
        error: { code: 'ERR_NO_STATE', message: `case ${JSON.stringify(from.name)} (stateFrom) ended in an error: there is no state to start from` },
      };
    } else {
      outcome = evaluateCase(sandbox, module, capsule, c, from ? from.outcome.state : c.state);
    }
    const mismatches = compare(c.expect, outcome);
    results.push({ name: c.name, index: c.index, ok: mismatches.length === 0, expect: c.expect, outcome, mismatches });
  }
  const passed = results.filter((r) => r.ok).length;
  return {
    file: suite.file,
    policy: suite.policy.shown,
    moduleSha256: sha256,
    fuelLimit: suite.fuel,
    capsule: { id: hex(suite.capsule.id), created: suite.capsule.created, owner: suite.capsule.owner ? hex(suite.capsule.owner) : null },
    keys: Object.fromEntries(suite.keys.names().map((n) => [n, suite.keys.get(n)!])),
    cases: results,
    passed,
    failed: results.length - passed,
  };
}

function evaluateCase(sandbox: Sandbox, module: Uint8Array, capsule: CapsuleFacts, c: ScenarioCase, state: Map<string, Uint8Array>): Outcome {
  const input = factsInput(capsule, c.params, {
    now: c.now,
    requester: c.requester,
    evidence: c.evidence,
    state: new Map(state),
    authenticated: c.authenticated,
  });
  try {
    const r = sandbox.evaluate(module, input);
    return { verdict: r.verdict, reason: r.reason, fuel: r.fuel, state: r.state, changed: r.changed };
  } catch (e) {
    if (!(e instanceof SandboxError) || e.code === 'ERR_INVALID_MODULE' || e.code === 'ERR_SANDBOX') throw e;
    // ERR_TRAP, ERR_OUT_OF_FUEL, ERR_LIMIT, ERR_GUEST_MEMORY, ERR_BAD_VERDICT: this case's outcome.
    return { verdict: 'error', reason: reasonIn(e.message), error: { code: e.code, message: e.message }, state, changed: [] };
  }
}

/** The reason the logic had set, which the sandbox quotes at the end of a trap's message (MeteredSandbox #classify). */
export function reasonIn(message: string): string {
  const m = /\(reason set by the logic: ("(?:[^"\\]|\\.)*")\)$/.exec(message);
  return m ? (JSON.parse(m[1]!) as string) : '';
}

/** Every expectation `outcome` does not meet, in a fixed order (verdict, error, reason, state, changed, fuel). */
export function compare(e: Expectation, o: Outcome): Mismatch[] {
  const out: Mismatch[] = [];
  if (o.error?.code === 'ERR_NO_STATE') out.push({ field: 'stateFrom', expected: 'the state of an earlier case', actual: o.error.message });
  if (e.verdict !== o.verdict) out.push({ field: 'verdict', expected: e.verdict, actual: o.verdict });
  if (e.error !== undefined && e.error !== o.error?.code) out.push({ field: 'error', expected: e.error, actual: o.error?.code ?? 'none' });
  if (e.reason !== undefined) {
    const ok = typeof e.reason === 'string' ? e.reason === o.reason : new RegExp(e.reason.pattern).test(o.reason);
    if (!ok)
      out.push({
        field: 'reason',
        expected: typeof e.reason === 'string' ? JSON.stringify(e.reason) : `/${e.reason.pattern}/`,
        actual: JSON.stringify(o.reason),
      });
  }
  for (const [k, want] of e.state ?? []) {
    const got = o.state.get(k);
    const gotHex = got === undefined ? null : hex(got);
    if (want !== gotHex) out.push({ field: 'state', key: k, expected: want ?? 'absent', actual: gotHex ?? 'absent' });
  }
  if (e.changed !== undefined) {
    const got = [...o.changed].sort();
    if (got.join(',') !== e.changed.join(',')) out.push({ field: 'changed', expected: e.changed.join(','), actual: got.join(',') });
  }
  if (e.maxFuel !== undefined && (o.fuel === undefined || o.fuel > e.maxFuel)) {
    out.push({ field: 'fuel', expected: `at most ${e.maxFuel}`, actual: o.fuel === undefined ? 'did not finish' : String(o.fuel) });
  }
  return out;
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}
