/**
 * Keeps peak memory flat while streaming gigabytes: every 64 KiB chunk that node:crypto returns is
 * a fresh off-heap buffer whose tiny JS wrapper rarely triggers a collection on its own, so garbage
 * piled up to ~140 MiB above an idle process in our 1 GiB runs. A young-generation collection every
 * GC_EVERY bytes, taken right after a batch is handed to the kernel (so that almost nothing is live
 * and nothing is promoted), brought the peak to ~60 MiB and made the run slightly faster. Taken at
 * other moments it promoted queued buffers and saved nothing.
 *
 * `gc` needs V8's --expose-gc, a process-wide flag, so importing this file changes nothing: the
 * `capsule` command opts in with `enableGcHints()` (bin/capsule.js), and a library user's process
 * gets hints only if it was itself started with --expose-gc. `gc` is reached through a new vm
 * context, looked up once per thread on the first hint (worker threads see the flag the main
 * thread set), so the main context's globals are unchanged either way. Without the flag a hint
 * is a no-op. Deliberately not here: any tuning of the old generation.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Streamed bytes between two minor collections. */
export const GC_EVERY = 2 * 1024 * 1024;

type Gc = (options?: { type: 'minor' | 'major' }) => void;

/** This thread's `gc`: null until looked up, undefined when V8's expose-gc is off. */
let gc: Gc | undefined | null = null;

function lookup(): Gc | undefined {
  try {
    return runInNewContext('typeof gc === "function" ? gc : undefined') as Gc | undefined;
  } catch {
    return undefined;
  }
}

/**
 * Turns on V8's --expose-gc for the whole process (worker threads included) so that streaming
 * takes its minor collections. For the `capsule` command, which owns its process; a library must
 * not call it on its users' behalf.
 * @returns true if `gc` is now reachable (false if V8 refused the flag).
 * @example
 * ```js
 * import { enableGcHints } from './agent/io/gcHint.ts';
 * enableGcHints(); // first thing in a CLI's entry point
 * ```
 */
export function enableGcHints(): boolean {
  try {
    setFlagsFromString('--expose-gc');
  } catch {
    // Leaves hints off: the run still works, with a higher peak.
  }
  gc = lookup();
  return gc !== undefined;
}

/** Counts streamed bytes and triggers a minor collection every GC_EVERY of them (when gc is exposed). */
export class GarbageHint {
  #since = 0;
  /** Records `bytes` more streamed; collects when GC_EVERY have passed since the last collection. */
  add(bytes: number): void {
    this.#since += bytes;
    if (this.#since >= GC_EVERY) {
      this.#since = 0;
      if (gc === null) gc = lookup();
      gc?.({ type: 'minor' });
    }
  }
}
