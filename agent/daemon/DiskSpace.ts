/**
 * Room on the data directory's file system: the free-space reserve that keeps decisions and the
 * audit log writable while anyone can ask the guardian to store things (modules, capsules by CID,
 * registrations), and the recognition of "disk full" errors from Node (ENOSPC, EDQUOT) and SQLite
 * (SQLITE_FULL) anywhere in a cause chain.
 *
 * The reserve is checked with statfs before a write that a stranger can cause: a module, a capsule
 * fetched by CID, a new registration, and a decision for a requester who has not authenticated
 * (each writes an audit entry, small and bounded: auditInput.ts). Authenticated decisions are never
 * refused by it: the reserve is their room. Deliberately not here: quotas on what is stored (ModuleStore, CapsuleFetcher),
 * and the audit log's own behaviour on a full disk (AuditLog.ts).
 */
import { statfs } from 'node:fs/promises';
import { AgentError, StoreError } from '../errors.ts';

/** Bytes available to this (unprivileged) process on the file system holding `dir`. */
export async function freeBytes(dir: string): Promise<number> {
  const s = await statfs(dir);
  return Number(s.bavail) * Number(s.bsize);
}

/** True if `e`, or any error in its `cause` chain, says the disk (or the user's quota) is full. */
export function isDiskFull(e: unknown): boolean {
  for (let c = e, depth = 0; c && depth < 8; c = (c as { cause?: unknown }).cause, depth++) {
    const code = (c as { code?: unknown }).code;
    if (code === 'ENOSPC' || code === 'EDQUOT' || code === 'ERR_STORE_FULL') return true;
    const errcode = (c as { errcode?: unknown }).errcode;
    if (code === 'ERR_SQLITE_ERROR' && typeof errcode === 'number' && (errcode & 0xff) === 13) return true; // SQLITE_FULL
  }
  return false;
}

/**
 * The free-space reserve of the data directory. `require()` refuses (507 ERR_DISK_FULL) a write
 * that a client asked for when less than `reserve` bytes (plus what the write needs) are free.
 */
export class DiskReserve {
  readonly dir: string;
  readonly reserve: number;

  /** `reserve`: bytes that must stay free; 0 disables the check. */
  constructor(dir: string, reserve: number) {
    this.dir = dir;
    this.reserve = reserve;
  }

  /**
   * @param what  what would be written, for the message (e.g. "module 3f…", "capsule bafy…")
   * @param need  bytes it needs (known beforehand, or 0)
   * @throws AgentError ERR_DISK_FULL (507) below the reserve; StoreError ERR_STORE if statfs fails
   */
  async require(what: string, need = 0): Promise<void> {
    if (this.reserve <= 0) return;
    let free: number;
    try {
      free = await freeBytes(this.dir);
    } catch (cause) {
      throw new StoreError('ERR_STORE', `${what}: cannot tell how much space the data directory has left`, {
        cause,
        hint: 'check the data directory exists and is readable by the agent',
      });
    }
    if (free - need < this.reserve) {
      const room =
        need > 0 ? `, and ${need} more would leave less than its reserve of ${this.reserve} bytes` : `, less than its reserve of ${this.reserve} bytes`;
      throw new AgentError('ERR_DISK_FULL', `${what}: refused: the guardian's disk has ${free} bytes free${room} (kept for decisions and the audit log)`, {
        hint: 'the operator can free space or lower minFreeBytes; authenticated requests are still decided',
      });
    }
  }
}

/**
 * For the agent's start: an error caused by a full disk becomes one that names the data directory
 * and its free space (the operator reads it, not a client); any other error is returned unchanged.
 */
export async function startupDiskError(dataDir: string, e: unknown): Promise<unknown> {
  if (!isDiskFull(e)) return e;
  const free = await freeBytes(dataDir).catch(() => undefined);
  return new StoreError(
    'ERR_STORE_FULL',
    `data directory ${dataDir}: the disk is full (${free === undefined ? 'free space unknown' : `${free} bytes free`}); the agent cannot start`,
    {
      cause: e,
      hint: 'free space on that file system (or move the data directory), then start the agent again',
    },
  );
}
