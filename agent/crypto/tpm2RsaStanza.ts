/**
 * The `tpm2-rsa` key stanza (SPEC.md §5.4): the file key encrypted with RSAES-OAEP (SHA-256 for
 * the label hash and for MGF1) to a guardian's TPM-resident RSA-2048 key, with the OAEP label
 * `hex(id) ‖ 00` binding it to the capsule id. The label has no text prefix because a TPM takes a
 * label of at most 2 + its largest digest size (34 bytes on a SHA-256-only TPM such as a Pi's
 * SLB9670); the key is dedicated to these stanzas, so it needs no domain separator.
 *
 * Wrapping needs only the public modulus (any machine can seal); unwrapping needs the TPM, so it
 * takes a `decrypt(ciphertext, label)` callback (TPM2_RSA_Decrypt in the guardian; node:crypto
 * with a software key in tests). Every failure of that callback to produce 32 bytes is "not for
 * this key", like a failed GCM tag for x25519 — never an error that says why, because telling
 * OAEP failure reasons apart is what Manger's attack needs.
 *
 * Deliberately not here: the recipient string (tpmRecipient.ts), the TPM calls and which stanza
 * to try (the guardian), and any OAEP seed control: node:crypto draws the seed itself, so this
 * stanza is never reproducible byte for byte (test vectors build theirs in test/vectors/).
 */
import { constants, createPublicKey, publicEncrypt, type KeyObject } from 'node:crypto';
import { CapsuleFormatError } from '../errors.ts';
import { CAPSULE_ID_SIZE, FILE_KEY_SIZE, STANZA_TPM2_RSA, TPM2_RSA_STANZA_BODY_SIZE } from '../format/constants.ts';
import type { Stanza } from '../format/header.ts';
import { wipe } from './secrets.ts';
import { isRsa2048Modulus } from './tpmRecipient.ts';

/** 32 hex digits ‖ 00: 33 bytes, under the 34 that every TPM 2.0 accepts (SPEC.md §5.4). */
export const TPM2_RSA_LABEL_SIZE = 2 * CAPSULE_ID_SIZE + 1;

/**
 * Decrypts an RSAES-OAEP (SHA-256, MGF1-SHA-256) ciphertext with the guardian's RSA key and the
 * given label. Resolves to the plaintext, or undefined when decryption fails for any reason that
 * means "not this key" (bad padding, label mismatch, ciphertext ≥ modulus: a TPM answers
 * TPM_RC_VALUE, older libtpms TPM_RC_FAILURE). It should reject only when the key could not be
 * used at all (TPM absent, key not loaded), so that the caller does not mistake an outage for
 * "sealed to someone else".
 */
export type Tpm2RsaDecrypt = (ciphertext: Uint8Array, label: Uint8Array) => Promise<Uint8Array | undefined>;

/**
 * The 33-byte OAEP label for capsule `capsuleId`: the ASCII of the id's 32 lowercase hex digits,
 * then one zero byte (TPM2_RSA_Decrypt wants a non-empty label to end in 00; tpm2-tools' `-l`
 * passes a C string, so `-l <hex>` gives exactly this).
 * @throws TypeError when `capsuleId` is not a 16-byte Uint8Array.
 */
export function tpm2RsaLabel(capsuleId: Uint8Array): Uint8Array {
  if (!(capsuleId instanceof Uint8Array) || capsuleId.length !== CAPSULE_ID_SIZE) {
    throw new TypeError(
      `capsuleId: expected ${CAPSULE_ID_SIZE} bytes, got ${capsuleId instanceof Uint8Array ? `${capsuleId.length} bytes` : typeof capsuleId}`,
    );
  }
  const text = Buffer.from(capsuleId).toString('hex');
  const out = new Uint8Array(TPM2_RSA_LABEL_SIZE); // zero-filled: the last byte is the NUL
  out.set(new TextEncoder().encode(text), 0);
  return out;
}

/**
 * The public key for a 256-byte big-endian modulus with exponent 65537 (the only one accepted).
 * @throws TypeError when `modulus` is not a Uint8Array; RangeError when it is not 256 bytes, top
 *   bit set, odd.
 */
export function rsa2048PublicKey(modulus: Uint8Array): KeyObject {
  if (!(modulus instanceof Uint8Array)) throw new TypeError(`modulus: expected a Uint8Array, got ${typeof modulus}`);
  if (!isRsa2048Modulus(modulus)) {
    throw new RangeError(
      `modulus: expected a ${TPM2_RSA_STANZA_BODY_SIZE}-byte RSA-2048 modulus (big-endian, top bit set, odd), got ${modulus.length} bytes${modulus.length === TPM2_RSA_STANZA_BODY_SIZE ? ' that are not one' : ''}`,
    );
  }
  return createPublicKey({ key: { kty: 'RSA', n: Buffer.from(modulus).toString('base64url'), e: 'AQAB' }, format: 'jwk' });
}

/**
 * Wraps `fileKey` to the TPM key with modulus `modulus`, bound to `capsuleId`. The OAEP seed is
 * random (node:crypto gives no way to fix it), so two wraps of the same key differ.
 * @throws TypeError when `fileKey` is not 32 bytes or `capsuleId` not 16; RangeError when
 *   `modulus` is not an RSA-2048 modulus (see rsa2048PublicKey).
 */
export function wrapTpm2Rsa(fileKey: Uint8Array, modulus: Uint8Array, capsuleId: Uint8Array): Stanza {
  if (!(fileKey instanceof Uint8Array) || fileKey.length !== FILE_KEY_SIZE) {
    throw new TypeError(`fileKey: expected ${FILE_KEY_SIZE} bytes, got ${fileKey instanceof Uint8Array ? fileKey.length : typeof fileKey}`);
  }
  const label = tpm2RsaLabel(capsuleId);
  const key = rsa2048PublicKey(modulus);
  const body = publicEncrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256', oaepLabel: label }, fileKey);
  if (body.length !== TPM2_RSA_STANZA_BODY_SIZE)
    throw new Error(`tpm2-rsa: OpenSSL returned ${body.length} bytes of ciphertext, expected ${TPM2_RSA_STANZA_BODY_SIZE}`);
  return { type: STANZA_TPM2_RSA, body: new Uint8Array(body) };
}

/**
 * Offline well-formedness: the body is exactly 256 bytes. Nothing else can be checked without the
 * recipient's modulus (which the stanza does not name).
 * @throws CapsuleFormatError ERR_BAD_STANZA naming `header.stanzas[index]` otherwise.
 */
export function checkTpm2RsaStanza(s: Stanza, index: number): void {
  if (s.body.length !== TPM2_RSA_STANZA_BODY_SIZE) {
    throw new CapsuleFormatError(
      'ERR_BAD_STANZA',
      `header.stanzas[${index}] (tpm2-rsa): body must be ${TPM2_RSA_STANZA_BODY_SIZE} bytes, got ${s.body.length}`,
    );
  }
}

/**
 * The file key, or undefined when the stanza is not for the key behind `decrypt` (it resolved to
 * undefined, or to anything but 32 bytes). The caller wipes the key it gets.
 * @throws CapsuleFormatError ERR_BAD_STANZA when the body is not 256 bytes (checkTpm2RsaStanza).
 * @throws TypeError when `capsuleId` is not 16 bytes, `decrypt` is not a function, or it resolves
 *   to something other than a Uint8Array or undefined.
 * @throws whatever `decrypt` rejects with (a TPM that could not be used), unchanged.
 */
export async function unwrapTpm2Rsa(s: Stanza, index: number, capsuleId: Uint8Array, decrypt: Tpm2RsaDecrypt): Promise<Uint8Array | undefined> {
  if (typeof decrypt !== 'function')
    throw new TypeError(`decrypt: expected a function (ciphertext, label) => Promise<Uint8Array | undefined>, got ${typeof decrypt}`);
  checkTpm2RsaStanza(s, index);
  const label = tpm2RsaLabel(capsuleId);
  let plain: Uint8Array | undefined;
  try {
    // A copy, so that the callback cannot alter the header's bytes.
    plain = await decrypt(Uint8Array.from(s.body), label);
    if (plain === undefined) return undefined;
    if (!(plain instanceof Uint8Array))
      throw new TypeError(`decrypt: expected it to resolve to a Uint8Array or undefined, got ${plain === null ? 'null' : typeof plain}`);
    // 31 or 33 bytes is a valid OAEP message that is no file key: not for this key, like a failed tag.
    if (plain.length !== FILE_KEY_SIZE) return undefined;
    return Uint8Array.from(plain);
  } finally {
    if (plain instanceof Uint8Array) wipe(plain);
  }
}
