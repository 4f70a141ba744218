/**
 * `capsule agent` as a real process for tests (simulator module, file clock the test moves, a free
 * port on 127.0.0.1), a provisioned guardian device with the standard policy compiled by asc, and
 * request helpers: JSON POSTs with the right content type, optionally authenticated as a requester
 * (docs/API.md "Requester authentication"). Deliberately not here: assertions on behaviour.
 */
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseIdentityFile, type Identity } from '../../agent/crypto/identity.ts';
import { makeRequestAuth } from '../../agent/crypto/requesterAuth.ts';
import { buildPolicy } from '../../agent/logic/build.ts';
import { BIN } from './cli.ts';
import { device, init, recipients, run, type Device } from './guardianDevice.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const T = 1_893_456_000_000; // 2030-01-01T00:00:00Z
let policy: Promise<Uint8Array> | undefined;

export interface Running {
  url: string;
  pid: number;
  log: () => string;
  stop(): Promise<number | null>;
}

/**
 * `capsule agent` on 127.0.0.1:0 with a file clock; `config` is written as its --config file,
 * `extra` follows the agent's flags and `nodeArgs` are Node's own (e.g. the unit's: unitNodeArgs.ts).
 */
export async function startAgent(d: Device, config: Record<string, unknown> = {}, extra: string[] = [], nodeArgs: readonly string[] = []): Promise<Running> {
  const cfg = join(d.dir, `config-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(cfg, JSON.stringify(config));
  const child = spawn(
    process.execPath,
    [...nodeArgs, BIN, 'agent', '--data-dir', d.data, '--listen', '127.0.0.1:0', '--clock', `file:${join(d.dir, 'clock')}`, '--config', cfg, ...extra],
    { cwd: d.dir, env: d.env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  child.stderr.on('data', (c) => {
    log += c;
  });
  child.stdout.resume();
  const url = await new Promise<string>((resolve, reject) => {
    const check = () => {
      const m = /"event":"started","url":"(http:\/\/[^"]+)"/.exec(log);
      if (m) resolve(m[1]!);
    };
    child.stderr.on('data', check);
    child.on('exit', (code) => reject(new Error(`agent exited ${code}: ${log}`)));
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return {
    url,
    pid: child.pid!,
    log: () => log,
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

export function setClock(d: Device, ms: number): void {
  writeFileSync(join(d.dir, 'clock'), String(ms));
}

/** A provisioned guardian with policy.wasm (contracts-as/contracts/policy.ts, unless `policy: false`) and keys me, other, owner. */
export async function provisioned(opts: { policy?: boolean } = {}): Promise<{ d: Device; x25519: string; cleanup(): void }> {
  const d = device();
  try {
    const r = await init(d);
    assert.is(r.code, 0, r.stderr);
    if (opts.policy !== false) {
      policy ??= buildPolicy('contracts-as/contracts/policy.ts', { cwd: ROOT }).then((b) => b.wasm);
      writeFileSync(join(d.dir, 'policy.wasm'), await policy);
    }
    setClock(d, T);
    for (const k of ['me', 'other', 'owner']) assert.is(run(d, ['keygen', '-o', `${k}.key`]).code, 0);
  } catch (e) {
    rmSync(d.dir, { recursive: true, force: true }); // nothing left behind when set-up fails
    throw e;
  }
  return { d, x25519: recipients(d).x25519, cleanup: () => rmSync(d.dir, { recursive: true, force: true }) };
}

export const identityOf = (d: Device, file: string): Identity => parseIdentityFile(readFileSync(join(d.dir, file), 'utf8'))[0]!;

export interface Answer {
  status: number;
  headers: Headers;
  json: Record<string, any>;
}

/** A JSON POST (Content-Type: application/json unless `headers` say otherwise). */
export async function post(url: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, json: (await res.json()) as Record<string, any> };
}

/** `body` with an `auth` made by `id` for the guardian at `url` (its recipient and time from /v1/status). */
export async function withAuth(
  url: string,
  path: string,
  body: Record<string, unknown>,
  id: Identity,
  over: { at?: number; guardian?: string; nonce?: Uint8Array } = {},
): Promise<Record<string, unknown>> {
  const st = (await (await fetch(url + '/v1/status')).json()) as { now: number; guardian: { recipients: { x25519: string } } };
  const auth = makeRequestAuth({
    requesterSecret: id.secretKey,
    requesterPk: id.publicKey,
    guardian: over.guardian ?? st.guardian.recipients.x25519,
    method: 'POST',
    path,
    body,
    at: over.at ?? st.now,
    nonce: over.nonce,
  });
  return { ...body, auth };
}
