/**
 * A scratch directory for a benchmark's files: on tmpfs (/dev/shm) when it has room for `bytes`,
 * so that disk speed does not blur the figures; else under the system temporary directory.
 */
import { mkdtempSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function scratchDir(prefix: string, bytes: number): string {
  try {
    const s = statfsSync('/dev/shm');
    if (s.bavail * s.bsize > bytes) return mkdtempSync(`/dev/shm/${prefix}`);
  } catch {
    // no /dev/shm here
  }
  return mkdtempSync(join(tmpdir(), prefix));
}
