/**
 * The rollback anchor (issue 18 D5, docs/AUDIT.md "Anchor"): {audit seq, audit head digest, state
 * generation} recorded where a rollback of the data files cannot fake it, and checked at start. The
 * log and the database may be AHEAD of the anchor (a decision in flight when the process stopped)
 * but never BEHIND: behind means a restored older agent.sqlite, a deleted one, a truncated audit log
 * or an older copy of it; a head digest that differs means the log was replaced.
 *
 * The Zymbit API this agent binds has no monotonic counter or NV index (docs/AUDIT.md says what was
 * checked), so the anchor here is a file locked by the module (KeyStore.lock: authenticated and
 * readable only on this device), written atomically. It cannot be forged or edited; it CAN be
 * replaced by an older anchor file together with the database and log of the same moment (a
 * consistent rollback of all three): only a counter inside the module or a TPM NV index would catch
 * that. `Anchor` is the interface such a counter implements (issue 14: TPM).
 *
 * Deliberately not here: when the agent advances it (Agent.ts via AuditLog.afterWrite) and the log.
 */
import { readFile } from 'node:fs/promises';
import { AuditError, DceError } from '../errors.ts';
import { AtomicFile } from '../io/AtomicFile.ts';

export interface AnchorState {
  /** The last audit entry the anchor covers. */
  seq: number;
  /** That entry's chain digest (hex). */
  head: string;
  /** The database's state generation (Store.generation) when it was written. */
  generation: number;
}

/** Where the anchor lives: a locked file today; a TPM NV counter or module counter later. */
export interface Anchor {
  /** What backs it, for messages ("module-locked file …"). */
  readonly kind: string;
  /**
   * The recorded state; undefined if none was ever written.
   * @throws AuditError ERR_ANCHOR: present but not readable as an anchor (tampered, another device's)
   */
  read(): Promise<AnchorState | undefined>;
  /** Records `s` durably (only ever forward). */
  advance(s: AnchorState): Promise<void>;
}

/** An anchor file locked by the guardian's module (KeyStore.lock), bound to the guardian key. */
export class LockedFileAnchor implements Anchor {
  readonly kind: string;
  readonly #path: string;
  readonly #lock: { lock(d: Uint8Array): Promise<Uint8Array>; unlock(b: Uint8Array): Promise<Uint8Array> };
  readonly #guardian: string;

  constructor(path: string, lock: { lock(d: Uint8Array): Promise<Uint8Array>; unlock(b: Uint8Array): Promise<Uint8Array> }, guardian: string) {
    this.#path = path;
    this.#lock = lock;
    this.#guardian = guardian;
    this.kind = `module-locked file ${path}`;
  }

  async read(): Promise<AnchorState | undefined> {
    let blob: Buffer;
    try {
      blob = await readFile(this.#path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new AuditError('ERR_ANCHOR', `rollback anchor ${this.#path}: cannot read it`, { cause: e });
    }
    let plain: Uint8Array;
    try {
      plain = await this.#lock.unlock(blob);
    } catch (e) {
      // A module that does not answer is the module's error (503, retried by a restart); a blob it refuses is a forged or foreign anchor.
      if (e instanceof DceError && e.code !== 'ERR_LOCK_INTEGRITY') throw e;
      throw new AuditError('ERR_ANCHOR', `rollback anchor ${this.#path}: the module refuses it (altered, or written on another device)`, {
        cause: e,
        hint: 'the data directory was tampered with; restore it from a trusted copy, or start with --accept-rollback to re-establish the anchor (audited)',
      });
    }
    let s: { v?: unknown; guardian?: unknown; seq?: unknown; head?: unknown; generation?: unknown };
    try {
      s = JSON.parse(Buffer.from(plain).toString('utf8'));
    } catch (cause) {
      throw new AuditError('ERR_ANCHOR', `rollback anchor ${this.#path}: not an anchor record`, { cause });
    }
    if (
      s.v !== 1 ||
      s.guardian !== this.#guardian ||
      !Number.isSafeInteger(s.seq) ||
      typeof s.head !== 'string' ||
      !/^[0-9a-f]{64}$/.test(s.head) ||
      !Number.isSafeInteger(s.generation)
    ) {
      throw new AuditError('ERR_ANCHOR', `rollback anchor ${this.#path}: not an anchor of guardian ${this.#guardian}`, {
        hint: 'restore the data directory from a trusted copy, or start with --accept-rollback to re-establish the anchor (audited)',
      });
    }
    return { seq: s.seq as number, head: s.head, generation: s.generation as number };
  }

  async advance(s: AnchorState): Promise<void> {
    const blob = await this.#lock.lock(
      new TextEncoder().encode(JSON.stringify({ v: 1, guardian: this.#guardian, seq: s.seq, head: s.head, generation: s.generation })),
    );
    const f = await AtomicFile.create(this.#path, 0o600, 'rollback anchor');
    try {
      await f.write(blob);
      await f.commit();
    } catch (e) {
      await f.abort().catch(() => {});
      throw e;
    }
  }
}

/** What the data files say, to compare with the anchor. */
export interface Observed {
  /** The audit log's last seq, and the chain digest it has at the anchor's seq (undefined: it ends before). */
  logSeq: number;
  digestAtAnchor: string | undefined;
  /** The log holds an `anchor` entry, or the database was anchored: an anchor must exist. */
  wasAnchored: boolean;
  generation: number;
}

/**
 * Compares the anchor with the data files. Returns undefined when they are consistent (equal or
 * ahead), else an AuditError ERR_ROLLBACK naming what was found.
 */
export function rollbackFinding(anchor: AnchorState | undefined, o: Observed, where: string): AuditError | undefined {
  const hint =
    "the guardian's data files are older than its anchor (a restored backup, a deleted or truncated file): restore the newest copy; to start anyway (open counts may be re-spent), pass --accept-rollback (audited)";
  if (!anchor) {
    return o.wasAnchored
      ? new AuditError('ERR_ROLLBACK', `rollback: the anchor (${where}) is missing, but the audit log or database says one was established`, { hint })
      : undefined;
  }
  if (o.logSeq < anchor.seq) {
    return new AuditError(
      'ERR_ROLLBACK',
      `rollback: the audit log ends at entry ${o.logSeq}, but the anchor records entry ${anchor.seq} (the log was truncated or replaced by an older copy)`,
      { hint },
    );
  }
  if (o.digestAtAnchor !== anchor.head) {
    return new AuditError('ERR_ROLLBACK', `rollback: the audit log's entry ${anchor.seq} is not the one the anchor records (the log was replaced)`, { hint });
  }
  if (o.generation < anchor.generation) {
    return new AuditError(
      'ERR_ROLLBACK',
      `rollback: the database is at state generation ${o.generation}, but the anchor records ${anchor.generation} (agent.sqlite was restored from an older copy or deleted)`,
      { hint },
    );
  }
  return undefined;
}

/**
 * Keeps the anchor current without a module call per decision: poke() after a write; at most one
 * advance runs at a time, and pokes during it coalesce into one more. A failed advance is logged and
 * retried by the next poke (the anchor lags; it never blocks a decision).
 */
export class AnchorKeeper {
  readonly #anchor: Anchor;
  readonly #sample: () => AnchorState;
  readonly #log: (event: string, fields: Record<string, unknown>) => void;
  #running: Promise<void> | undefined;
  #again = false;

  constructor(anchor: Anchor, sample: () => AnchorState, log: (event: string, fields: Record<string, unknown>) => void) {
    this.#anchor = anchor;
    this.#sample = sample;
    this.#log = log;
  }

  poke(): void {
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.#loop();
  }

  async #loop(): Promise<void> {
    try {
      do {
        this.#again = false;
        try {
          await this.#anchor.advance(this.#sample());
        } catch (e) {
          this.#log('anchor-failed', { error: (e as { code?: string }).code ?? String(e) });
        }
      } while (this.#again);
    } finally {
      this.#running = undefined;
    }
  }

  /** Waits for the advance in progress (and the one it owes). */
  async flush(): Promise<void> {
    while (this.#running) await this.#running;
  }
}
