/**
 * The CLI's view of its process: streams, TTY facts and the clock, injected so that commands can
 * be driven in-process as well as through the real binary. Also the stdout rule: binary data is
 * never written to a terminal.
 *
 * Deliberately not here: formatting of errors (main.ts) and progress (Progress.ts).
 */
import { once } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import { UsageError } from '../errors.ts';

export interface Terminal {
  stdin: Readable;
  stdout: Writable & { isTTY?: boolean };
  stderr: Writable & { isTTY?: boolean; columns?: number };
  now: () => number;
  cwd: string;
  /** Environment (CAPSULE_DATA_DIR, CAPSULE_ZYMBIT_LIB, …); default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Aborted on SIGINT/SIGTERM, so that long operations stop and remove their partial output. */
  signal?: AbortSignal;
}

export function processTerminal(): Terminal {
  const ac = new AbortController();
  let signals = 0;
  const onSignal = () => {
    // First signal: stop cleanly (temporary files are removed by the aborted operation).
    // A second one: the user insists.
    if (++signals > 1) process.exit(130);
    ac.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    now: () => performance.now(),
    cwd: process.cwd(),
    env: process.env,
    signal: ac.signal,
  };
}

export function refuseBinaryToTty(t: Terminal, what: string): void {
  if (t.stdout.isTTY) {
    throw new UsageError('ERR_REFUSE_TTY', `refusing to write ${what} to a terminal`, { hint: 'use -o FILE, or redirect stdout to a file or pipe' });
  }
}

/** Writes to stdout honouring back-pressure. */
export async function writeOut(t: Terminal, data: Uint8Array | string): Promise<void> {
  if (!t.stdout.write(data)) await once(t.stdout, 'drain');
}

export function say(t: Terminal, line: string): void {
  t.stderr.write(`capsule: ${line}\n`);
}
