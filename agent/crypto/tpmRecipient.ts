/**
 * The text form of a guardian's TPM RSA key (SPEC.md §8.1): `capsule-tpm1…`, Bech32 (not Bech32m)
 * of the 256-byte big-endian RSA-2048 modulus, lowercase, the public exponent implied (65537). It is
 * what a sealer needs to make a `tpm2-rsa` stanza anywhere, without the TPM.
 *
 * The modulus is checked for shape only (256 bytes, top bit set, odd): a real 2048-bit modulus
 * has those, and they catch truncated, padded or little-endian copies. Deliberately not here: any
 * test that the modulus is a product of two primes (a sealer cannot know, and a TPM made it), the
 * stanza itself (tpm2RsaStanza.ts), and reading the modulus out of a TPM (agent/keys/tpm2).
 */
import { bech32 } from '@scure/base';
import { KeyError } from '../errors.ts';
import { TPM2_RSA_STANZA_BODY_SIZE } from '../format/constants.ts';

/** Bech32 human-readable part of a TPM recipient: `capsule-tpm1…`. */
export const TPM_RECIPIENT_HRP = 'capsule-tpm';
/** Bytes of an RSA-2048 modulus, big-endian: also the size of every tpm2-rsa stanza body. */
export const RSA2048_MODULUS_SIZE = TPM2_RSA_STANZA_BODY_SIZE;

const HINT = "print the guardian's recipients with `capsule guardian show` and copy the capsule-tpm1… line again";

/** True for 256 bytes whose top bit is set and which are odd: the shape of an RSA-2048 modulus. */
export function isRsa2048Modulus(modulus: Uint8Array): boolean {
  return (
    modulus instanceof Uint8Array && modulus.length === RSA2048_MODULUS_SIZE && (modulus[0]! & 0x80) !== 0 && (modulus[RSA2048_MODULUS_SIZE - 1]! & 1) === 1
  );
}

/**
 * `capsule-tpm1…` for a 256-byte big-endian RSA-2048 modulus (the TPM's `unique.rsa`).
 * @throws TypeError when `modulus` is not a Uint8Array; RangeError when it is not 256 bytes with
 *   the top bit set and odd.
 */
export function encodeTpmRecipient(modulus: Uint8Array): string {
  if (!(modulus instanceof Uint8Array)) throw new TypeError(`modulus: expected a Uint8Array, got ${typeof modulus}`);
  if (!isRsa2048Modulus(modulus)) throw new RangeError(`modulus: expected ${describeExpected()}, got ${describe(modulus)}`);
  // `false`: no 90-character limit (BIP 173's), as for capsule-ecdh1…; this string is 428 characters.
  return bech32.encode(TPM_RECIPIENT_HRP, bech32.toWords(modulus), false);
}

/**
 * Parses `capsule-tpm1…` into the 256-byte modulus. Surrounding whitespace is ignored.
 * @throws TypeError when `text` is not a string.
 * @throws KeyError ERR_BAD_RECIPIENT when it is not valid Bech32 (bad checksum, mixed case, bad
 *   characters), has another prefix, is uppercase, or its data is not a 2048-bit odd modulus.
 */
export function parseTpmRecipient(text: string, what = 'recipient'): Uint8Array {
  if (typeof text !== 'string') throw new TypeError(`${what}: expected a string, got ${typeof text}`);
  const t = text.trim();
  const shown = `${JSON.stringify(t.slice(0, 24))}${t.length > 24 ? '…' : ''}`;
  let prefix: string;
  let data: Uint8Array;
  try {
    const d = bech32.decode(t as `${string}1${string}`, false);
    prefix = d.prefix;
    data = bech32.fromWords(d.words);
  } catch (cause) {
    throw new KeyError(
      'ERR_BAD_RECIPIENT',
      `${what}: expected ${TPM_RECIPIENT_HRP}1… (valid Bech32: checksum, one case, 8 data bits per byte), got ${shown} (${t.length} characters)`,
      { cause, hint: HINT },
    );
  }
  if (prefix !== TPM_RECIPIENT_HRP) {
    throw new KeyError('ERR_BAD_RECIPIENT', `${what}: expected the prefix "${TPM_RECIPIENT_HRP}1", got "${prefix}1"`, { hint: HINT });
  }
  if (t !== t.toLowerCase())
    throw new KeyError('ERR_BAD_RECIPIENT', `${what}: expected lowercase, got uppercase`, { hint: 'guardian recipients are written in lowercase' });
  if (!isRsa2048Modulus(data)) {
    throw new KeyError('ERR_BAD_RECIPIENT', `${what}: expected ${describeExpected()}, got ${describe(data)}`, { hint: HINT });
  }
  return data;
}

function describeExpected(): string {
  return `a ${RSA2048_MODULUS_SIZE}-byte RSA-2048 modulus (big-endian, top bit set, odd)`;
}

function describe(m: Uint8Array): string {
  if (m.length !== RSA2048_MODULUS_SIZE) return `${m.length} bytes`;
  if ((m[0]! & 0x80) === 0) return `${RSA2048_MODULUS_SIZE} bytes with the top bit clear (a modulus of fewer than 2048 bits)`;
  return `${RSA2048_MODULUS_SIZE} bytes that are even (no RSA modulus is)`;
}
