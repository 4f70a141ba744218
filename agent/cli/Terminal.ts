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
}

export function processTerminal(): Terminal {
  return { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, now: () => performance.now(), cwd: process.cwd() };
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
