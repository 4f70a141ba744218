/**
 * docs/API.md against the server (issue 16, Build 3): the file is exactly what `npm run docs:api`
 * generates from the server's own route table and schemas; every route the server serves is
 * documented and nothing else is; and a real `capsule agent` on 127.0.0.1 (Zymbit simulator,
 * policy.ts compiled with asc, a wallet on the module, signing slot 1 and one wallet account
 * configured) answers every route, with a valid request and with bad ones, in bodies that validate
 * (ajv) against the documented response schema for their status, with error statuses equal to the
 * status table's for their code. The doc's runnable curl examples are sent as they are (same
 * method, headers and body, by fetch) and answer what the doc says.
 *
 * One agent for the whole suite. Deliberately not here: GET /v1/content's 200 (it needs an IPFS
 * network; test/publish.test.ts covers it) — here the route answers 400 and 501 (IPFS off).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { ed25519 } from '@noble/curves/ed25519.js';
import { ownerPublicKey, signWithOwner } from '../agent/crypto/identity.ts';
import { RESPONSE_SCHEMAS, type ResponseSchemaName } from '../agent/daemon/responseSchemas.ts';
import { COMMON_RESPONSES, ERROR_MEANINGS, NOT_ANSWERED, ROUTE_DOCS, STATUS_OVERRIDES, isTemplate, type RouteDoc } from '../agent/daemon/routeDocs.ts';
import { STATUS_BY_CODE, statusOf } from '../agent/daemon/statusByCode.ts';
import { API_DOC, curlOf, renderApiDoc, renderRoutes, requestOf, servedRoutes } from '../scripts/api-doc.ts';
import { throwsError } from './helpers/assertError.ts';
import { run, type Device } from './helpers/guardianDevice.ts';
import { identityOf, provisioned, setClock, startAgent, T, withAuth, type Running } from './helpers/runningAgent.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const key = (r: { method: string; path: string }) => `${r.method} ${r.path}`;

// ---- the document and the route table ----

test('docs/API.md is exactly what npm run docs:api generates from the server', () => {
  const current = readFileSync(API_DOC, 'utf8');
  assert.ok(current === renderApiDoc(current), 'docs/API.md is stale: run npm run docs:api');
  assert.match(current, /## 1\. Requester authentication/, 'the hand-written sections are kept');
});

test('the generator refuses a document whose markers are missing or out of order (ERR_DOC_MARKERS)', () => {
  const text = readFileSync(API_DOC, 'utf8');
  throwsError(
    () => renderApiDoc(text.replace('<!-- errors:begin -->', '')),
    'Error',
    'ERR_DOC_MARKERS',
    /^docs\/API\.md: expected the markers <!-- errors:begin --> and then <!-- errors:end -->, found no <!-- errors:begin -->$/,
  );
  throwsError(() => renderApiDoc('<!-- routes:end -->\n<!-- routes:begin -->\n'), 'Error', 'ERR_DOC_MARKERS', /found <!-- routes:end --> before it$/);
});

test('the generator refuses to document a route the server does not serve (ERR_DOC_ROUTE)', () => {
  const ghost = { ...ROUTE_DOCS[0]!, method: 'GET' as const, path: '/v1/ghost' };
  throwsError(
    () => renderRoutes([...ROUTE_DOCS, ghost]),
    'Error',
    'ERR_DOC_ROUTE',
    /^routeDocs: GET \/v1\/ghost is documented but the server does not serve it$/,
  );
});

test('every route the server serves is documented, and the doc lists no route the server lacks', () => {
  const served = servedRoutes();
  const documented = ROUTE_DOCS.map(key);
  assert.equal([...documented].sort(), served.map(key).sort());
  assert.is(new Set(documented).size, documented.length, 'each route once');
  const doc = readFileSync(API_DOC, 'utf8');
  for (const r of served) assert.ok(doc.includes(`### \`${key(r)}\``), `${key(r)} has its section`);
  // The fields described are exactly the schema's (a field added to the server needs its words here).
  for (const r of served) {
    const d = ROUTE_DOCS.find((x) => key(x) === key(r))!;
    const props = Object.keys((r.schema as { properties?: object } | undefined)?.properties ?? {}).sort();
    assert.equal(Object.keys(d.fields ?? {}).sort(), props, `${key(r)}: documented fields`);
    assert.is(d.contentType === undefined, r.method === 'GET', `${key(r)}: a content type for POST only`);
    for (const e of d.examples) assert.is(key(e).split('?')[0], key(r), `${key(r)}: example "${e.title}" is for this route`);
  }
});

test('every error code has one documented status and a meaning, and the overrides are real codes', () => {
  assert.equal(Object.keys(ERROR_MEANINGS).sort(), Object.keys(STATUS_BY_CODE).sort());
  for (const [code, meaning] of Object.entries(ERROR_MEANINGS)) assert.ok(meaning.length > 5, `${code} has a meaning`);
  for (const o of STATUS_OVERRIDES) assert.ok(o.code in STATUS_BY_CODE && o.status !== statusOf(o.code), `${o.code} ${o.status}`);
  for (const c of NOT_ANSWERED) assert.ok(c in STATUS_BY_CODE, `${c} (not answered) is a code of the table`);
  const doc = readFileSync(API_DOC, 'utf8');
  for (const [code, status] of Object.entries(STATUS_BY_CODE)) assert.ok(doc.includes(`| \`${code}\` | ${status} |`), `${code} ${status} in the table`);
});

test('curl examples are rendered from the request the test sends (quotes survive the shell)', () => {
  const wallet = ROUTE_DOCS.find((d) => d.path === '/v1/wallet/sign')!.examples.find((e) => !isTemplate(e))!;
  const line = curlOf(wallet, 'http://h:1');
  assert.ok(line.startsWith(`curl -sS -X POST 'http://h:1/v1/wallet/sign' -H 'content-type: application/json' --data-binary '`), line);
  const quoted = /--data-binary '(.*)'$/.exec(line)![1]!.replace(/'\\''/g, "'");
  assert.is(quoted, requestOf(wallet).body);
  assert.equal(JSON.parse(quoted), wallet.json);
});

// ---- the live agent ----

const ajv = new Ajv({ allErrors: true, strict: false });
const validators = new Map<string, ValidateFunction>();
const validatorOf = (name: ResponseSchemaName) => {
  let v = validators.get(name);
  if (!v) validators.set(name, (v = ajv.compile(RESPONSE_SCHEMAS[name])));
  return v;
};

interface Answer {
  status: number;
  body: any;
}
/** Which (route, status) pairs the live tests saw, to check each route was answered both ways. */
const seen = new Map<string, Set<number>>();

/**
 * Checks one live answer against the doc: its status is documented for the route (or common), its
 * body validates against one of the schemas documented for that status, and an error's status is
 * the table's for its code (or a documented override).
 */
function conforms(route: RouteDoc, a: Answer, what: string): void {
  const docs = [...route.responses, ...COMMON_RESPONSES].filter((r) => r.status === a.status);
  assert.ok(docs.length > 0, `${what}: status ${a.status} is not documented for ${key(route)} (body ${JSON.stringify(a.body)})`);
  if (docs.some((d) => d.body === 'binary')) return;
  const errors: string[] = [];
  const ok = docs.some((d) => {
    const v = validatorOf(d.body as ResponseSchemaName);
    if (v(a.body)) return true;
    errors.push(`${d.body}: ${ajv.errorsText(v.errors)}`);
    return false;
  });
  assert.ok(ok, `${what}: ${a.status} body does not validate (${errors.join('; ')}): ${JSON.stringify(a.body)}`);
  const code = a.body?.error?.code as string | undefined;
  if (a.status >= 400) {
    assert.ok(code, `${what}: an error body`);
    assert.not.ok(NOT_ANSWERED.has(code!), `${what}: ${code} is documented as never answered`);
    const override = STATUS_OVERRIDES.some((o) => o.code === code && o.status === a.status);
    assert.ok(override || statusOf(code!) === a.status, `${what}: ${code} answered ${a.status}, the table says ${statusOf(code!)}`);
  }
  let s = seen.get(key(route));
  if (!s) seen.set(key(route), (s = new Set()));
  s.add(a.status);
}

let agent: Running | undefined;
let d: Device;
let cleanup = () => {};
let me = '';
let meId: ReturnType<typeof identityOf>;
let policy: Uint8Array;
const capsules: Record<'tl' | 'dm' | 'mofn', { b64: string; id: string }> = {} as never;
const approver = ed25519.utils.randomSecretKey();
const PATH = "m/44'/60'/0'/0/0";

/**
 * One request by node:http (fetch cannot send another Host), a fresh connection each; the body is
 * parsed as JSON when the answer says it is JSON.
 */
function call(
  method: string,
  path: string,
  o: { json?: unknown; raw?: Uint8Array | string; type?: string; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const body = o.json !== undefined ? Buffer.from(JSON.stringify(o.json)) : o.raw !== undefined ? Buffer.from(o.raw) : undefined;
  const type = o.type ?? (o.json !== undefined ? 'application/json' : o.raw !== undefined ? 'application/wasm' : undefined);
  const { hostname, port } = new URL(agent!.url);
  return new Promise((resolve, reject) => {
    const headers = { ...(type ? { 'content-type': type } : {}), ...(body ? { 'content-length': String(body.length) } : {}), ...o.headers };
    const req = request({ host: hostname, port, method, path, agent: false, headers }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(parts).toString('utf8');
        resolve({ status: res.statusCode!, body: (res.headers['content-type'] ?? '').startsWith('application/json') ? JSON.parse(text) : text });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Sends a request to `route` and checks the answer against the doc and the expected status. */
async function expect(routeKey: string, status: number, what: string, req: () => Promise<Answer>, code?: string): Promise<Answer> {
  const route = ROUTE_DOCS.find((r) => key(r) === routeKey)!;
  const a = await req();
  assert.is(a.status, status, `${what}: ${JSON.stringify(a.body)}`);
  if (code) assert.is(a.body.error.code, code, what);
  conforms(route, a, what);
  return a;
}

test.before(async () => {
  const p = await provisioned();
  d = p.d;
  cleanup = p.cleanup;
  policy = readFileSync(join(d.dir, 'policy.wasm'));
  const logic = createHash('sha256').update(policy).digest('hex');
  meId = identityOf(d, 'me.key');
  me = meId.recipient;
  const created = run(d, ['wallet', 'create', 'hot', '--data-dir', d.data, '--mnemonic-to-stdout']);
  assert.is(created.code, 0, created.stderr);
  writeFileSync(join(d.dir, 'secret.bin'), 'the secret');
  const seal = (name: string, params: unknown, extra: string[] = []) => {
    const r = run(d, [
      'seal',
      'secret.bin',
      '--guardian',
      p.x25519,
      '--logic',
      'policy.wasm',
      '--params',
      JSON.stringify(params),
      '-o',
      `${name}.capsule`,
      ...extra,
    ]);
    assert.is(r.code, 0, r.stderr);
    const id = JSON.parse(run(d, ['inspect', `${name}.capsule`, '--json']).stdout).id as string;
    capsules[name as 'tl'] = { b64: readFileSync(join(d.dir, `${name}.capsule`)).toString('base64'), id };
  };
  const opens = { timeLock: { notBefore: T + 1000 } };
  seal('tl', opens);
  seal('dm', { deadMan: { beneficiaries: [me], silenceMs: 3_600_000 } }, ['--sign-with', 'owner.key']);
  seal('mofn', { mOfN: { threshold: 1, approvers: [{ scheme: 'ed25519', key: hex(ed25519.getPublicKey(approver)) }] } });
  agent = await startAgent(d, {
    ratePerSecond: 0,
    signing: [{ slot: 1, logic, params: opens }],
    wallet: { accounts: [{ wallet: 'hot', path: PATH, chain: 'ethereum', chainId: 1, logic, params: opens }] },
  });
});

test.after(async () => {
  try {
    if (agent) assert.is(await agent.stop(), 0, 'the agent stops cleanly');
  } finally {
    cleanup();
  }
});

test('live: GET /v1/status, POST /v1/modules, GET /v1/wallet/accounts answer as documented', async () => {
  await expect('GET /v1/status', 200, 'status', () => call('GET', '/v1/status'));
  await expect('GET /v1/status', 405, 'status by POST', () => call('POST', '/v1/status', { json: {} }), 'ERR_BAD_REQUEST');
  await expect('GET /v1/status', 421, 'a foreign Host', () => call('GET', '/v1/status', { headers: { host: 'evil.example' } }), 'ERR_MISDIRECTED');
  await expect('GET /v1/status', 403, 'a foreign Origin', () => call('GET', '/v1/status', { headers: { origin: 'http://evil.example' } }), 'ERR_FORBIDDEN');
  const pushed = await expect('POST /v1/modules', 201, 'push', () => call('POST', '/v1/modules', { raw: policy }));
  assert.is(pushed.body.sha256, createHash('sha256').update(policy).digest('hex'));
  await expect('POST /v1/modules', 422, 'not wasm', () => call('POST', '/v1/modules', { raw: 'not wasm' }), 'ERR_INVALID_MODULE');
  await expect('POST /v1/modules', 415, 'wrong type', () => call('POST', '/v1/modules', { raw: policy, type: 'text/plain' }), 'ERR_UNSUPPORTED_MEDIA_TYPE');
  await expect('POST /v1/modules', 413, 'too large', () => call('POST', '/v1/modules', { raw: new Uint8Array((1 << 20) + 1) }), 'ERR_TOO_LARGE');
  const accounts = await expect('GET /v1/wallet/accounts', 200, 'accounts', () => call('GET', '/v1/wallet/accounts'));
  assert.is(accounts.body.accounts.length, 1);
  assert.match(accounts.body.accounts[0].address, /^0x[0-9a-fA-F]{40}$/);
  await expect('GET /v1/wallet/accounts', 405, 'accounts by POST', () => call('POST', '/v1/wallet/accounts', { json: {} }), 'ERR_BAD_REQUEST');
});

test('live: POST /v1/release denies, allows, and refuses bad requests as documented', async () => {
  setClock(d, T);
  const denied = await expect(
    'POST /v1/release',
    403,
    'before the time lock',
    () => call('POST', '/v1/release', { json: { capsule: capsules.tl.b64, requester: me } }),
    'ERR_DENIED',
  );
  assert.match(denied.body.reason, /opens at/);
  setClock(d, T + 1000);
  await expect('POST /v1/release', 200, 'after the time lock', () => call('POST', '/v1/release', { json: { capsule: capsules.tl.b64, requester: me } }));
  await expect('POST /v1/release', 200, 'by id, authenticated', async () =>
    call('POST', '/v1/release', { json: await withAuth(agent!.url, '/v1/release', { id: capsules.tl.id, requester: me }, meId) }),
  );
  await expect(
    'POST /v1/release',
    400,
    'schema',
    () => call('POST', '/v1/release', { json: { capsule: capsules.tl.b64, requester: me, extra: 1 } }),
    'ERR_BAD_REQUEST',
  );
  await expect('POST /v1/release', 400, 'not JSON', () => call('POST', '/v1/release', { raw: '{"requester":', type: 'application/json' }), 'ERR_BAD_REQUEST');
  await expect(
    'POST /v1/release',
    400,
    'truncated capsule',
    () => call('POST', '/v1/release', { json: { capsule: capsules.tl.b64.slice(0, 200), requester: me } }),
    'ERR_TRUNCATED',
  );
  await expect(
    'POST /v1/release',
    401,
    'auth for another guardian',
    async () => call('POST', '/v1/release', { json: await withAuth(agent!.url, '/v1/release', { id: capsules.tl.id, requester: me }, meId, { guardian: me }) }),
    'ERR_UNAUTHENTICATED',
  );
  await expect('POST /v1/release', 404, 'unknown id', () => call('POST', '/v1/release', { json: { id: 'ab'.repeat(16), requester: me } }), 'ERR_NOT_FOUND');
  await expect(
    'POST /v1/release',
    501,
    'by CID, IPFS off',
    () => call('POST', '/v1/release', { json: { cid: 'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku', requester: me } }),
    'ERR_UNAVAILABLE',
  );
  await expect('POST /v1/release', 415, 'text/plain', () => call('POST', '/v1/release', { raw: '{}', type: 'text/plain' }), 'ERR_UNSUPPORTED_MEDIA_TYPE');
});

test('live: GET /v1/content answers 400 without a CID and 501 without IPFS', async () => {
  await expect('GET /v1/content', 400, 'no cid', () => call('GET', '/v1/content'), 'ERR_BAD_REQUEST');
  await expect(
    'GET /v1/content',
    501,
    'IPFS off',
    () => call('GET', '/v1/content?cid=bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku'),
    'ERR_UNAVAILABLE',
  );
});

test('live: POST /v1/checkin records a check-in and refuses its replay and strangers', async () => {
  const now = (await call('GET', '/v1/status')).body.now as number;
  const owner = identityOf(d, 'owner.key');
  const message = new TextEncoder().encode(`capsule-checkin:v1:${capsules.dm.id}:${now}`);
  const checkin = {
    kind: 'checkin',
    scheme: 'ed25519',
    signer: hex(ownerPublicKey(owner)),
    message: hex(message),
    signature: hex(signWithOwner(owner, message)),
  };
  const ok = await expect('POST /v1/checkin', 200, 'check-in', () => call('POST', '/v1/checkin', { json: { capsule: capsules.dm.b64, checkin } }));
  assert.is(ok.body.recorded, true);
  await expect('POST /v1/checkin', 409, 'replayed', () => call('POST', '/v1/checkin', { json: { capsule: capsules.dm.b64, checkin } }), 'ERR_REPLAYED');
  const stranger = ed25519.utils.randomSecretKey();
  const forged = { ...checkin, signer: hex(ed25519.getPublicKey(stranger)), signature: hex(ed25519.sign(message, stranger)) };
  await expect(
    'POST /v1/checkin',
    403,
    'a stranger',
    () => call('POST', '/v1/checkin', { json: { capsule: capsules.dm.b64, checkin: forged } }),
    'ERR_FORBIDDEN',
  );
  await expect(
    'POST /v1/checkin',
    400,
    'bad signature',
    () => call('POST', '/v1/checkin', { json: { capsule: capsules.dm.b64, checkin: { ...checkin, signature: '00'.repeat(64) } } }),
    'ERR_BAD_REQUEST',
  );
});

test("live: POST /v1/approvals stores a listed approver's approval once and refuses others", async () => {
  const message = new TextEncoder().encode(`capsule-approval:v1:${capsules.mofn.id}:${me}`);
  const approval = {
    kind: 'approval',
    scheme: 'ed25519',
    signer: hex(ed25519.getPublicKey(approver)),
    message: hex(message),
    signature: hex(ed25519.sign(message, approver)),
  };
  await expect('POST /v1/approvals', 201, 'stored', () => call('POST', '/v1/approvals', { json: { capsule: capsules.mofn.b64, requester: me, approval } }));
  await expect(
    'POST /v1/approvals',
    409,
    'again',
    () => call('POST', '/v1/approvals', { json: { capsule: capsules.mofn.b64, requester: me, approval } }),
    'ERR_REPLAYED',
  );
  const other = ed25519.utils.randomSecretKey();
  const unlisted = { ...approval, signer: hex(ed25519.getPublicKey(other)), signature: hex(ed25519.sign(message, other)) };
  await expect(
    'POST /v1/approvals',
    403,
    'not listed',
    () => call('POST', '/v1/approvals', { json: { capsule: capsules.mofn.b64, requester: me, approval: unlisted } }),
    'ERR_FORBIDDEN',
  );
  await expect(
    'POST /v1/approvals',
    404,
    'unknown capsule',
    () => call('POST', '/v1/approvals', { json: { id: 'cd'.repeat(16), requester: me, approval } }),
    'ERR_NOT_FOUND',
  );
  // The stored approval counts: the m-of-n capsule opens for that requester with no evidence sent.
  await expect('POST /v1/release', 200, 'opened by the stored approval', () =>
    call('POST', '/v1/release', { json: { capsule: capsules.mofn.b64, requester: me } }),
  );
});

test('live: POST /v1/sign and POST /v1/wallet/sign deny before the policy allows, then sign', async () => {
  const digest = createHash('sha256').update('pay bob').digest('hex');
  setClock(d, T);
  await expect('POST /v1/sign', 403, 'sign denied', () => call('POST', '/v1/sign', { json: { slot: 1, digest, requester: me } }), 'ERR_DENIED');
  const wallet = { kind: 'eth-message', message: 'hello', wallet: 'hot', path: PATH, requester: me };
  const wDenied = await expect('POST /v1/wallet/sign', 403, 'wallet denied', () => call('POST', '/v1/wallet/sign', { json: wallet }), 'ERR_DENIED');
  assert.is(wDenied.body.kind, 'eth-message');
  setClock(d, T + 1000);
  const signed = await expect('POST /v1/sign', 200, 'sign allowed', () => call('POST', '/v1/sign', { json: { slot: 1, digest, requester: me } }));
  assert.match(signed.body.signature, /^[0-9a-f]{128}$/);
  const wSigned = await expect('POST /v1/wallet/sign', 200, 'wallet signed', () => call('POST', '/v1/wallet/sign', { json: wallet }));
  assert.match(wSigned.body.output, /^0x[0-9a-f]{130}$/);
  await expect('POST /v1/sign', 404, 'no policy for the slot', () => call('POST', '/v1/sign', { json: { slot: 7, digest, requester: me } }), 'ERR_NOT_FOUND');
  await expect('POST /v1/sign', 400, 'short digest', () => call('POST', '/v1/sign', { json: { slot: 1, digest: 'abcd', requester: me } }), 'ERR_BAD_REQUEST');
  await expect(
    'POST /v1/wallet/sign',
    404,
    'no such account',
    () => call('POST', '/v1/wallet/sign', { json: { ...wallet, path: "m/44'/60'/0'/0/9" } }),
    'ERR_NOT_FOUND',
  );
  await expect(
    'POST /v1/wallet/sign',
    403,
    'raw digest not allowed',
    () => call('POST', '/v1/wallet/sign', { json: { kind: 'raw-digest', digest, wallet: 'hot', path: PATH, requester: me } }),
    'ERR_RAW_DIGEST_NOT_ALLOWED',
  );
  await expect('POST /v1/wallet/sign', 400, 'two payloads', () => call('POST', '/v1/wallet/sign', { json: { ...wallet, digest } }), 'ERR_BAD_SIGN_REQUEST');
  await expect(
    'POST /v1/wallet/sign',
    422,
    'a PSBT for an Ethereum account',
    () => call('POST', '/v1/wallet/sign', { json: { kind: 'btc-psbt', psbt: 'cHNidP8=', wallet: 'hot', path: PATH, requester: me } }),
    'ERR_WRONG_CHAIN',
  );
});

test('live: an unknown path is 404 and a body over the limit 413, in the documented Error body', async () => {
  const a = await call('GET', '/v2/status');
  assert.is(a.status, 404);
  const code = a.body?.error?.code as string;
  assert.ok(validatorOf('Error')(a.body), JSON.stringify(a.body));
  assert.is(statusOf(code), 404);
  await expect(
    'POST /v1/release',
    413,
    'too large',
    () => call('POST', '/v1/release', { raw: `{"requester":"${'x'.repeat(300_000)}"}`, type: 'application/json' }),
    'ERR_TOO_LARGE',
  );
});

test('live: the runnable curl examples in docs/API.md answer what the doc says', async () => {
  const runnable = ROUTE_DOCS.flatMap((r) => r.examples.filter((e) => !isTemplate(e)).map((e) => ({ r, e })));
  assert.ok(
    runnable.some(({ e }) => e.path === '/v1/status') && runnable.some(({ e }) => e.expect.status >= 400),
    'the status example and an error example run',
  );
  const doc = readFileSync(API_DOC, 'utf8');
  for (const { r, e } of runnable) {
    assert.ok(doc.includes(curlOf(e)), `"${e.title}" is in the doc as rendered`);
    const q = requestOf(e);
    const res = await fetch(agent!.url + q.path, { method: q.method, headers: q.headers, body: q.body });
    const body = await res.json();
    assert.is(res.status, e.expect.status, `${e.title}: ${JSON.stringify(body)}`);
    if (e.expect.code) assert.is((body as { error: { code: string } }).error.code, e.expect.code, e.title);
    conforms(r, { status: res.status, body }, e.title);
  }
});

test('live: every route was answered with a success and with an error, each as documented', () => {
  for (const r of ROUTE_DOCS) {
    const s = [...(seen.get(key(r)) ?? [])];
    // GET /v1/content's 200 needs an IPFS network (see the header comment).
    if (r.path !== '/v1/content')
      assert.ok(
        s.some((x) => x < 300),
        `${key(r)}: a success (saw ${s})`,
      );
    assert.ok(
      s.some((x) => x >= 400),
      `${key(r)}: an error (saw ${s})`,
    );
  }
});

test.run();
