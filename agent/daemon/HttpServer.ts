/**
 * The agent's HTTP plumbing on node:http (no framework: six routes do not need one, and every
 * dependency is attack surface on a key guardian): routes by method and path, bodies capped and
 * parsed as JSON, validated with ajv (JSON Schema), typed errors mapped to statuses and a
 * `{ "error": { "code", "message", "hint" } }` body, rate limits per address, network and in total
 * (RateLimiter.ts), the guards against web pages (browserGuards.ts: Host, Origin, Content-Type),
 * the request context (client key) for the scheduler, and the timeouts that stop slow clients
 * (headers and whole request within `requestTimeoutMs`).
 *
 * close() stops accepting, lets in-flight requests finish (answers get `connection: close`), then
 * resolves.
 *
 * Loaded when first needed rather than at start (issue 15, memory budget): ajv (~10 MiB of RSS with
 * its compiled validators) at the first request whose route has a schema, and `more` routes (the
 * agent's decision endpoints and everything they import) at the first request that no route given
 * to the constructor answers. Until then an idle agent holds neither.
 *
 * Deliberately not here: what the routes do (api.ts, coreRoutes.ts) and logging policy (Agent.ts).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ValidateFunction } from 'ajv';
import { AgentError, DceError } from '../errors.ts';
import { allowedHostSet, checkContentType, checkHost, checkOrigin } from './browserGuards.ts';
import { clientKey } from './clientAddress.ts';
import { RateLimiter } from './RateLimiter.ts';
import { requestContext } from './requestContext.ts';
import { receiptOfError } from './Receipt.ts';
import { statusOf } from './statusByCode.ts';

export interface Reply {
  status: number;
  body: unknown;
  /** Extra response headers (e.g. retry-after). */
  headers?: Record<string, string>;
  /** Raw bytes instead of JSON (with this content type). */
  raw?: { bytes: Uint8Array; type: string };
  /** A streamed body (chunked). A failure half-way destroys the connection: the client sees a truncated body. */
  stream?: { chunks: AsyncIterable<Uint8Array>; type: string };
}

export interface Route {
  method: 'GET' | 'POST';
  path: string;
  /** JSON Schema of the body (POST with a JSON body). */
  schema?: object;
  /** Largest body accepted, bytes. */
  maxBody: number;
  /** The body is raw bytes (not JSON), sent as `application/wasm` (RAW_TYPE). */
  rawBody?: boolean;
  handle(body: unknown, req: IncomingMessage): Promise<Reply>;
}

export interface HttpOptions {
  host: string;
  port: number;
  requestTimeoutMs: number;
  /** Requests per second per client address (token bucket, burst = 2 × rate). 0 disables all rate limits. */
  ratePerSecond: number;
  /** Requests per second per /24 (IPv4) or /64 (IPv6) network. 0 (or absent) disables. */
  ratePerNetwork?: number;
  /** Requests per second from all clients together. 0 (or absent) disables. */
  rateGlobal?: number;
  /** Host header values accepted besides the defaults (see browserGuards.ts). */
  allowedHosts?: string[];
  log: (event: string, fields: Record<string, unknown>) => void;
  /**
   * Further routes, loaded at the first request the constructor's routes do not answer (and then
   * kept); a route given to the constructor wins over one of these with the same method and path.
   */
  more?: () => Promise<Route[]>;
}

type Table = Map<string, Route & { validate?: Promise<ValidateFunction> }>;

/** ajv, imported and instantiated at the first schema compiled (then shared by every route). */
let ajv: Promise<{ compile(schema: object): ValidateFunction }> | undefined;
function validator(schema: object): Promise<ValidateFunction> {
  ajv ??= import('ajv').then(({ Ajv }) => new Ajv({ allErrors: false, coerceTypes: false, removeAdditional: false }));
  return ajv.then((a) => a.compile(schema));
}

/** The one media type of raw (binary) POST bodies: module uploads are WebAssembly. */
export const RAW_TYPE = 'application/wasm';

export class HttpServer {
  readonly #routes: Table = new Map();
  /** The `more` routes added to #routes, once loaded (a failed load is tried again by the next request). */
  #more: Promise<void> | undefined;
  readonly #opts: HttpOptions;
  readonly #limiter: RateLimiter;
  #allowedHosts = new Set<string>();
  #server: Server | undefined;
  #closing = false;
  #inFlight = 0;
  #served = 0;

  constructor(routes: Route[], opts: HttpOptions) {
    this.#add(routes);
    this.#opts = opts;
    // ratePerSecond 0 turns rate limiting off altogether (as before the network and global levels existed).
    const on = opts.ratePerSecond > 0;
    this.#limiter = new RateLimiter({
      perAddress: opts.ratePerSecond,
      perNetwork: on ? (opts.ratePerNetwork ?? 0) : 0,
      global: on ? (opts.rateGlobal ?? 0) : 0,
    });
  }

  /** Adds routes (not replacing any); each schema is compiled at its route's first request. */
  #add(routes: Route[]): void {
    for (const r of routes) {
      const key = `${r.method} ${r.path}`;
      if (this.#routes.has(key)) continue;
      let validate: Promise<ValidateFunction> | undefined;
      const schema = r.schema;
      this.#routes.set(
        key,
        schema
          ? {
              ...r,
              get validate() {
                return (validate ??= validator(schema));
              },
            }
          : { ...r },
      );
    }
  }

  /** The route for `key`, loading the `more` routes first when it is not among those known. */
  async #route(key: string): Promise<(Route & { validate?: Promise<ValidateFunction> }) | undefined> {
    const known = this.#routes.get(key);
    if (known || !this.#opts.more) return known;
    const more = this.#opts.more;
    this.#more ??= more().then(
      (r) => this.#add(r),
      (e) => {
        this.#more = undefined;
        throw e;
      },
    );
    await this.#more;
    return this.#routes.get(key);
  }

  get address(): AddressInfo | undefined {
    return (this.#server?.address() as AddressInfo | null) ?? undefined;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** Requests answered (or failed) since start. */
  get served(): number {
    return this.#served;
  }

  async listen(): Promise<AddressInfo> {
    const o = this.#opts;
    const server = createServer(
      {
        requestTimeout: o.requestTimeoutMs,
        headersTimeout: o.requestTimeoutMs,
        connectionsCheckingInterval: Math.min(1000, o.requestTimeoutMs),
        keepAliveTimeout: 5000,
      },
      (req, res) => void this.#serve(req, res),
    );
    server.maxRequestsPerSocket = 1000;
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(o.port, o.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const a = server.address() as AddressInfo;
    this.#allowedHosts = allowedHostSet(o.host, a.port, o.allowedHosts ?? []);
    return a;
  }

  /** Stops accepting; resolves once in-flight requests are answered. */
  async close(): Promise<void> {
    this.#closing = true;
    const s = this.#server;
    if (!s) return;
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeIdleConnections();
    });
  }

  async #serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.#inFlight++;
    const started = performance.now();
    let status = 500;
    try {
      const reply = await requestContext.run({ client: clientKey(req.socket.remoteAddress) }, () => this.#dispatch(req));
      status = reply.status;
      if (reply.stream) await this.#stream(res, reply.status, reply.stream);
      else this.#send(res, reply);
    } catch (e) {
      if (!req.readableEnded) req.resume(); // a refused body is drained, so the connection stays usable
      const reply = errorReply(e);
      status = reply.status;
      // Anything that is not one of our typed errors is logged (type and stack only: our errors
      // never carry secrets, and a bug's message reaches the log, not the client).
      if (!(e instanceof DceError)) this.#opts.log('internal-error', { path: req.url, error: String((e as Error)?.stack ?? e) });
      this.#send(res, reply);
    } finally {
      this.#inFlight--;
      this.#served++;
      this.#opts.log('request', { method: req.method, path: req.url, status, ms: +(performance.now() - started).toFixed(2) });
    }
  }

  async #dispatch(req: IncomingMessage): Promise<Reply> {
    this.#limiter.take(req.socket.remoteAddress);
    checkHost(req, this.#allowedHosts);
    checkOrigin(req, this.#allowedHosts);
    const path = (req.url ?? '/').split('?')[0]!;
    let route;
    try {
      route = await this.#route(`${req.method} ${path}`);
    } catch (e) {
      req.resume();
      throw e;
    }
    if (!route) {
      const known = [...this.#routes.values()].some((r) => r.path === path);
      req.resume();
      if (known)
        throw new AgentError('ERR_BAD_REQUEST', `${req.method} is not allowed on ${path}`, {
          status: 405 /* the code's 400 is for bodies */,
          hint: 'see the endpoint list at the top of agent/daemon/api.ts',
        });
      throw new AgentError('ERR_NOT_FOUND', `no such endpoint: ${path}`, { hint: 'the API is under /v1; see GET /v1/status' });
    }
    if (route.method === 'GET') return route.handle(undefined, req);
    try {
      checkContentType(req, route.rawBody ? RAW_TYPE : 'application/json');
    } catch (e) {
      req.resume();
      throw e;
    }
    const raw = await readBody(req, route.maxBody);
    if (route.rawBody) return route.handle(raw, req);
    let body: unknown;
    try {
      body = JSON.parse(Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('utf8'));
    } catch (cause) {
      throw new AgentError('ERR_BAD_REQUEST', 'body: not valid JSON', { cause });
    } finally {
      // The bytes are parsed: free them now rather than at V8's next full collection. Under load
      // a request outlives two scavenges, so its body would wait for a mark-compact, which V8
      // starts only after ≈64 MiB of such garbage (issue 15: ≈15 MiB less malloc heap at 64 clients).
      (raw.buffer as ArrayBuffer & { transfer(length: number): ArrayBuffer }).transfer(0);
    }
    const validate = await route.validate;
    if (validate && !validate(body)) {
      const e = validate.errors?.[0];
      const where = e?.instancePath ? `body${e.instancePath.replace(/\//g, '.')}` : 'body';
      const extra = e?.keyword === 'additionalProperties' ? ` (${JSON.stringify((e.params as { additionalProperty: string }).additionalProperty)})` : '';
      throw new AgentError('ERR_BAD_REQUEST', `${where}: ${e?.message ?? 'invalid'}${extra}`);
    }
    return route.handle(body, req);
  }

  async #stream(res: ServerResponse, status: number, s: NonNullable<Reply['stream']>): Promise<void> {
    const it = s.chunks[Symbol.asyncIterator]();
    let first: IteratorResult<Uint8Array>;
    try {
      first = await it.next(); // errors before any byte become a proper error reply
    } catch (e) {
      await it.return?.();
      throw e;
    }
    if (this.#closing) res.setHeader('connection', 'close');
    res.writeHead(status, { 'content-type': s.type });
    async function* rest(): AsyncGenerator<Uint8Array> {
      if (first.done) return;
      yield first.value;
      for (let r = await it.next(); !r.done; r = await it.next()) yield r.value;
    }
    // pipeline: backpressure, and a client that goes away ends (returns) the source; a source
    // that fails half-way destroys the response, so the client sees a truncated body.
    try {
      await pipeline(Readable.from(rest(), { objectMode: false }), res);
    } catch (e) {
      this.#opts.log('stream-ended', { code: (e as DceError).code ?? (e as NodeJS.ErrnoException).code, message: (e as Error).message });
      res.destroy();
      await it.return?.().catch(() => {});
    }
  }

  #send(res: ServerResponse, reply: Reply): void {
    if (this.#closing) res.setHeader('connection', 'close');
    if (reply.raw) {
      res.writeHead(reply.status, { 'content-type': reply.raw.type, 'content-length': reply.raw.bytes.length });
      res.end(reply.raw.bytes);
      return;
    }
    const text = JSON.stringify(reply.body) + '\n';
    res.writeHead(reply.status, { ...reply.headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }
}

function readBody(req: IncomingMessage, max: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (declared > max) {
      req.resume();
      reject(new AgentError('ERR_TOO_LARGE', `body: ${declared} bytes, above the ${max}-byte limit of this endpoint`));
      return;
    }
    const parts: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) {
        reject(new AgentError('ERR_TOO_LARGE', `body: above the ${max}-byte limit of this endpoint`));
        req.destroy();
        return;
      }
      parts.push(c);
    });
    // A copy into an ArrayBuffer of its own (never Node's shared pool): #dispatch frees it after parsing.
    req.on('end', () => resolve(new Uint8Array(Buffer.concat(parts))));
    req.on('error', reject);
  });
}

/** Typed errors keep their code and message; anything else is an internal error (no details out). */
export function errorReply(e: unknown): Reply {
  // An error answered after its decision was audited carries the entry's receipt (A1, Receipt.ts).
  const receipt = receiptOfError(e);
  if (receipt) {
    const r = errorReplyOf(e);
    return { ...r, body: { ...(r.body as object), receipt } };
  }
  return errorReplyOf(e);
}

function errorReplyOf(e: unknown): Reply {
  if (e instanceof DceError) {
    // The status is the code's (statusByCode.ts); an AgentError carries one only where the HTTP
    // layer itself answers a code otherwise (405, 501).
    const status = (e instanceof AgentError ? e.status : undefined) ?? statusOf(e.code);
    // An error that says when to come back (429 rate limit, 503 overload) carries `retryAfter` seconds.
    const retry = (e as { retryAfter?: unknown }).retryAfter;
    const headers = typeof retry === 'number' && Number.isFinite(retry) && retry >= 0 ? { 'retry-after': String(Math.ceil(retry)) } : undefined;
    return { status, headers, body: { error: { code: e.code, message: e.message, hint: e.hint } } };
  }
  // An operation cut short by the agent stopping (or its own timeout): try again later.
  if ((e as Error)?.name === 'AbortError' || (e as Error)?.name === 'TimeoutError')
    return {
      status: statusOf('ERR_UNAVAILABLE'),
      body: { error: { code: 'ERR_UNAVAILABLE', message: 'interrupted (the agent is stopping, or the operation timed out)', hint: 'retry shortly' } },
    };
  // Argument validation at our boundaries throws TypeError/RangeError naming the argument; it is
  // passed on as a bad request (one line), and logged too in case it was a bug.
  if (e instanceof TypeError || e instanceof RangeError)
    return { status: statusOf('ERR_BAD_REQUEST'), body: { error: { code: 'ERR_BAD_REQUEST', message: e.message.split('\n')[0] } } };
  return { status: statusOf('ERR_INTERNAL'), body: { error: { code: 'ERR_INTERNAL', message: 'internal error' } } };
}
