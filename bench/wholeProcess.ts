/**
 * Times one command as a WHOLE PROCESS, the same way for every command a benchmark sets side by
 * side: ours (`node bin/capsule.js …`) and its peers (`age`, `openssl`) all run under the same
 * wrapper, GNU time (`/usr/bin/time`, Debian package `time`), so start-up, module loading and
 * exit are in every figure and no command gets a cheaper harness than another.
 *
 * Wall time is our own monotonic clock, read just before the spawn and when the wrapper exits:
 * GNU time's `%e` has 10 ms steps, too coarse for a 1 MiB run; it is kept in the figures only as a
 * cross-check. The wrapper's own exec (about a millisecond) is in every wall time alike. Peak RSS,
 * user and system seconds are the kernel's accounting of the reaped child (wait4 rusage), which
 * Node's child_process does not expose; GNU time writes them to a report file so that the
 * command's own stderr stays separate.
 *
 * Deliberately not here: choosing commands, interleaving, medians and tables (bench/capsule.ts).
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';

/** The wrapper every command runs under; `npm run bench` installs it (scripts/need-debian.sh). */
export const TIME_BIN = '/usr/bin/time';

/** The kernel's and our clock's figures for one finished run of one command. */
export interface ProcessFigures {
  /** Spawn to exit, by this process's monotonic clock, in seconds. */
  wallSeconds: number;
  /** GNU time's own elapsed seconds (%e, 10 ms steps): a cross-check of wallSeconds. */
  elapsedSeconds: number;
  /** User CPU seconds of the command (%U). */
  userSeconds: number;
  /** System CPU seconds of the command (%S). */
  systemSeconds: number;
  /** Peak resident set size of the command in KiB (%M: ru_maxrss from wait4). */
  peakRssKiB: number;
}

/**
 * Runs `argv` under GNU time, stdin from /dev/null and stdout discarded, and returns its figures.
 * `reportPath` is a scratch file for GNU time's report (overwritten, then removed).
 * @throws TypeError when argv is not a non-empty array of strings or reportPath is not a string.
 * @throws Error (plain: a benchmark failure, not a product error) when GNU time is missing, the
 *   command cannot start or exits non-zero (the message names the command, its status and stderr),
 *   or the report cannot be read.
 */
export function timeProcess(argv: readonly string[], reportPath: string): Promise<ProcessFigures> {
  if (!Array.isArray(argv) || argv.length === 0 || argv.some((a) => typeof a !== 'string')) {
    throw new TypeError(`argv: expected a non-empty array of strings, got ${JSON.stringify(argv)}`);
  }
  if (typeof reportPath !== 'string' || reportPath === '') {
    throw new TypeError(`reportPath: expected a file path, got ${JSON.stringify(reportPath)}`);
  }
  if (!existsSync(TIME_BIN)) {
    throw new Error(`${TIME_BIN}: not found; install the Debian package "time" (npm run bench does it)`);
  }
  rmSync(reportPath, { force: true });
  const shown = argv.join(' ');
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let t1 = 0;
    const child = spawn(TIME_BIN, ['-f', '%e %U %S %M', '-o', reportPath, '--', ...argv], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => {
      if (stderr.length < 4096) stderr += d;
    });
    child.on('exit', () => {
      t1 = performance.now();
    });
    child.on('error', (cause) => reject(new Error(`${shown}: could not start ${TIME_BIN}`, { cause })));
    child.on('close', (code, signal) => {
      if (code !== 0) {
        reject(new Error(`${shown}: expected exit status 0, got ${code ?? signal}: ${stderr.trim()}`));
        return;
      }
      try {
        // A failing command makes GNU time print a "Command exited…" line first: the figures are last.
        const lines = readFileSync(reportPath, 'utf8').trim().split('\n');
        const fields = lines[lines.length - 1]!.trim().split(/\s+/).map(Number);
        if (fields.length !== 4 || fields.some((n) => !Number.isFinite(n))) {
          throw new Error(`expected "%e %U %S %M", got ${JSON.stringify(lines)}`);
        }
        const [elapsedSeconds, userSeconds, systemSeconds, peakRssKiB] = fields as [number, number, number, number];
        resolve({ wallSeconds: (t1 - t0) / 1000, elapsedSeconds, userSeconds, systemSeconds, peakRssKiB });
      } catch (cause) {
        reject(new Error(`${shown}: unreadable ${TIME_BIN} report ${reportPath}`, { cause }));
      } finally {
        rmSync(reportPath, { force: true });
      }
    });
  });
}

/** The median of a non-empty list (the mean of the middle two when the length is even). @throws RangeError on an empty list. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new RangeError('median: expected at least one value, got none');
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
