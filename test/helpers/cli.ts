/**
 * Runs the real `capsule` binary (bin/capsule.js) on the Node running the tests.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../bin/capsule.js', import.meta.url));

export interface Run {
  code: number;
  stdout: Buffer;
  stderr: string;
}

/** `capsule ARGS` in `cwd`; `env` is added to this process's environment. */
export function capsule(args: string[], cwd: string, input?: Uint8Array, env: Record<string, string> = {}): Run {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, input, maxBuffer: 1 << 30, timeout: 120_000, env: { ...process.env, ...env } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr.toString() };
}

export function sh(cmd: string, args: string[], cwd: string, input?: Uint8Array): Run {
  const r = spawnSync(cmd, args, { cwd, input, maxBuffer: 1 << 30, timeout: 120_000 });
  if (r.error) throw r.error;
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr.toString() };
}
