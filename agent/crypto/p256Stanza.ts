/**
 * The `p256-ecdh` key stanza (SPEC.md §5.2): the file key wrapped to a P-256 recipient by ephemeral
 * ECDH + HKDF-SHA256 + AES-256-GCM, bound to the capsule id — the same construction as `x25519`, on
 * the curve that HSM6/SCM modules can run ECDH on (zkDoRawECDH returns exactly the shared X used
 * here, so an in-module unwrap needs no other change).
 *
 * Deliberately not here: where the recipient's scalar lives (the guardian decides: derived from
 * its seed, in agent memory only while needed), and which stanza to try (the guardian).
 */
import { p256 } from '@noble/curves/nist.js';
import { CapsuleFormatError } from '../errors.ts';
import { FILE_KEY_SIZE, LABEL_P256_STANZA, P256_STANZA_BODY_SIZE, STANZA_P256 } from '../format/constants.ts';
import type { Stanza } from '../format/header.ts';
import { openFileKey, sealFileKey } from './fileKeyWrap.ts';
import { hkdf } from './kdf.ts';
import { isP256Point, p256PublicKey, p256SharedX, scalarFromBytes } from './p256.ts';
import { wipe } from './secrets.ts';

/** `ephemeralSeed` (48 bytes, tests only) fixes the ephemeral scalar; otherwise it is random. */
export function wrapP256(fileKey: Uint8Array, recipient: Uint8Array, capsuleId: Uint8Array, ephemeralSeed?: Uint8Array): Stanza {
  if (fileKey.length !== FILE_KEY_SIZE) throw new TypeError(`fileKey: expected ${FILE_KEY_SIZE} bytes, got ${fileKey.length}`);
  if (!isP256Point(recipient)) throw new TypeError('recipient: expected a 33-byte compressed P-256 point');
  const e = ephemeralSeed ? scalarFromBytes(ephemeralSeed) : p256.utils.randomSecretKey();
  let shared: Uint8Array | undefined;
  let wrapKey: Uint8Array | undefined;
  try {
    const share = p256PublicKey(e);
    shared = p256SharedX(e, recipient);
    wrapKey = hkdf(shared, concat(share, recipient), LABEL_P256_STANZA, 32);
    return { type: STANZA_P256, body: concat(share, sealFileKey(wrapKey, fileKey, capsuleId)) };
  } finally {
    wipe(e, shared, wrapKey);
  }
}

/** Offline well-formedness: 81 bytes, and the ephemeral share is a point on the curve. */
export function checkP256Stanza(s: Stanza, index: number): void {
  if (s.body.length !== P256_STANZA_BODY_SIZE) {
    throw new CapsuleFormatError('ERR_BAD_STANZA', `header.stanzas[${index}] (p256-ecdh): body must be ${P256_STANZA_BODY_SIZE} bytes, got ${s.body.length}`);
  }
  if (!isP256Point(s.body.subarray(0, 33))) {
    throw new CapsuleFormatError('ERR_BAD_STANZA', `header.stanzas[${index}] (p256-ecdh): ephemeral share is not a compressed P-256 point`);
  }
}

/**
 * Returns the file key, or undefined if the stanza is not for this key. `sharedX` computes the
 * ECDH with the recipient's private key (in memory, or zkDoRawECDH in a module).
 */
export async function unwrapP256(
  s: Stanza,
  index: number,
  recipient: Uint8Array,
  capsuleId: Uint8Array,
  sharedX: (share: Uint8Array) => Uint8Array | Promise<Uint8Array>,
): Promise<Uint8Array | undefined> {
  checkP256Stanza(s, index);
  const share = s.body.subarray(0, 33);
  let shared: Uint8Array | undefined;
  let wrapKey: Uint8Array | undefined;
  try {
    shared = await sharedX(share);
    wrapKey = hkdf(shared, concat(share, recipient), LABEL_P256_STANZA, 32);
    return openFileKey(wrapKey, s.body.subarray(33), capsuleId); // undefined: another recipient's stanza, not an error
  } finally {
    wipe(shared, wrapKey);
  }
}

function concat(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}
