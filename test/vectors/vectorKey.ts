/**
 * The key a vector's `identity:`, `identity-p256:` and `identity-tpm2-rsa:` lines describe, in the
 * form openWithKey takes.
 *
 * x25519 identities alone go to the library's identity unwrapper unchanged. P-256 and tpm2-rsa
 * unwraps are asynchronous (as a module's ECDH and a TPM's decryption are), while the opener asks
 * for the file key synchronously once the header is read; so, as a guardian does, the header is
 * read first, the file key is found with the library's stanza code (stanzas in header order, every
 * key of the stanza's type), and the opener is handed that key. An RSA key stands in for the TPM
 * through node:crypto (rsaDecryptor). Deliberately not here: the vectors' expectations
 * (vectors.test.ts).
 */
import { constants, createPrivateKey, privateDecrypt, type KeyObject } from 'node:crypto';
import { CapsuleReader } from '../../agent/capsule/CapsuleReader.ts';
import type { KeySource } from '../../agent/capsule/open.ts';
import { combineUnwrappedShares, type GuardianShare } from '../../agent/capsule/shares.ts';
import { parseIdentityFile, type Identity } from '../../agent/crypto/identity.ts';
import { p256PublicKey, p256SharedX } from '../../agent/crypto/p256.ts';
import { unwrapP256 } from '../../agent/crypto/p256Stanza.ts';
import { unwrapTpm2Rsa, type Tpm2RsaDecrypt } from '../../agent/crypto/tpm2RsaStanza.ts';
import { unwrapX25519 } from '../../agent/crypto/x25519Stanza.ts';
import { CapsuleFormatError } from '../../agent/errors.ts';
import type { CapsuleHeader } from '../../agent/format/header.ts';
import type { Vector } from './vectorFile.ts';

export async function vectorKey(v: Vector): Promise<KeySource> {
  const identities = v.identities.length > 0 ? parseIdentityFile(v.identities.join('\n'), v.name) : [];
  const header = headerOf(v.bytes);
  if (v.p256.length === 0 && v.tpm2Rsa.length === 0 && !header?.guardianSet) return identities;
  const scalars = v.p256.map((h) => Uint8Array.from(Buffer.from(h, 'hex')));
  const rsaKeys = v.tpm2Rsa.map((b64) => createPrivateKey({ key: Buffer.from(b64, 'base64'), format: 'der', type: 'pkcs8' }));
  if (header?.guardianSet) return thresholdKey(header, identities, scalars, rsaKeys);
  // A header the reader rejects never reaches the unwrapper: the reader's error is the outcome.
  const fileKey = header ? await findFileKey(header, identities, scalars, rsaKeys) : undefined;
  return (h: CapsuleHeader) => {
    if (!fileKey || !Buffer.from(h.id).equals(Buffer.from(header!.id))) {
      throw new CapsuleFormatError(
        'ERR_NO_MATCHING_STANZA',
        `header.stanzas: none of ${h.stanzas.length} stanza(s) opens with the vector's ${identities.length} x25519, ${scalars.length} P-256 and ${rsaKeys.length} RSA key(s)`,
      );
    }
    return Uint8Array.from(fileKey); // the opener wipes what it is given
  };
}

function headerOf(bytes: Uint8Array): CapsuleHeader | undefined {
  const reader = new CapsuleReader();
  try {
    reader.push(bytes);
  } catch {
    // Errors after the header (trailing data, …) leave it parsed; errors before leave none.
  }
  return reader.parsed?.header;
}

/**
 * A software stand-in for the guardian's TPM2_RSA_Decrypt: RSAES-OAEP with SHA-256 (label hash and
 * MGF1) and the given label. Every decryption failure (bad padding, wrong label, ciphertext not
 * below the modulus) resolves to undefined, as a TPM's TPM_RC_VALUE means "not this key".
 */
export function rsaDecryptor(privateKey: KeyObject): Tpm2RsaDecrypt {
  return async (ciphertext, label) => {
    try {
      return new Uint8Array(privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256', oaepLabel: label }, ciphertext));
    } catch {
      return undefined;
    }
  };
}

/**
 * A threshold capsule (SPEC.md §5.6): every share stanza that one of the keys opens gives that
 * guardian's share, standing in for the share the guardian would release; the library checks each
 * against its commitment and combines them. Its error, if any, is the outcome.
 */
async function thresholdKey(header: CapsuleHeader, identities: Identity[], scalars: Uint8Array[], rsaKeys: KeyObject[]): Promise<KeySource> {
  const shares: GuardianShare[] = [];
  for (const i of header.stanzas.keys()) {
    const share = await findFileKey(header, identities, scalars, rsaKeys, i);
    if (share) shares.push({ index: i, share });
  }
  let key: Uint8Array | undefined;
  let error: unknown;
  try {
    key = await combineUnwrappedShares(header, shares);
  } catch (e) {
    error = e;
  }
  return (h: CapsuleHeader) => {
    if (!Buffer.from(h.id).equals(Buffer.from(header.id)))
      throw new CapsuleFormatError('ERR_NO_MATCHING_STANZA', 'header: not the capsule the shares were collected for');
    if (!key) throw error;
    return Uint8Array.from(key);
  };
}

/** The key the stanzas (or only stanza `only`) open to: a file key, or a share in a threshold capsule. */
async function findFileKey(
  header: CapsuleHeader,
  identities: Identity[],
  scalars: Uint8Array[],
  rsaKeys: KeyObject[],
  only?: number,
): Promise<Uint8Array | undefined> {
  for (const [i, s] of header.stanzas.entries()) {
    if (only !== undefined && i !== only) continue;
    if (s.type === 'x25519') {
      for (const id of identities) {
        const key = unwrapX25519(s, i, id, header.id);
        if (key) return key;
      }
    } else if (s.type === 'p256-ecdh') {
      for (const d of scalars) {
        const key = await unwrapP256(s, i, p256PublicKey(d), header.id, (share) => p256SharedX(d, share));
        if (key) return key;
      }
    } else if (s.type === 'tpm2-rsa') {
      for (const k of rsaKeys) {
        const key = await unwrapTpm2Rsa(s, i, header.id, rsaDecryptor(k));
        if (key) return key;
      }
    }
  }
  return undefined;
}
