/**
 * A simulated guardian device for tests: its own Zymbit simulator state and working directory,
 * the real `capsule` binary run against it, and `guardian init` driven as a script would drive it.
 */
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BIN } from './cli.ts';

export const LIB = fileURLToPath(new URL('../../native/build/libzk_sim.so', import.meta.url));
export const LOGIC = Uint8Array.of(0, 0x61, 0x73, 0x6d, 1, 0, 0, 0); // any module bytes: only its hash is sealed

export interface Run {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

// Devices are removed when the test process exits (suites share a device across tests, so not per test).
const made = new Set<string>();
process.once('exit', () => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** A fresh device: its own simulator state (the module) and working directory. */
export function device(model = 'HSM6', extra: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'guardian-'));
  made.add(dir);
  const sim = join(dir, 'module');
  mkdirSync(sim);
  const env = {
    ...process.env,
    CAPSULE_ZYMBIT_LIB: LIB,
    ZK_SIM_STATE_DIR: sim,
    ZK_SIM_MODEL: model,
    CAPSULE_IPFS_LISTEN: '/ip4/127.0.0.1/tcp/0',
    CAPSULE_IPFS: 'off',
    XDG_DATA_HOME: join(dir, 'xdg'),
    ...extra,
  };
  delete (env as Record<string, string | undefined>).CAPSULE_DATA_DIR;
  delete (env as Record<string, string | undefined>).ZK_SIM_FAIL_OPEN;
  writeFileSync(join(dir, 'policy.wasm'), LOGIC);
  return { dir, env, data: join(dir, 'data') };
}
export type Device = ReturnType<typeof device>;

export function run(d: Device, args: string[], input?: string, env: Record<string, string> = {}): Run {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: d.dir, env: { ...d.env, ...env }, input: input ?? '', timeout: 60_000 });
  return { code: r.status, signal: r.signal, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

/**
 * `guardian init` as a script drives it: reads the words from stdout, waits for the prompt naming
 * the three positions, answers them (or `answer` overrides). `killAfterMs` sends SIGKILL.
 */
export function init(
  d: Device,
  opts: { args?: string[]; answer?: (words: string[], positions: number[]) => string; killAfterMs?: number; env?: Record<string, string> } = {},
): Promise<Run & { words: string[] }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [BIN, 'guardian', 'init', '--data-dir', d.data, '--mnemonic-to-stdout', '--confirm-words-from-stdin', ...(opts.args ?? [])],
      {
        cwd: d.dir,
        env: { ...d.env, ...opts.env },
        stdio: 'pipe',
      },
    );
    let stdout = '';
    let stderr = '';
    const answerIfAsked = () => {
      const m = /confirm words ((?:#\d+(?:, )?)+)/.exec(stderr);
      if (!m || child.stdin.writableEnded) return;
      const words = stdout.split('\n')[0]!.split(' ');
      const positions = m[1]!.split(', ').map((s) => Number(s.slice(1)) - 1);
      child.stdin.end(opts.answer ? opts.answer(words, positions) : positions.map((i) => words[i]).join('\n') + '\n');
    };
    child.stdout.on('data', (c) => {
      stdout += c;
      answerIfAsked();
    });
    child.stderr.on('data', (c) => {
      stderr += c;
      answerIfAsked();
    });
    child.stdin.on('error', () => {});
    const timer = opts.killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), opts.killAfterMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, words: stdout.split('\n')[0]!.split(' ') });
    });
  });
}

export function recipients(d: Device): { x25519: string; p256: string | null; signingKey: string } {
  const r = JSON.parse(readFileSync(join(d.data, 'guardian.json'), 'utf8'));
  return { ...r.recipients, signingKey: r.signingKey };
}

export function secretFile(d: Device, size = 200_000): Buffer {
  const b = randomBytes(size);
  writeFileSync(join(d.dir, 'secret.bin'), b);
  return b;
}

export function assertFails(r: Run, message: RegExp, hint?: RegExp): void {
  assert.is(r.code, 1, `exit 1 (stderr: ${r.stderr})`);
  const lines = r.stderr.trim().split('\n');
  const error = lines.find((l) => l.startsWith('capsule: error: '));
  assert.ok(error, `an error line in: ${r.stderr}`);
  assert.match(error!, message);
  if (hint) assert.match(lines.find((l) => l.startsWith('capsule: hint: ')) ?? '', hint);
  for (const l of lines) assert.ok(l.startsWith('capsule:'), `stderr line starts with capsule: (${l})`);
}
