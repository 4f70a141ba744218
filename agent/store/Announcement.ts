/**
 * Capsule announcements (docs/ANNOUNCEMENTS.md): "this capsule, guarded by that guardian, with this
 * logic, is on IPFS", as one deterministic-CBOR map signed with the publisher's Ed25519 owner key,
 * sent on the pubsub topic ANNOUNCE_TOPIC.
 *
 *   1 version (1) · 2 capsule CID · 3 logic CID · 4 guardian key (33-byte compressed P-256)
 *   5 created (ms since the epoch) · 6 signer (Ed25519, 32) · 7 signature (64)
 *   signature = Ed25519(signer, "capsule-announcement/v1" ‖ 0x00 ‖ CBOR(map without key 7))
 *
 * decodeAnnouncement() is strict: anything not exactly this (size, CBOR, keys, types, CIDs, a
 * signature that does not verify) is ContentError ERR_BAD_ANNOUNCEMENT, with the field named.
 * Deliberately not here: sending, receiving or acting on announcements (the agent and `watch`).
 */
import { DceError, ContentError } from '../errors.ts';
import { encodeCanonical, decodeCanonical } from '../format/cbor.ts';
import { encodeP256Key, GUARDIAN_KEY_HRP } from '../crypto/p256.ts';
import { ownerPublicKey, signWithOwner, verifyOwnerSignature, type Identity } from '../crypto/identity.ts';
import type { CID } from 'multiformats/cid';
import { cidFromBytes } from './ContentStore.ts';

export const ANNOUNCE_TOPIC = 'capsule-engine/announce/v1';
export const ANNOUNCEMENT_VERSION = 1;
/** Larger messages are dropped before decoding. */
export const MAX_ANNOUNCEMENT_BYTES = 1024;
/** The last millisecond of 9999 (as SPEC.md bounds a header's created): any later is not a date. */
export const MAX_CREATED = 253_402_300_799_999;
const LABEL = new TextEncoder().encode('capsule-announcement/v1\0');

export interface Announcement {
  capsule: CID;
  logic: CID;
  /** Compressed P-256 public key of the guardian that guards the capsule. */
  guardian: Uint8Array;
  created: number;
  signer: Uint8Array;
}

const bad = (message: string, cause?: unknown) =>
  new ContentError('ERR_BAD_ANNOUNCEMENT', `announcement: ${message}`, { cause, hint: 'dropped; it was malformed, unsigned or forged' });

function signedPart(a: Announcement): Uint8Array {
  const body = encodeCanonical(
    new Map<number, unknown>([
      [1, ANNOUNCEMENT_VERSION],
      [2, a.capsule.bytes],
      [3, a.logic.bytes],
      [4, a.guardian],
      [5, a.created],
      [6, a.signer],
    ]),
  );
  const out = new Uint8Array(LABEL.length + body.length);
  out.set(LABEL);
  out.set(body, LABEL.length);
  return out;
}

/** Signs with the owner key derived from `by` (SPEC.md §7.1's derivation). */
export function encodeAnnouncement(a: Omit<Announcement, 'signer'>, by: Identity): Uint8Array {
  if (a.guardian.length !== 33) throw new RangeError(`announcement guardian: expected a 33-byte compressed P-256 key, got ${a.guardian.length} bytes`);
  if (!Number.isSafeInteger(a.created) || a.created < 0 || a.created > MAX_CREATED)
    throw new RangeError(`announcement created: expected milliseconds from 0 to ${MAX_CREATED}, got ${a.created}`);
  const full: Announcement = { ...a, signer: ownerPublicKey(by) };
  const signature = signWithOwner(by, signedPart(full));
  return encodeCanonical(
    new Map<number, unknown>([
      [1, ANNOUNCEMENT_VERSION],
      [2, a.capsule.bytes],
      [3, a.logic.bytes],
      [4, a.guardian],
      [5, a.created],
      [6, full.signer],
      [7, signature],
    ]),
  );
}

function bytesField(m: Map<unknown, unknown>, key: number, name: string, size?: number): Uint8Array {
  const v = m.get(key);
  if (!(v instanceof Uint8Array)) throw bad(`${name} (key ${key}): expected a byte string`);
  if (size !== undefined && v.length !== size) throw bad(`${name} (key ${key}): expected ${size} bytes, got ${v.length}`);
  return v;
}

/** Decodes and verifies; throws ERR_BAD_ANNOUNCEMENT. */
export function decodeAnnouncement(bytes: Uint8Array): Announcement {
  if (bytes.length > MAX_ANNOUNCEMENT_BYTES) throw bad(`${bytes.length} bytes, above the ${MAX_ANNOUNCEMENT_BYTES}-byte cap`);
  let m: unknown;
  try {
    m = decodeCanonical(bytes, 'announcement');
  } catch (cause) {
    if (cause instanceof DceError) throw bad('not one deterministic CBOR item', cause);
    throw cause;
  }
  if (!(m instanceof Map)) throw bad('expected a CBOR map');
  for (const k of m.keys())
    if (!(typeof k === 'number' && Number.isInteger(k) && k >= 1 && k <= 7))
      throw bad(`unexpected key ${JSON.stringify(typeof k === 'bigint' ? String(k) : k)}`);
  if (m.get(1) !== ANNOUNCEMENT_VERSION) throw bad(`version (key 1): expected ${ANNOUNCEMENT_VERSION}, got ${JSON.stringify(m.get(1) ?? null)}`);
  const created = m.get(5);
  if (typeof created !== 'number' || !Number.isSafeInteger(created) || created < 0 || created > MAX_CREATED)
    throw bad(`created (key 5): expected milliseconds from 0 to ${MAX_CREATED} (9999-12-31T23:59:59.999Z)`);
  const cidField = (key: number, name: string): CID => {
    try {
      return cidFromBytes(bytesField(m, key, name), `${name} (key ${key})`);
    } catch (cause) {
      if (cause instanceof ContentError && cause.code === 'ERR_BAD_CID') throw bad(`${name} (key ${key}): ${cause.message}`, cause);
      throw cause;
    }
  };
  const capsule = cidField(2, 'capsule');
  const logic = cidField(3, 'logic');
  const a: Announcement = { capsule, logic, guardian: bytesField(m, 4, 'guardian', 33), created, signer: bytesField(m, 6, 'signer', 32) };
  const signature = bytesField(m, 7, 'signature', 64);
  if (!verifyOwnerSignature(signature, signedPart(a), a.signer)) throw bad('signature (key 7): does not verify under the signer (key 6)');
  return a;
}

/** The JSON line `capsule watch` prints. */
export function announcementJson(a: Announcement, from: string): Record<string, unknown> {
  return {
    capsule: a.capsule.toString(),
    logic: a.logic.toString(),
    guardian: encodeP256Key(GUARDIAN_KEY_HRP, a.guardian),
    created: new Date(a.created).toISOString(),
    signer: Buffer.from(a.signer).toString('hex'),
    from,
  };
}
