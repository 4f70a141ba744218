/**
 * Shamir shares of a threshold capsule's file key (SPEC.md §5.6): splitting when sealing, the share
 * commitments, checking one released share against its commitment, and combining m of them into
 * the file key; also the key-free checks and the printable description of a header's guardian set.
 *
 * The GF(2^8) arithmetic is the audited `shamir-secret-sharing` library's (Privy; Cure53 and Zellic
 * audits), never ours. A library share is y ‖ x (33 bytes for a 32-byte key): the 32 y-values are
 * what guardian i's stanza wraps (so every stanza type wraps 32 bytes, as for a file key), and x
 * is public, in the header. Deliberately not here: the byte format of the set (format/guardianSet.ts),
 * a guardian's release of its share (agent/daemon) and asking several guardians (the client).
 */
import { combine, split } from 'shamir-secret-sharing';
import { encodeRecipient } from '../crypto/identity.ts';
import { sha256 } from '../crypto/kdf.ts';
import { ECDH_RECIPIENT_HRP, encodeP256Key, GUARDIAN_KEY_HRP, isP256Point } from '../crypto/p256.ts';
import { constantTimeEqual, wipe } from '../crypto/secrets.ts';
import { encodeTpmRecipient, isRsa2048Modulus } from '../crypto/tpmRecipient.ts';
import type { Recipient } from '../crypto/recipients.ts';
import {
  FILE_KEY_SIZE,
  LABEL_SHARE_COMMITMENT,
  MAX_GUARDIANS,
  MIN_GUARDIANS,
  SHARE_SIZE,
  STANZA_LOCK,
  STANZA_P256,
  STANZA_TPM2_RSA,
  STANZA_X25519,
} from '../format/constants.ts';
import { GuardianSetError } from '../format/guardianSet.ts';
import { guardianSetMessage, type CapsuleHeader } from '../format/header.ts';

/** One guardian's share as released: its index in the header's set and the 32 bytes its stanza wraps. */
export interface GuardianShare {
  /** The guardian's index in `header.guardianSet.guardians` (= its stanza's index), from 0. */
  index: number;
  /** The share's 32 y-values: what the guardian's stanza unwraps to. */
  share: Uint8Array;
}

/** A split file key: per guardian, its x-coordinate and its 32-byte share (caller wipes `share`). */
export interface SplitShare {
  x: number;
  share: Uint8Array;
}

/**
 * The sealer's guardian-set rules (SPEC.md §5.6), checked before anything is drawn or wrapped.
 * @param m - options.threshold.
 * @param recipients - The parsed recipients, in order.
 * @param lock - Whether a zymbit-lock stanza joins the set (as its last guardian).
 * @param signer - Whether a guardian signing key names that lock guardian.
 * @throws TypeError for an m that is not an integer, or a lock without a signing key to name it.
 * @throws GuardianSetError ERR_BAD_GUARDIAN_SET for n outside 2..16, m < 1, m > n, a recipient twice.
 */
export function checkSealSet(m: number, recipients: Recipient[], lock: boolean, signer: boolean): void {
  if (typeof m !== 'number' || !Number.isInteger(m))
    throw new TypeError(`options.threshold: expected an integer m, got ${typeof m === 'number' ? m : typeof m}`);
  if (lock && !signer) throw new TypeError('options.lock: in a guardian set, the zymbit-lock guardian is named by its signing key: give options.guardian too');
  const n = recipients.length + (lock ? 1 : 0);
  if (n < MIN_GUARDIANS || n > MAX_GUARDIANS) {
    throw new GuardianSetError('ERR_BAD_GUARDIAN_SET', `options.recipients: a guardian set has ${MIN_GUARDIANS}..${MAX_GUARDIANS} guardians, got ${n}`);
  }
  if (m < 1) throw new GuardianSetError('ERR_BAD_GUARDIAN_SET', `options.threshold: expected m >= 1, got ${m}`);
  if (m > n) throw new GuardianSetError('ERR_BAD_GUARDIAN_SET', `options.threshold: expected m <= n = ${n} guardians, got ${m}`);
  const ids = recipients.map((r) => `${r.type}:${Buffer.from(r.key).toString('hex')}`);
  ids.forEach((id, i) => {
    const first = ids.indexOf(id);
    if (first !== i)
      throw new GuardianSetError('ERR_BAD_GUARDIAN_SET', `options.recipients[${i}]: duplicates recipients[${first}]; each guardian may hold one share`);
  });
}

/**
 * Splits a file key into n shares, any m of which give it back. m = 1 is the degree-0 polynomial:
 * every share is the key itself (at x = 1..n), which the library does not do (it needs m ≥ 2) and
 * which needs no field arithmetic.
 * @param fileKey - The 32-byte file key.
 * @param n - Guardians, 2..16 (checked by the sealer).
 * @param m - Threshold, 1..n.
 * @returns n shares with distinct x-coordinates in 1..255 (random ones from the library for m ≥ 2).
 */
export async function splitFileKey(fileKey: Uint8Array, n: number, m: number): Promise<SplitShare[]> {
  if (m === 1) return Array.from({ length: n }, (_, i) => ({ x: i + 1, share: Uint8Array.from(fileKey) }));
  const secret = Uint8Array.from(fileKey); // the library may keep no copy, but this one is ours to wipe
  const parts = await split(secret, n, m).finally(() => wipe(secret));
  try {
    return parts.map((p) => ({ x: p[FILE_KEY_SIZE]!, share: Uint8Array.from(p.subarray(0, FILE_KEY_SIZE)) }));
  } finally {
    wipe(...parts);
  }
}

/**
 * The set hash of SPEC.md §5.6: SHA-256 of guardianSetMessage(header).
 * @param header - A header with or without its commitments and signatures (they are left out).
 * @returns 32 bytes.
 */
export function setHash(header: CapsuleHeader): Uint8Array {
  return sha256(guardianSetMessage(header));
}

/**
 * Guardian `index`'s commitment: SHA-256(label ‖ 00 ‖ id ‖ set_hash ‖ uint8(index) ‖ share).
 * @param header - The header (its set must be in place; commitments and signatures are ignored).
 * @param index - The guardian's index, 0..n-1.
 * @param share - The 32-byte share.
 * @param hash - The set hash, when the caller has it already.
 * @returns The 32-byte commitment.
 */
export function shareCommitment(header: CapsuleHeader, index: number, share: Uint8Array, hash = setHash(header)): Uint8Array {
  return sha256(new TextEncoder().encode(LABEL_SHARE_COMMITMENT), Uint8Array.of(0), header.id, hash, Uint8Array.of(index), share);
}

/**
 * Checks one released share against the header's commitment for its guardian, before any combining.
 * @param header - The threshold capsule's header (as read: readHeader).
 * @param s - The guardian's index and its 32-byte share.
 * @param hash - The set hash, when checking several shares of one header.
 * @throws GuardianSetError ERR_BAD_GUARDIAN_SET when the header has no guardian set; ERR_BAD_SHARE,
 *   naming the guardian, for an index outside the set, a share that is not 32 bytes, or one whose
 *   commitment does not match (a wrong, altered, or another capsule's or set's share).
 * @example
 * ```js
 * checkShare(header, { index: 1, share }); // throws ERR_BAD_SHARE "guardian 1: …" for a bad one
 * ```
 */
export function checkShare(header: CapsuleHeader, s: GuardianShare, hash?: Uint8Array): void {
  checkOne(header, s, hash, 'ERR_BAD_SHARE');
}

function checkOne(header: CapsuleHeader, s: GuardianShare, hash: Uint8Array | undefined, mismatch: 'ERR_BAD_SHARE' | 'ERR_GUARDIAN_SET_MISMATCH'): void {
  const set = requireSet(header);
  const n = set.guardians.length;
  if (typeof s !== 'object' || s === null)
    throw new GuardianSetError('ERR_BAD_SHARE', `share: expected { index, share }, got ${s === null ? 'null' : typeof s}`);
  if (!Number.isInteger(s.index) || s.index < 0 || s.index >= n) {
    throw new GuardianSetError('ERR_BAD_SHARE', `share.index: expected a guardian index 0..${n - 1}, got ${String(s.index)}`);
  }
  if (!(s.share instanceof Uint8Array) || s.share.length !== SHARE_SIZE) {
    throw new GuardianSetError(
      'ERR_BAD_SHARE',
      `guardian ${s.index}: expected a ${SHARE_SIZE}-byte share, got ${s.share instanceof Uint8Array ? `${s.share.length} bytes` : typeof s.share}`,
    );
  }
  const want = header.shareCommitments![s.index]!;
  if (!constantTimeEqual(shareCommitment(header, s.index, s.share, hash), want)) {
    throw new GuardianSetError(
      mismatch,
      mismatch === 'ERR_BAD_SHARE'
        ? `guardian ${s.index}: its share does not match its commitment in this header (a wrong or altered share, or one of another capsule or guardian set)`
        : `guardian ${s.index}: its stanza opens, but the share does not match its commitment: the header (its guardian set, logic, payload or stanzas) was changed after sealing`,
    );
  }
}

/**
 * Combines released shares into the file key: each share is first checked against its commitment
 * (per guardian, checkShare), then the first m are interpolated by the Shamir library.
 * @param header - The threshold capsule's header.
 * @param shares - At least m shares, each guardian at most once.
 * @returns The 32-byte file key (caller wipes it), e.g. for `openWithKey(capsule, () => key)`.
 * @throws GuardianSetError ERR_BAD_GUARDIAN_SET (no set in the header), ERR_BAD_SHARE (names the
 *   guardian: a share that fails its commitment, is malformed, or is given twice),
 *   ERR_NOT_ENOUGH_SHARES (fewer than m shares).
 * @example
 * ```js
 * import { combineShares, decryptToFile, readHeader } from 'digital-capsule-engine/capsule';
 * const { header } = await readHeader({ path: 'will.capsule' });
 * const key = await combineShares(header, [{ index: 0, share: s0 }, { index: 2, share: s2 }]);
 * await decryptToFile({ path: 'will.capsule' }, () => key, 'will.pdf');
 * ```
 */
export async function combineShares(header: CapsuleHeader, shares: GuardianShare[]): Promise<Uint8Array> {
  return combineChecked(header, shares, 'ERR_BAD_SHARE');
}

/**
 * combineShares() for shares unwrapped from this header's own stanzas (a reader holding m
 * guardians' keys, as the test vectors do): such a share is authenticated by its stanza and bound
 * to the id, so a commitment that fails means the header changed after sealing.
 * @param header - The threshold capsule's header.
 * @param shares - Shares its stanzas opened to (identityShares, or other stanza types' unwrapping).
 * @returns The 32-byte file key (caller wipes it).
 * @throws GuardianSetError ERR_GUARDIAN_SET_MISMATCH (names the guardian), ERR_NOT_ENOUGH_SHARES,
 *   ERR_BAD_SHARE (malformed or repeated), ERR_BAD_GUARDIAN_SET (no set).
 * @example
 * ```js
 * const key = await combineUnwrappedShares(header, identityShares(header, myGuardianIdentities));
 * ```
 */
export async function combineUnwrappedShares(header: CapsuleHeader, shares: GuardianShare[]): Promise<Uint8Array> {
  return combineChecked(header, shares, 'ERR_GUARDIAN_SET_MISMATCH');
}

async function combineChecked(header: CapsuleHeader, shares: GuardianShare[], mismatch: 'ERR_BAD_SHARE' | 'ERR_GUARDIAN_SET_MISMATCH'): Promise<Uint8Array> {
  const set = requireSet(header);
  if (!Array.isArray(shares)) throw new GuardianSetError('ERR_BAD_SHARE', `shares: expected an array of { index, share }, got ${typeof shares}`);
  const hash = setHash(header);
  const seen = new Set<number>();
  for (const s of shares) {
    checkOne(header, s, hash, mismatch);
    if (seen.has(s.index)) throw new GuardianSetError('ERR_BAD_SHARE', `guardian ${s.index}: its share is given twice; each guardian counts once`);
    seen.add(s.index);
  }
  const m = set.threshold;
  if (shares.length < m) {
    const given = shares.length ? `guardian${shares.length === 1 ? '' : 's'} ${shares.map((s) => s.index).join(', ')}` : 'none';
    throw new GuardianSetError(
      'ERR_NOT_ENOUGH_SHARES',
      `header.guardian_set: ${m}-of-${set.guardians.length} needs ${m} valid shares, got ${shares.length} (${given})`,
    );
  }
  if (m === 1) return Uint8Array.from(shares[0]!.share); // degree 0: the share is the key
  const points = shares.slice(0, m).map((s) => {
    const p = new Uint8Array(SHARE_SIZE + 1);
    p.set(s.share, 0);
    p[SHARE_SIZE] = set.guardians[s.index]!.x;
    return p;
  });
  try {
    return await combine(points);
  } finally {
    wipe(...points);
  }
}

/**
 * Key-free checks of a header's set that need curve or modulus arithmetic: a p256-ecdh guardian's
 * key and a zymbit-lock guardian's signing key are valid compressed points, a tpm2-rsa guardian's
 * key an RSA-2048 modulus (SPEC.md §5.6, §9 check 18a).
 * @param header - A decoded header.
 * @throws GuardianSetError ERR_BAD_GUARDIAN_SET naming the guardian.
 */
export function checkGuardianKeys(header: CapsuleHeader): void {
  header.guardianSet?.guardians.forEach((g, i) => {
    const type = header.stanzas[i]!.type;
    const ok = type === STANZA_P256 || type === STANZA_LOCK ? isP256Point(g.key) : type === STANZA_TPM2_RSA ? isRsa2048Modulus(g.key) : true;
    if (!ok) {
      throw new GuardianSetError(
        'ERR_BAD_GUARDIAN_SET',
        `header.guardian_set.guardians[${i}].key: not a valid ${type === STANZA_TPM2_RSA ? 'RSA-2048 modulus' : 'compressed P-256 point'} (a ${type} guardian)`,
      );
    }
  });
}

/** A guardian of a set as `capsule verify` prints it. */
export interface GuardianInfo {
  /** Index in the set (= stanza index). */
  index: number;
  /** The stanza type that wraps its share. */
  type: string;
  /** Its recipient as text (age1…, capsule-ecdh1…, capsule-tpm1…; capsule-guardian1… for zymbit-lock), or hex for an unknown type. */
  recipient: string;
}

/**
 * The header's guardian set in printable form, or undefined for a capsule without one.
 * @param header - A decoded header.
 * @returns m, n and each guardian's index, stanza type and recipient text.
 */
export function describeGuardianSet(header: CapsuleHeader): { threshold: number; guardians: GuardianInfo[] } | undefined {
  const set = header.guardianSet;
  if (!set) return undefined;
  return {
    threshold: set.threshold,
    guardians: set.guardians.map((g, index) => {
      const type = header.stanzas[index]!.type;
      return { index, type, recipient: recipientText(type, g.key) };
    }),
  };
}

function recipientText(type: string, key: Uint8Array): string {
  if (type === STANZA_X25519) return encodeRecipient(key);
  if (type === STANZA_P256) return encodeP256Key(ECDH_RECIPIENT_HRP, key);
  if (type === STANZA_LOCK) return encodeP256Key(GUARDIAN_KEY_HRP, key);
  if (type === STANZA_TPM2_RSA) return encodeTpmRecipient(key);
  return Buffer.from(key).toString('hex');
}

function requireSet(header: CapsuleHeader): NonNullable<CapsuleHeader['guardianSet']> {
  if (!header?.guardianSet || !header.shareCommitments) {
    throw new GuardianSetError('ERR_BAD_GUARDIAN_SET', 'header: carries no guardian set (key 12): its stanzas wrap the file key itself, not shares');
  }
  return header.guardianSet;
}
