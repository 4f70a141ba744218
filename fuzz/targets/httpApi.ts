/**
 * Fuzz target: the agent's HTTP request handling — route schemas (agent/daemon/api.ts), body
 * parsing, content types and methods — through a real `capsule agent` on 127.0.0.1 (simulator
 * module, standard policy, rate limits off so that every request reaches validation).
 *
 * Requests are valid bodies for /v1/release, /v1/checkin, /v1/sign, /v1/approvals with fields
 * replaced, removed or added; the same serialized JSON with its bytes mutated; arbitrary JSON;
 * and raw module pushes. Properties: every answer is JSON with a typed error code (never 500
 * ERR_INTERNAL, and the agent logs no internal-error); no request hangs (bounded per case); the
 * agent never dies; a release that answers 200 carries a prefix of the genuine capsule.
 */
import fc from 'fast-check';
import { request, Agent as HttpAgent } from 'node:http';
import { createHash } from 'node:crypto';
import { DceError } from '../../agent/errors.ts';
import { bounded, drive, equalBytes, mutate, mutationArb, type Mutation, type FuzzOptions, type FuzzResult, type Verdict } from '../drive.ts';
import { checkinBody, guardianFixture, T } from '../guardian.ts';

/** What the agent answered, made typed when it is a well-formed error answer. */
export class HttpAnswerError extends DceError {
  override readonly name = 'HttpAnswerError';
}

interface Req {
  method: string;
  path: string;
  type: string | undefined;
  body: Uint8Array;
  release?: Uint8Array;
}

const PATHS = [
  '/v1/release',
  '/v1/checkin',
  '/v1/sign',
  '/v1/approvals',
  '/v1/modules',
  '/v1/status',
  '/v1/content',
  '/v1/nope',
  '/v1/release/',
  '//v1/sign',
  '/v1/release?x=1',
];
const TYPES = [
  'application/json',
  'application/json',
  'application/json',
  'application/json; charset=utf-8',
  'text/plain',
  'application/wasm',
  'application/x-www-form-urlencoded',
  undefined,
  'APPLICATION/JSON',
  'multipart/form-data; boundary=x',
];

export async function run(opts: FuzzOptions): Promise<FuzzResult> {
  const f = await guardianFixture();
  const http = new HttpAgent({ keepAlive: true, maxSockets: 8 });
  const { hostname: host, port } = new URL(f.agent.url);
  try {
    const digest = createHash('sha256').update('fuzz').digest('hex');
    const me = f.me.recipient;
    const templates: Record<string, Record<string, unknown>> = {
      '/v1/release': { capsule: f.allow.toString('base64'), requester: me },
      '/v1/checkin': checkinBody(f, T),
      '/v1/sign': { slot: 1, digest, requester: me },
      '/v1/approvals': {
        capsule: f.deny.toString('base64'),
        requester: me,
        approval: { kind: 'approval', scheme: 'ed25519', signer: 'ab'.repeat(32), message: '00', signature: 'cd'.repeat(64) },
      },
    };
    const routes = Object.keys(templates);
    const value = fc.oneof(
      fc.jsonValue({ maxDepth: 2 }),
      fc.constantFrom(
        '',
        'ab'.repeat(32),
        f.deny.toString('base64'),
        f.allow.toString('base64').slice(0, 400),
        me,
        me.toUpperCase(),
        'ff'.repeat(16),
        -1,
        65536,
        1e308,
        null,
      ),
      fc.string({ maxLength: 300 }),
    );
    const fieldEdit = fc.record({
      key: fc.oneof(
        fc.constantFrom('capsule', 'id', 'cid', 'header', 'requester', 'evidence', 'auth', 'checkin', 'approval', 'slot', 'digest', '__proto__', 'constructor'),
        fc.string({ maxLength: 8 }),
      ),
      op: fc.constantFrom('set', 'delete'),
      value,
    });
    const jsonReq = fc
      .record({
        route: fc.constantFrom(...routes),
        edits: fc.array(fieldEdit, { maxLength: 3 }),
        byteMuts: fc.oneof(
          { weight: 3, arbitrary: fc.constant([] as Mutation[]) },
          { weight: 1, arbitrary: fc.array(mutationArb(), { minLength: 1, maxLength: 3 }) },
        ),
        type: fc.oneof({ weight: 8, arbitrary: fc.constant('application/json') }, { weight: 2, arbitrary: fc.constantFrom(...TYPES) }),
        method: fc.oneof({ weight: 19, arbitrary: fc.constant('POST') }, { weight: 1, arbitrary: fc.constantFrom('GET', 'PUT', 'DELETE', 'OPTIONS') }),
        path: fc.oneof({ weight: 19, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom(...PATHS) }),
      })
      .map(({ route, edits, byteMuts, type, method, path }): Req => {
        const o: Record<string, unknown> = JSON.parse(JSON.stringify(templates[route]));
        for (const e of edits) {
          if (e.op === 'delete') delete o[e.key];
          else Object.defineProperty(o, e.key, { value: e.value, enumerable: true, configurable: true, writable: true });
        }
        const body = mutate(new TextEncoder().encode(JSON.stringify(o)), byteMuts);
        const p = path ?? route;
        return { method, path: p, type, body, release: p === '/v1/release' ? body : undefined };
      });
    const rawReq = fc
      .record({
        path: fc.constantFrom(...PATHS),
        type: fc.constantFrom(...TYPES),
        body: fc.oneof(
          fc.uint8Array({ maxLength: 300 }),
          fc.jsonValue({ maxDepth: 3 }).map((v) => new TextEncoder().encode(JSON.stringify(v) ?? 'null')),
        ),
      })
      .map(({ path, type, body }): Req => ({ method: 'POST', path, type, body, release: path === '/v1/release' ? body : undefined }));
    const arb = fc.oneof({ weight: 9, arbitrary: jsonReq }, { weight: 1, arbitrary: rawReq });

    const send = (r: Req) =>
      new Promise<{ status: number; text: string }>((resolve, reject) => {
        const headers: Record<string, string | number> = { 'content-length': r.body.length };
        if (r.type !== undefined) headers['content-type'] = r.type;
        const req = request({ host, port, method: r.method, path: r.path, headers, agent: http }, (res) => {
          const parts: Buffer[] = [];
          res.on('data', (c) => parts.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(parts).toString('utf8') }));
          res.on('error', reject);
        });
        req.on('error', reject);
        req.end(r.body);
      });
    const genuine = f.allow;
    const evaluate = async (r: Req): Promise<Verdict> => {
      let a: { status: number; text: string };
      try {
        a = await bounded(send(r), opts.hangMs ?? 10_000, `${r.method} ${r.path}`);
      } catch (e) {
        if ((e as Error).name === 'Hang') throw e;
        // A refused connection means the agent died: a crash, counted by the caller as untyped too.
        throw Object.assign(new Error(`request failed: ${(e as Error).message}`), { crash: true });
      }
      let json: { error?: { code?: unknown; message?: unknown } } | undefined;
      try {
        json = JSON.parse(a.text);
      } catch {
        throw new Error(`${a.status} answer is not JSON: ${a.text.slice(0, 80)}`);
      }
      if (a.status >= 400) {
        const code = json?.error?.code;
        if (typeof code !== 'string' || code === 'ERR_INTERNAL' || (a.status >= 500 && a.status !== 501 && a.status !== 503 && a.status !== 507)) {
          throw new Error(`${a.status} ${a.text.slice(0, 160)}`);
        }
        throw new HttpAnswerError(code, String(json?.error?.message));
      }
      if (a.status === 200 && r.release) {
        // An allow must be for (a prefix of) the genuine capsule: never for modified bytes.
        let sent: Uint8Array | undefined;
        try {
          sent = Buffer.from(JSON.parse(Buffer.from(r.release).toString('utf8')).capsule, 'base64');
        } catch {
          sent = undefined;
        }
        if (!sent || sent.length < 200 || !equalBytes(sent, genuine.subarray(0, sent.length)))
          return { wrong: 'release allowed for bytes that are not the genuine capsule' };
      }
      return 'ok';
    };
    const result = await drive(
      'http api',
      arb,
      evaluate,
      { concurrency: 8, ...opts },
      (r) => `${r.method} ${r.path} [${r.type}] ${Buffer.from(r.body).toString('utf8').slice(0, 300)}`,
    );
    // The agent must still serve, and must have logged no internal error.
    const alive = await bounded(fetch(f.agent.url + '/v1/status'), 10_000, 'status').then(
      (s) => s.status === 200,
      () => false,
    );
    if (!alive) {
      result.crashes++;
      result.failures.push('the agent no longer answers /v1/status');
    }
    const internal = f.agent
      .log()
      .split('\n')
      .filter((l) => l.includes('"internal-error"'));
    if (internal.length) {
      result.failures.push(`agent logged ${internal.length} internal-error events: ${internal[0]!.slice(0, 300)}`);
    }
    return result;
  } finally {
    http.destroy();
    await f.cleanup();
  }
}
