/**
 * The HTTP surface against web pages and address rotation (issue 18 D13, D3's rate-limit part):
 * the real agent over HTTP on 127.0.0.1 with the headers a browser sends (a text/plain "simple"
 * POST, a DNS-rebinding Host, a foreign Origin), and rate limits per address, per /24 and global
 * exercised from real sockets bound to 127.0.0.2…11. The request context (client key) is checked
 * on the real HttpServer in-process.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { request } from 'node:http';
import { currentClient } from '../agent/daemon/requestContext.ts';
import { HttpServer } from '../agent/daemon/HttpServer.ts';
import { clientKey, networkKey } from '../agent/daemon/clientAddress.ts';
import { RateLimiter } from '../agent/daemon/RateLimiter.ts';
import { loadConfig } from '../agent/daemon/config.ts';
import { throwsError, rejectsError } from './helpers/assertError.ts';
import { provisioned, startAgent, type Running } from './helpers/runningAgent.ts';

interface Raw {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  json: Record<string, any>;
}

/** One request over a fresh socket: exact headers (Host included), optional source address. */
function send(
  url: string,
  o: { method?: string; path: string; headers?: Record<string, string>; body?: string | Uint8Array; localAddress?: string; setHost?: boolean },
): Promise<Raw> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        method: o.method ?? 'GET',
        path: o.path,
        headers: o.headers,
        localAddress: o.localAddress,
        setHost: o.setHost ?? true,
        agent: false,
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => {
          try {
            const text = Buffer.concat(parts).toString('utf8');
            resolve({ status: res.statusCode!, headers: res.headers, json: text === '' ? {} : JSON.parse(text) });
          } catch (e) {
            reject(e);
          }
        });
      },
    );
    req.on('error', reject);
    req.end(o.body);
  });
}

const BROWSER = { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0', accept: '*/*', 'accept-language': 'en-US,en;q=0.5' };
const releaseBody = JSON.stringify({ id: 'ff'.repeat(16), requester: 'age1pdpk3hqw2sa85aga8uwn0e2dhgma303jdwkj5rnm0epr2phut5yqv4telj' });

function expectError(r: Raw, status: number, code: string, message: RegExp): void {
  assert.is(r.status, status, JSON.stringify(r.json));
  assert.is(r.json.error.code, code);
  assert.match(r.json.error.message, message);
}

let shared: { a: Running; cleanup(): void; port: number } | undefined;
async function agent(): Promise<{ a: Running; port: number }> {
  if (!shared) {
    const p = await provisioned({ policy: false });
    const a = await startAgent(p.d, { ratePerSecond: 0, allowedHosts: ['guardian.lan', 'vault.example:8443'] });
    shared = { a, cleanup: p.cleanup, port: Number(new URL(a.url).port) };
  }
  return shared;
}

test("D13: a browser's simple POST (text/plain) is refused with 415 before the body is read; form and missing types too; application/json is served", async () => {
  const { a, port } = await agent();
  const host = { host: `127.0.0.1:${port}` };
  for (const type of ['text/plain;charset=UTF-8', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=----x']) {
    const r = await send(a.url, { method: 'POST', path: '/v1/release', headers: { ...BROWSER, ...host, 'content-type': type }, body: releaseBody });
    assert.is(r.status, 415);
    assert.is(r.json.error.code, 'ERR_UNSUPPORTED_MEDIA_TYPE');
    assert.is(r.json.error.message, `Content-Type: expected application/json for POST /v1/release, got ${JSON.stringify(type)}`);
    assert.match(r.json.error.hint, /Content-Type: application\/json/);
  }
  expectError(await send(a.url, { method: 'POST', path: '/v1/release', headers: host, body: releaseBody }), 415, 'ERR_UNSUPPORTED_MEDIA_TYPE', /got none$/);
  // Modules: exactly application/wasm (not octet-stream).
  expectError(
    await send(a.url, {
      method: 'POST',
      path: '/v1/modules',
      headers: { ...host, 'content-type': 'application/octet-stream' },
      body: Uint8Array.of(0, 0x61, 0x73, 0x6d, 1, 0, 0, 0),
    }),
    415,
    'ERR_UNSUPPORTED_MEDIA_TYPE',
    /^Content-Type: expected application\/wasm for POST \/v1\/modules, got "application\/octet-stream"$/,
  );
  const wasm = await send(a.url, {
    method: 'POST',
    path: '/v1/modules',
    headers: { ...host, 'content-type': 'application/wasm' },
    body: Uint8Array.of(0, 0x61, 0x73, 0x6d, 1, 0, 0, 0),
  });
  assert.ok(wasm.status !== 415, `application/wasm passes the media-type check (${wasm.status})`);
  // The right type (parameters allowed) reaches the route: an unknown id is a 404.
  const ok = await send(a.url, {
    method: 'POST',
    path: '/v1/release',
    headers: { ...host, 'content-type': 'application/json; charset=utf-8' },
    body: releaseBody,
  });
  expectError(ok, 404, 'ERR_NOT_FOUND', /capsule f{32}: unknown to this guardian/);
});

test('D13: a DNS-rebinding Host (evil.example:PORT) is refused with 421, GET and POST; missing Host too; loopback names, the IP literal and allowedHosts are served', async () => {
  const { a, port } = await agent();
  const evil = `evil.example:${port}`;
  // After rebinding, the page's same-origin GET carries only its own Host; its POST adds its own Origin.
  expectError(
    await send(a.url, { path: '/v1/status', headers: { ...BROWSER, host: evil } }),
    421,
    'ERR_MISDIRECTED',
    new RegExp(
      `^Host header: "evil\\.example:${port}" is not a name this guardian answers to \\(expected one of localhost:${port}, 127\\.0\\.0\\.1:${port}, \\[::1\\]:${port}, .*or the IP address it was reached at\\)$`,
    ),
  );
  expectError(
    await send(a.url, {
      method: 'POST',
      path: '/v1/release',
      headers: { ...BROWSER, host: evil, origin: `http://${evil}`, 'content-type': 'application/json' },
      body: releaseBody,
    }),
    421,
    'ERR_MISDIRECTED',
    /^Host header: "evil\.example:\d+"/,
  );
  expectError(await send(a.url, { path: '/v1/status', headers: { host: 'localhost:1' } }), 421, 'ERR_MISDIRECTED', /^Host header: "localhost:1" is not a name/);
  // HTTP/1.1 without Host: node:http itself answers 400 (RFC 9112 §3.2) before the agent sees it.
  assert.is((await send(a.url, { path: '/v1/status', setHost: false })).status, 400);
  for (const host of [`localhost:${port}`, `LOCALHOST:${port}`, `127.0.0.1:${port}`, `guardian.lan:${port}`, 'vault.example:8443']) {
    const r = await send(a.url, { path: '/v1/status', headers: { host } });
    assert.is(r.status, 200, `${host}: ${JSON.stringify(r.json)}`);
  }
  expectError(await send(a.url, { path: '/v1/status', headers: { host: 'vault.example:1' } }), 421, 'ERR_MISDIRECTED', /vault\.example:1/);
});

test('D13: a request carrying a foreign Origin is refused with 403 (also "null"); a same-origin one and none are served', async () => {
  const { a, port } = await agent();
  const host = { host: `127.0.0.1:${port}` };
  // The exact simple POST a page on evil.example sends: refused for its Origin before anything else.
  const simple = await send(a.url, {
    method: 'POST',
    path: '/v1/release',
    headers: { ...BROWSER, ...host, origin: 'http://evil.example', 'content-type': 'text/plain;charset=UTF-8' },
    body: releaseBody,
  });
  expectError(simple, 403, 'ERR_FORBIDDEN', /^Origin header: requests from the web page "http:\/\/evil\.example" are refused \(the API is not for browsers\)$/);
  expectError(
    await send(a.url, { path: '/v1/status', headers: { ...BROWSER, ...host, origin: 'http://evil.example' } }),
    403,
    'ERR_FORBIDDEN',
    /"http:\/\/evil\.example"/,
  );
  expectError(
    await send(a.url, { method: 'POST', path: '/v1/release', headers: { ...host, origin: 'null', 'content-type': 'application/json' }, body: releaseBody }),
    403,
    'ERR_FORBIDDEN',
    /"null"/,
  );
  expectError(await send(a.url, { path: '/v1/status', headers: { ...host, origin: `http://127.0.0.1:${port + 1}` } }), 403, 'ERR_FORBIDDEN', /web page/);
  assert.is((await send(a.url, { path: '/v1/status', headers: { ...host, origin: `http://127.0.0.1:${port}` } })).status, 200, 'same origin');
  assert.is((await send(a.url, { path: '/v1/status', headers: host })).status, 200, 'no Origin (CLI clients)');
});

test('D3: rotating source addresses 127.0.0.2–11 does not multiply the budget: the /24 bucket limits them together (429 with Retry-After)', async () => {
  const { d, cleanup } = await provisioned({ policy: false });
  const a = await startAgent(d, { ratePerSecond: 5, ratePerNetwork: 10, rateGlobal: 0 });
  try {
    const port = Number(new URL(a.url).port);
    // 10 addresses × 10 requests: each address alone is within its own burst (2 × 5).
    const all = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        send(a.url, { path: '/v1/status', headers: { host: `127.0.0.1:${port}` }, localAddress: `127.0.0.${2 + (i % 10)}` }),
      ),
    );
    const served = all.filter((r) => r.status === 200).length;
    const limited = all.filter((r) => r.status === 429);
    assert.ok(served >= 20 && served <= 50, `the network's burst (20) plus refill is served, not 10 × 10: ${served} of 100`);
    assert.is(limited.length, 100 - served);
    for (const r of limited) {
      assert.is(r.json.error.code, 'ERR_RATE_LIMITED');
      assert.match(r.json.error.message, /^too many requests from network 127\.0\.0\.0\/24 \(limit 10\/s\)$/);
      assert.match(String(r.headers['retry-after']), /^[1-9][0-9]*$/);
    }
  } finally {
    await a.stop();
    cleanup();
  }
});

test('D3: one address is limited alone (its own bucket), and a global bucket bounds all networks together', async () => {
  const { d, cleanup } = await provisioned({ policy: false });
  const a = await startAgent(d, { ratePerSecond: 5, ratePerNetwork: 1000, rateGlobal: 1000 });
  try {
    const port = Number(new URL(a.url).port);
    const one = await Promise.all(
      Array.from({ length: 30 }, () => send(a.url, { path: '/v1/status', headers: { host: `127.0.0.1:${port}` }, localAddress: '127.0.0.7' })),
    );
    const limited = one.filter((r) => r.status === 429);
    assert.ok(limited.length >= 10, `beyond the address's burst of 10: ${limited.length} limited`);
    assert.match(limited[0]!.json.error.message, /^too many requests from 127\.0\.0\.7 \(limit 5\/s\)$/);
    // Another address of the same network is not limited by 127.0.0.7's bucket.
    assert.is((await send(a.url, { path: '/v1/status', headers: { host: `127.0.0.1:${port}` }, localAddress: '127.0.0.8' })).status, 200);
  } finally {
    await a.stop();
  }
  const g = await startAgent(d, { ratePerSecond: 100, ratePerNetwork: 100, rateGlobal: 5 });
  try {
    const port = Number(new URL(g.url).port);
    const all = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        send(g.url, { path: '/v1/status', headers: { host: `127.0.0.1:${port}` }, localAddress: `127.0.${i % 4}.${2 + (i % 7)}` }),
      ),
    );
    const limited = all.filter((r) => r.status === 429);
    assert.ok(limited.length >= 30, `four /24 networks share the global burst of 10 (+5/s): ${limited.length} of 60 limited`);
    assert.match(limited[0]!.json.error.message, /^too many requests from all clients \(limit 5\/s\)$/);
  } finally {
    await g.stop();
    cleanup();
  }
});

test('D3: token arithmetic: burst 2 × rate per level, refill per second, Retry-After of the level that is shortest; 0 disables a level', () => {
  let now = 0;
  const l = new RateLimiter({ perAddress: 2, perNetwork: 3, global: 0 }, () => now);
  for (let i = 0; i < 4; i++) l.take('10.0.0.1');
  throwsError(() => l.take('10.0.0.1'), 'AgentError', 'ERR_RATE_LIMITED', /^too many requests from 10\.0\.0\.1 \(limit 2\/s\)$/);
  l.take('10.0.0.2');
  l.take('10.0.0.3');
  let e: unknown;
  try {
    l.take('10.0.0.4');
  } catch (x) {
    e = x;
  }
  assert.is((e as { retryAfter: number }).retryAfter, 1);
  assert.match((e as Error).message, /^too many requests from network 10\.0\.0\.0\/24 \(limit 3\/s\)$/);
  l.take('10.0.1.1'); // another /24
  now += 1000; // +3 network tokens, +2 for .1
  l.take('10.0.0.1');
  l.take('10.0.0.1');
  throwsError(() => l.take('10.0.0.1'), 'AgentError', 'ERR_RATE_LIMITED', /from 10\.0\.0\.1 /);
  const slow = new RateLimiter({ perAddress: 0, perNetwork: 0, global: 0.5 }, () => now);
  slow.take('a');
  let f: unknown;
  try {
    slow.take('b');
  } catch (x) {
    f = x;
  }
  assert.is((f as { retryAfter: number }).retryAfter, 2, 'one token at 0.5/s: 2 s');
  assert.match((f as Error).message, /^too many requests from all clients \(limit 0\.5\/s\)$/);
  assert.throws(() => new RateLimiter({ perAddress: -1, perNetwork: 0, global: 0 }), /limits\.perAddress: expected a rate ≥ 0, got -1/);
});

test('D3: client keys: IPv4 as is, IPv4-mapped IPv6 unwrapped, IPv6 folded to its /64; networks are /24 and /64', () => {
  assert.is(clientKey('127.0.0.5'), '127.0.0.5');
  assert.is(clientKey('::ffff:192.168.1.9'), '192.168.1.9');
  assert.is(clientKey('2001:db8:1:2:aaaa:bbbb:cccc:dddd'), '2001:db8:1:2::/64');
  assert.is(clientKey('2001:db8:1:2::1'), clientKey('2001:db8:1:2:ffff::9'));
  assert.is(clientKey('fe80::1%eth0'), 'fe80:0:0:0::/64');
  assert.is(clientKey('::1'), '0:0:0:0::/64');
  assert.is(clientKey(undefined), '?');
  assert.is(networkKey('10.1.2.3'), '10.1.2.0/24');
  assert.is(networkKey('::ffff:10.1.2.3'), '10.1.2.0/24');
  assert.is(networkKey('2001:db8::7'), '2001:db8:0:0::/64');
});

test('D3: HttpServer runs each request with its client key (the remote address) in the request context', async () => {
  const server = new HttpServer([{ method: 'GET', path: '/who', maxBody: 0, handle: async () => ({ status: 200, body: { client: currentClient() } }) }], {
    host: '127.0.0.1',
    port: 0,
    requestTimeoutMs: 5000,
    ratePerSecond: 0,
    log: () => {},
  });
  const { port } = await server.listen();
  try {
    const url = `http://127.0.0.1:${port}`;
    for (const from of ['127.0.0.3', '127.0.0.11']) {
      const r = await send(url, { path: '/who', localAddress: from });
      assert.is(r.json.client, from);
    }
    assert.is(currentClient(), 'local', 'outside a request');
  } finally {
    await server.close();
  }
});

test('config: allowedHosts, ratePerNetwork and rateGlobal are documented keys with defaults and validation', async () => {
  const c = await loadConfig({ env: {} });
  assert.equal([c.allowedHosts, c.ratePerNetwork, c.rateGlobal], [[], 400, 1000]);
  const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
  try {
    writeFileSync(join(dir, 'c.json'), JSON.stringify({ allowedHosts: ['http://x/'] }));
    await rejectsError(
      () => loadConfig({ env: {}, file: join(dir, 'c.json') }),
      'AgentError',
      'ERR_CONFIG',
      /allowedHosts: allowedHosts: expected host names or host:port \(IPv6 in brackets\), got "http:\/\/x\/"/,
    );
    writeFileSync(join(dir, 'c.json'), JSON.stringify({ rateGlobal: -1 }));
    await rejectsError(() => loadConfig({ env: {}, file: join(dir, 'c.json') }), 'AgentError', 'ERR_CONFIG', /rateGlobal: expected an integer ≥ 0, got -1/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.after(async () => {
  if (shared) {
    await shared.a.stop();
    shared.cleanup();
  }
});

test.run();
