/**
 * Building blocks for the test vectors: seal deterministically, then re-assemble capsules from
 * (possibly hostile) header bytes and payload chunks, re-encrypting so that each negative vector
 * carries exactly one defect. Test-only code; it deliberately bypasses the library's guards.
 */
import { createCipheriv, createHash } from 'node:crypto';
import { p256 } from '@noble/curves/nist.js';
import { encode } from 'cborg';
import { CapsuleSealer, type SealOptions } from '../../agent/capsule/CapsuleSealer.ts';
import type { HeaderSigner } from '../../agent/crypto/guardianSignature.ts';
import { identityFromSecret, type Identity } from '../../agent/crypto/identity.ts';
import type { Locker } from '../../agent/crypto/lockStanza.ts';
import { ECDH_RECIPIENT_HRP, encodeP256Key, scalarFromBytes } from '../../agent/crypto/p256.ts';
import { derivePayloadKey } from '../../agent/crypto/kdf.ts';
import { encodeCanonical } from '../../agent/format/cbor.ts';
import { CHUNK_SIZE } from '../../agent/format/constants.ts';
import { encodePreamble } from '../../agent/format/preamble.ts';
import { drbg } from '../helpers/drbg.ts';
import { createRequire, syncBuiltinESMExports } from 'node:module';

/**
 * Runs `fn` with node:crypto's randomBytes replaced by a seeded source (ESM bindings included, via
 * syncBuiltinESMExports), so that the Shamir library's split is reproducible. Vectors only: it
 * makes every draw in the window predictable.
 */
export async function withSeededRandomBytes<T>(seed: string, fn: () => Promise<T>): Promise<T> {
  const crypto = createRequire(import.meta.url)('node:crypto') as { randomBytes: (n: number) => Buffer };
  const original = crypto.randomBytes;
  const next = drbg(seed);
  crypto.randomBytes = (n: number) => {
    // A Buffer over its own ArrayBuffer, as randomBytes gives: the library reads `.buffer`.
    const bytes = next(n);
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  };
  syncBuiltinESMExports();
  try {
    return await fn();
  } finally {
    crypto.randomBytes = original;
    syncBuiltinESMExports();
  }
}

export const CREATED = new Date('2026-11-24T12:00:00Z');
export const LOGIC_MODULE = Uint8Array.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
export const LOGIC_HASH = sha256(LOGIC_MODULE);

export function fixedIdentity(name: string): Identity {
  return identityFromSecret(drbg(`identity ${name}`)(32));
}

export interface P256Key {
  /** The private scalar, 32 bytes big-endian: what a vector's `identity-p256:` line holds (hex). */
  scalar: Uint8Array;
  /** Compressed public key. */
  publicKey: Uint8Array;
  /** `capsule-ecdh1…` */
  recipient: string;
}

/** A fixed P-256 key pair, its scalar drawn as SPEC.md §8.2 draws one (48 bytes, mod n − 1, + 1). */
export function fixedP256(name: string): P256Key {
  const scalar = scalarFromBytes(drbg(`p256 ${name}`)(48));
  const publicKey = p256.getPublicKey(scalar, true);
  return { scalar, publicKey, recipient: encodeP256Key(ECDH_RECIPIENT_HRP, publicKey) };
}

/**
 * A guardian signer from a fixed scalar, standing in for a module slot key. It returns whatever S
 * RFC 6979 gives (high or low), as a module does: the sealer must normalise it.
 */
export function fixedSigner(key: P256Key): HeaderSigner {
  return { publicKey: key.publicKey, sign: async (digest) => p256.sign(digest, key.scalar, { prehash: false, lowS: false }) };
}

/** A stand-in for the security module: lock() returns a fixed opaque blob, unlock() is never reached. */
export function fakeLocker(blob: Uint8Array): Locker {
  return {
    lock: async (data) => {
      // label ‖ 00 ‖ id ‖ file key = 22 + 1 + 16 + 32 bytes; anything else means the sealer changed.
      if (data.length !== 71) throw new Error(`fake locker: expected 71 bytes to lock, got ${data.length}`);
      return Uint8Array.from(blob);
    },
    unlock: async () => {
      throw new Error('fake locker: vectors never unlock a zymbit-lock stanza (no module holds the key)');
    },
  };
}

/** `label ‖ 00 ‖ body`: the shape of every signed message (SPEC.md §7). */
export function labelled(label: string, body: Uint8Array): Uint8Array {
  return concat(new TextEncoder().encode(label), Uint8Array.of(0), body);
}

/**
 * ECDSA P-256 (low S) over a 32-byte digest, for negative vectors that re-sign an edited header the
 * right way or a wrong way. Messages are built here, not with agent/format/header.ts, so that a
 * vector does not depend on the code it tests.
 */
export function signDigest(key: P256Key, digest: Uint8Array): Uint8Array {
  return p256.sign(digest, key.scalar, { prehash: false, lowS: true });
}

export function sha256(...parts: Uint8Array[]): Uint8Array {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

export function plaintext(size: number, seed: string): Uint8Array {
  return drbg(`plaintext ${seed}`)(size);
}

export interface Built {
  bytes: Uint8Array;
  /** preamble ‖ header */
  head: Uint8Array;
  /** header CBOR alone */
  header: Uint8Array;
  chunks: Uint8Array[];
  fileKey: Uint8Array;
  id: Uint8Array;
  plain: Uint8Array;
}

/**
 * Seals with the real sealer and a seeded random source; returns the parts too. Uses start(),
 * which gives the same bytes as begin() and also takes a lock and a guardian signer.
 */
export async function sealDeterministic(seed: string, plain: Uint8Array, options: Omit<SealOptions, 'random' | 'created'>): Promise<Built> {
  const random = drbg(`seal ${seed}`);
  const replay = drbg(`seal ${seed}`);
  const id = replay(16);
  const fileKey = replay(32);
  // The vectors written before chunked digests existed keep sha256: their bytes must not move.
  const s = new CapsuleSealer({ digest: 'sha256', ...options, random, created: CREATED });
  const start = () => s.start(plain.length, s.payloadDigest().update(plain).digest());
  // The Shamir library draws its coefficients and x-coordinates from node:crypto itself: seed it.
  const head = options.threshold === undefined ? await start() : await withSeededRandomBytes(`shamir ${seed}`, start);
  const parts = [...s.push(plain), ...s.end()];
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < parts.length; i += 2) chunks.push(concat(parts[i]!, parts[i + 1]!)); // [ciphertext, tag] pairs
  return { bytes: concat(head, ...chunks), head, header: head.subarray(16), chunks, fileKey, id, plain };
}

export interface ChunkTweaks {
  /** Chunk indexes to encrypt with the last flag set (default: only the final one). */
  lastFlags?: number[];
  /** Plaintext chunk boundaries override (default: 64 KiB cuts). */
  pieces?: Uint8Array[];
}

/** Encrypts `pieces` as STREAM chunks under the header `head` (preamble ‖ header) exactly as sealed. */
export function encryptChunks(head: Uint8Array, fileKey: Uint8Array, id: Uint8Array, plain: Uint8Array, t: ChunkTweaks = {}): Uint8Array[] {
  const pieces = t.pieces ?? cut(plain);
  const key = derivePayloadKey(fileKey, id);
  const aad = sha256(head);
  return pieces.map((p, i) => {
    const nonce = new Uint8Array(12);
    new DataView(nonce.buffer).setUint32(7, i);
    const last = t.lastFlags ? t.lastFlags.includes(i) : i === pieces.length - 1;
    nonce[11] = last ? 1 : 0;
    const c = createCipheriv('aes-256-gcm', key, nonce);
    c.setAAD(aad);
    return concat(c.update(p), c.final(), c.getAuthTag());
  });
}

export function cut(plain: Uint8Array): Uint8Array[] {
  if (plain.length === 0) return [plain];
  const out: Uint8Array[] = [];
  for (let o = 0; o < plain.length; o += CHUNK_SIZE) out.push(plain.subarray(o, Math.min(o + CHUNK_SIZE, plain.length)));
  return out;
}

/** A new capsule with `header` (raw CBOR bytes) and its payload re-encrypted to match. */
export function withHeader(b: Built, header: Uint8Array, t: ChunkTweaks = {}): Uint8Array {
  const head = concat(encodePreamble(header.length), header);
  return concat(head, ...encryptChunks(head, b.fileKey, b.id, b.plain, t));
}

/** `b` with a new header (raw CBOR bytes) and its payload re-encrypted to match, as a Built to derive further vectors from. */
export function rebuilt(b: Built, header: Uint8Array): Built {
  const head = concat(encodePreamble(header.length), header);
  const chunks = encryptChunks(head, b.fileKey, b.id, b.plain);
  return { ...b, head, header, chunks, bytes: concat(head, ...chunks) };
}

/** Decodes the header into a Map we can edit (the test side may use any CBOR decoder). */
export function headerMap(b: Built): Map<number, unknown> {
  return decodeLoose(b.header) as Map<number, unknown>;
}

export function decodeLoose(bytes: Uint8Array): unknown {
  // A plain (non-strict) decode: vectors must not depend on the code under test's decoder.
  return (cborgDecode as (b: Uint8Array, o: object) => unknown)(bytes, { useMaps: true });
}
import { decode as cborgDecode } from 'cborg';

export function canonical(v: unknown): Uint8Array {
  return encodeCanonical(v);
}

/** Encodes a map with entries in exactly the given order (for non-canonical vectors). */
export function rawMap(entries: [unknown, unknown][], header = 0xa0 + entries.length): Uint8Array {
  const parts: Uint8Array[] = [Uint8Array.of(header)];
  for (const [k, v] of entries) parts.push(enc(k), v instanceof Raw ? v.bytes : enc(v));
  return concat(...parts);
}

/** Pre-encoded CBOR inside rawMap. */
export class Raw {
  readonly bytes: Uint8Array;
  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }
}

function enc(v: unknown): Uint8Array {
  return encode(v, { mapSorter: undefined } as never);
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function flip(bytes: Uint8Array, index: number, mask = 0x01): Uint8Array {
  const out = Uint8Array.from(bytes);
  out[index]! ^= mask;
  return out;
}
