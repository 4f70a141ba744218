/**
 * The key a vector's `identity:` and `identity-p256:` lines describe, in the form openWithKey takes.
 *
 * x25519 identities alone go to the library's identity unwrapper unchanged. A P-256 unwrap is
 * asynchronous (as a module's ECDH is), while the opener asks for the file key synchronously once
 * the header is read; so, as a guardian does, the header is read first, the file key is found with
 * the library's stanza code (stanzas in header order, every key of the stanza's type), and the
 * opener is handed that key. Deliberately not here: the vectors' expectations (vectors.test.ts).
 */
import { CapsuleReader } from '../../agent/capsule/CapsuleReader.ts';
import type { KeySource } from '../../agent/capsule/open.ts';
import { parseIdentityFile, type Identity } from '../../agent/crypto/identity.ts';
import { p256PublicKey, p256SharedX } from '../../agent/crypto/p256.ts';
import { unwrapP256 } from '../../agent/crypto/p256Stanza.ts';
import { unwrapX25519 } from '../../agent/crypto/x25519Stanza.ts';
import { CapsuleFormatError } from '../../agent/errors.ts';
import type { CapsuleHeader } from '../../agent/format/header.ts';
import type { Vector } from './vectorFile.ts';

export async function vectorKey(v: Vector): Promise<KeySource> {
  const identities = v.identities.length > 0 ? parseIdentityFile(v.identities.join('\n'), v.name) : [];
  if (v.p256.length === 0) return identities;
  const scalars = v.p256.map((h) => Uint8Array.from(Buffer.from(h, 'hex')));
  const header = headerOf(v.bytes);
  // A header the reader rejects never reaches the unwrapper: the reader's error is the outcome.
  const fileKey = header ? await findFileKey(header, identities, scalars) : undefined;
  return (h: CapsuleHeader) => {
    if (!fileKey || !Buffer.from(h.id).equals(Buffer.from(header!.id))) {
      throw new CapsuleFormatError('ERR_NO_MATCHING_STANZA',
        `header.stanzas: none of ${h.stanzas.length} stanza(s) opens with the vector's ${identities.length} x25519 and ${scalars.length} P-256 key(s)`);
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

async function findFileKey(header: CapsuleHeader, identities: Identity[], scalars: Uint8Array[]): Promise<Uint8Array | undefined> {
  for (const [i, s] of header.stanzas.entries()) {
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
    }
  }
  return undefined;
}
