/**
 * A provisioned guardian with `capsule agent` running as a process on 127.0.0.1 (the simulator as
 * its module), for tests and benches that need the real agent over HTTP: capsules sealed
 * in-process for any logic module, JSON posts from a chosen local address (127.0.0.x: distinct
 * clients to the agent's scheduler), and a cleanup that stops the agent and removes the directory.
 *
 * Deliberately not here: assertions (the tests make them).
 */
import { spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { sealToFile } from '../../agent/capsule/seal.ts';
import { sha256 } from '../../agent/crypto/kdf.ts';
import { encodeCanonical } from '../../agent/format/cbor.ts';
import { BIN } from './cli.ts';
import { device, init, recipients, run, type Device } from './guardianDevice.ts';

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  json: Record<string, any>;
}

export interface Rig {
  d: Device;
  url: string;
  pid: number;
  /** The requester recipient (age1…) of me.key. */
  me: string;
  log(): string;
  /** Seals a small capsule for `module` to this guardian; returns its bytes (base64). */
  seal(module: Uint8Array, params?: unknown): Promise<string>;
  post(path: string, body: unknown, opts?: { localAddress?: string; raw?: Uint8Array; type?: string }): Promise<Reply>;
  get(path: string, opts?: { localAddress?: string }): Promise<Reply>;
  /** Pushes a module (201 → its hash). */
  push(module: Uint8Array, opts?: { localAddress?: string }): Promise<Reply>;
  /** Releases a capsule (base64) for `me`. */
  release(capsule: string, opts?: { localAddress?: string }): Promise<Reply>;
  rssMiB(): number;
  /** Stops the agent (SIGTERM) and returns its exit code; the directory stays until cleanup(). */
  stop(): Promise<number | null>;
  cleanup(): Promise<void>;
}

/** Provisions a device and starts its agent with `config` (written as config.json). */
export async function startRig(config: Record<string, unknown> = {}, d: Device = device()): Promise<Rig> {
  const r = await init(d);
  if (r.code !== 0) throw new Error(`guardian init failed: ${r.stderr}`);
  if (run(d, ['keygen', '-o', 'me.key']).code !== 0) throw new Error('keygen failed');
  const me = /age1[0-9a-z]+/.exec(readFileSync(join(d.dir, 'me.key'), 'utf8'))![0];
  writeFileSync(join(d.dir, 'config.json'), JSON.stringify({ ratePerSecond: 0, ...config }));
  const child = spawn(
    process.execPath,
    [BIN, 'agent', '--data-dir', d.data, '--listen', '127.0.0.1:0', '--clock', 'system', '--config', join(d.dir, 'config.json')],
    {
      cwd: d.dir,
      env: d.env,
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let log = '';
  child.stderr.on('data', (c) => {
    log = (log + c).slice(-1_000_000);
  });
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const check = () => {
      const m = /"event":"started","url":"(http:\/\/[^"]+)"/.exec(log);
      if (m) resolve(m[1]!);
    };
    child.stderr.on('data', check);
    child.on('exit', (code) => reject(new Error(`agent exited ${code}: ${log}`)));
  });
  const x25519 = recipients(d).x25519;
  const { hostname, port } = new URL(url);
  const call = (method: string, path: string, body: Uint8Array | undefined, type: string, localAddress?: string) =>
    new Promise<Reply>((resolve, reject) => {
      const req = request(
        { host: hostname, port, method, path, localAddress, agent: false, headers: body ? { 'content-type': type, 'content-length': body.length } : {} },
        (res) => {
          const parts: Buffer[] = [];
          res.on('data', (c) => parts.push(c));
          res.on('end', () => {
            const text = Buffer.concat(parts).toString();
            let json: Record<string, any> = {};
            try {
              json = JSON.parse(text);
            } catch {
              json = { text };
            }
            resolve({ status: res.statusCode!, headers: res.headers, json });
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  let n = 0;
  const rig: Rig = {
    d,
    url,
    pid: child.pid!,
    me,
    log: () => log,
    async seal(module, params) {
      const out = join(d.dir, `c${n++}.capsule`);
      await sealToFile(new Uint8Array(64).fill(7), out, {
        recipients: [x25519],
        logic: { hash: sha256(module), params: params === undefined ? undefined : encodeCanonical(params) },
      });
      return readFileSync(out).toString('base64');
    },
    post: (path, body, opts = {}) =>
      call('POST', path, opts.raw ?? Buffer.from(JSON.stringify(body)), opts.type ?? (opts.raw ? 'application/wasm' : 'application/json'), opts.localAddress),
    get: (path, opts = {}) => call('GET', path, undefined, '', opts.localAddress),
    push: (module, opts = {}) => rig.post('/v1/modules', undefined, { raw: module, localAddress: opts.localAddress }),
    release: (capsule, opts = {}) => rig.post('/v1/release', { capsule, requester: me }, opts),
    rssMiB: () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))![1]) / 1024,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      return exited;
    },
    async cleanup() {
      await rig.stop();
      rmSync(d.dir, { recursive: true, force: true });
    },
  };
  return rig;
}
