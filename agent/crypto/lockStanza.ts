/**
 * The `zymbit-lock` key stanza (SPEC.md §5.3): the file key locked by the guardian's security
 * module with its this-device-only key (zkLockDataB2B, use_shared_key = false). Only that module
 * can unlock it: the strongest binding, and deliberately not recoverable from the paper backup.
 *
 * What is locked is `"capsule/v1 zymbit-lock" ‖ 00 ‖ id ‖ file_key`, so a stanza moved into
 * another capsule's header is detected after unlocking. The blob itself is the module's opaque,
 * authenticated format. Deliberately not here: which KeyStore does the locking (the guardian's).
 */
import { CapsuleFormatError } from '../errors.ts';
import { CAPSULE_ID_SIZE, FILE_KEY_SIZE, LABEL_LOCK_STANZA, MAX_STANZA_BODY, STANZA_LOCK } from '../format/constants.ts';
import type { Stanza } from '../format/header.ts';
import { constantTimeEqual, wipe } from './secrets.ts';

const LABEL = new TextEncoder().encode(LABEL_LOCK_STANZA);
const PLAIN_SIZE = LABEL.length + 1 + CAPSULE_ID_SIZE + FILE_KEY_SIZE;

export interface Locker {
  lock(data: Uint8Array): Promise<Uint8Array>;
  unlock(blob: Uint8Array): Promise<Uint8Array>;
}

export async function wrapLock(fileKey: Uint8Array, capsuleId: Uint8Array, locker: Locker): Promise<Stanza> {
  if (fileKey.length !== FILE_KEY_SIZE) throw new TypeError(`fileKey: expected ${FILE_KEY_SIZE} bytes, got ${fileKey.length}`);
  const plain = lockedPlaintext(capsuleId, fileKey);
  try {
    const body = await locker.lock(plain);
    if (body.length < 1 || body.length > MAX_STANZA_BODY) {
      throw new RangeError(`zymbit-lock: the module's blob is ${body.length} bytes, outside 1..${MAX_STANZA_BODY}`);
    }
    return { type: STANZA_LOCK, body };
  } finally {
    wipe(plain);
  }
}

/** Offline well-formedness: a non-empty blob (its format is the module's, opaque to readers). */
export function checkLockStanza(s: Stanza, index: number): void {
  if (s.body.length === 0) throw new CapsuleFormatError('ERR_BAD_STANZA', `header.stanzas[${index}] (zymbit-lock): empty body`);
}

/**
 * The file key, or the KeyStore's ERR_LOCK_INTEGRITY error when the blob is not this module's
 * (locked elsewhere, or tampered): the caller decides whether that is "not for me".
 */
export async function unwrapLock(s: Stanza, index: number, capsuleId: Uint8Array, locker: Locker): Promise<Uint8Array> {
  checkLockStanza(s, index);
  const plain = await locker.unlock(s.body);
  try {
    const expected = lockedPlaintext(capsuleId, new Uint8Array(FILE_KEY_SIZE));
    const prefix = PLAIN_SIZE - FILE_KEY_SIZE;
    if (plain.length !== PLAIN_SIZE || !constantTimeEqual(plain.subarray(0, prefix), expected.subarray(0, prefix))) {
      throw new CapsuleFormatError('ERR_BAD_STANZA', `header.stanzas[${index}] (zymbit-lock): unlocked, but it was locked for another capsule`);
    }
    return Uint8Array.from(plain.subarray(prefix));
  } finally {
    wipe(plain);
  }
}

function lockedPlaintext(id: Uint8Array, fileKey: Uint8Array): Uint8Array {
  const out = new Uint8Array(PLAIN_SIZE);
  out.set(LABEL, 0);
  out.set(id, LABEL.length + 1);
  out.set(fileKey, LABEL.length + 1 + CAPSULE_ID_SIZE);
  return out;
}
