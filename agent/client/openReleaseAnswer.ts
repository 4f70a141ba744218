/**
 * Opening a guardian's allow answer: the age file it encrypted to the requester, holding 32 bytes
 * (a file key, or a guardian's share of one). Shared by `capsule open` with one guardian and by
 * releaseFromGuardians. Deliberately not here: what the 32 bytes are checked against (the
 * capsule's first chunk, a share commitment).
 */
import { Decrypter } from 'age-encryption';
import { encodeIdentity, type Identity } from '../crypto/identity.ts';
import { wipe } from '../crypto/secrets.ts';
import { AgentError } from '../errors.ts';

/**
 * The 32 bytes inside `answer`, age-decrypted with `identity` (the caller wipes them).
 * @param url - The guardian's URL, for the messages.
 * @param answer - The answer's age file.
 * @param identity - The requester's identity.
 * @param what - What the bytes are, for the message: 'file key' or 'share'.
 * @throws AgentError ERR_PROTOCOL (the answer does not open with the identity, or is not 32 bytes)
 */
export async function openReleaseAnswer(url: string, answer: Uint8Array, identity: Identity, what: 'file key' | 'share'): Promise<Uint8Array> {
  const d = new Decrypter();
  d.addIdentity(encodeIdentity(identity.secretKey));
  let bytes: Uint8Array;
  try {
    bytes = await d.decrypt(answer);
  } catch (cause) {
    throw new AgentError('ERR_PROTOCOL', `guardian ${url}: the release answer does not open with ${identity.recipient}'s identity`, { cause });
  }
  if (bytes.length !== 32) {
    wipe(bytes);
    throw new AgentError('ERR_PROTOCOL', `guardian ${url}: the release answer holds ${bytes.length} bytes, not a 32-byte ${what}`);
  }
  return bytes;
}
