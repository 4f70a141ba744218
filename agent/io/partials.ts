/**
 * Names for AtomicFile's temporary files that say who writes them, and the sweep that removes the
 * ones whose writer is dead. A `capsule decrypt -o` killed with SIGKILL cannot remove its own
 * temporary file, which may hold plaintext up to the whole payload; the next AtomicFile created in
 * that directory (decrypt, open, seal, a module push, …) and `capsule agent` at start (its data
 * dir) sweep it.
 *
 *   .<target>.<pid>-<starttime>-<boot>.<12 hex>.partial
 *
 * `starttime` is the writer's start in clock ticks since boot (/proc/<pid>/stat field 22) and
 * `boot` the first 8 hex digits of the kernel's boot id, so a pid reused by another process, or a
 * file left by a previous boot, is recognised as dead. Without /proc (not Linux) both are 0 and
 * only the pid's existence is checked (kill(pid, 0)).
 *
 * Deliberately not here: the legacy name `.<target>.<12 hex>.partial` (no writer recorded: it may
 * belong to a live process of an older version, so it is left alone), files owned by another
 * user, and directories shared between machines or pid namespaces (a writer on another host, or
 * in another container, would look dead: do not decrypt into a directory two of them write at once).
 */
import { readFileSync } from 'node:fs';
import { lstat, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';

const NAME = /^\.(.+)\.(\d{1,10})-(\d{1,20})-([0-9a-f]{8})\.[0-9a-f]{12}\.partial$/;

let self: { pid: number; start: string; boot: string } | undefined;

function bootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').replace(/-/g, '').slice(0, 8);
  } catch {
    return '00000000';
  }
}

/** Field 22 of /proc/<pid>/stat (after the parenthesised command, which may contain spaces). */
function startTime(pid: number | 'self'): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** The writer tag of this process: `<pid>-<starttime>-<boot>`. */
function writerTag(): string {
  self ??= { pid: process.pid, start: startTime('self') ?? '0', boot: bootId() };
  return `${self.pid}-${self.start}-${self.boot}`;
}

/** The temporary name for `target`'s basename: `.<target>.<writer>.<hex>.partial`. */
export function partialName(base: string, hex: string): string {
  return `.${base}.${writerTag()}.${hex}.partial`;
}

/** Whether the process that wrote a partial tagged (pid, start, boot) may still be running. */
function writerAlive(pid: number, start: string, boot: string): boolean {
  writerTag();
  if (boot !== self!.boot) return false; // written before the last reboot
  if (pid === self!.pid) return start === self!.start;
  if (start !== '0') {
    const now = startTime(pid);
    if (now !== undefined) return now === start; // same pid, other process: the writer is gone
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, not ours
  }
}

/**
 * Removes, in `dir`, temporary files of AtomicFile whose writer is dead (regular files owned by
 * this user only). Best effort: errors are ignored (a sweep never fails the write that runs it).
 * Returns the names removed.
 */
export async function sweepPartials(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  const uid = process.getuid?.();
  for (const name of names) {
    const m = NAME.exec(name);
    if (!m || writerAlive(Number(m[2]), m[3]!, m[4]!)) continue;
    const path = join(dir, name);
    try {
      const st = await lstat(path);
      if (!st.isFile() || (uid !== undefined && st.uid !== uid)) continue;
      await unlink(path);
      removed.push(name);
    } catch {
      // raced with another sweeper, or not ours to remove
    }
  }
  return removed;
}
