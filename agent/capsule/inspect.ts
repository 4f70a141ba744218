/**
 * `inspect()`: the header of a capsule as plain data, with no key — reads only the preamble and
 * header, never the payload. Deliberately not here: any judgement beyond parsing (verify.ts).
 */
import { CID } from 'multiformats/cid';
import { encodeP256Key, GUARDIAN_KEY_HRP } from '../crypto/p256.ts';
import { decodeCanonical } from '../format/cbor.ts';
import { capsuleLength, chunkCount } from '../format/layout.ts';
import { bytesOf, type ByteSource } from '../io/sources.ts';
import { CapsuleReader, type ParsedHeader } from './CapsuleReader.ts';
import { feedReader } from './feedReader.ts';
import { digestName } from './PayloadDigest.ts';
import { describeGuardianSet, type GuardianInfo } from './shares.ts';

/** JSON-friendly view of a header (byte strings as hex). */
export interface CapsuleInfo {
  /** Format version (1). */
  formatVersion: number;
  /** The capsule id, hex. */
  id: string;
  /** Creation time, ISO 8601. */
  created: string;
  /** The owner's Ed25519 public key, hex; null when unsigned. */
  owner: string | null;
  /** Whether the header carries an owner signature (verified before this is returned). */
  signed: boolean;
  /** The sealing guardian's signing key (`capsule-guardian1…`), when it signed the header. */
  guardian: string | null;
  /** The unlock logic: module SHA-256 (hex), CID (text) or null, params as JSON or null. */
  logic: { sha256: string; cid: string | null; params: unknown };
  /** Plaintext size, chunking, cipher and commitment (digest hex). */
  payload: { size: number; chunkSize: number; chunks: number; cipher: string; digestAlg: string; digest: string };
  /** Each key stanza's type and body length, in header order. */
  stanzas: { type: string; bodySize: number }[];
  /** A threshold capsule's guardian set: m, and per guardian (= stanza) its type and recipient. Absent otherwise. */
  guardianSet?: { threshold: number; guardians: GuardianInfo[] };
  /** Keys of the header's extension fields (negative integers). */
  extensions: number[];
  /** The encoded header's length, without the preamble. */
  headerSize: number;
  /** The exact length the whole capsule has. */
  totalSize: number;
}

/**
 * Reads and checks a capsule's preamble and header (signatures and stanza shapes included) without
 * reading the payload, and with no key.
 * @param capsule - The capsule: bytes, an (async) iterable of byte pieces, or `{ path }` of a file.
 * @param signal - Aborts the read.
 * @returns The checked header, its bytes, their hash and the total length the capsule must have.
 * @throws CapsuleFormatError ERR_BAD_MAGIC, ERR_TRUNCATED, ERR_MALFORMED_HEADER, ERR_BAD_SIGNATURE, …;
 *   IoError ERR_IO / ERR_NOT_FOUND when the capsule cannot be read.
 * @example
 * ```js
 * import { readHeader } from 'digital-capsule-engine';
 * const { header, totalLength } = await readHeader({ path: 'secret.capsule' });
 * ```
 */
export async function readHeader(capsule: ByteSource, signal?: AbortSignal): Promise<ParsedHeader> {
  const reader = new CapsuleReader();
  for await (const piece of bytesOf(capsule, signal)) {
    // Feed only up to the end of the header, so the payload is never read.
    feedReader(reader, piece, () => !!reader.parsed);
    if (reader.parsed) return reader.parsed;
  }
  reader.end();
  throw new Error('unreachable: end() throws before a header is read');
}

/**
 * A capsule's header as plain JSON-friendly data (what `capsule inspect` prints), with no key and
 * without reading the payload.
 * @param capsule - The capsule: bytes, an (async) iterable of byte pieces, or `{ path }` of a file.
 * @param signal - Aborts the read.
 * @returns The header described: id, owner, guardian, logic hash/CID/params, payload, stanzas, sizes.
 * @throws CapsuleFormatError / IoError as `readHeader()`.
 * @example
 * ```js
 * import { inspect } from 'digital-capsule-engine';
 * const info = await inspect({ path: 'secret.capsule' });
 * console.log(info.id, info.payload.size, info.stanzas.map((s) => s.type));
 * ```
 */
export async function inspect(capsule: ByteSource, signal?: AbortSignal): Promise<CapsuleInfo> {
  return describe(await readHeader(capsule, signal));
}

/**
 * The JSON-friendly view of an already parsed header (what `inspect()` returns).
 * @param p - A parsed header (from readHeader, CapsuleReader, CapsuleOpener or an onHeader callback).
 * @returns The header described, byte strings as hex, params decoded ({ $bytes: hex } for byte strings).
 * @example
 * ```js
 * await decryptToFile(capsule, ids, out, { onHeader: (p) => console.log(describe(p).logic.sha256) });
 * ```
 */
export function describe(p: ParsedHeader): CapsuleInfo {
  const h = p.header;
  const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
  const set = describeGuardianSet(h);
  return {
    formatVersion: h.version,
    id: hex(h.id),
    created: new Date(h.created * 1000).toISOString(),
    owner: h.owner ? hex(h.owner) : null,
    signed: h.signature !== undefined,
    guardian: h.guardian ? encodeP256Key(GUARDIAN_KEY_HRP, h.guardian) : null,
    logic: {
      sha256: hex(h.logic.hash),
      cid: h.logic.cid ? CID.decode(h.logic.cid).toString() : null,
      params: h.logic.params ? toJson(decodeCanonical(h.logic.params, 'header.logic.params')) : null,
    },
    payload: {
      size: h.payload.size,
      chunkSize: h.payload.chunkSize,
      chunks: chunkCount(h.payload.size),
      cipher: 'aes-256-gcm-stream',
      digestAlg: digestName(h.payload.digestAlg),
      digest: hex(h.payload.digest),
    },
    stanzas: h.stanzas.map((s) => ({ type: s.type, bodySize: s.body.length })),
    ...(set ? { guardianSet: set } : {}),
    extensions: [...h.extensions.keys()],
    headerSize: p.headerBytes.length - 16,
    totalSize: capsuleLength(p.headerBytes.length - 16, h.payload.size),
  };
}

/** CBOR data as JSON: maps with non-string keys become objects with stringified keys, bytes hex. */
function toJson(v: unknown): unknown {
  if (v instanceof Uint8Array) return { $bytes: Buffer.from(v).toString('hex') };
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [String(k), toJson(x)]));
  if (Array.isArray(v)) return v.map(toJson);
  return v;
}
