/**
 * Keeping web pages out of the API (issue 18 D13): a page open in a browser on the guardian's
 * network can send "simple" cross-origin POSTs (text/plain, no preflight) and, through DNS
 * rebinding, read answers under its own name. So:
 *
 * - every POST must carry the exact media type of its route (application/json, or application/wasm
 *   for module uploads): a browser cannot send those cross-origin without a CORS preflight, which
 *   this API never grants (415 ERR_UNSUPPORTED_MEDIA_TYPE);
 * - the Host header must be one this guardian answers to (421 ERR_MISDIRECTED): localhost,
 *   127.0.0.1, [::1] and the listen address, each with the listen port; the IP literal (with port)
 *   the connection arrived on (a rebinding attack needs a DNS name, so an IP literal is safe);
 *   and the operator's `allowedHosts`;
 * - a request carrying an Origin (browsers add it to cross-origin and to POST requests) is refused
 *   unless that origin's host is an allowed Host (403 ERR_FORBIDDEN). Command-line clients send none.
 *
 * Deliberately not here: authentication of requesters (RequestAuthenticator.ts), rate limits.
 */
import type { IncomingMessage } from 'node:http';
import { isIPv6 } from 'node:net';
import { AgentError } from '../errors.ts';

const bracket = (host: string) => (isIPv6(host) ? `[${host}]` : host);

/** The Host values (lowercase, with port) accepted besides the connection's own IP literal. */
export function allowedHostSet(listenHost: string, port: number, extra: readonly string[]): Set<string> {
  const out = new Set([`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, `${bracket(listenHost).toLowerCase()}:${port}`]);
  for (const h of extra) out.add((/^(?:\[[^\]]+\]|[^:[\]]+):[0-9]+$/.test(h) ? h : `${h}:${port}`).toLowerCase());
  return out;
}

/** The host:port of the connection's local end, as a browser would write it in Host. */
function localLiteral(req: IncomingMessage): string | undefined {
  const a = req.socket.localAddress;
  if (!a) return undefined;
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(a);
  return `${v4 ? v4[1] : bracket(a)}:${req.socket.localPort}`.toLowerCase();
}

/** @throws AgentError ERR_MISDIRECTED (421) for a missing or unknown Host. */
export function checkHost(req: IncomingMessage, allowed: Set<string>): void {
  const host = req.headers.host?.toLowerCase();
  if (host !== undefined && (allowed.has(host) || host === localLiteral(req))) return;
  throw new AgentError(
    'ERR_MISDIRECTED',
    host === undefined
      ? 'Host header: missing; this guardian answers only requests naming it'
      : `Host header: ${JSON.stringify(host.slice(0, 100))} is not a name this guardian answers to (expected one of ${[...allowed].join(', ')} or the IP address it was reached at)`,
    {
      hint: 'add the name to allowedHosts in the agent configuration if it is yours (unknown names are refused against DNS rebinding)',
    },
  );
}

/** @throws AgentError ERR_FORBIDDEN (403) for an Origin whose host is not an allowed Host. */
export function checkOrigin(req: IncomingMessage, allowed: Set<string>): void {
  const origin = req.headers.origin;
  if (origin === undefined) return;
  let host: string | undefined;
  try {
    const u = new URL(origin);
    host = u.protocol === 'http:' || u.protocol === 'https:' ? `${u.hostname}:${u.port || (u.protocol === 'http:' ? 80 : 443)}`.toLowerCase() : undefined;
  } catch {
    host = undefined; // "null" (sandboxed frames, file:) and garbage
  }
  if (host !== undefined && (allowed.has(host) || host === localLiteral(req))) return;
  throw new AgentError(
    'ERR_FORBIDDEN',
    `Origin header: requests from the web page ${JSON.stringify(origin.slice(0, 100))} are refused (the API is not for browsers)`,
    {
      hint: 'use the capsule CLI or an HTTP client that sends no Origin header',
    },
  );
}

/**
 * The body's media type (parameters such as charset ignored) must be exactly `expected`.
 * @throws AgentError ERR_UNSUPPORTED_MEDIA_TYPE (415).
 */
export function checkContentType(req: IncomingMessage, expected: string): void {
  const got = req.headers['content-type'];
  const type = got?.split(';')[0]!.trim().toLowerCase();
  if (type === expected) return;
  throw new AgentError(
    'ERR_UNSUPPORTED_MEDIA_TYPE',
    `Content-Type: expected ${expected} for ${req.method} ${(req.url ?? '').split('?')[0]}, got ${got === undefined ? 'none' : JSON.stringify(got.slice(0, 100))}`,
    {
      hint: `send the body with "Content-Type: ${expected}"`,
    },
  );
}
