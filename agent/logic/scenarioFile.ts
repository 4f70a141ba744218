/**
 * Reading a scenario file (agent/logic/SCENARIOS.md): JSON, checked against scenarios.schema.json
 * with ajv, then what a schema cannot say — every key a case names is declared, times parse, a
 * requester is an age recipient, "stateFrom" names an earlier case, case names are unique — each
 * failure ONE ScenarioError naming the file, the case and the field. The result is ready to run:
 * params as canonical CBOR (as `capsule seal --params`), state as the sandbox's map, approvals and
 * check-ins signed for this capsule by the named test keys.
 *
 * Deliberately not here: building or running the module (scenarios.ts), and the report.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';
import type { ValidateFunction } from 'ajv';
import { encodeRecipient, parseRecipient } from '../crypto/identity.ts';
import { encodeCanonical } from '../format/cbor.ts';
import { MAX_PARAMS_SIZE } from '../format/constants.ts';
import { approvalMessage, checkinMessage } from '../format/evidence.ts';
import { ioError } from '../io/sources.ts';
import { parseDrandBeacon } from '../sandbox/drandBeacon.ts';
import { parseEvidence } from '../sandbox/evidence.ts';
import type { EvidenceItem } from '../sandbox/inputs.ts';
import { DEFAULT_LIMITS } from '../sandbox/limits.ts';
import { describe, scenarioError, schemaError, type FieldPath } from './scenarioError.ts';
import { TestKeys, type TestKeyType } from './scenarioKeys.ts';

/** What a case expects (SCENARIOS.md "Expectations"); state keys and values already as bytes (hex). */
export interface Expectation {
  verdict: 'allow' | 'deny' | 'error';
  reason?: string | { pattern: string };
  error?: string;
  /** hex(key) → hex(value), or null for "absent". */
  state?: Map<string, string | null>;
  /** hex(key), sorted. */
  changed?: string[];
  maxFuel?: number;
}

export interface ScenarioCase {
  index: number;
  name: string;
  now: number;
  requester: string;
  params: Uint8Array | undefined;
  state: Map<string, Uint8Array>;
  /** The index of the earlier case whose resulting state this one starts from. */
  stateFrom?: number;
  evidence: EvidenceItem[];
  authenticated?: boolean;
  expect: Expectation;
}

export interface ScenarioSuite {
  /** The file as the user named it, and its absolute path. */
  file: string;
  path: string;
  /** The module: absolute path, and how to show it (relative to the file's folder as written). */
  policy: { path: string; shown: string };
  fuel: number;
  /** The synthetic capsule (SCENARIOS.md "The capsule"); its logic hash is the module's, added when it is built. */
  capsule: { id: Uint8Array; created: number; owner: Uint8Array | null; size: number; digest: Uint8Array };
  keys: TestKeys;
  cases: ScenarioCase[];
}

const SCHEMA_PATH = new URL('./scenarios.schema.json', import.meta.url);
/** The capsule's default creation time when the file gives none (a fixed instant, so runs repeat). */
export const DEFAULT_CREATED = Date.parse('2026-01-01T00:00:00Z');
let validator: ValidateFunction | undefined;

async function validate(): Promise<ValidateFunction> {
  if (!validator) {
    const { Ajv } = await import('ajv');
    const schema = JSON.parse(readFileSync(SCHEMA_PATH, 'utf8')) as object;
    validator = new Ajv({ allErrors: true, verbose: true, strict: false }).compile(schema);
  }
  return validator;
}

/**
 * Reads, checks and prepares a scenario file. The caller disposes `keys` when done.
 * @param file - The file as the user named it.
 * @param cwd - What it is relative to.
 * @throws ScenarioError ERR_BAD_SCENARIO (one, naming file, case and field); IoError ERR_NOT_FOUND, ERR_IO
 */
export async function loadScenarios(file: string, cwd: string): Promise<ScenarioSuite> {
  const path = resolve(cwd, file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw ioError(file, 'read', cause);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (cause) {
    const msg = (cause as Error).message;
    const pos = /position (\d+)/.exec(msg)?.[1] ?? (/end of JSON input/.test(msg) ? String(text.length) : undefined);
    const where = pos === undefined ? '' : ` (${lineCol(text, Number(pos))})`;
    throw scenarioError(file, undefined, [], `not valid JSON${where}: ${(cause as Error).message.replace(/ in JSON at position.*$/, '')}`, cause);
  }
  const v = await validate();
  if (!v(doc)) {
    // One error: an unknown field first (a misspelt "verdikt" is the cause of the "verdict" missing beside it), else the first.
    const errors = v.errors!;
    throw schemaError(file, doc, errors.find((e) => e.keyword === 'additionalProperties') ?? errors[0]!);
  }
  const d = doc as RawFile;
  const dir = dirname(path);
  const keys = new TestKeys(d.keys ?? {});
  try {
    return prepare(file, path, dir, d, keys);
  } catch (e) {
    keys.dispose();
    throw e;
  }
}

interface RawFile {
  policy?: string;
  keys?: Record<string, { type: TestKeyType }>;
  capsule?: { id?: string; created?: string | number; owner?: string | null; size?: number; digest?: string };
  params?: unknown;
  fuel?: number;
  cases: RawCase[];
}
type StateValue = string | { u64?: number; text?: string } | null;
interface RawCase {
  name: string;
  at: string | number;
  requester: string;
  params?: unknown;
  state?: Record<string, StateValue>;
  stateFrom?: string;
  approvals?: (string | { by: string; requester?: string })[];
  checkins?: { by: string; at?: string | number }[];
  drand?: unknown[];
  evidence?: unknown[];
  authenticated?: boolean;
  expect: {
    verdict: 'allow' | 'deny' | 'error';
    reason?: string | { pattern: string };
    error?: string;
    state?: Record<string, StateValue>;
    changed?: string[];
    maxFuel?: number;
  };
}

function prepare(file: string, path: string, dir: string, d: RawFile, keys: TestKeys): ScenarioSuite {
  const fail = (p: FieldPath, what: string, cause?: unknown) => scenarioError(file, d, p, what, cause);
  const declared = () => (keys.names().length ? `declared: ${keys.names().join(', ')}` : 'the file declares no "keys"');
  const key = (name: string, p: FieldPath, types?: TestKeyType[]) => {
    const k = keys.get(name);
    if (!k) throw fail(p, `unknown test key ${JSON.stringify(name)} (${declared()})`);
    if (types && !types.includes(k.type))
      throw fail(p, `test key ${JSON.stringify(name)} is an ${k.type} key; expected ${types.map((t) => `an ${t}`).join(' or ')} key`);
    return k;
  };
  const requesterOf = (text: string, p: FieldPath): string => {
    if (!/^age1/i.test(text)) return key(text, p, ['age']).recipient!;
    try {
      return encodeRecipient(parseRecipient(text)); // as the guardian compares it: canonical lowercase
    } catch (cause) {
      throw fail(p, `not an age recipient: ${(cause as Error).message}`, cause);
    }
  };
  const timeOf = (t: string | number, p: FieldPath): number => {
    const ms = typeof t === 'number' ? t : Date.parse(t);
    if (!Number.isSafeInteger(ms) || ms < 0) throw fail(p, `not a valid time: ${describe(t)}`);
    return ms;
  };
  const paramsOf = (v: unknown, p: FieldPath): Uint8Array | undefined => {
    if (v === undefined || v === null) return undefined;
    const bytes = encodeCanonical(resolveRefs(v, p, keys, fail));
    if (bytes.length > MAX_PARAMS_SIZE) throw fail(p, `encodes to ${bytes.length} bytes of CBOR, above the ${MAX_PARAMS_SIZE}-byte cap of a capsule's params`);
    return bytes;
  };

  let policyText = d.policy ?? 'policy.ts';
  const policy = { path: resolve(dir, policyText), shown: join(dirname(file), policyText) };
  if (d.policy === undefined && !existsSync(policy.path))
    throw fail(['policy'], `missing, and there is no policy.ts beside the file (${join(dirname(file), 'policy.ts')})`);
  policyText = policy.shown;

  let fileParams: Uint8Array | undefined;
  if (d.params !== undefined) fileParams = paramsOf(d.params, ['params']);
  else if (existsSync(join(dir, 'params.json'))) {
    const pj = join(dirname(file), 'params.json');
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(join(dir, 'params.json'), 'utf8'));
    } catch (cause) {
      throw scenarioError(pj, undefined, [], `not valid JSON (it gives ${file} its params): ${(cause as Error).message}`, cause);
    }
    fileParams = paramsOf(parsed, ['params']);
  }

  const c = d.capsule ?? {};
  const ownerKey = c.owner ? key(c.owner, ['capsule', 'owner'], ['age', 'ed25519']) : undefined;
  const capsule = {
    // Derived from the file's name, so that moving the folder does not change a signed message.
    id: new Uint8Array(
      c.id
        ? Buffer.from(c.id, 'hex')
        : createHash('sha256')
            .update(`capsule-logic-test:v1:${basename(path)}`)
            .digest()
            .subarray(0, 16),
    ),
    created: Math.floor(timeOf(c.created ?? DEFAULT_CREATED, ['capsule', 'created']) / 1000), // the header's unit: seconds
    owner: ownerKey ? new Uint8Array(Buffer.from(ownerKey.ed25519!, 'hex')) : null,
    size: c.size ?? 0,
    digest: new Uint8Array(c.digest ? Buffer.from(c.digest, 'hex') : createHash('sha256').digest()),
  };
  const idHex = Buffer.from(capsule.id).toString('hex');

  const names = new Map<string, number>();
  const cases = d.cases.map((rc, i): ScenarioCase => {
    const at = (...p: FieldPath) => ['cases', i, ...p];
    if (names.has(rc.name))
      throw fail(at('name'), `the same name as cases[${names.get(rc.name)}]; case names are unique (stateFrom and the report name cases by it)`);
    names.set(rc.name, i);
    const now = timeOf(rc.at, at('at'));
    const requester = requesterOf(rc.requester, at('requester'));
    const evidence: EvidenceItem[] = [];
    (rc.approvals ?? []).forEach((a, j) => {
      const by = typeof a === 'string' ? a : a.by;
      key(by, typeof a === 'string' ? at('approvals', j) : at('approvals', j, 'by'));
      const forWhom = typeof a === 'string' || a.requester === undefined ? requester : requesterOf(a.requester, at('approvals', j, 'requester'));
      evidence.push(keys.sign(by, 'approval', approvalMessage(idHex, forWhom)));
    });
    (rc.checkins ?? []).forEach((ci, j) => {
      key(ci.by, at('checkins', j, 'by'));
      const when = ci.at === undefined ? now : timeOf(ci.at, at('checkins', j, 'at'));
      evidence.push(keys.sign(ci.by, 'checkin', checkinMessage(idHex, when)));
    });
    (rc.drand ?? []).forEach((b, j) => evidence.push(...reuse(() => parseDrandBeacon(b, 'beacon'), at('drand', j), fail)));
    (rc.evidence ?? []).forEach((e, j) => evidence.push(...reuse(() => parseEvidence(e, 'item'), at('evidence', j), fail)));
    let stateFrom: number | undefined;
    if (rc.stateFrom !== undefined) {
      stateFrom = names.get(rc.stateFrom);
      if (stateFrom === undefined || stateFrom === i) throw fail(at('stateFrom'), `no earlier case is named ${JSON.stringify(rc.stateFrom)}`);
      if (rc.state !== undefined) throw fail(at('state'), 'give "state" or "stateFrom", not both');
    }
    const state = new Map<string, Uint8Array>();
    for (const [k, val] of Object.entries(rc.state ?? {})) state.set(stateKey(k, at('state', k), fail), Buffer.from(stateValue(val!), 'hex'));
    const e = rc.expect;
    if (e.error !== undefined && e.verdict !== 'error')
      throw fail(at('expect', 'error'), `an error code goes with "verdict": "error", not ${JSON.stringify(e.verdict)}`);
    if (e.reason !== undefined && typeof e.reason !== 'string') {
      try {
        new RegExp(e.reason.pattern);
      } catch (cause) {
        throw fail(at('expect', 'reason', 'pattern'), `not a valid regular expression: ${(cause as Error).message}`, cause);
      }
    }
    const expect: Expectation = { verdict: e.verdict, reason: e.reason, error: e.error, maxFuel: e.maxFuel };
    if (e.state) {
      expect.state = new Map(Object.entries(e.state).map(([k, val]) => [stateKey(k, at('expect', 'state', k), fail), val === null ? null : stateValue(val)]));
    }
    if (e.changed) expect.changed = e.changed.map((k, j) => stateKey(k, at('expect', 'changed', j), fail)).sort();
    return {
      index: i,
      name: rc.name,
      now,
      requester,
      params: rc.params !== undefined ? paramsOf(rc.params, at('params')) : fileParams,
      state,
      stateFrom,
      evidence,
      authenticated: rc.authenticated,
      expect,
    };
  });
  return { file, path, policy: { path: policy.path, shown: policyText }, fuel: d.fuel ?? DEFAULT_LIMITS.fuel, capsule, keys, cases };
}

/** Runs a parser of the CLI's evidence JSON, turning its error into this file's, at `p`. */
function reuse(parse: () => EvidenceItem[], p: FieldPath, fail: (p: FieldPath, what: string, cause?: unknown) => Error): EvidenceItem[] {
  try {
    return parse();
  } catch (cause) {
    // The parsers name the item "beacon"/"item" and the field after a dot: keep only what follows.
    throw fail(
      p,
      (cause as Error).message.replace(/^(beacon|item)(\.|: )?/, (_, __, sep: string) => (sep === '.' ? 'field ' : '')),
      cause,
    );
  }
}

const REF = /^\$\{([A-Za-z][A-Za-z0-9_-]{0,63})(?:\.(recipient|ed25519|address))?\}$/;

/** params with every "${name}" / "${name.form}" string replaced by the key's form (SCENARIOS.md "Params"). */
function resolveRefs(v: unknown, p: FieldPath, keys: TestKeys, fail: (p: FieldPath, what: string) => Error): unknown {
  if (typeof v === 'string') {
    const m = REF.exec(v);
    if (!m) return v;
    const k = keys.get(m[1]!);
    if (!k)
      throw fail(
        p,
        `unknown test key ${JSON.stringify(m[1])} in ${JSON.stringify(v)} (${keys.names().length ? `declared: ${keys.names().join(', ')}` : 'the file declares no "keys"'})`,
      );
    const form = (m[2] ?? { age: 'recipient', ed25519: 'ed25519', eip191: 'address' }[k.type]) as 'recipient' | 'ed25519' | 'address';
    const out = k[form];
    if (out === undefined) throw fail(p, `test key ${JSON.stringify(m[1])} is an ${k.type} key: it has no ${form} form`);
    return out;
  }
  if (typeof v === 'number' && Number.isInteger(v) && !Number.isSafeInteger(v)) {
    throw fail(p, `the integer ${v} is beyond ±(2^53-1) (JSON numbers lose precision there); pass it as a string`);
  }
  if (Array.isArray(v)) return v.map((x, i) => resolveRefs(x, [...p, i], keys, fail));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, resolveRefs(x, [...p, k], keys, fail)]));
  return v;
}

/** A state key as written → the sandbox's map key (hex of the bytes): text as UTF-8, "0x…" as hex. */
function stateKey(k: string, p: FieldPath, fail: (p: FieldPath, what: string) => Error): string {
  if (k.startsWith('0x')) {
    if (!/^0x([0-9a-fA-F]{2})+$/.test(k)) throw fail(p, 'a key starting with 0x is hex bytes: expected an even number of hex digits after it');
    return k.slice(2).toLowerCase();
  }
  return Buffer.from(k, 'utf8').toString('hex');
}

/** A state value as written (schema-checked) → hex. */
function stateValue(v: Exclude<StateValue, null>): string {
  if (typeof v === 'string') return v.replace(/^0x/, '').toLowerCase();
  if (v.u64 !== undefined) return BigInt(v.u64).toString(16).padStart(16, '0');
  return Buffer.from(v.text!, 'utf8').toString('hex');
}

function lineCol(text: string, pos: number): string {
  const before = text.slice(0, pos).split('\n');
  return `line ${before.length}, column ${before.at(-1)!.length + 1}`;
}
