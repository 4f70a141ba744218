/**
 * The guardian set of a threshold capsule (SPEC.md §5.6): header key 12 (m, and per guardian its
 * share's x-coordinate and the public key its stanza is sealed to) and header key 13 (one share
 * commitment per guardian); their data types, encoding and the key-free structural checks.
 *
 * Implements: decoding with the critical/extension key rule, and the set's rules — 2..16 guardians,
 * 1 ≤ m ≤ n, one stanza per guardian, distinct x-coordinates, no guardian twice, a key of the size
 * its stanza type needs — and the error family for sets and shares. Deliberately not here: Shamir
 * splitting and combining, share commitments and any other cryptography (agent/capsule/shares.ts),
 * and point/modulus validity of the keys (also there: it needs curve arithmetic).
 */
import { GuardianSetError } from '../errors.ts';
import {
  GUARDIAN_ENTRY,
  GUARDIAN_SET,
  MAX_GUARDIANS,
  MIN_GUARDIANS,
  P256_PUBLIC_KEY_SIZE,
  SHARE_COMMITMENT_SIZE,
  STANZA_LOCK,
  STANZA_P256,
  STANZA_TPM2_RSA,
  STANZA_X25519,
  TPM2_RSA_STANZA_BODY_SIZE,
} from './constants.ts';
import { asMap, bytesOf, checkKeys, kind, malformed, required, uint, type Stanza } from './header.ts';

export { GuardianSetError, type GuardianSetErrorCode } from '../errors.ts';

/** One guardian of a set: the x-coordinate of its share and the public key its stanza is sealed to. */
export interface GuardianEntry {
  /** The share's x-coordinate in GF(2^8), 1..255, distinct within the set. */
  x: number;
  /** x25519: 32-byte X25519 key; p256-ecdh: 33-byte compressed point; tpm2-rsa: 256-byte modulus; zymbit-lock: the guardian's 33-byte signing key. */
  key: Uint8Array;
  /** Negative-keyed extension fields of the entry, kept for byte-identical re-encoding. */
  extensions: Map<number, unknown>;
}

/** Header key 12: a threshold m and n guardians; guardian i's share is wrapped in stanza i. */
export interface GuardianSet {
  /** m: how many shares open the capsule, 1..n. */
  threshold: number;
  /** The n guardians, in stanza order. */
  guardians: GuardianEntry[];
  /** Negative-keyed extension fields of the set map. */
  extensions: Map<number, unknown>;
}

/** The key length each known stanza type's guardian entry carries. */
const KEY_SIZE: Record<string, number> = {
  [STANZA_X25519]: 32,
  [STANZA_P256]: P256_PUBLIC_KEY_SIZE,
  [STANZA_TPM2_RSA]: TPM2_RSA_STANZA_BODY_SIZE,
  [STANZA_LOCK]: P256_PUBLIC_KEY_SIZE,
};

/**
 * The set as the CBOR map header key 12 holds (for the deterministic encoder).
 * @param set - The set.
 * @returns Its map.
 */
export function guardianSetToMap(set: GuardianSet): Map<number, unknown> {
  const guardians = set.guardians.map((g) => {
    const m = new Map<number, unknown>([
      [GUARDIAN_ENTRY.x, g.x],
      [GUARDIAN_ENTRY.key, g.key],
    ]);
    for (const [k, v] of g.extensions) m.set(k, v);
    return m;
  });
  const m = new Map<number, unknown>([
    [GUARDIAN_SET.threshold, set.threshold],
    [GUARDIAN_SET.guardians, guardians],
  ]);
  for (const [k, v] of set.extensions) m.set(k, v);
  return m;
}

/**
 * Decodes header key 12 (shapes only; `checkGuardianSet` applies the set's rules).
 * @param v - The decoded CBOR value of key 12.
 * @returns The set.
 * @throws CapsuleFormatError ERR_MALFORMED_HEADER (wrong type or size), ERR_UNKNOWN_CRITICAL_FIELD.
 */
export function decodeGuardianSet(v: unknown): GuardianSet {
  const m = asMap(v, 'header.guardian_set');
  const extensions = checkKeys(m, 'header.guardian_set', Object.values(GUARDIAN_SET));
  const threshold = uint(required(m, GUARDIAN_SET.threshold, 'header.guardian_set.threshold'), 'header.guardian_set.threshold');
  const list = required(m, GUARDIAN_SET.guardians, 'header.guardian_set.guardians');
  if (!Array.isArray(list)) throw malformed(`header.guardian_set.guardians: expected an array, got ${kind(list)}`);
  const guardians = list.map((e: unknown, i: number) => {
    const at = `header.guardian_set.guardians[${i}]`;
    const g = asMap(e, at);
    const ext = checkKeys(g, at, Object.values(GUARDIAN_ENTRY));
    const x = uint(required(g, GUARDIAN_ENTRY.x, `${at}.x`), `${at}.x`);
    const key = bytesOf(required(g, GUARDIAN_ENTRY.key, `${at}.key`), `${at}.key`);
    if (key.length < 1 || key.length > TPM2_RSA_STANZA_BODY_SIZE)
      throw malformed(`${at}.key: expected 1..${TPM2_RSA_STANZA_BODY_SIZE} bytes, got ${key.length}`);
    return { x, key, extensions: ext };
  });
  return { threshold, guardians, extensions };
}

/**
 * Decodes header key 13: one 32-byte share commitment per guardian (the count is checked with the set).
 * @param v - The decoded CBOR value of key 13.
 * @returns The commitments.
 * @throws CapsuleFormatError ERR_MALFORMED_HEADER.
 */
export function decodeShareCommitments(v: unknown): Uint8Array[] {
  if (!Array.isArray(v)) throw malformed(`header.share_commitments: expected an array, got ${kind(v)}`);
  return v.map((c: unknown, i: number) => bytesOf(c, `header.share_commitments[${i}]`, SHARE_COMMITMENT_SIZE));
}

/**
 * The set's rules (SPEC.md §5.6), in this order: both keys or neither (malformed); n in 2..16;
 * 1 ≤ m ≤ n; one stanza per guardian; one commitment per guardian; each x in 1..255 and distinct;
 * each key of its stanza type's size; no guardian (stanza type and key) twice.
 * @param set - Header key 12, or undefined.
 * @param commitments - Header key 13, or undefined.
 * @param stanzas - The header's stanzas.
 * @throws CapsuleFormatError ERR_MALFORMED_HEADER when exactly one of keys 12 and 13 is present.
 * @throws GuardianSetError ERR_BAD_GUARDIAN_SET naming the rule, the guardian index and what came.
 */
export function checkGuardianSet(set: GuardianSet | undefined, commitments: Uint8Array[] | undefined, stanzas: Stanza[]): void {
  if (!set && !commitments) return;
  if (!set) throw malformed('header.share_commitments: present without header.guardian_set (key 12)');
  if (!commitments) throw malformed('header.guardian_set: present without header.share_commitments (key 13); every share must be committed');
  const n = set.guardians.length;
  const bad = (message: string) => new GuardianSetError('ERR_BAD_GUARDIAN_SET', message);
  if (n < MIN_GUARDIANS || n > MAX_GUARDIANS) throw bad(`header.guardian_set.guardians: expected ${MIN_GUARDIANS}..${MAX_GUARDIANS} guardians, got ${n}`);
  if (set.threshold < 1) throw bad(`header.guardian_set.threshold: expected m >= 1, got ${set.threshold}`);
  if (set.threshold > n) throw bad(`header.guardian_set.threshold: expected m <= n = ${n}, got ${set.threshold}`);
  if (stanzas.length !== n) throw bad(`header.stanzas: a set of ${n} guardians needs exactly ${n} stanzas (one share each), got ${stanzas.length}`);
  if (commitments.length !== n) throw bad(`header.share_commitments: expected ${n} (one per guardian), got ${commitments.length}`);
  const xs = new Map<number, number>();
  const keys = new Map<string, number>();
  set.guardians.forEach((g, i) => {
    const at = `header.guardian_set.guardians[${i}]`;
    if (g.x < 1 || g.x > 255) throw bad(`${at}.x: expected 1..255, got ${g.x}`);
    const sameX = xs.get(g.x);
    if (sameX !== undefined) throw bad(`${at}.x: ${g.x} is also guardian ${sameX}'s; x-coordinates must be distinct`);
    xs.set(g.x, i);
    const type = stanzas[i]!.type;
    const size = KEY_SIZE[type];
    if (size !== undefined && g.key.length !== size) throw bad(`${at}.key: a ${type} guardian's key is ${size} bytes, got ${g.key.length}`);
    const id = `${type}:${Buffer.from(g.key).toString('hex')}`;
    const same = keys.get(id);
    if (same !== undefined) throw bad(`${at}: duplicates guardian ${same} (same ${type} key); each guardian may hold one share`);
    keys.set(id, i);
  });
}
