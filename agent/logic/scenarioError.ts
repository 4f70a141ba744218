/**
 * The error of a scenario file that cannot be run (agent/logic/SCENARIOS.md): one per file, naming
 * the file, the case (by name and index) and the field, so an author goes straight to the line.
 * Also the translation of ajv's first schema error into that message.
 *
 * Deliberately not here: a case that runs and fails its expectation (that is a test result,
 * scenarios.ts), and errors of the module itself (build.ts, the sandbox).
 */
import type { ErrorObject } from 'ajv';
import { DceError } from '../errors.ts';

/** A scenario file that is not valid JSON, breaks the schema, or names something that is not there. */
export class ScenarioError extends DceError {
  override readonly name = 'ScenarioError';
  /** Always ERR_BAD_SCENARIO. */
  declare readonly code: 'ERR_BAD_SCENARIO';
  constructor(message: string, options: { cause?: unknown; hint?: string } = {}) {
    super('ERR_BAD_SCENARIO', message, {
      hint: options.hint ?? 'see agent/logic/SCENARIOS.md (the format) and agent/logic/scenarios.schema.json',
      cause: options.cause,
    });
  }
}

/** A path into the file: object keys and array indexes, outermost first. */
export type FieldPath = readonly (string | number)[];

/**
 * "FILE: case "NAME" (cases[i]): field "approvals[0]": WHAT" (the case part only for a path into
 * `cases`; the field part only when the path goes further).
 * @param file - The scenario file as the user named it.
 * @param doc - The parsed file (to name the case).
 * @param path - Where the problem is.
 * @param what - What is wrong, with what was expected and what came.
 */
export function scenarioError(file: string, doc: unknown, path: FieldPath, what: string, cause?: unknown): ScenarioError {
  let where = `${file}: `;
  let rest = path;
  if (path[0] === 'cases' && typeof path[1] === 'number') {
    const c = (doc as { cases?: unknown[] })?.cases?.[path[1]] as { name?: unknown } | undefined;
    const name = typeof c?.name === 'string' ? `case ${JSON.stringify(c.name)} ` : 'case ';
    where += `${name}(cases[${path[1]}]): `;
    rest = path.slice(2);
  }
  if (rest.length > 0) where += `field ${JSON.stringify(fieldName(rest))}: `;
  return new ScenarioError(where + what, { cause });
}

/** `["expect", "state", "opens"]` → `expect.state.opens`; indexes as `[i]`; odd keys quoted. */
export function fieldName(path: FieldPath): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(p)) out += out ? `.${p}` : p;
    else out += `[${JSON.stringify(p)}]`;
  }
  return out;
}

/**
 * The message for one of ajv's errors (the one the loader picks: scenarioFile.ts).
 * @param file - The scenario file as the user named it.
 * @param doc - The parsed file.
 * @param e - ajv's error (verbose: with its schema and parent schema).
 */
export function schemaError(file: string, doc: unknown, e: ErrorObject): ScenarioError {
  const path: (string | number)[] = e.instancePath
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s, i, all) => (/^\d+$/.test(s) && Array.isArray(at(doc, all.slice(0, i))) ? Number(s) : s));
  const p = e.params as Record<string, unknown>;
  const parent = e.parentSchema as { description?: string; properties?: Record<string, unknown>; type?: string | string[] } | undefined;
  const got = describe(e.data);
  switch (e.keyword) {
    case 'additionalProperties': {
      const allowed = Object.keys(parent?.properties ?? {});
      return scenarioError(
        file,
        doc,
        [...path, String(p.additionalProperty)],
        `unknown field${allowed.length ? ` (expected one of: ${allowed.join(', ')})` : ''}`,
      );
    }
    case 'required':
      return scenarioError(file, doc, [...path, String(p.missingProperty)], 'missing (required)');
    case 'propertyNames':
    case 'pattern':
      if (p.propertyName !== undefined)
        return scenarioError(file, doc, [...path, String(p.propertyName)], `not a valid name: ${parent?.description ?? 'see the schema'}`);
      return scenarioError(file, doc, path, `expected ${parent?.description ?? `a string matching ${String(p.pattern)}`}, got ${got}`);
    case 'type':
      return scenarioError(file, doc, path, `expected ${parent?.description ?? typeList(p.type)}, got ${got}`);
    case 'enum':
      return scenarioError(file, doc, path, `expected one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}, got ${got}`);
    case 'minProperties':
    case 'maxProperties':
      return scenarioError(file, doc, path, `expected ${parent?.description ?? 'another number of fields'}, got ${got}`);
    default:
      return scenarioError(file, doc, path, `${e.message ?? e.keyword}, got ${got}`);
  }
}

function at(doc: unknown, path: string[]): unknown {
  let v = doc;
  for (const k of path) v = Array.isArray(v) ? v[Number(k)] : (v as Record<string, unknown> | undefined)?.[k];
  return v;
}

function typeList(t: unknown): string {
  const list = Array.isArray(t) ? t : String(t).split(',');
  return list.map((x) => (x === 'integer' ? 'an integer' : x === 'object' ? 'an object' : x === 'array' ? 'an array' : `a ${x}`)).join(' or ');
}

/** What came, briefly: its JSON type and, for a scalar, its value (cut). */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  if (typeof v === 'number') return Number.isInteger(v) ? `the integer ${v}` : `the number ${v}`;
  return `${typeof v} ${JSON.stringify(v)}`;
}
