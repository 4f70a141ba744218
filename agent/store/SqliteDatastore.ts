/**
 * The embedded IPFS node's datastore in one node:sqlite file (issue 15, publish): Helia's pin
 * records, libp2p's keychain (the node's peer id) and its peer store. It replaces datastore-fs,
 * which keeps one file per record: a 256 MiB publish writes 1,031 pin records, and as files each
 * cost a mkdir -p, a failed read, a temporary file and a rename — with every record in memory
 * instead, publishing took 1.92–1.95× the CID's time rather than 2.24–2.40× (BENCHMARKS.md).
 * Here a batch is one transaction.
 *
 * Keys are interface-datastore keys as text (`/pin/…`, `/pinned-block/…`), values bytes. WAL with
 * synchronous=NORMAL: a commit is atomic and survives a crash of the process; a power cut may lose
 * the last commits but never tears one (datastore-fs wrote without fsync at all). busy_timeout
 * lets the agent and a one-shot command share the file. Queries go through datastore-core's
 * BaseDatastore (prefix, filters, orders, offset, limit), with the prefix also narrowing the SQL.
 *
 * Deliberately not here: blocks (blockstore-fs keeps those, one file each, as Kubo does), and
 * finding an old datastore-fs directory to move in (HeliaStore does, once, with `adopt`).
 */
import { chmodSync, closeSync, openSync } from 'node:fs';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { BaseDatastore } from 'datastore-core';
import { Key, type Batch, type KeyQuery, type Pair, type Query } from 'interface-datastore';
import { NotFoundError } from 'interface-store';

/** The table; WITHOUT ROWID: the key is the only index a lookup or a prefix scan needs. */
const SCHEMA = 'CREATE TABLE IF NOT EXISTS records (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID';

/** A datastore (interface-datastore) in one SQLite file; see the header for what it keeps and how. */
export class SqliteDatastore extends BaseDatastore {
  /** The database file. */
  readonly path: string;
  #db: DatabaseSync;
  #put: StatementSync;
  #get: StatementSync;
  #has: StatementSync;
  #delete: StatementSync;

  /**
   * Opens (creating, mode 0600) the database at `path`.
   * @throws TypeError when `path` is not a non-empty string; an fs error (with its `code`) when the
   *   file cannot be created or opened; node:sqlite's Error (`code` ERR_SQLITE_ERROR, `errcode`
   *   26 "not a database", 11 corrupt, …) when SQLite refuses it
   */
  constructor(path: string) {
    super();
    if (typeof path !== 'string' || path === '') throw new TypeError(`SqliteDatastore: path: expected a file path, got ${JSON.stringify(path)}`);
    this.path = path;
    closeSync(openSync(path, 'a', 0o600)); // created 0600 before SQLite opens it
    chmodSync(path, 0o600);
    this.#db = new DatabaseSync(path);
    try {
      this.#db.exec('PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;');
      this.#db.exec(SCHEMA);
    } catch (e) {
      this.#db.close();
      throw e;
    }
    this.#put = this.#db.prepare('INSERT OR REPLACE INTO records (key, value) VALUES (?, ?)');
    this.#get = this.#db.prepare('SELECT value FROM records WHERE key = ?');
    this.#has = this.#db.prepare('SELECT 1 FROM records WHERE key = ?');
    this.#delete = this.#db.prepare('DELETE FROM records WHERE key = ?');
  }

  /**
   * Closes the database. A closed datastore drops writes (put, delete, batches, putMany, adopt)
   * and holds nothing (get: NotFoundError, has: false, queries: empty): libp2p's peer store may
   * still patch a peer record after its node stopped (identify finishing on a closing connection),
   * and such a write only caches what a peer said (a crash at stop would have lost it as well).
   */
  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }

  /**
   * Moves in the records of another datastore that are not here yet (a record here is newer and
   * kept), in one transaction committed with synchronous=FULL: the caller may delete the source
   * once this resolves, even if the power goes right after. Used once, for a repository's old
   * datastore-fs directory.
   * @returns how many records were added (0 when closed)
   * @throws whatever reading `source` throws; node:sqlite's Error when the write fails (nothing is added)
   */
  async adopt(source: AsyncIterable<Pair> | Iterable<Pair>): Promise<number> {
    const pairs: Pair[] = [];
    for await (const p of source) pairs.push(p);
    if (!this.#db.isOpen) return 0;
    const insert = this.#db.prepare('INSERT OR IGNORE INTO records (key, value) VALUES (?, ?)');
    let added = 0;
    this.#db.exec('PRAGMA synchronous = FULL');
    try {
      this.#transaction(() => {
        for (const { key, value } of pairs) added += Number(insert.run(key.toString(), value).changes);
      });
    } finally {
      this.#db.exec('PRAGMA synchronous = NORMAL');
    }
    return added;
  }

  // Promises, as every other datastore returns (the interface allows plain values, but a caller
  // may chain on them); the work itself is synchronous and short (one indexed row).
  override async put(key: Key, val: Uint8Array): Promise<Key> {
    this.#putNow(key, val);
    return key;
  }

  /** @throws NotFoundError (name 'NotFoundError') when there is no such key (or the datastore is closed) */
  override async get(key: Key): Promise<Uint8Array> {
    const row = this.#db.isOpen ? (this.#get.get(key.toString()) as { value: Uint8Array } | undefined) : undefined;
    if (!row) throw new NotFoundError(`no record ${key.toString()}`);
    return row.value;
  }

  override async has(key: Key): Promise<boolean> {
    return this.#db.isOpen && this.#has.get(key.toString()) !== undefined;
  }

  override async delete(key: Key): Promise<void> {
    this.#deleteNow(key);
  }

  #putNow(key: Key, val: Uint8Array): void {
    if (this.#db.isOpen) this.#put.run(key.toString(), val);
  }

  #deleteNow(key: Key): void {
    if (this.#db.isOpen) this.#delete.run(key.toString());
  }

  /** Puts and deletes applied in one transaction on commit (all or none). */
  override batch(): Batch {
    const ops: Array<[Key, Uint8Array | undefined]> = [];
    return {
      put: (key, value) => {
        ops.push([key, value]);
      },
      delete: (key) => {
        ops.push([key, undefined]);
      },
      commit: async (options) => {
        options?.signal?.throwIfAborted();
        this.#transaction(() => {
          for (const [k, v] of ops) v === undefined ? this.#deleteNow(k) : this.#putNow(k, v);
        });
        ops.length = 0;
      },
    };
  }

  /** All the pairs in one transaction (a batch), then their keys. */
  override async *putMany(source: Iterable<Pair> | AsyncIterable<Pair>): AsyncGenerator<Key> {
    const batch = this.batch();
    const keys: Key[] = [];
    for await (const { key, value } of source) {
      batch.put(key, value);
      keys.push(key);
    }
    await batch.commit();
    yield* keys;
  }

  override async *_all(q: Query): AsyncGenerator<Pair> {
    for (const row of this.#scan('key, value', q.prefix)) yield { key: new Key(row.key as string), value: row.value as Uint8Array };
  }

  override async *_allKeys(q: KeyQuery): AsyncGenerator<Key> {
    for (const row of this.#scan('key', q.prefix)) yield new Key(row.key as string);
  }

  /**
   * Rows in key order; with a prefix, only keys that start with it (BaseDatastore checks again).
   * A prefix ending in an ASCII character is a range on the key's index (`/pin/` ≤ key < `/pin0`:
   * SQLite compares text as UTF-8 bytes, where ASCII keeps its order); any other is a scan that
   * compares the leading UTF-8 bytes. Read whole, not row by row: an open read would hold a snapshot,
   * and this connection's next write would then fail at once (SQLITE_BUSY_SNAPSHOT) if another
   * process (the agent, a one-shot command) committed meanwhile — libp2p's peer store deletes
   * while it iterates a query. The tables are small: a row per pinned block (256 KiB each) and a few
   * per peer.
   */
  #scan(columns: string, prefix: string | undefined): Array<Record<string, unknown>> {
    if (!this.#db.isOpen) return [];
    if (prefix === undefined || prefix === '') return this.#db.prepare(`SELECT ${columns} FROM records ORDER BY key`).all();
    const last = prefix.charCodeAt(prefix.length - 1);
    if (last < 0x7f) {
      const upper = prefix.slice(0, -1) + String.fromCharCode(last + 1);
      return this.#db.prepare(`SELECT ${columns} FROM records WHERE key >= ? AND key < ? ORDER BY key`).all(prefix, upper);
    }
    const bytes = Buffer.from(prefix, 'utf8');
    return this.#db.prepare(`SELECT ${columns} FROM records WHERE substr(CAST(key AS BLOB), 1, ?) = ? ORDER BY key`).all(bytes.length, bytes);
  }

  /** Runs `f` in one IMMEDIATE transaction (dropped when closed); on failure rolls back and rethrows. */
  #transaction(f: () => void): void {
    if (!this.#db.isOpen) return;
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      f();
      this.#db.exec('COMMIT');
    } catch (e) {
      // SQLite may have rolled back by itself (a full disk, an I/O error): a second ROLLBACK would
      // throw and hide the error that matters.
      if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
      throw e;
    }
  }
}
