/**
 * A requester's age recipient must arrive exactly as encoded (lowercase, no spaces): what is
 * audited, what authentication binds and what the answer is encrypted to are then the same string.
 * Deliberately not here: parsing recipients (crypto/identity.ts) and authenticating requesters
 * (RequestAuthenticator.ts).
 */
import { AgentError } from '../errors.ts';
import { encodeRecipient, parseRecipient } from '../crypto/identity.ts';

/**
 * Checks that `text` is an age X25519 recipient in its canonical encoding; `at` names the argument.
 * @throws KeyError ERR_BAD_RECIPIENT (not a recipient at all: parseRecipient);
 *   AgentError ERR_BAD_REQUEST (400) for a recipient written another way (uppercase, spaces)
 */
export function requireCanonicalRecipient(text: string, at: string): void {
  const key = parseRecipient(text);
  if (encodeRecipient(key) !== text) {
    throw new AgentError('ERR_BAD_REQUEST', `${at}: expected the recipient exactly as encoded (age1…, lowercase, no spaces)`);
  }
}
