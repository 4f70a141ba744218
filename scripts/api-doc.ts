/**
 * Generates the reference half of docs/API.md (`npm run docs:api`; `--check` only compares): the
 * text between `<!-- routes:begin -->`/`<!-- routes:end -->` (one section per route: what it
 * does, its request schema as the server validates it, its statuses and bodies, curl examples),
 * `<!-- responses:begin -->`/`<!-- responses:end -->` (the response bodies' JSON Schemas) and
 * `<!-- errors:begin -->`/`<!-- errors:end -->` (every error code with its status). Everything
 * outside the markers is hand-written and kept as it is.
 *
 * Sources, so the document cannot drift from the server: the routes and their ajv request schemas
 * are read from the server's own route tables (api.ts `routes()`, coreRoutes.ts), built with no
 * dependencies (building a route touches none; only its handler does); response schemas from
 * responseSchemas.ts; statuses from statusByCode.ts; the prose from routeDocs.ts.
 * test/api-doc.test.ts checks the file equals this output and the examples against a live agent.
 *
 * Deliberately not here: OpenAPI (the issue allows either; Markdown is what readers of this repo
 * use), and any HTTP (the test makes the requests).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DceError } from '../agent/errors.ts';
import { routes, type ApiDeps } from '../agent/daemon/api.ts';
import { coreRoutes, type CoreDeps } from '../agent/daemon/coreRoutes.ts';
import type { Route } from '../agent/daemon/HttpServer.ts';
import { RESPONSE_SCHEMAS } from '../agent/daemon/responseSchemas.ts';
import {
  COMMON_RESPONSES,
  DEFAULT_BASE_URL,
  ERROR_MEANINGS,
  NOT_ANSWERED,
  ROUTE_DOCS,
  STATUS_OVERRIDES,
  isTemplate,
  type ExampleDoc,
  type ResponseDoc,
  type RouteDoc,
} from '../agent/daemon/routeDocs.ts';
import { STATUS_BY_CODE } from '../agent/daemon/statusByCode.ts';

/** docs/API.md in this checkout. */
export const API_DOC = fileURLToPath(new URL('../docs/API.md', import.meta.url));

/** The routes the server serves, as it builds them (handlers unused: no dependencies needed). */
export function servedRoutes(): Route[] {
  return [...coreRoutes({} as CoreDeps), ...routes({} as ApiDeps)];
}

/** The request an example stands for: what curl sends and what the test sends with fetch. */
export function requestOf(e: ExampleDoc): { method: string; path: string; headers: Record<string, string>; body?: string } {
  if (e.json !== undefined) return { method: e.method, path: e.path, headers: { 'content-type': 'application/json' }, body: JSON.stringify(e.json) };
  if (e.wasm !== undefined) return { method: e.method, path: e.path, headers: { 'content-type': 'application/wasm' }, body: e.wasm };
  return { method: e.method, path: e.path, headers: {} };
}

/** A POSIX shell single-quoted word. */
const sq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** The curl command line for an example, against `base`. */
export function curlOf(e: ExampleDoc, base = DEFAULT_BASE_URL): string {
  const r = requestOf(e);
  const parts = ['curl -sS'];
  if (r.method !== 'GET') parts.push(`-X ${r.method}`);
  parts.push(sq(base + r.path));
  for (const [k, v] of Object.entries(r.headers)) parts.push(`-H ${sq(`${k}: ${v}`)}`);
  if (e.saveAs) parts.push(`-o ${sq(e.saveAs)}`);
  if (r.body !== undefined) parts.push(e.wasm?.startsWith('@') ? `--data-binary ${e.wasm}` : `--data-binary ${sq(r.body)}`);
  return parts.join(' ');
}

/** JSON with short members on one line (≤ 100 columns), so schemas stay readable. */
export function compactJson(v: unknown, indent = 0): string {
  const flat = JSON.stringify(v);
  if (flat === undefined || flat.length + indent <= 100 || v === null || typeof v !== 'object') return flat ?? 'null';
  const pad = ' '.repeat(indent + 2);
  if (Array.isArray(v)) return `[\n${v.map((x) => pad + compactJson(x, indent + 2)).join(',\n')}\n${' '.repeat(indent)}]`;
  const members = Object.entries(v as Record<string, unknown>).map(([k, x]) => `${pad}${JSON.stringify(k)}: ${compactJson(x, indent + 2)}`);
  return `{\n${members.join(',\n')}\n${' '.repeat(indent)}}`;
}

type Schema = Record<string, any>;

/** A schema's type in words: `string`, `integer`, `"a" \| "b"`, `array of object`, `string or object`. */
function typeOf(s: Schema): string {
  if (s.const !== undefined) return `\`${JSON.stringify(s.const)}\``;
  if (s.enum) return s.enum.map((x: unknown) => `\`${JSON.stringify(x)}\``).join(' \\| ');
  if (s.anyOf) return s.anyOf.map(typeOf).join(' or ');
  if (s.type === 'array') return `array of ${s.items ? typeOf(s.items) : 'any'}`;
  return Array.isArray(s.type) ? s.type.join(' or ') : (s.type ?? 'any');
}

/** A schema's bounds in words (pattern, lengths, ranges, item counts). */
function boundsOf(s: Schema): string {
  const b: string[] = [];
  if (s.pattern) b.push(`pattern \`${s.pattern}\``);
  if (s.minLength !== undefined) b.push(`≥ ${s.minLength} chars`);
  if (s.maxLength !== undefined) b.push(`≤ ${s.maxLength} chars`);
  if (s.minimum !== undefined) b.push(`≥ ${s.minimum}`);
  if (s.maximum !== undefined) b.push(`≤ ${s.maximum}`);
  if (s.maxItems !== undefined) b.push(`≤ ${s.maxItems} items`);
  if (s.anyOf) b.push(...s.anyOf.map(boundsOf).filter(Boolean));
  if (s.type === 'object' && s.required)
    b.push(`members ${s.required.map((k: string) => `\`${k}\``).join(', ')}${s.additionalProperties === false ? ' only' : ''}`);
  if (s.type === 'array' && s.items) {
    const i = boundsOf(s.items);
    if (i) b.push(`each: ${i}`);
  }
  return b.join('; ');
}

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** The request section of a route: a field table from its live schema, then the schema itself. */
function renderRequest(route: Route, doc: RouteDoc): string[] {
  const out: string[] = [];
  if (doc.query) {
    out.push('Query parameters:', '', '| Parameter | Meaning |', '|---|---|');
    for (const [k, v] of Object.entries(doc.query)) out.push(`| \`${k}\` | ${cell(v)} |`);
    out.push('');
  }
  if (route.rawBody) out.push(`Request body: the raw bytes, \`Content-Type: ${doc.contentType}\`, at most ${route.maxBody} bytes.`, '');
  const schema = route.schema as Schema | undefined;
  if (!schema) {
    if (route.method === 'GET' && !doc.query) out.push('No parameters.', '');
    return out;
  }
  out.push(`Request body: JSON (\`Content-Type: ${doc.contentType}\`), at most ${route.maxBody} bytes. Fields (from the server's schema):`, '');
  out.push('| Field | Type | Required | Bounds | Meaning |', '|---|---|---|---|---|');
  const required = new Set<string>(schema.required ?? []);
  const oneOf = (schema.oneOf as Schema[] | undefined)?.flatMap((o) => o.required as string[]) ?? [];
  for (const [k, s] of Object.entries(schema.properties as Record<string, Schema>)) {
    const req = required.has(k) ? 'yes' : oneOf.includes(k) ? 'one of' : 'no';
    out.push(`| \`${k}\` | ${cell(typeOf(s))} | ${req} | ${cell(boundsOf(s))} | ${cell(doc.fields?.[k] ?? '')} |`);
  }
  out.push('');
  if (oneOf.length)
    out.push(`Exactly one of ${oneOf.map((k) => `\`${k}\``).join(', ')}.${schema.additionalProperties === false ? ' No other members.' : ''}`, '');
  else if (schema.additionalProperties === false) out.push('No other members.', '');
  out.push('<details><summary>Request JSON Schema</summary>', '', '```json', compactJson(schema), '```', '', '</details>', '');
  return out;
}

const bodyLink = (r: ResponseDoc) => (r.body === 'binary' ? 'bytes' : `[${r.body}](#${r.body.toLowerCase()})`);

function renderRoute(route: Route, doc: RouteDoc): string[] {
  const out = [`### \`${doc.method} ${doc.path}\``, '', doc.summary, ''];
  out.push(...renderRequest(route, doc));
  out.push('| Status | Body | When |', '|---:|---|---|');
  for (const r of doc.responses) out.push(`| ${r.status} | ${bodyLink(r)} | ${cell(r.when)} |`);
  out.push('', 'And the [common statuses](#common-statuses).', '');
  for (const e of doc.examples) {
    const expect = `${e.expect.status}${e.expect.code ? ` \`${e.expect.code}\`` : ''}`;
    out.push(`${e.title} → ${expect}${isTemplate(e) ? ' (a template: put in your own values)' : ''}:`, '', '```sh', curlOf(e), '```', '');
  }
  return out;
}

/**
 * The text between the routes markers: `docs` (ROUTE_DOCS) joined with the `served` routes.
 * @throws DceError ERR_DOC_ROUTE when a documented route is not served
 */
export function renderRoutes(docs: readonly RouteDoc[] = ROUTE_DOCS, routes: Route[] = servedRoutes()): string {
  const served = new Map(routes.map((r) => [`${r.method} ${r.path}`, r]));
  const out = [
    `Base URL: \`${DEFAULT_BASE_URL}\` (the default \`listen\`). Bodies are JSON unless said otherwise; every refusal is an [Error](#error) body.`,
    '',
  ];
  out.push('### Common statuses', '', "Any route can answer these, from the HTTP layer's guards and faults:", '', '| Status | Body | When |', '|---:|---|---|');
  for (const r of COMMON_RESPONSES) out.push(`| ${r.status} | ${bodyLink(r)} | ${cell(r.when)} |`);
  out.push('');
  for (const doc of docs) {
    const route = served.get(`${doc.method} ${doc.path}`);
    if (!route)
      throw new DceError('ERR_DOC_ROUTE', `routeDocs: ${doc.method} ${doc.path} is documented but the server does not serve it`, {
        hint: 'remove it from agent/daemon/routeDocs.ts, or serve it',
      });
    out.push(...renderRoute(route, doc));
  }
  return out.join('\n').trimEnd();
}

/** The text between the responses markers: every response body's JSON Schema. */
export function renderResponses(): string {
  const out: string[] = [];
  for (const [name, schema] of Object.entries(RESPONSE_SCHEMAS)) {
    const used = ROUTE_DOCS.flatMap((d) => d.responses.filter((r) => r.body === name).map((r) => `\`${d.method} ${d.path}\` ${r.status}`));
    const by =
      name === 'Error'
        ? 'Every refusal, by every route (the statuses each route lists with this body, and the common ones).'
        : used.length
          ? `Answered by ${used.join(', ')}.`
          : 'Part of other bodies.';
    out.push(`### ${name}`, '', by, '');
    out.push('```json', compactJson(schema), '```', '');
  }
  return out.join('\n').trimEnd();
}

/** The text between the errors markers: every code with its status (statusByCode.ts) and meaning. */
export function renderErrors(): string {
  const codes = Object.keys(STATUS_BY_CODE).sort((a, b) => STATUS_BY_CODE[a]! - STATUS_BY_CODE[b]! || a.localeCompare(b));
  const table = (list: string[]) => [
    '| Code | Status | Meaning |',
    '|---|---:|---|',
    ...list.map((c) => `| \`${c}\` | ${STATUS_BY_CODE[c]} | ${cell(ERROR_MEANINGS[c] ?? '')} |`),
  ];
  const out = table(codes.filter((c) => !NOT_ANSWERED.has(c)));
  out.push('', 'Two statuses are set by the HTTP layer for one case of a code:', '', '| Code | Status | When |', '|---|---:|---|');
  for (const o of STATUS_OVERRIDES) out.push(`| \`${o.code}\` | ${o.status} | ${cell(o.when)} |`);
  out.push(
    '',
    'Codes no request is answered with (raised by the CLI, the device tools, at start-up or on IPFS pubsub), with the status the table gives them:',
    '',
  );
  out.push(...table(codes.filter((c) => NOT_ANSWERED.has(c))));
  return out.join('\n');
}

/**
 * `current` (docs/API.md's text) with each marker region replaced by the generated text.
 * @throws DceError ERR_DOC_MARKERS when a begin/end marker pair is missing or out of order;
 *   ERR_DOC_ROUTE when a documented route is not served
 */
export function renderApiDoc(current: string): string {
  let text = current;
  for (const [name, body] of [
    ['routes', renderRoutes()],
    ['responses', renderResponses()],
    ['errors', renderErrors()],
  ] as const) {
    const begin = `<!-- ${name}:begin -->`;
    const end = `<!-- ${name}:end -->`;
    const i = text.indexOf(begin);
    const j = text.indexOf(end);
    if (i < 0 || j < i) {
      throw new DceError(
        'ERR_DOC_MARKERS',
        `docs/API.md: expected the markers ${begin} and then ${end}, found ${i < 0 ? `no ${begin}` : `${end} ${j < 0 ? 'missing' : 'before it'}`}`,
        {
          hint: 'put the two marker lines back where the generated section goes, then run npm run docs:api',
        },
      );
    }
    text = `${text.slice(0, i + begin.length)}\n<!-- generated by npm run docs:api (scripts/api-doc.ts): do not edit by hand -->\n\n${body}\n\n${text.slice(j)}`;
  }
  return text;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    const current = readFileSync(API_DOC, 'utf8');
    const next = renderApiDoc(current);
    if (process.argv.includes('--check')) {
      if (next !== current) {
        process.stderr.write('capsule: error: docs/API.md is not what scripts/api-doc.ts generates\ncapsule: hint: run npm run docs:api\n');
        process.exitCode = 1;
      }
    } else if (next !== current) writeFileSync(API_DOC, next);
  } catch (e) {
    process.stderr.write(`capsule: error: ${(e as Error).message}\n${(e as DceError).hint ? `capsule: hint: ${(e as DceError).hint}\n` : ''}`);
    process.exitCode = 1;
  }
}
