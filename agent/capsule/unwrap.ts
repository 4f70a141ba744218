/**
 * Finding the file key in a header with local X25519 identities (the guardian's own key files).
 *
 * Tries every identity against every `x25519` stanza; stanzas of other types are skipped (they are
 * for other key custodians). Deliberately not here: hardware-held keys (agent/keys, later).
 */
import { CapsuleFormatError } from '../errors.ts';
import type { Identity } from '../crypto/identity.ts';
import { wipe } from '../crypto/secrets.ts';
import { unwrapX25519 } from '../crypto/x25519Stanza.ts';
import { STANZA_X25519 } from '../format/constants.ts';
import type { CapsuleHeader } from '../format/header.ts';
import type { Unwrapper } from './CapsuleOpener.ts';
import { combineUnwrappedShares, type GuardianShare } from './shares.ts';

/**
 * An Unwrapper that tries every identity against every `x25519` stanza (other stanza types are for
 * other custodians and are skipped).
 * @param identities - One or more X25519 identities (generateIdentity, parseIdentityFile).
 * @returns The Unwrapper; it throws CapsuleFormatError ERR_NO_MATCHING_STANZA when none opens. For a
 *   header with a guardian set it combines the shares the identities open (GuardianSetError
 *   ERR_NOT_ENOUGH_SHARES when fewer than m do).
 * @throws TypeError when `identities` is empty or holds something that is not an identity.
 * @example
 * ```js
 * import { CapsuleOpener, identityUnwrapper } from 'digital-capsule-engine/capsule';
 * const opener = new CapsuleOpener(identityUnwrapper(parseIdentityFile(keyFileText)));
 * ```
 */
export function identityUnwrapper(identities: Identity[]): Unwrapper {
  if (!Array.isArray(identities) || identities.length === 0) {
    throw new TypeError('identities: expected at least one X25519 identity');
  }
  identities.forEach((id, i) => {
    if (!(id?.secretKey instanceof Uint8Array) || id.secretKey.length !== 32 || !(id.publicKey instanceof Uint8Array)) {
      throw new TypeError(`identities[${i}]: expected an X25519 identity (parseIdentityFile / generateIdentity), got ${typeof id}`);
    }
  });
  return (header: CapsuleHeader): Uint8Array | Promise<Uint8Array> => {
    // A guardian set: the stanzas wrap shares; m of them that these identities open give the key
    // (combined asynchronously by the Shamir library: an Unwrapper may be async).
    if (header.guardianSet) {
      const shares = identityShares(header, identities);
      return combineUnwrappedShares(header, shares).finally(() => wipe(...shares.map((s) => s.share)));
    }
    let tried = 0;
    for (const [i, s] of header.stanzas.entries()) {
      if (s.type !== STANZA_X25519) continue;
      tried++;
      for (const id of identities) {
        const key = unwrapX25519(s, i, id, header.id);
        if (key) return key;
      }
    }
    const types = [...new Set(header.stanzas.map((s) => s.type))].join(', ');
    throw new CapsuleFormatError(
      'ERR_NO_MATCHING_STANZA',
      `header.stanzas: none of ${header.stanzas.length} stanza(s) (${types}) opens with the ${identities.length} given identit${identities.length === 1 ? 'y' : 'ies'} (${tried} x25519 tried)`,
    );
  };
}

/**
 * The shares of a threshold capsule that local X25519 identities open (its `x25519` stanzas), for
 * combineShares(); shares are not checked here (combineShares checks each against its commitment).
 * @param header - A threshold capsule's header.
 * @param identities - X25519 identities (a guardian's, or several guardians' in a test).
 * @returns One share per stanza that opens, with its guardian index (caller wipes the shares).
 * @throws TypeError when the header carries no guardian set.
 * @example
 * ```js
 * const key = await combineShares(header, identityShares(header, [idA, idC]));
 * ```
 */
export function identityShares(header: CapsuleHeader, identities: Identity[]): GuardianShare[] {
  if (!header.guardianSet) throw new TypeError('header: carries no guardian set (key 12): its x25519 stanzas wrap the file key; use identityUnwrapper');
  const out: GuardianShare[] = [];
  for (const [i, s] of header.stanzas.entries()) {
    if (s.type !== STANZA_X25519) continue;
    for (const id of identities) {
      const share = unwrapX25519(s, i, id, header.id);
      if (share) {
        out.push({ index: i, share });
        break;
      }
    }
  }
  return out;
}
