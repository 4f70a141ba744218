/**
 * The agent's durable state in node:sqlite (WAL, synchronous=FULL: a commit is on disk when it
 * returns): the capsule registry (first authenticated header per capsule id), per-capsule logic
 * state, stored approvals, and the replay cache of signed calls.
 *
 * Every multi-row change is one IMMEDIATE transaction, so a kill -9 leaves the database at the last
 * commit (SQLite's journal guarantees it). Deliberately not here: the audit log (an append-only
 * file, AuditLog.ts) and any policy (Releaser.ts decides what to store).
 */
import { DatabaseSync } from 'node:sqlite';
import type { EvidenceItem } from '../sandbox/inputs.ts';

export interface CapsuleRecord {
  id: string;
  headerHash: string;
  logic: string;
  /** preamble ‖ header ‖ first chunk: enough to evaluate and authenticate a later request by id. */
  prefix: Uint8Array;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS capsules (id TEXT PRIMARY KEY, header_hash TEXT NOT NULL, logic TEXT NOT NULL, prefix BLOB NOT NULL, registered INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS state (capsule TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, PRIMARY KEY (capsule, key));
CREATE TABLE IF NOT EXISTS approvals (capsule TEXT NOT NULL, requester TEXT NOT NULL, scheme TEXT NOT NULL, signer TEXT NOT NULL, message BLOB NOT NULL, signature BLOB NOT NULL, received INTEGER NOT NULL, PRIMARY KEY (capsule, requester, signer));
CREATE TABLE IF NOT EXISTS replay (digest TEXT PRIMARY KEY, expires INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS cids (cid TEXT PRIMARY KEY, capsule TEXT NOT NULL, header_hash TEXT NOT NULL, logic TEXT, source TEXT NOT NULL, size INTEGER NOT NULL, added INTEGER NOT NULL);
`;

/** A capsule known by its IPFS CID: fetched for a release, or indexed from an announcement. */
export interface CidRecord {
  cid: string;
  capsule: string;
  /** The header the CID's bytes hold: a CID is an alias of a registered capsule only if they match. */
  headerHash: string;
  logic: string | null;
  source: 'release' | 'announcement';
  /** The capsule's length in bytes (what keeping it costs). */
  size: number;
}

export class Store {
  readonly #db: DatabaseSync;

  private constructor(db: DatabaseSync) {
    this.#db = db;
  }

  static open(path: string): Store {
    const db = new DatabaseSync(path, { timeout: 5000 });
    db.prepare('PRAGMA journal_mode=WAL').get();
    db.exec('PRAGMA synchronous=FULL;');
    db.exec(SCHEMA);
    return new Store(db);
  }

  /** Runs `fn` in one IMMEDIATE transaction: all of it is on disk, or none of it. */
  transaction<T>(fn: () => T): T {
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      const r = fn();
      this.#db.exec('COMMIT');
      return r;
    } catch (e) {
      if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
      throw e;
    }
  }

  capsule(id: string): CapsuleRecord | undefined {
    const r = this.#db.prepare('SELECT id, header_hash, logic, prefix FROM capsules WHERE id = ?').get(id) as
      { id: string; header_hash: string; logic: string; prefix: Uint8Array } | undefined;
    return r && { id: r.id, headerHash: r.header_hash, logic: r.logic, prefix: r.prefix };
  }

  putCapsule(c: CapsuleRecord, at: number): void {
    this.#db.prepare('INSERT OR IGNORE INTO capsules (id, header_hash, logic, prefix, registered) VALUES (?, ?, ?, ?, ?)').run(c.id, c.headerHash, c.logic, c.prefix, at);
  }

  state(id: string): Map<string, Uint8Array> {
    const rows = this.#db.prepare('SELECT key, value FROM state WHERE capsule = ?').all(id) as { key: string; value: Uint8Array }[];
    return new Map(rows.map((r) => [r.key, r.value]));
  }

  /** Writes the keys the logic changed (the whole new value of each). */
  putState(id: string, state: Map<string, Uint8Array>, changed: string[]): void {
    const put = this.#db.prepare('INSERT OR REPLACE INTO state (capsule, key, value) VALUES (?, ?, ?)');
    const del = this.#db.prepare('DELETE FROM state WHERE capsule = ? AND key = ?');
    for (const k of changed) {
      const v = state.get(k);
      if (v === undefined) del.run(id, k);
      else put.run(id, k, v);
    }
  }

  /** Stores an approval; false if this approver's approval for this capsule and requester is already there. */
  addApproval(id: string, requester: string, e: EvidenceItem, at: number): boolean {
    const r = this.#db.prepare('INSERT OR IGNORE INTO approvals (capsule, requester, scheme, signer, message, signature, received) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(id, requester.toLowerCase(), e.scheme, Buffer.from(e.signer).toString('hex'), e.message, e.signature, at);
    return r.changes === 1;
  }

  approvals(id: string, requester: string): EvidenceItem[] {
    const rows = this.#db.prepare('SELECT scheme, signer, message, signature FROM approvals WHERE capsule = ? AND requester = ? ORDER BY received, signer')
      .all(id, requester.toLowerCase()) as { scheme: 'ed25519' | 'eip191'; signer: string; message: Uint8Array; signature: Uint8Array }[];
    return rows.map((r) => ({ kind: 'approval', scheme: r.scheme, signer: Uint8Array.from(Buffer.from(r.signer, 'hex')), message: r.message, signature: r.signature }));
  }

  /** True if this signed call's key was remembered and has not expired. */
  seen(digest: string, now: number): boolean {
    return this.#db.prepare('SELECT 1 AS x FROM replay WHERE digest = ? AND expires >= ?').get(digest, now) !== undefined;
  }

  /** Approvals stored for one capsule and requester (bounded: see MAX_APPROVALS). */
  approvalCount(id: string, requester: string): number {
    return (this.#db.prepare('SELECT count(*) AS n FROM approvals WHERE capsule = ? AND requester = ?').get(id, requester.toLowerCase()) as { n: number }).n;
  }

  hasApproval(id: string, requester: string, signer: Uint8Array): boolean {
    return this.#db.prepare('SELECT 1 AS x FROM approvals WHERE capsule = ? AND requester = ? AND signer = ?').get(id, requester.toLowerCase(), Buffer.from(signer).toString('hex')) !== undefined;
  }

  /** Records a signed call's digest until `expires`; false if it was seen before (a replay). */
  remember(digest: string, expires: number, now: number): boolean {
    this.#db.prepare('DELETE FROM replay WHERE expires < ?').run(now);
    return this.#db.prepare('INSERT OR IGNORE INTO replay (digest, expires) VALUES (?, ?)').run(digest, expires).changes === 1;
  }

  /** The capsule id a CID was seen to hold (the bytes are content-addressed: the mapping is a fact). */
  cid(cid: string): CidRecord | undefined {
    const r = this.#db.prepare('SELECT cid, capsule, header_hash, logic, source, size FROM cids WHERE cid = ?').get(cid) as (CidRecord & { header_hash: string }) | undefined;
    return r && { cid: r.cid, capsule: r.capsule, headerHash: r.header_hash, logic: r.logic, source: r.source, size: r.size };
  }

  putCid(c: CidRecord, at: number): void {
    this.#db.prepare('INSERT OR IGNORE INTO cids (cid, capsule, header_hash, logic, source, size, added) VALUES (?, ?, ?, ?, ?, ?, ?)').run(c.cid, c.capsule, c.headerHash, c.logic, c.source, c.size, at);
  }

  /** Bytes of all capsules kept by CID. */
  storedBytes(): number {
    return (this.#db.prepare('SELECT coalesce(sum(size), 0) AS n FROM cids').get() as { n: number }).n;
  }

  cidCount(): number {
    return (this.#db.prepare('SELECT count(*) AS n FROM cids').get() as { n: number }).n;
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }
}
