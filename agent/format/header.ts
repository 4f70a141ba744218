/**
 * The capsule header (SPEC.md §4): its data type, deterministic encoding, and strict decoding.
 *
 * Implements shape checks for every field, the critical/extension key rule and the bytes an owner
 * signs. Deliberately not here: signature verification and stanza cryptography (agent/crypto), and
 * payload lengths against the file (agent/capsule/CapsuleReader.ts).
 */
import { CID } from 'multiformats/cid';
import { CapsuleFormatError } from '../errors.ts';
import { decodeCanonical, encodeCanonical } from './cbor.ts';
import { checkGuardianSet, decodeGuardianSet, decodeShareCommitments, guardianSetToMap, type GuardianSet } from './guardianSet.ts';
import {
  CAPSULE_ID_SIZE,
  CHUNK_SIZE,
  CIPHER_AES_256_GCM_STREAM,
  DIGEST_CHUNKED_SHA256,
  DIGEST_SALTED_CHUNKED_SHA256,
  DIGEST_SALTED_SHA256,
  DIGEST_SHA256,
  FORMAT_VERSION,
  H,
  LABEL_GUARDIAN_SET,
  LABEL_GUARDIAN_SIGNATURE,
  LABEL_HEADER_SIGNATURE,
  LOGIC,
  P256_PUBLIC_KEY_SIZE,
  MAX_CID_SIZE,
  MAX_CREATED,
  MAX_PARAMS_SIZE,
  MAX_PAYLOAD_SIZE,
  MAX_STANZAS,
  MAX_STANZA_BODY,
  PAYLOAD,
} from './constants.ts';

/**
 * The unlock logic a capsule names (header key 5): the module's SHA-256 (authoritative), where to
 * find it (a CID, a locator only), and its parameters.
 */
export interface LogicRef {
  /** SHA-256 of the Wasm module. Authoritative. */
  hash: Uint8Array;
  /** Binary CID of the module: a locator only. */
  cid?: Uint8Array;
  /** One deterministic CBOR item: the logic's parameters. */
  params?: Uint8Array;
}

/** `payload.digest_alg` ids (SPEC.md §6.4): 1 sha256, 2 salted-sha256, 3 chunked-sha256, 4 salted-chunked-sha256. */
export type DigestAlg = typeof DIGEST_SHA256 | typeof DIGEST_SALTED_SHA256 | typeof DIGEST_CHUNKED_SHA256 | typeof DIGEST_SALTED_CHUNKED_SHA256;

/** The payload's description in the header (key 6, SPEC.md §6). */
export interface PayloadInfo {
  /** Plaintext length in bytes. */
  size: number;
  /** Plaintext bytes per chunk: 65536 in format version 1. */
  chunkSize: number;
  /** 1: AES-256-GCM STREAM (the only cipher of version 1). */
  cipher: number;
  /** How `digest` commits to the plaintext. */
  digestAlg: DigestAlg;
  /** The 32-byte commitment to the plaintext, checked after the last chunk. */
  digest: Uint8Array;
}

/** A key stanza: the file key wrapped for one recipient or custodian (SPEC.md §5). */
export interface Stanza {
  /** `x25519`, `p256-ecdh`, `zymbit-lock`, `tpm2-rsa`, or a type this version does not know. */
  type: string;
  /** The wrapped key, in the type's layout. */
  body: Uint8Array;
}

/** A decoded capsule header (SPEC.md §4.2). Byte strings are Uint8Array; `created` is in seconds. */
export interface CapsuleHeader {
  /** Format version: 1. */
  version: number;
  /** The capsule's 16 random bytes: binds stanzas, keys and signatures to this capsule. */
  id: Uint8Array;
  /** Seconds since the Unix epoch. */
  created: number;
  /** The owner's Ed25519 public key (32 bytes); comes with `signature`. */
  owner?: Uint8Array;
  /** The unlock logic. */
  logic: LogicRef;
  /** The payload's size, cipher and commitment. */
  payload: PayloadInfo;
  /** The file key, wrapped once per recipient. */
  stanzas: Stanza[];
  /** The owner's Ed25519 signature over `signedMessage(header)`. */
  signature?: Uint8Array;
  /** The sealing guardian's P-256 key (33 bytes, compressed SEC1); comes with guardianSignature. */
  guardian?: Uint8Array;
  /** ECDSA P-256 raw r ‖ s, low S, over SHA-256(guardianSignedMessage). */
  guardianSignature?: Uint8Array;
  /** A threshold capsule's guardian set (key 12, SPEC.md §5.6): stanza i wraps guardian i's share. */
  guardianSet?: GuardianSet;
  /** One commitment per guardian's share (key 13); comes with guardianSet. */
  shareCommitments?: Uint8Array[];
  /** Negative-keyed extension fields, kept so that re-encoding is byte-identical. */
  extensions: Map<number, unknown>;
}

const STANZA_TYPE = /^[a-z0-9-]{1,32}$/;

/**
 * The header's deterministic CBOR (SPEC.md §4.1), without the preamble. It does not check the
 * header: `decodeHeader()` of the result does.
 * @param h - The header.
 * @returns Its canonical encoding.
 * @throws Error from the CBOR encoder for values it cannot encode (e.g. a bigint in an extension).
 * @example
 * ```js
 * import { decodeHeader, encodeHeader } from 'digital-capsule-engine/format';
 * const again = encodeHeader(decodeHeader(bytes)); // byte-identical to `bytes`
 * ```
 */
export function encodeHeader(h: CapsuleHeader): Uint8Array {
  return encodeCanonical(toMap(h, 'all'));
}

/**
 * The exact bytes an owner signs: label ‖ 0x00 ‖ header encoded without keys 8 and 10 (SPEC.md §7.1).
 * @param h - The header (its own signatures are ignored).
 * @returns The message for Ed25519.
 * @example
 * ```js
 * import { ed25519 } from '@noble/curves/ed25519.js';
 * const ok = ed25519.verify(header.signature, signedMessage(header), header.owner, { zip215: false });
 * ```
 */
export function signedMessage(h: CapsuleHeader): Uint8Array {
  return labelled(LABEL_HEADER_SIGNATURE, encodeCanonical(toMap(h, 'owner')));
}

/**
 * The exact bytes a guardian signs (their SHA-256 is the digest the module signs): label ‖ 0x00 ‖
 * header encoded without key 10. So the guardian's signature covers the owner's, and the owner's
 * covers the guardian's key (key 9) but not its signature, which is made after it (SPEC.md §7.2).
 * @param h - The header (its guardian signature is ignored).
 * @returns The message; ECDSA P-256 signs its SHA-256.
 * @example
 * ```js
 * const digest = createHash('sha256').update(guardianSignedMessage(header)).digest();
 * ```
 */
export function guardianSignedMessage(h: CapsuleHeader): Uint8Array {
  return labelled(LABEL_GUARDIAN_SIGNATURE, encodeCanonical(toMap(h, 'guardian')));
}

/**
 * The bytes whose SHA-256 is a threshold capsule's set hash: label ‖ 0x00 ‖ header encoded without
 * keys 8, 10 and 13 (SPEC.md §5.6). Every share commitment covers it, so a share is bound to this
 * header's id, logic, payload, stanzas and guardian set.
 * @param h - The header (its signatures and commitments are ignored).
 * @returns The message; the set hash is its SHA-256.
 * @example
 * ```js
 * const setHash = createHash('sha256').update(guardianSetMessage(header)).digest();
 * ```
 */
export function guardianSetMessage(h: CapsuleHeader): Uint8Array {
  return labelled(LABEL_GUARDIAN_SET, encodeCanonical(toMap(h, 'set')));
}

function labelled(label: string, body: Uint8Array): Uint8Array {
  const l = new TextEncoder().encode(label);
  const out = new Uint8Array(l.length + 1 + body.length);
  out.set(l, 0);
  out.set(body, l.length + 1);
  return out;
}

function toMap(h: CapsuleHeader, view: 'all' | 'owner' | 'guardian' | 'set'): Map<number, unknown> {
  const m = new Map<number, unknown>();
  m.set(H.version, h.version);
  m.set(H.id, h.id);
  m.set(H.created, h.created);
  if (h.owner) m.set(H.owner, h.owner);
  const logic = new Map<number, unknown>([[LOGIC.hash, h.logic.hash]]);
  if (h.logic.cid) logic.set(LOGIC.cid, h.logic.cid);
  if (h.logic.params) logic.set(LOGIC.params, h.logic.params);
  m.set(H.logic, logic);
  m.set(
    H.payload,
    new Map<number, unknown>([
      [PAYLOAD.size, h.payload.size],
      [PAYLOAD.chunkSize, h.payload.chunkSize],
      [PAYLOAD.cipher, h.payload.cipher],
      [PAYLOAD.digestAlg, h.payload.digestAlg],
      [PAYLOAD.digest, h.payload.digest],
    ]),
  );
  m.set(
    H.stanzas,
    h.stanzas.map((s) => [s.type, s.body]),
  );
  if ((view === 'all' || view === 'guardian') && h.signature) m.set(H.signature, h.signature);
  if (h.guardian) m.set(H.guardian, h.guardian);
  if (view === 'all' && h.guardianSignature) m.set(H.guardianSignature, h.guardianSignature);
  if (h.guardianSet) m.set(H.guardianSet, guardianSetToMap(h.guardianSet));
  if (view !== 'set' && h.shareCommitments) m.set(H.shareCommitments, h.shareCommitments);
  for (const [k, v] of h.extensions) m.set(k, v);
  return m;
}

/**
 * Decodes and shape-checks header bytes (without the preamble). Signatures are not verified here
 * (CapsuleReader and readHeader do that).
 * @param bytes - The header's CBOR, exactly.
 * @returns The header.
 * @throws CapsuleFormatError ERR_MALFORMED_HEADER, ERR_NON_CANONICAL_HEADER, ERR_UNKNOWN_CRITICAL_FIELD,
 *   ERR_UNSUPPORTED_VERSION, ERR_UNSUPPORTED_CIPHER, with the failing field named.
 * @example
 * ```js
 * import { decodeHeader, decodePreamble, PREAMBLE_SIZE } from 'digital-capsule-engine/format';
 * const { headerLength } = decodePreamble(bytes);
 * const header = decodeHeader(bytes.subarray(PREAMBLE_SIZE, PREAMBLE_SIZE + headerLength));
 * ```
 */
export function decodeHeader(bytes: Uint8Array): CapsuleHeader {
  const top = asMap(decodeCanonical(bytes, 'header'), 'header');
  const extensions = checkKeys(top, 'header', Object.values(H));
  const version = uint(required(top, H.version, 'header.version'), 'header.version');
  if (version !== FORMAT_VERSION) {
    throw new CapsuleFormatError('ERR_UNSUPPORTED_VERSION', `header.version: expected ${FORMAT_VERSION}, got ${version}`);
  }
  const id = bytesOf(required(top, H.id, 'header.id'), 'header.id', CAPSULE_ID_SIZE);
  const created = uint(required(top, H.created, 'header.created'), 'header.created');
  if (created > MAX_CREATED) throw malformed(`header.created: expected at most ${MAX_CREATED} (9999-12-31T23:59:59Z), got ${created}`);
  const owner = top.has(H.owner) ? bytesOf(top.get(H.owner), 'header.owner', 32) : undefined;
  const signature = top.has(H.signature) ? bytesOf(top.get(H.signature), 'header.signature', 64) : undefined;
  // Both or neither: an owner claim without a signature would be unverifiable, and allowing it
  // would let anyone strip a signature while keeping the owner's name on the capsule.
  if (signature && !owner) {
    throw new CapsuleFormatError('ERR_MALFORMED_HEADER', 'header.signature: present without header.owner (key 4) to verify it against');
  }
  if (owner && !signature) {
    throw new CapsuleFormatError('ERR_MALFORMED_HEADER', 'header.owner: present without header.signature (key 8); an owner claim must be signed');
  }
  const guardian = top.has(H.guardian) ? bytesOf(top.get(H.guardian), 'header.guardian', P256_PUBLIC_KEY_SIZE) : undefined;
  const guardianSignature = top.has(H.guardianSignature) ? bytesOf(top.get(H.guardianSignature), 'header.guardian_signature', 64) : undefined;
  // Both or neither, for the same reason as owner and signature.
  if (guardianSignature && !guardian) {
    throw new CapsuleFormatError('ERR_MALFORMED_HEADER', 'header.guardian_signature: present without header.guardian (key 9) to verify it against');
  }
  if (guardian && !guardianSignature) {
    throw new CapsuleFormatError(
      'ERR_MALFORMED_HEADER',
      'header.guardian: present without header.guardian_signature (key 10); a guardian claim must be signed',
    );
  }
  const logic = decodeLogic(required(top, H.logic, 'header.logic'));
  const payload = decodePayload(required(top, H.payload, 'header.payload'));
  const stanzas = decodeStanzas(required(top, H.stanzas, 'header.stanzas'));
  // Check 16a (SPEC.md §9): a threshold capsule's set, after the stanzas it describes.
  const guardianSet = top.has(H.guardianSet) ? decodeGuardianSet(top.get(H.guardianSet)) : undefined;
  const shareCommitments = top.has(H.shareCommitments) ? decodeShareCommitments(top.get(H.shareCommitments)) : undefined;
  checkGuardianSet(guardianSet, shareCommitments, stanzas);
  const h: CapsuleHeader = { version, id, created, owner, signature, guardian, guardianSignature, extensions, logic, payload, stanzas };
  if (guardianSet) {
    h.guardianSet = guardianSet;
    h.shareCommitments = shareCommitments;
  }
  return h;
}

function decodeLogic(v: unknown): LogicRef {
  const m = asMap(v, 'header.logic');
  checkKeys(m, 'header.logic', Object.values(LOGIC));
  const hash = bytesOf(required(m, LOGIC.hash, 'header.logic.hash'), 'header.logic.hash', 32);
  let cid: Uint8Array | undefined;
  if (m.has(LOGIC.cid)) {
    cid = bytesOf(m.get(LOGIC.cid), 'header.logic.cid');
    if (cid.length < 1 || cid.length > MAX_CID_SIZE) {
      throw malformed(`header.logic.cid: expected 1..${MAX_CID_SIZE} bytes, got ${cid.length}`);
    }
    let parsed: CID | undefined;
    try {
      parsed = CID.decode(cid);
    } catch (cause) {
      throw new CapsuleFormatError('ERR_MALFORMED_HEADER', 'header.logic.cid: not a binary CID', { cause });
    }
    // CIDv1 only, in its one canonical binary form (minimal varints, multihash length as declared).
    if (parsed.version !== 1 || !equalBytes(parsed.bytes, cid)) {
      throw malformed(
        `header.logic.cid: expected a canonical binary CIDv1, got a ${parsed.version === 1 ? 'non-canonical encoding' : `CIDv${parsed.version}`}`,
      );
    }
  }
  let params: Uint8Array | undefined;
  if (m.has(LOGIC.params)) {
    params = bytesOf(m.get(LOGIC.params), 'header.logic.params');
    if (params.length < 1 || params.length > MAX_PARAMS_SIZE) {
      throw malformed(`header.logic.params: expected 1..${MAX_PARAMS_SIZE} bytes, got ${params.length}`);
    }
    decodeCanonical(params, 'header.logic.params');
  }
  return { hash, cid, params };
}

function decodePayload(v: unknown): PayloadInfo {
  const m = asMap(v, 'header.payload');
  checkKeys(m, 'header.payload', Object.values(PAYLOAD));
  const size = uint(required(m, PAYLOAD.size, 'header.payload.size'), 'header.payload.size');
  if (size > MAX_PAYLOAD_SIZE) throw malformed(`header.payload.size: expected at most 2^53-1, got ${size}`);
  const chunkSize = uint(required(m, PAYLOAD.chunkSize, 'header.payload.chunk_size'), 'header.payload.chunk_size');
  const cipher = uint(required(m, PAYLOAD.cipher, 'header.payload.cipher'), 'header.payload.cipher');
  if (cipher !== CIPHER_AES_256_GCM_STREAM) {
    throw new CapsuleFormatError('ERR_UNSUPPORTED_CIPHER', `header.payload.cipher: expected ${CIPHER_AES_256_GCM_STREAM} (AES-256-GCM STREAM), got ${cipher}`);
  }
  if (chunkSize !== CHUNK_SIZE) {
    throw new CapsuleFormatError('ERR_UNSUPPORTED_CIPHER', `header.payload.chunk_size: expected ${CHUNK_SIZE}, got ${chunkSize}`);
  }
  const digestAlg = uint(required(m, PAYLOAD.digestAlg, 'header.payload.digest_alg'), 'header.payload.digest_alg');
  if (digestAlg !== DIGEST_SHA256 && digestAlg !== DIGEST_SALTED_SHA256 && digestAlg !== DIGEST_CHUNKED_SHA256 && digestAlg !== DIGEST_SALTED_CHUNKED_SHA256) {
    throw new CapsuleFormatError(
      'ERR_UNSUPPORTED_CIPHER',
      `header.payload.digest_alg: expected 1 (sha256), 2 (salted-sha256), 3 (chunked-sha256) or 4 (salted-chunked-sha256), got ${digestAlg}`,
    );
  }
  const digest = bytesOf(required(m, PAYLOAD.digest, 'header.payload.digest'), 'header.payload.digest', 32);
  return { size, chunkSize, cipher, digestAlg, digest };
}

function decodeStanzas(v: unknown): Stanza[] {
  if (!Array.isArray(v)) throw malformed(`header.stanzas: expected an array, got ${kind(v)}`);
  if (v.length < 1 || v.length > MAX_STANZAS) {
    throw malformed(`header.stanzas: expected 1..${MAX_STANZAS} stanzas, got ${v.length}`);
  }
  return v.map((s: unknown, i: number) => {
    const at = `header.stanzas[${i}]`;
    if (!Array.isArray(s) || s.length !== 2) throw malformed(`${at}: expected [type, body], got ${kind(s)}`);
    const [type, body] = s as [unknown, unknown];
    if (typeof type !== 'string' || !STANZA_TYPE.test(type)) {
      throw malformed(`${at}.type: expected 1..32 characters of a-z 0-9 '-', got ${JSON.stringify(String(type)).slice(0, 40)}`);
    }
    const b = bytesOf(body, `${at}.body`);
    if (b.length > MAX_STANZA_BODY) throw malformed(`${at}.body: expected at most ${MAX_STANZA_BODY} bytes, got ${b.length}`);
    return { type, body: b };
  });
}

/** Internal: shared with guardianSet.ts (not re-exported by the format entry point). */
export function checkKeys(m: Map<unknown, unknown>, at: string, known: readonly number[]): Map<number, unknown> {
  const extensions = new Map<number, unknown>();
  for (const [k, v] of m) {
    if (typeof k !== 'number' || !Number.isInteger(k)) {
      throw malformed(`${at}: map keys must be integers, got ${kind(k)}`);
    }
    if (k < 0) extensions.set(k, v);
    else if (!known.includes(k)) {
      throw new CapsuleFormatError('ERR_UNKNOWN_CRITICAL_FIELD', `${at}: unknown critical field ${k} (this version knows ${known.join(', ')})`);
    }
  }
  return extensions;
}

/** Internal: shared with guardianSet.ts (not re-exported by the format entry point). */
export function required(m: Map<unknown, unknown>, key: number, at: string): unknown {
  if (!m.has(key)) throw malformed(`${at}: required field (key ${key}) is missing`);
  return m.get(key);
}

/** Internal: shared with guardianSet.ts (not re-exported by the format entry point). */
export function asMap(v: unknown, at: string): Map<unknown, unknown> {
  if (!(v instanceof Map)) throw malformed(`${at}: expected a map, got ${kind(v)}`);
  return v;
}

/** Internal: shared with guardianSet.ts (not re-exported by the format entry point). */
export function uint(v: unknown, at: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw malformed(`${at}: expected an unsigned integer, got ${kind(v)}`);
  return v;
}

/** Internal: shared with guardianSet.ts (not re-exported by the format entry point). */
export function bytesOf(v: unknown, at: string, size?: number): Uint8Array {
  if (!(v instanceof Uint8Array)) throw malformed(`${at}: expected a byte string, got ${kind(v)}`);
  if (size !== undefined && v.length !== size) throw malformed(`${at}: expected ${size} bytes, got ${v.length}`);
  return v;
}

/** Internal: shared with guardianSet.ts (not re-exported by the format entry point). */
export function malformed(message: string): CapsuleFormatError {
  return new CapsuleFormatError('ERR_MALFORMED_HEADER', message);
}

/** Internal: shared with guardianSet.ts (not re-exported by the format entry point). */
export function kind(v: unknown): string {
  if (v instanceof Uint8Array) return `a ${v.length}-byte string`;
  if (v instanceof Map) return 'a map';
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (v === null) return 'null';
  if (typeof v === 'number') return Number.isInteger(v) ? `the integer ${v}` : `the float ${v}`;
  return typeof v === 'string' ? 'a text string' : typeof v;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
