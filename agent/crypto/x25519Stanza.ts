/**
 * The `x25519` key stanza (SPEC.md §5): the file key wrapped to a guardian's age recipient by
 * ephemeral X25519 + HKDF-SHA256 + AES-256-GCM, bound to the capsule id.
 *
 * Deliberately not here: the other stanza types (`p256-ecdh` in p256Stanza.ts, `zymbit-lock` in
 * lockStanza.ts, `tpm2-rsa` in tpm2RsaStanza.ts) and the choice of which stanza to try
 * (CapsuleOpener).
 */
import { randomBytes } from 'node:crypto';
import { x25519KeyObject, x25519PublicKey, x25519Shared } from './x25519.ts';
import { CapsuleFormatError } from '../errors.ts';
import { FILE_KEY_SIZE, LABEL_X25519_STANZA, STANZA_X25519, X25519_STANZA_BODY_SIZE } from '../format/constants.ts';
import type { Stanza } from '../format/header.ts';
import type { Identity } from './identity.ts';
import { openFileKey, sealFileKey } from './fileKeyWrap.ts';
import { hkdf } from './kdf.ts';
import { wipe } from './secrets.ts';

/** Any clamped scalar: X25519(k, P) is all-zero exactly when P is a low-order point. */
const PROBE = x25519KeyObject(new Uint8Array(32).fill(0x42));

export function wrapX25519(fileKey: Uint8Array, recipient: Uint8Array, capsuleId: Uint8Array, ephemeral?: Uint8Array): Stanza {
  if (fileKey.length !== FILE_KEY_SIZE) throw new TypeError(`fileKey: expected ${FILE_KEY_SIZE} bytes, got ${fileKey.length}`);
  if (recipient.length !== 32) throw new TypeError(`recipient: expected a 32-byte X25519 key, got ${recipient.length} bytes`);
  const e = ephemeral ? Uint8Array.from(ephemeral) : randomBytes(32);
  let shared: Uint8Array | undefined;
  let wrapKey: Uint8Array | undefined;
  try {
    const share = x25519PublicKey(e);
    shared = x25519Shared(e, recipient);
    if (!shared) throw new TypeError('recipient: is a low-order X25519 point (no shared secret)');
    wrapKey = hkdf(shared, concat(share, recipient), LABEL_X25519_STANZA, 32);
    return { type: STANZA_X25519, body: concat(share, sealFileKey(wrapKey, fileKey, capsuleId)) };
  } finally {
    wipe(e, shared, wrapKey);
  }
}

/** Offline well-formedness: right length and an ephemeral share that is not a low-order point. */
export function checkX25519Stanza(s: Stanza, index: number): void {
  if (s.body.length !== X25519_STANZA_BODY_SIZE) {
    throw new CapsuleFormatError('ERR_BAD_STANZA', `header.stanzas[${index}] (x25519): body must be ${X25519_STANZA_BODY_SIZE} bytes, got ${s.body.length}`);
  }
  if (!x25519Shared(PROBE, s.body.subarray(0, 32))) {
    throw new CapsuleFormatError('ERR_BAD_STANZA', `header.stanzas[${index}] (x25519): ephemeral share is a low-order point`);
  }
}

/** Returns the file key, or undefined if this stanza is not for `identity`. Caller wipes the key. */
export function unwrapX25519(s: Stanza, index: number, identity: Identity, capsuleId: Uint8Array): Uint8Array | undefined {
  checkX25519Stanza(s, index);
  const share = s.body.subarray(0, 32);
  let shared: Uint8Array | undefined;
  let wrapKey: Uint8Array | undefined;
  try {
    shared = x25519Shared(identity.secretKey, share);
    if (!shared) return undefined; // unreachable after the check above; kept so a key is never derived from zero
    wrapKey = hkdf(shared, concat(share, identity.publicKey), LABEL_X25519_STANZA, 32);
    return openFileKey(wrapKey, s.body.subarray(32), capsuleId); // undefined: another recipient's stanza, not an error
  } finally {
    wipe(shared, wrapKey);
  }
}

function concat(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}
