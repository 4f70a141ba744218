/**
 * Recipient strings as `seal` takes them: `age1…` (an X25519 key → `x25519` stanza),
 * `capsule-ecdh1…` (a P-256 key → `p256-ecdh` stanza) or `capsule-tpm1…` (a guardian's TPM
 * RSA-2048 key → `tpm2-rsa` stanza), each wrapped by its stanza's code.
 *
 * Deliberately not here: `zymbit-lock`, which has no recipient string because only the guardian's
 * own module can make one (the guardian adds it when sealing on the device).
 */
import { KeyError } from '../errors.ts';
import type { Stanza } from '../format/header.ts';
import { parseRecipient } from './identity.ts';
import { ECDH_RECIPIENT_HRP, parseP256Key } from './p256.ts';
import { wrapP256 } from './p256Stanza.ts';
import { wrapTpm2Rsa } from './tpm2RsaStanza.ts';
import { parseTpmRecipient, TPM_RECIPIENT_HRP } from './tpmRecipient.ts';
import { wrapX25519 } from './x25519Stanza.ts';

/** A parsed recipient: the stanza type it gets and its public key (for tpm2-rsa, the 256-byte modulus). */
export type Recipient = { type: 'x25519'; key: Uint8Array } | { type: 'p256-ecdh'; key: Uint8Array } | { type: 'tpm2-rsa'; key: Uint8Array };

/**
 * Parses any recipient string a sealer accepts (surrounding whitespace ignored).
 * @param text - `age1…`, `capsule-ecdh1…` or `capsule-tpm1…`.
 * @returns The stanza type it gets and its public key.
 * @throws TypeError when `text` is not a string.
 * @throws KeyError ERR_BAD_RECIPIENT when it is none of `age1…`, `capsule-ecdh1…`, `capsule-tpm1…`,
 *   or is one of them but damaged (each parser's message says how).
 * @example
 * ```js
 * import { parseAnyRecipient } from 'digital-capsule-engine';
 * parseAnyRecipient('age1…').type; // 'x25519'
 * ```
 */
export function parseAnyRecipient(text: string): Recipient {
  if (typeof text !== 'string') throw new TypeError(`recipient: expected a string, got ${typeof text}`);
  const t = text.trim().toLowerCase();
  if (t.startsWith(`${ECDH_RECIPIENT_HRP}1`)) return { type: 'p256-ecdh', key: parseP256Key(ECDH_RECIPIENT_HRP, text, 'recipient') };
  if (t.startsWith(`${TPM_RECIPIENT_HRP}1`)) return { type: 'tpm2-rsa', key: parseTpmRecipient(text, 'recipient') };
  if (t.startsWith('age')) return { type: 'x25519', key: parseRecipient(text) }; // its errors name age1… and never echo a secret
  const shown = `${JSON.stringify(text.trim().slice(0, 20))}${text.trim().length > 20 ? '…' : ''}`;
  throw new KeyError(
    'ERR_BAD_RECIPIENT',
    `recipient: expected age1… (x25519), ${ECDH_RECIPIENT_HRP}1… (p256-ecdh) or ${TPM_RECIPIENT_HRP}1… (tpm2-rsa), got ${shown}`,
    {
      hint: "print a guardian's recipients with `capsule guardian show`, or a key pair's with `capsule keygen`",
    },
  );
}

/**
 * Wraps `fileKey` to `r`, bound to `capsuleId`. `random` (tests and vectors only) supplies the
 * ephemeral secret: 32 bytes for x25519, 48 for p256-ecdh. For tpm2-rsa it is ignored and not
 * drawn from: node:crypto chooses the OAEP seed itself and offers no way to fix it, so a tpm2-rsa
 * stanza is never reproducible (and drawing nothing keeps the caller's later draws unchanged).
 * @throws TypeError / RangeError from the stanza's wrap function when `fileKey`, `capsuleId` or
 *   the key is malformed (a parsed Recipient never is).
 */
export function wrapTo(r: Recipient, fileKey: Uint8Array, capsuleId: Uint8Array, random?: (n: number) => Uint8Array): Stanza {
  if (r.type === 'tpm2-rsa') return wrapTpm2Rsa(fileKey, r.key, capsuleId);
  if (r.type === 'x25519') {
    const e = random?.(32);
    try {
      return wrapX25519(fileKey, r.key, capsuleId, e);
    } finally {
      e?.fill(0);
    }
  }
  const e = random?.(48);
  try {
    return wrapP256(fileKey, r.key, capsuleId, e);
  } finally {
    e?.fill(0);
  }
}
