/**
 * The guardian's audit log: one JSON line per decision, hash-chained (`prev` is the SHA-256 of the
 * previous entry) and signed with the guardian's module key (ECDSA P-256, low S), appended and
 * fsync'ed before the answer leaves. The first line (`genesis`) names the signing key.
 *
 * The signed and chained bytes are the entry as JSON with keys sorted at every level (values are
 * strings, integers, booleans, null, arrays and objects only), so a verifier needs nothing but this
 * file and the key. A line cut short by a crash was never acknowledged: open() drops it. A failed
 * write (disk full) fails its batch and is cut off by the next append, which then retries: the log
 * heals by itself when space returns (D1). docs/AUDIT.md specifies entries, chain and receipts.
 * Deliberately not here: what is logged (Releaser.ts) and replaying decisions (auditVerify.ts).
 */
import { open, readFile, truncate, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { AuditError } from '../errors.ts';
import { sha256 } from '../crypto/kdf.ts';
import { encodeP256Key, GUARDIAN_KEY_HRP, normaliseLowS, parseP256Key, verifyP256 } from '../crypto/p256.ts';
import type { HeaderSigner } from '../crypto/guardianSignature.ts';

export type Json = string | number | boolean | null | Json[] | { [k: string]: Json };
export type AuditEntry = { seq: number; prev: string; at: number; kind: string; sig: string } & { [k: string]: Json };

const ZERO = '0'.repeat(64);

/** JSON with object keys sorted at every level: the bytes that are hashed and signed. */
export function canonicalJson(v: Json): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k]!)}`)
      .join(',')}}`;
  }
  if (typeof v === 'number' && !Number.isSafeInteger(v)) throw new TypeError(`audit: numbers must be safe integers, got ${v}`);
  return JSON.stringify(v);
}

function digestOf(entry: Omit<AuditEntry, 'sig'> | AuditEntry): Uint8Array {
  return sha256(new TextEncoder().encode(canonicalJson(entry as Json)));
}

interface Pending {
  kind: string;
  at: number;
  fields: { [k: string]: Json };
  resolve: (e: AuditEntry) => void;
  reject: (e: unknown) => void;
}

export interface AuditHealth {
  state: 'ok' | 'failing';
  /** While failing: the error's code (e.g. ENOSPC) and message; the log retries on the next append. */
  code?: string;
  message?: string;
}

/** What open() found while checking the chain (D4 reconciliation, D5 anchor). */
export interface AuditScan {
  /** Decision entries that promised a state commit (`commit: true`) and have no `void` entry. */
  intents: number[];
  /** The chain digest of the entry at the requested seq (open's `digestAt`), if the log reaches it. */
  digestAt?: string;
  /** Whether an `anchor` entry (the rollback anchor was established) is in the log. */
  anchored: boolean;
}

export class AuditLog {
  readonly path: string;
  readonly #fh: FileHandle;
  readonly #signer: HeaderSigner;
  /** The guardian key (capsule-guardian1…) every entry is signed with. */
  readonly guardian: string;
  /** What open() found in the existing log. */
  readonly scan: AuditScan;
  #pending: Pending[] = [];
  #running = false;
  #draining: Promise<void> | undefined;
  /** The file's acknowledged length: every byte before it is a complete, fsync'ed entry. */
  #size: number;
  /** Set after a failed write (the file may hold part of a batch past #size); the next append truncates back to #size first. */
  #failed: unknown;
  /** Entries that must be written and could not be (a void after a failed commit): they lead the next batch. */
  #owed: Array<{ kind: string; at: number; fields: { [k: string]: Json } }> = [];
  #seq: number;
  #prev: string;
  /** Called after every write that succeeded and after every decision commit (the rollback anchor advances, Anchor.ts). */
  afterWrite: (() => void) | undefined;

  private constructor(path: string, fh: FileHandle, signer: HeaderSigner, guardian: string, seq: number, prev: string, size: number, scan: AuditScan) {
    this.path = path;
    this.#fh = fh;
    this.#signer = signer;
    this.guardian = guardian;
    this.#seq = seq;
    this.#prev = prev;
    this.#size = size;
    this.scan = scan;
  }

  /**
   * Opens (or starts) the log at `path`; `now` stamps the genesis entry of a new log. The whole
   * chain is checked first (D5): every entry's form, sequence number and `prev` hash, and the
   * signatures of the genesis and the last entry (a signature per entry would cost ~1 ms each).
   * `digestAt`: also report the chain digest of that entry (the anchor's check).
   * @throws AuditError ERR_AUDIT_FORMAT / ERR_AUDIT_CHAIN / ERR_AUDIT_SIGNATURE: the log is broken or
   *   another guardian's; the agent refuses to start on it.
   */
  static async open(path: string, signer: HeaderSigner, now: number, opts: { digestAt?: number } = {}): Promise<AuditLog> {
    let text = '';
    try {
      text = await readFile(path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new AuditError('ERR_AUDIT_FORMAT', `audit log ${path}: cannot read it`, { cause: e });
    }
    const complete = text.lastIndexOf('\n') + 1;
    if (complete < text.length) await truncate(path, Buffer.byteLength(text.slice(0, complete))); // an unacknowledged partial line
    const key = encodeP256Key(GUARDIAN_KEY_HRP, signer.publicKey);
    const body = text.slice(0, complete);
    const scan: AuditScan = { intents: [], anchored: false };
    let seq = -1;
    let prev = ZERO;
    if (body.length) {
      const intents = new Set<number>();
      const entries = walkChain(
        body,
        {
          signatures: 'ends',
          hint: "the agent does not start on a broken log: check it with capsule audit verify, keep it aside as evidence, and restore the guardian's data directory from a trusted copy",
          onEntry: (e, digest) => {
            if (e.commit === true) intents.add(e.seq);
            if (e.kind === 'void' && typeof e.ref === 'number') intents.delete(e.ref);
            if (e.kind === 'anchor') scan.anchored = true;
            if (e.seq === opts.digestAt) scan.digestAt = digest;
            seq = e.seq;
            prev = digest;
          },
        },
        `audit log ${path}`,
      );
      // A log started by another key (a guardian restored on a new module) would not verify past
      // this point: refuse, rather than append entries nobody can check.
      if (entries.genesis !== key) {
        throw new AuditError(
          'ERR_AUDIT_SIGNATURE',
          `audit log ${path} was started by guardian key ${String(entries.genesis)}; this guardian signs with ${key}`,
          {
            hint: 'move audit.log aside (keep it: it verifies with the old key) and start the agent again',
          },
        );
      }
      scan.intents = [...intents].sort((a, b) => a - b);
    }
    const fh = await open(path, 'a', 0o600);
    const log = new AuditLog(path, fh, signer, key, seq, prev, Buffer.byteLength(body), scan);
    if (!body.length) {
      await log.append('genesis', now, { guardian: key });
      const dir = await open(dirname(path), 'r'); // the new file's directory entry, durably
      try {
        await dir.sync();
      } finally {
        await dir.close();
      }
    }
    return log;
  }

  get seq(): number {
    return this.#seq;
  }

  /** The chain digest (hex) of the last acknowledged entry: what the next entry's `prev` will be. */
  get head(): string {
    return this.#prev;
  }

  /** ok, or failing since the last write failed (cleared by the next write that succeeds). */
  get health(): AuditHealth {
    if (!this.#failed) return { state: 'ok' };
    const e = this.#failed as { code?: unknown; message?: unknown };
    return { state: 'failing', code: typeof e.code === 'string' ? e.code : 'ERR_IO', message: typeof e.message === 'string' ? e.message : String(e) };
  }

  /**
   * Appends one signed entry; resolves only once it is on disk. Appends that arrive while a write
   * is in progress go out together in the next write and share one fsync (group commit), so
   * throughput is not one fsync per decision; each entry is still signed and chained in order.
   * A failed write rejects its batch; the next append first truncates the file back to the last
   * acknowledged entry (so a disk that has room again heals the log without a restart, D1).
   */
  append(kind: string, at: number, fields: { [k: string]: Json }): Promise<AuditEntry> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ kind, at, fields, resolve, reject });
      // #running, not #draining: a drain may finish synchronously, before #draining is assigned (D1).
      if (!this.#running) {
        this.#running = true;
        this.#draining = this.#drain();
      }
    });
  }

  /**
   * Appends an entry that must be written even if the disk refuses it now (a `void` after a failed
   * commit): if this append fails, the entry leads the next batch that is written.
   */
  async appendOwed(kind: string, at: number, fields: { [k: string]: Json }): Promise<AuditEntry | undefined> {
    try {
      return await this.append(kind, at, fields);
    } catch {
      this.#owed.push({ kind, at, fields });
      return undefined;
    }
  }

  async #drain(): Promise<void> {
    try {
      for (let batch = this.#pending.splice(0); batch.length; batch = this.#pending.splice(0)) {
        let writing = false;
        try {
          if (this.#failed) {
            // The file may end with part of the failed batch: cut it back to the last acknowledged byte.
            await this.#fh.truncate(this.#size);
            await this.#fh.datasync();
          }
          const owed = this.#owed.splice(0);
          const all: Array<{ kind: string; at: number; fields: { [k: string]: Json } }> = [...owed, ...batch];
          let seq = this.#seq;
          let prev = this.#prev;
          const entries: AuditEntry[] = [];
          try {
            for (const p of all) {
              const body = { ...p.fields, seq: seq + 1, prev, at: p.at, kind: p.kind };
              const sig = normaliseLowS(await this.#signer.sign(digestOf(body as Omit<AuditEntry, 'sig'>)));
              const entry = { ...body, sig: Buffer.from(sig).toString('hex') } as AuditEntry;
              entries.push(entry);
              seq = entry.seq;
              prev = Buffer.from(digestOf(entry)).toString('hex');
            }
          } catch (e) {
            this.#owed.unshift(...owed);
            throw e;
          }
          writing = true; // from here the file may hold part of the batch
          const bytes = Buffer.from(entries.map((e) => JSON.stringify(e) + '\n').join(''));
          try {
            await writeAll(this.#fh, bytes);
            await this.#fh.datasync();
          } catch (e) {
            this.#owed.unshift(...owed);
            throw e;
          }
          this.#size += bytes.length;
          this.#seq = seq;
          this.#prev = prev;
          this.#failed = undefined;
          batch.forEach((p, i) => p.resolve(entries[owed.length + i]!));
          this.afterWrite?.();
        } catch (e) {
          // A signing failure (the module) happens before any byte is written: the file's end is
          // known. A write failure (disk full) may leave part of the batch: remembered, so that the
          // next append cuts it off first. Either way only this batch fails.
          if (writing || this.#failed) this.#failed = e;
          for (const p of batch) p.reject(e);
        }
      }
    } finally {
      this.#running = false;
    }
  }

  /** Awaited by close() once the last write is done (the anchor's last advance). */
  beforeClose: (() => Promise<void>) | undefined;

  async close(): Promise<void> {
    await this.#draining;
    await this.beforeClose?.();
    await this.#fh.close();
  }
}

/** FileHandle.write may write less than asked (ENOSPC, a file size limit) without throwing. */
async function writeAll(fh: FileHandle, buf: Buffer): Promise<void> {
  for (let off = 0; off < buf.length; ) {
    const { bytesWritten } = await fh.write(buf, off, buf.length - off);
    if (bytesWritten <= 0) throw new Error(`audit log: short write (${off} of ${buf.length} bytes)`);
    off += bytesWritten;
  }
}

/** The digest an entry's signature covers (the entry without `sig`), hex: a receipt's `digest`. */
export function bodyDigest(entry: AuditEntry): string {
  const { sig: _sig, ...body } = entry;
  return Buffer.from(digestOf(body as Omit<AuditEntry, 'sig'>)).toString('hex');
}

/** The chain digest of an entry (with its signature): the next entry's `prev`. */
export function chainDigest(entry: AuditEntry): string {
  return Buffer.from(digestOf(entry)).toString('hex');
}

/**
 * Walks a log's lines: form, sequence, `prev` links, and signatures — of every entry (`all`), or of
 * the genesis and the last entry only (`ends`: the agent's start-up check). Calls `onEntry` with each
 * entry and its chain digest. Returns the genesis key and the number of entries.
 */
export function walkChain(
  text: string,
  opts: { signatures: 'all' | 'ends'; pinned?: string; hint?: string; onEntry?: (e: AuditEntry, digest: string) => void },
  where = 'audit log',
): { genesis: string; count: number } {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  if (!lines.length) throw new AuditError('ERR_AUDIT_FORMAT', `${where}: empty (no genesis entry)`);
  let key: Uint8Array | undefined;
  let genesis = '';
  let prev = ZERO;
  const hint = opts.hint;
  lines.forEach((line, i) => {
    const at = `${where} line ${i + 1}`;
    let e: AuditEntry;
    try {
      e = JSON.parse(line);
    } catch (cause) {
      throw new AuditError('ERR_AUDIT_FORMAT', `${at}: not JSON`, { cause, hint });
    }
    if (JSON.stringify(e) !== line) {
      // The signature covers the parsed entry; the line must be exactly that entry, so that no
      // duplicate key or other text can make the raw line say something the signature does not.
      throw new AuditError('ERR_AUDIT_FORMAT', `${at}: not in the form the guardian writes (duplicate keys or extra text)`, { hint });
    }
    if (typeof e !== 'object' || e === null || e.seq !== i || typeof e.sig !== 'string' || !/^[0-9a-f]{128}$/.test(e.sig)) {
      throw new AuditError('ERR_AUDIT_FORMAT', `${at}: expected entry ${i} with a 64-byte hex signature`, { hint });
    }
    if (i === 0) {
      if (e.kind !== 'genesis' || typeof e.guardian !== 'string')
        throw new AuditError('ERR_AUDIT_FORMAT', `${at}: the first entry must be the genesis entry naming the guardian key`, { hint });
      key = parseP256Key(GUARDIAN_KEY_HRP, e.guardian, `${at} guardian`);
      genesis = e.guardian;
      if (opts.pinned !== undefined && e.guardian !== opts.pinned) {
        throw new AuditError('ERR_AUDIT_SIGNATURE', `${at}: the log is signed by ${e.guardian}, not by the given guardian key`);
      }
    }
    if (e.prev !== prev)
      throw new AuditError('ERR_AUDIT_CHAIN', `${at}: prev does not match the previous entry (an entry was altered, removed or inserted)`, { hint });
    const { sig, ...body } = e;
    if (
      (opts.signatures === 'all' || i === 0 || i === lines.length - 1) &&
      !verifyP256(Uint8Array.from(Buffer.from(sig, 'hex')), digestOf(body as Omit<AuditEntry, 'sig'>), key!)
    ) {
      throw new AuditError('ERR_AUDIT_SIGNATURE', `${at}: signature does not verify (the entry was altered)`, { hint });
    }
    prev = Buffer.from(digestOf(e)).toString('hex');
    opts.onEntry?.(e, prev);
  });
  return { genesis, count: lines.length };
}

/**
 * Checks a log's chain and every signature. The key is the genesis entry's unless `pinned` (a
 * `capsule-guardian1…` string) is given, which must then match it. Returns the entries.
 * @throws AuditError ERR_AUDIT_FORMAT / ERR_AUDIT_CHAIN / ERR_AUDIT_SIGNATURE
 */
export function verifyAuditLog(text: string, pinned?: string): AuditEntry[] {
  const entries: AuditEntry[] = [];
  walkChain(text, { signatures: 'all', pinned, onEntry: (e) => entries.push(e) });
  return entries;
}
