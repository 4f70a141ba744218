/**
 * A strict, minimal reader of the tar files `skopeo copy … oci-archive:` writes (POSIX ustar, as Go's
 * archive/tar emits for short names): one pass over a file, every byte read exactly once, hashed
 * (SHA-256 per entry and for the whole file) and optionally copied to a private file as it is read,
 * so that what is checked is exactly what the copy holds.
 *
 * Refused (ImageError): a header whose checksum is wrong or magic is not ustar (ERR_BAD_ARCHIVE); a
 * file that ends before the two zero blocks that close an archive, inside a header or inside an
 * entry (ERR_ARCHIVE_TRUNCATED); hard or symbolic links, and names that are absolute, contain `..`,
 * `.`, empty segments, backslashes or bytes outside printable ASCII (ERR_ARCHIVE_PATH); every type
 * but regular files and directories — devices, FIFOs, pax and GNU long-name headers
 * (ERR_BAD_ARCHIVE); a size in base-256 or over the per-entry cap, or a file over the archive cap
 * (ERR_ARCHIVE_TOO_LARGE); a name seen twice (ERR_BAD_ARCHIVE); non-zero bytes after the end marker.
 *
 * Why our own reader: package.json has no tar library (`tar-stream`/`tar` would be the choice; see
 * the report for issue #12), and the subset an OCI archive needs is small. Deliberately not here:
 * pax/GNU extensions (names > 100+155 bytes, sizes ≥ 8 GiB), sparse files, what the names mean
 * (verifyOciArchive.ts).
 */
import { createHash, type Hash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { ImageError } from '../errors.ts';

const BLOCK = 512;
const READ_SIZE = 1 << 20;

/** One entry as read: its name, type and, for files, size and SHA-256 (hex); small files keep their bytes. */
export interface TarEntry {
  name: string;
  type: 'file' | 'dir';
  size: number;
  sha256: string;
  /** The content, for files of at most `keepBytes` bytes. */
  data?: Buffer;
}

export interface TarLimits {
  /** Refuse a file larger than this (checked before reading and while reading). */
  maxArchiveBytes: number;
  /** Refuse an entry larger than this. */
  maxEntryBytes: number;
  /** Keep the bytes of files up to this size (the JSON documents); 0 keeps none. */
  keepBytes: number;
  /** Keep at most this many bytes in all (bounds memory when many small layers come). */
  keepTotalBytes: number;
}

export interface TarResult {
  entries: Map<string, TarEntry>;
  /** Bytes read (the file's size). */
  bytes: number;
  /** SHA-256 of the whole file, hex. */
  sha256: string;
}

const truncated = (what: string) =>
  new ImageError('ERR_ARCHIVE_TRUNCATED', `archive: ends ${what}`, { hint: 'the archive is incomplete; check the download or copy finished' });
const malformed = (message: string) =>
  new ImageError('ERR_BAD_ARCHIVE', `archive: ${message}`, { hint: 'make OCI archives with `skopeo copy oci:DIR:TAG oci-archive:FILE.tar`' });

/** Sequential reads from a file handle, each chunk hashed and written to `copy` before it is parsed. */
class Source {
  readonly #fh: FileHandle;
  readonly #copy: FileHandle | undefined;
  readonly #limit: number;
  readonly #whole = createHash('sha256');
  readonly #signal: AbortSignal | undefined;
  #buf = Buffer.alloc(0);
  #eof = false;
  total = 0;

  constructor(fh: FileHandle, copy: FileHandle | undefined, limit: number, signal?: AbortSignal) {
    this.#fh = fh;
    this.#copy = copy;
    this.#limit = limit;
    this.#signal = signal;
  }

  async #fill(): Promise<boolean> {
    if (this.#eof) return false;
    this.#signal?.throwIfAborted();
    const chunk = Buffer.allocUnsafe(READ_SIZE);
    const { bytesRead } = await this.#fh.read(chunk, 0, READ_SIZE, null);
    if (bytesRead === 0) {
      this.#eof = true;
      return false;
    }
    const got = chunk.subarray(0, bytesRead);
    this.total += bytesRead;
    if (this.total > this.#limit)
      throw new ImageError('ERR_ARCHIVE_TOO_LARGE', `archive: more than the ${this.#limit}-byte cap (it grew while being read)`, {
        hint: 'raise --max-archive-bytes if the image is legitimate',
      });
    this.#whole.update(got);
    if (this.#copy) await this.#copy.write(got, 0, got.length);
    this.#buf = this.#buf.length === 0 ? got : Buffer.concat([this.#buf, got]);
    return true;
  }

  /** Exactly `n` bytes, or undefined at a clean end of file; throws on a partial read. */
  async take(n: number, where: string): Promise<Buffer | undefined> {
    while (this.#buf.length < n) {
      if (!(await this.#fill())) {
        if (this.#buf.length === 0) return undefined;
        throw truncated(where);
      }
    }
    const out = this.#buf.subarray(0, n);
    this.#buf = this.#buf.subarray(n);
    return out;
  }

  /** Feeds `n` bytes to `hash` (and to `keep` when given); throws if the file ends first. */
  async stream(n: number, hash: Hash, keep: Buffer[] | undefined, where: string): Promise<void> {
    let left = n;
    while (left > 0) {
      if (this.#buf.length === 0 && !(await this.#fill())) throw truncated(where);
      const part = this.#buf.subarray(0, Math.min(left, this.#buf.length));
      hash.update(part);
      keep?.push(Buffer.from(part));
      this.#buf = this.#buf.subarray(part.length);
      left -= part.length;
    }
  }

  /** True when everything left in the file is zero bytes. */
  async restIsZero(): Promise<boolean> {
    for (;;) {
      if (this.#buf.some((b) => b !== 0)) return false;
      this.#buf = Buffer.alloc(0);
      if (!(await this.#fill())) return true;
    }
  }

  digest(): string {
    return this.#whole.digest('hex');
  }
}

function cString(b: Buffer, field: string, at: string): string {
  const end = b.indexOf(0);
  const raw = end === -1 ? b : b.subarray(0, end);
  for (const c of raw) {
    if (c < 0x20 || c > 0x7e)
      throw new ImageError('ERR_ARCHIVE_PATH', `archive: entry ${at}: ${field} has a byte 0x${c.toString(16).padStart(2, '0')} outside printable ASCII`, {
        hint: 'OCI archives hold only oci-layout, index.json and blobs/sha256/<hex>',
      });
  }
  return raw.toString('latin1');
}

function octal(b: Buffer, field: string, at: string): number {
  if ((b[0]! & 0x80) !== 0)
    throw new ImageError('ERR_ARCHIVE_TOO_LARGE', `archive: entry ${at}: ${field} in base-256 (8 GiB or more) is not supported`, {
      hint: 'images this large are not supported',
    });
  const s = b
    .toString('latin1')
    .replace(/[\0 ]+$/, '')
    .replace(/^ +/, '');
  if (!/^[0-7]{0,12}$/.test(s)) throw malformed(`entry ${at}: ${field} is not an octal number`);
  return s === '' ? 0 : parseInt(s, 8);
}

function checkPath(name: string, at: string): void {
  const unsafe = (why: string) =>
    new ImageError('ERR_ARCHIVE_PATH', `archive: entry ${at} ${JSON.stringify(name.slice(0, 120))}: ${why}`, {
      hint: 'refused: an archive must not name files outside its own directory',
    });
  if (name === '') throw unsafe('empty name');
  if (name.startsWith('/')) throw unsafe('absolute path');
  if (name.includes('\\')) throw unsafe('backslash in the name');
  const segs = name.replace(/\/$/, '').split('/');
  if (segs.includes('..')) throw unsafe('a ".." segment (path traversal)');
  if (segs.some((s) => s === '' || s === '.')) throw unsafe('an empty or "." segment');
}

/**
 * Reads the whole tar from `fh` (and writes every byte to `copy` as it goes).
 * @throws ImageError ERR_BAD_ARCHIVE, ERR_ARCHIVE_TRUNCATED, ERR_ARCHIVE_PATH, ERR_ARCHIVE_TOO_LARGE
 */
export async function readTar(fh: FileHandle, limits: TarLimits, copy?: FileHandle, signal?: AbortSignal): Promise<TarResult> {
  const size = (await fh.stat()).size;
  if (size > limits.maxArchiveBytes) {
    throw new ImageError('ERR_ARCHIVE_TOO_LARGE', `archive: ${size} bytes, above the ${limits.maxArchiveBytes}-byte cap`, {
      hint: 'raise --max-archive-bytes if the image is legitimate',
    });
  }
  const src = new Source(fh, copy, limits.maxArchiveBytes, signal);
  const entries = new Map<string, TarEntry>();
  let kept = 0;
  for (let index = 0; ; index++) {
    const at = `#${index + 1}`;
    const h = await src.take(BLOCK, `inside the header of entry ${at}`);
    if (h === undefined) throw truncated(`after ${index} entries, before the end-of-archive marker (two zero blocks)`);
    if (h.every((b) => b === 0)) {
      const second = await src.take(BLOCK, 'inside the end-of-archive marker');
      if (second === undefined) throw truncated('after the first of the two zero blocks that close an archive');
      if (!second.every((b) => b === 0)) throw malformed('a zero block followed by data (a second archive, or damage)');
      if (!(await src.restIsZero())) throw malformed('non-zero bytes after the end-of-archive marker');
      return { entries, bytes: src.total, sha256: src.digest() };
    }
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
    if (octal(h.subarray(148, 156), 'checksum', at) !== sum) throw malformed(`entry ${at}: header checksum does not match (damaged, or not a tar file)`);
    const magic = h.subarray(257, 265).toString('latin1');
    if (magic !== 'ustar\u000000' && magic !== 'ustar  \u0000') throw malformed(`entry ${at}: not a ustar header (magic ${JSON.stringify(magic)})`);
    const type = String.fromCharCode(h[156]!);
    const prefix = cString(h.subarray(345, 500), 'prefix', at);
    const base = cString(h.subarray(0, 100), 'name', at);
    const name = prefix ? `${prefix}/${base}` : base;
    if (type === '1' || type === '2')
      throw new ImageError(
        'ERR_ARCHIVE_PATH',
        `archive: entry ${at} ${JSON.stringify(name.slice(0, 120))}: a ${type === '1' ? 'hard' : 'symbolic'} link (to ${JSON.stringify(cString(h.subarray(157, 257), 'linkname', at).slice(0, 120))})`,
        { hint: 'refused: links in an archive can point outside it; an OCI archive has none' },
      );
    checkPath(name, at);
    if (type !== '0' && type !== '\0' && type !== '5')
      throw malformed(
        `entry ${at} ${JSON.stringify(name.slice(0, 120))}: type ${JSON.stringify(type)} is not a regular file or directory (pax, GNU, device and FIFO entries are refused)`,
      );
    const isDir = type === '5';
    const key = name.replace(/\/$/, '');
    if (entries.has(key)) throw malformed(`entry ${at}: ${JSON.stringify(key)} appears twice (a later copy could replace a verified one)`);
    const n = octal(h.subarray(124, 136), 'size', at);
    if (isDir && n !== 0) throw malformed(`entry ${at} ${JSON.stringify(key)}: a directory with ${n} bytes of content`);
    if (n > limits.maxEntryBytes)
      throw new ImageError(
        'ERR_ARCHIVE_TOO_LARGE',
        `archive: entry ${at} ${JSON.stringify(key)}: ${n} bytes, above the ${limits.maxEntryBytes}-byte per-entry cap`,
        { hint: 'raise --max-entry-bytes if the image is legitimate' },
      );
    const hash = createHash('sha256');
    const keep = n <= limits.keepBytes && kept + n <= limits.keepTotalBytes ? ([] as Buffer[]) : undefined;
    await src.stream(n, hash, keep, `inside entry ${at} ${JSON.stringify(key)} (${n} bytes announced)`);
    const pad = (BLOCK - (n % BLOCK)) % BLOCK;
    if (pad && (await src.take(pad, `inside the padding of entry ${at}`)) === undefined) throw truncated(`inside the padding of entry ${at}`);
    const entry: TarEntry = { name: key, type: isDir ? 'dir' : 'file', size: n, sha256: hash.digest('hex') };
    if (keep && !isDir) {
      entry.data = Buffer.concat(keep);
      kept += n;
    }
    entries.set(key, entry);
  }
}
