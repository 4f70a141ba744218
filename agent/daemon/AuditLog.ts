/**
 * The guardian's audit log: one JSON line per decision, hash-chained (`prev` is the SHA-256 of the
 * previous entry) and signed with the guardian's module key (ECDSA P-256, low S), appended and
 * fsync'ed before the answer leaves. The first line (`genesis`) names the signing key.
 *
 * The signed and chained bytes are the entry as JSON with keys sorted at every level (values are
 * strings, integers, booleans, null, arrays and objects only), so a verifier needs nothing but this
 * file and the key. A line cut short by a crash was never acknowledged: open() drops it.
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
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k]!)}`).join(',')}}`;
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

export class AuditLog {
  readonly path: string;
  readonly #fh: FileHandle;
  readonly #signer: HeaderSigner;
  #pending: Pending[] = [];
  #draining: Promise<void> | undefined;
  /** After a failed write the file's end is unknown: every later append fails (closed) until a restart re-reads it. */
  #failed: unknown;
  #seq: number;
  #prev: string;

  private constructor(path: string, fh: FileHandle, signer: HeaderSigner, seq: number, prev: string) {
    this.path = path;
    this.#fh = fh;
    this.#signer = signer;
    this.#seq = seq;
    this.#prev = prev;
  }

  /** Opens (or starts) the log at `path`; `now` stamps the genesis entry of a new log. */
  static async open(path: string, signer: HeaderSigner, now: number): Promise<AuditLog> {
    let text = '';
    try {
      text = await readFile(path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new AuditError('ERR_AUDIT_FORMAT', `audit log ${path}: cannot read it`, { cause: e });
    }
    const complete = text.lastIndexOf('\n') + 1;
    if (complete < text.length) await truncate(path, Buffer.byteLength(text.slice(0, complete))); // an unacknowledged partial line
    const lines = text.slice(0, complete).split('\n').filter(Boolean);
    const key = encodeP256Key(GUARDIAN_KEY_HRP, signer.publicKey);
    let seq = -1;
    let prev = ZERO;
    if (lines.length) {
      const parse = (line: string, n: number): AuditEntry => {
        try {
          return JSON.parse(line) as AuditEntry;
        } catch (cause) {
          throw new AuditError('ERR_AUDIT_FORMAT', `audit log ${path}: line ${n} is not JSON`, { cause, hint: 'check it with capsule audit verify; move a damaged log aside (keep it) to start a new one' });
        }
      };
      const genesis = parse(lines[0]!, 1);
      // A log started by another key (a guardian restored on a new module) would not verify past
      // this point: refuse, rather than append entries nobody can check.
      if (genesis.guardian !== key) {
        throw new AuditError('ERR_AUDIT_SIGNATURE', `audit log ${path} was started by guardian key ${String(genesis.guardian)}; this guardian signs with ${key}`, {
          hint: 'move audit.log aside (keep it: it verifies with the old key) and start the agent again',
        });
      }
      const last = parse(lines[lines.length - 1]!, lines.length);
      seq = last.seq;
      prev = Buffer.from(digestOf(last)).toString('hex');
    }
    const fh = await open(path, 'a', 0o600);
    const log = new AuditLog(path, fh, signer, seq, prev);
    if (!lines.length) {
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

  /**
   * Appends one signed entry; resolves only once it is on disk. Appends that arrive while a write
   * is in progress go out together in the next write and share one fsync (group commit), so
   * throughput is not one fsync per decision; each entry is still signed and chained in order.
   */
  append(kind: string, at: number, fields: { [k: string]: Json }): Promise<AuditEntry> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ kind, at, fields, resolve, reject });
      if (!this.#draining) this.#draining = this.#drain();
    });
  }

  async #drain(): Promise<void> {
    // Cleared in the same synchronous step that finds the queue empty, so an append can never
    // slip in between "nothing pending" and "no longer draining" and wait forever.
    for (let batch = this.#pending.splice(0); batch.length; batch = this.#pending.splice(0)) {
      if (this.#failed) {
        for (const p of batch) p.reject(this.#failed);
        continue;
      }
      try {
        let seq = this.#seq;
        let prev = this.#prev;
        const entries: AuditEntry[] = [];
        for (const p of batch) {
          const body = { ...p.fields, seq: seq + 1, prev, at: p.at, kind: p.kind };
          const sig = normaliseLowS(await this.#signer.sign(digestOf(body as Omit<AuditEntry, 'sig'>)));
          const entry = { ...body, sig: Buffer.from(sig).toString('hex') } as AuditEntry;
          entries.push(entry);
          seq = entry.seq;
          prev = Buffer.from(digestOf(entry)).toString('hex');
        }
        await writeAll(this.#fh, Buffer.from(entries.map((e) => JSON.stringify(e) + '\n').join('')));
        await this.#fh.datasync();
        this.#seq = seq;
        this.#prev = prev;
        batch.forEach((p, i) => p.resolve(entries[i]!));
      } catch (e) {
        // The file's end is now unknown (a partial line, perhaps): refuse everything until a restart,
        // whose open() drops an unterminated last line and re-reads where the chain stands.
        this.#failed = e;
        for (const p of batch) p.reject(e);
      }
    }
    this.#draining = undefined;
  }

  async close(): Promise<void> {
    await this.#draining;
    await this.#fh.close();
  }
}

/** FileHandle.write may write less than asked (ENOSPC, a file size limit) without throwing. */
async function writeAll(fh: FileHandle, buf: Buffer): Promise<void> {
  for (let off = 0; off < buf.length;) {
    const { bytesWritten } = await fh.write(buf, off, buf.length - off);
    if (bytesWritten <= 0) throw new Error(`audit log: short write (${off} of ${buf.length} bytes)`);
    off += bytesWritten;
  }
}

/**
 * Checks a log's chain and signatures. The key is the genesis entry's unless `pinned` (a
 * `capsule-guardian1…` string) is given, which must then match it. Returns the entries.
 */
export function verifyAuditLog(text: string, pinned?: string): AuditEntry[] {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  if (!lines.length) throw new AuditError('ERR_AUDIT_FORMAT', 'audit log: empty (no genesis entry)');
  const entries: AuditEntry[] = [];
  let key: Uint8Array | undefined;
  let prev = ZERO;
  lines.forEach((line, i) => {
    const at = `audit log line ${i + 1}`;
    let e: AuditEntry;
    try {
      e = JSON.parse(line);
    } catch (cause) {
      throw new AuditError('ERR_AUDIT_FORMAT', `${at}: not JSON`, { cause });
    }
    if (JSON.stringify(e) !== line) {
      // The signature covers the parsed entry; the line must be exactly that entry, so that no
      // duplicate key or other text can make the raw line say something the signature does not.
      throw new AuditError('ERR_AUDIT_FORMAT', `${at}: not in the form the guardian writes (duplicate keys or extra text)`);
    }
    if (typeof e !== 'object' || e === null || e.seq !== i || typeof e.sig !== 'string' || !/^[0-9a-f]{128}$/.test(e.sig)) {
      throw new AuditError('ERR_AUDIT_FORMAT', `${at}: expected entry ${i} with a 64-byte hex signature`);
    }
    if (i === 0) {
      if (e.kind !== 'genesis' || typeof e.guardian !== 'string') throw new AuditError('ERR_AUDIT_FORMAT', `${at}: the first entry must be the genesis entry naming the guardian key`);
      key = parseP256Key(GUARDIAN_KEY_HRP, e.guardian, `${at} guardian`);
      if (pinned !== undefined && e.guardian !== pinned) {
        throw new AuditError('ERR_AUDIT_SIGNATURE', `${at}: the log is signed by ${e.guardian}, not by the given guardian key`);
      }
    }
    if (e.prev !== prev) throw new AuditError('ERR_AUDIT_CHAIN', `${at}: prev does not match the previous entry (an entry was altered, removed or inserted)`);
    const { sig, ...body } = e;
    if (!verifyP256(Uint8Array.from(Buffer.from(sig, 'hex')), digestOf(body as Omit<AuditEntry, 'sig'>), key!)) {
      throw new AuditError('ERR_AUDIT_SIGNATURE', `${at}: signature does not verify (the entry was altered)`);
    }
    prev = Buffer.from(digestOf(e)).toString('hex');
    entries.push(e);
  });
  return entries;
}
