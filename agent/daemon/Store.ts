/**
 * The agent's durable state in node:sqlite (WAL, synchronous=FULL: a commit is on disk when it
 * returns): the capsule registry, per-capsule logic state, stored approvals, the replay cache of
 * signed calls, and the CIDs of capsules kept on IPFS.
 *
 * A capsule is known by its header hash (SHA-256 of preamble ‖ header, which covers the id): two
 * authenticated headers carrying the same id are two capsules, each with its own state and
 * approvals, so sealing a capsule with someone else's id gains nothing (issue 18 D2). Lookups by
 * bare id resolve only when one capsule has it (capsulesWithId). State keys are "capsule keys":
 * a header hash, or "sign:<id>" for a signing slot.
 *
 * Every multi-row change is one IMMEDIATE transaction, so a kill -9 leaves the database at the last
 * commit. Environmental SQLite failures (full, I/O, read-only, busy) become StoreError (503 at the
 * API): a full disk answers "full" and heals when space returns, with no restart. Files are 0600.
 * The schema version is in `meta` (1: registry keyed by id, before it; 2: keyed by header hash);
 * open() migrates older databases in place. Deliberately not here: the audit log (AuditLog.ts) and
 * any policy (Releaser.ts decides what to store).
 */
import { chmodSync, closeSync, existsSync, openSync, statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { StoreError } from '../errors.ts';
import type { EvidenceItem } from '../sandbox/inputs.ts';

export interface CapsuleRecord {
  id: string;
  headerHash: string;
  logic: string;
  /** preamble ‖ header ‖ first chunk: enough to evaluate and authenticate a later request by id. */
  prefix: Uint8Array;
}

/** The schema this code writes; open() refuses a newer one. */
export const SCHEMA_VERSION = 2;

const SCHEMA_V2 = `
CREATE TABLE IF NOT EXISTS capsules (header_hash TEXT PRIMARY KEY, id TEXT NOT NULL, logic TEXT NOT NULL, prefix BLOB NOT NULL, registered INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS capsules_by_id ON capsules (id);
CREATE TABLE IF NOT EXISTS state (capsule TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, PRIMARY KEY (capsule, key));
CREATE TABLE IF NOT EXISTS approvals (capsule TEXT NOT NULL, requester TEXT NOT NULL, scheme TEXT NOT NULL, signer TEXT NOT NULL, message BLOB NOT NULL, signature BLOB NOT NULL, received INTEGER NOT NULL, PRIMARY KEY (capsule, requester, signer));
CREATE TABLE IF NOT EXISTS replay (digest TEXT PRIMARY KEY, expires INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS cids (cid TEXT PRIMARY KEY, capsule TEXT NOT NULL, header_hash TEXT NOT NULL, logic TEXT, source TEXT NOT NULL, size INTEGER NOT NULL, added INTEGER NOT NULL);
`;

/**
 * Version 1 keyed the registry, state and approvals by capsule id (first header wins). Each id had
 * one registered header, so its state and approvals move to that header's hash one to one; rows of
 * an id that was never registered (none are written, but none are dropped either) stay as they are.
 */
const MIGRATE_1_TO_2 = `
ALTER TABLE capsules RENAME TO capsules_v1;
CREATE TABLE capsules (header_hash TEXT PRIMARY KEY, id TEXT NOT NULL, logic TEXT NOT NULL, prefix BLOB NOT NULL, registered INTEGER NOT NULL);
CREATE INDEX capsules_by_id ON capsules (id);
INSERT INTO capsules (header_hash, id, logic, prefix, registered) SELECT header_hash, id, logic, prefix, registered FROM capsules_v1;
UPDATE state SET capsule = (SELECT c.header_hash FROM capsules_v1 c WHERE c.id = state.capsule) WHERE capsule IN (SELECT id FROM capsules_v1);
UPDATE approvals SET capsule = (SELECT c.header_hash FROM capsules_v1 c WHERE c.id = approvals.capsule) WHERE capsule IN (SELECT id FROM capsules_v1);
DROP TABLE capsules_v1;
`;

/** A capsule known by its IPFS CID: fetched for a release, or indexed from an announcement. */
export interface CidRecord {
  cid: string;
  capsule: string;
  /** The header the CID's bytes hold (the registry's key for it). */
  headerHash: string;
  logic: string | null;
  source: 'release' | 'announcement';
  /** The capsule's length in bytes (what keeping it costs). */
  size: number;
}

/** SQLite primary result codes (the low byte of an extended code). */
const SQLITE = { BUSY: 5, LOCKED: 6, READONLY: 8, IOERR: 10, CORRUPT: 11, FULL: 13, CANTOPEN: 14, NOTADB: 26 } as const;
const NAMES: Record<number, string> = Object.fromEntries(Object.entries(SQLITE).map(([k, v]) => [v, `SQLITE_${k}`]));

/**
 * A StoreError for SQLite failing for a reason outside the agent's control (full, I/O, read-only,
 * busy, damaged); any other error (a bug: bad SQL, a constraint) is returned unchanged.
 */
export function storeError(e: unknown, what: string, dir?: string): unknown {
  if (e instanceof StoreError) return e;
  const err = e as { code?: string; errcode?: number };
  if (err?.code !== 'ERR_SQLITE_ERROR' || typeof err.errcode !== 'number') return e;
  const primary = err.errcode & 0xff;
  const name = NAMES[primary];
  if (!name) return e;
  // SQLite reports some writes that found no room as I/O errors (growing the -shm, a short write).
  if (primary === SQLITE.FULL || (primary === SQLITE.IOERR && dir !== undefined && nearlyFull(dir))) {
    return new StoreError('ERR_STORE_FULL', `database: cannot ${what}: the guardian's disk is full (${name})`, {
      cause: e,
      hint: 'nothing was changed; retry later (the operator must free space on the data directory; no restart is needed)',
    });
  }
  if (primary === SQLITE.BUSY || primary === SQLITE.LOCKED) {
    return new StoreError('ERR_STORE_BUSY', `database: cannot ${what}: it is locked by another process (${name})`, {
      cause: e,
      hint: 'retry shortly; only one agent may use a data directory',
    });
  }
  return new StoreError('ERR_STORE', `database: cannot ${what} (${name})`, {
    cause: e,
    hint: 'nothing was changed; the operator should check the data directory (permissions, disk health, space)',
  });
}

/** Less than 64 KiB left for the agent on the file system holding `dir` (false if that cannot be told). */
function nearlyFull(dir: string): boolean {
  try {
    const s = statfsSync(dir);
    return Number(s.bavail) * Number(s.bsize) < 64 * 1024;
  } catch {
    return false;
  }
}

export class Store {
  readonly #db: DatabaseSync;
  readonly #dir: string;

  private constructor(db: DatabaseSync, dir: string) {
    this.#db = db;
    this.#dir = dir;
  }

  /**
   * Opens (creating, mode 0600) or migrates the database at `path`.
   * @throws StoreError ERR_STORE_FULL / ERR_STORE_BUSY / ERR_STORE (the agent's start adds the path)
   */
  static open(path: string): Store {
    let db: DatabaseSync | undefined;
    try {
      // SQLite gives its -wal and -shm files the database file's mode: create it 0600 first, and
      // tighten files an older version left 0644.
      closeSync(openSync(path, 'a', 0o600));
      for (const f of [path, `${path}-wal`, `${path}-shm`]) if (existsSync(f)) chmodSync(f, 0o600);
      db = new DatabaseSync(path, { timeout: 5000 });
      db.prepare('PRAGMA journal_mode=WAL').get();
      db.exec('PRAGMA synchronous=FULL;');
      const store = new Store(db, dirname(path));
      store.#migrate();
      store.#auditTables();
      for (const f of [`${path}-wal`, `${path}-shm`]) if (existsSync(f)) chmodSync(f, 0o600);
      return store;
    } catch (e) {
      if (db?.isOpen) db.close();
      const errno = (e as NodeJS.ErrnoException)?.code;
      if (errno === 'ENOSPC' || errno === 'EDQUOT') throw new StoreError('ERR_STORE_FULL', 'database: cannot create it: the disk is full', { cause: e });
      if (!(e instanceof StoreError) && typeof errno === 'string' && /^E[A-Z0-9]+$/.test(errno)) {
        // an OS error (EACCES, EROFS, …)
        throw new StoreError('ERR_STORE', `database: cannot open it (${errno})`, {
          cause: e,
          hint: "check the data directory exists and belongs to the agent's user",
        });
      }
      throw storeError(e, 'open it', dirname(path));
    }
  }

  /** The schema version: 0 for a new file, 1 for one written before `meta` existed. */
  #migrate(): void {
    this.transaction(() => {
      const db = this.#db;
      const hasMeta = db.prepare("SELECT 1 AS x FROM sqlite_master WHERE type = 'table' AND name = 'meta'").get() !== undefined;
      const hasCapsules = db.prepare("SELECT 1 AS x FROM sqlite_master WHERE type = 'table' AND name = 'capsules'").get() !== undefined;
      const row = hasMeta ? (db.prepare("SELECT value FROM meta WHERE key = 'schema'").get() as { value: string } | undefined) : undefined;
      const version = row ? Number(row.value) : hasCapsules ? 1 : 0;
      if (version > SCHEMA_VERSION) {
        throw new StoreError('ERR_STORE', `database: schema version ${version} is newer than this agent's (${SCHEMA_VERSION})`, {
          hint: 'run the newer agent, or restore a backup of the data directory made by this version',
        });
      }
      if (version === SCHEMA_VERSION) return;
      db.exec('CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
      if (version === 1) db.exec(MIGRATE_1_TO_2);
      db.exec(SCHEMA_V2);
      db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema', ?)").run(String(SCHEMA_VERSION));
    });
  }

  /** The schema version recorded in `meta`. */
  get schemaVersion(): number {
    return Number(
      (this.#run('read the schema version', () => this.#db.prepare("SELECT value FROM meta WHERE key = 'schema'").get()) as { value: string }).value,
    );
  }

  #run<T>(what: string, fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      throw storeError(e, what, this.#dir);
    }
  }

  /**
   * Runs `fn` in one IMMEDIATE transaction: all of it is on disk, or none of it.
   * @throws StoreError when SQLite cannot begin or commit (disk full, locked, I/O)
   */
  transaction<T>(fn: () => T): T {
    this.#run('begin a transaction', () => this.#db.exec('BEGIN IMMEDIATE'));
    try {
      const r = fn();
      this.#run('commit', () => this.#db.exec('COMMIT'));
      return r;
    } catch (e) {
      try {
        if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
      } catch {
        // A failed rollback leaves SQLite to roll back from its journal on the next write.
      }
      throw storeError(e, 'write', this.#dir);
    }
  }

  /** The capsule registered under this header hash. */
  capsule(headerHash: string): CapsuleRecord | undefined {
    const r = this.#run('read the capsule registry', () =>
      this.#db.prepare('SELECT id, header_hash, logic, prefix FROM capsules WHERE header_hash = ?').get(headerHash),
    ) as { id: string; header_hash: string; logic: string; prefix: Uint8Array } | undefined;
    return r && { id: r.id, headerHash: r.header_hash, logic: r.logic, prefix: r.prefix };
  }

  /** Up to `limit` capsules registered with this id, oldest first (more than one: the id is ambiguous). */
  capsulesWithId(id: string, limit = 2): CapsuleRecord[] {
    const rows = this.#run('read the capsule registry', () =>
      this.#db.prepare('SELECT id, header_hash, logic, prefix FROM capsules WHERE id = ? ORDER BY registered, rowid LIMIT ?').all(id, limit),
    ) as { id: string; header_hash: string; logic: string; prefix: Uint8Array }[];
    return rows.map((r) => ({ id: r.id, headerHash: r.header_hash, logic: r.logic, prefix: r.prefix }));
  }

  /** Registers an authenticated header (idempotent: keyed by its hash). */
  putCapsule(c: CapsuleRecord, at: number): void {
    this.#run('register the capsule', () =>
      this.#db
        .prepare('INSERT OR IGNORE INTO capsules (header_hash, id, logic, prefix, registered) VALUES (?, ?, ?, ?, ?)')
        .run(c.headerHash, c.id, c.logic, c.prefix, at),
    );
  }

  /** A capsule's logic state; `capsule` is its header hash (or "sign:<id>" for a signing slot). */
  state(capsule: string): Map<string, Uint8Array> {
    const rows = this.#run('read logic state', () => this.#db.prepare('SELECT key, value FROM state WHERE capsule = ?').all(capsule)) as {
      key: string;
      value: Uint8Array;
    }[];
    return new Map(rows.map((r) => [r.key, r.value]));
  }

  /** Writes the keys the logic changed (the whole new value of each). */
  putState(capsule: string, state: Map<string, Uint8Array>, changed: string[]): void {
    this.#run('write logic state', () => {
      const put = this.#db.prepare('INSERT OR REPLACE INTO state (capsule, key, value) VALUES (?, ?, ?)');
      const del = this.#db.prepare('DELETE FROM state WHERE capsule = ? AND key = ?');
      for (const k of changed) {
        const v = state.get(k);
        if (v === undefined) del.run(capsule, k);
        else put.run(capsule, k, v);
      }
    });
  }

  /** Stores an approval (`capsule`: the header hash); false if this approver's approval for this capsule and requester is already there. */
  addApproval(capsule: string, requester: string, e: EvidenceItem, at: number): boolean {
    const r = this.#run('store the approval', () =>
      this.#db
        .prepare('INSERT OR IGNORE INTO approvals (capsule, requester, scheme, signer, message, signature, received) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(capsule, requester.toLowerCase(), e.scheme, Buffer.from(e.signer).toString('hex'), e.message, e.signature, at),
    );
    return r.changes === 1;
  }

  approvals(capsule: string, requester: string): EvidenceItem[] {
    const rows = this.#run('read approvals', () =>
      this.#db
        .prepare('SELECT scheme, signer, message, signature FROM approvals WHERE capsule = ? AND requester = ? ORDER BY received, signer')
        .all(capsule, requester.toLowerCase()),
    ) as { scheme: 'ed25519' | 'eip191'; signer: string; message: Uint8Array; signature: Uint8Array }[];
    return rows.map((r) => ({
      kind: 'approval',
      scheme: r.scheme,
      signer: Uint8Array.from(Buffer.from(r.signer, 'hex')),
      message: r.message,
      signature: r.signature,
    }));
  }

  /** True if this signed call's key was remembered and has not expired. */
  seen(digest: string, now: number): boolean {
    return (
      this.#run('read the replay cache', () => this.#db.prepare('SELECT 1 AS x FROM replay WHERE digest = ? AND expires >= ?').get(digest, now)) !== undefined
    );
  }

  /** Approvals stored for one capsule and requester (bounded: see MAX_APPROVALS). */
  approvalCount(capsule: string, requester: string): number {
    return (
      this.#run('read approvals', () =>
        this.#db.prepare('SELECT count(*) AS n FROM approvals WHERE capsule = ? AND requester = ?').get(capsule, requester.toLowerCase()),
      ) as { n: number }
    ).n;
  }

  hasApproval(capsule: string, requester: string, signer: Uint8Array): boolean {
    return (
      this.#run('read approvals', () =>
        this.#db
          .prepare('SELECT 1 AS x FROM approvals WHERE capsule = ? AND requester = ? AND signer = ?')
          .get(capsule, requester.toLowerCase(), Buffer.from(signer).toString('hex')),
      ) !== undefined
    );
  }

  /** Records a signed call's digest until `expires`; false if it was seen before (a replay). */
  remember(digest: string, expires: number, now: number): boolean {
    return this.#run('write the replay cache', () => {
      this.#db.prepare('DELETE FROM replay WHERE expires < ?').run(now);
      return this.#db.prepare('INSERT OR IGNORE INTO replay (digest, expires) VALUES (?, ?)').run(digest, expires).changes === 1;
    });
  }

  /** The capsule a CID was seen to hold (the bytes are content-addressed: the mapping is a fact). */
  cid(cid: string): CidRecord | undefined {
    const r = this.#run('read the CID index', () =>
      this.#db.prepare('SELECT cid, capsule, header_hash, logic, source, size FROM cids WHERE cid = ?').get(cid),
    ) as (CidRecord & { header_hash: string }) | undefined;
    return r && { cid: r.cid, capsule: r.capsule, headerHash: r.header_hash, logic: r.logic, source: r.source, size: r.size };
  }

  putCid(c: CidRecord, at: number): void {
    this.#run('write the CID index', () =>
      this.#db
        .prepare('INSERT OR IGNORE INTO cids (cid, capsule, header_hash, logic, source, size, added) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(c.cid, c.capsule, c.headerHash, c.logic, c.source, c.size, at),
    );
  }

  /** Bytes of all capsules kept by CID. */
  storedBytes(): number {
    return (this.#run('read the CID index', () => this.#db.prepare('SELECT coalesce(sum(size), 0) AS n FROM cids').get()) as { n: number }).n;
  }

  cidCount(): number {
    return (this.#run('read the CID index', () => this.#db.prepare('SELECT count(*) AS n FROM cids').get()) as { n: number }).n;
  }

  /**
   * Audit/commit bookkeeping (docs/AUDIT.md, A1): which decision entries' commits are applied, and
   * the state generation (bumped by every decision commit) the rollback anchor records. Additive:
   * older databases get the tables at open; their generation starts at 0.
   */
  #auditTables(): void {
    this.#run('create the audit tables', () => {
      this.#db.exec('CREATE TABLE IF NOT EXISTS audit_applied (seq INTEGER PRIMARY KEY)');
      this.#db.exec('CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
    });
  }

  /** Records, inside the caller's transaction, that the decision entry `seq` is committed; bumps the generation. */
  markApplied(seq: number): void {
    this.#run('record the commit', () => {
      this.#db.prepare('INSERT OR IGNORE INTO audit_applied (seq) VALUES (?)').run(seq);
      this.#db.prepare("INSERT INTO meta (key, value) VALUES ('generation', '1') ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1").run();
    });
  }

  /** The state generation: how many decision commits this database holds (0 for a new one). */
  generation(): number {
    const r = this.#run('read the generation', () => this.#db.prepare("SELECT value FROM meta WHERE key = 'generation'").get()) as
      | { value: string }
      | undefined;
    return r ? Number(r.value) : 0;
  }

  /** Which of these decision entries have their commit recorded. */
  appliedOf(seqs: number[]): Set<number> {
    const q = this.#db.prepare('SELECT 1 AS x FROM audit_applied WHERE seq = ?');
    return new Set(this.#run('read the commit records', () => seqs.filter((s) => q.get(s) !== undefined)));
  }

  /** A flag or number in `meta` for the audit bookkeeping ('anchored'); undefined if never set. */
  auditMeta(key: 'anchored'): string | undefined {
    return (this.#run('read meta', () => this.#db.prepare('SELECT value FROM meta WHERE key = ?').get(`audit.${key}`)) as { value: string } | undefined)?.value;
  }

  setAuditMeta(key: 'anchored', value: string): void {
    this.#run('write meta', () => this.#db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)').run(`audit.${key}`, value));
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }
}
