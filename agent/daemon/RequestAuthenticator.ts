/**
 * The guardian's side of requester authentication (docs/API.md "Requester authentication"):
 * checks a request's `auth` field with the guardian's x25519 identity (derived from the seed for
 * the length of one exchange, then wiped, as for every unwrap), against the guardian's clock, and
 * remembers each accepted nonce (Store's replay table) so a captured request cannot be sent twice.
 *
 * A nonce is remembered only after its MAC verified: strangers cannot fill the replay table.
 * Deliberately not here: the byte layout and MAC (crypto/requesterAuth.ts), and what an
 * authenticated request may do (Releaser.ts, SigningService.ts).
 */
import { AgentError } from '../errors.ts';
import { sha256 } from '../crypto/kdf.ts';
import { checkRequestAuth, type RequestAuth } from '../crypto/requesterAuth.ts';
import { x25519Shared } from '../crypto/x25519.ts';
import type { Guardian } from '../guardian/Guardian.ts';
import type { Clock } from './Clock.ts';
import type { Store } from './Store.ts';

const REPLAY_DOMAIN = new TextEncoder().encode('capsule-request-auth/v1 nonce');

export class RequestAuthenticator {
  readonly #guardian: Pick<Guardian, 'withKeys' | 'record'>;
  readonly #store: Pick<Store, 'remember'>;
  readonly #clock: Clock;

  constructor(deps: { guardian: Pick<Guardian, 'withKeys' | 'record'>; store: Pick<Store, 'remember'>; clock: Clock }) {
    this.#guardian = deps.guardian;
    this.#store = deps.store;
    this.#clock = deps.clock;
  }

  /**
   * True if `body.auth` proves possession of `requester`'s identity for this request; false if the
   * body carries no `auth`. A present but failing auth is never silently "unauthenticated".
   * @throws AgentError ERR_UNAUTHENTICATED (401: wrong guardian, stale or future time, MAC),
   *   ERR_REPLAYED (409: nonce already used), KeyError ERR_BAD_RECIPIENT (requester).
   */
  async verify(method: string, path: string, body: Record<string, unknown>, requester: string): Promise<boolean> {
    if (body.auth === undefined) return false;
    const now = await this.#clock.now();
    const v = await checkRequestAuth({
      method,
      path,
      body: body as Record<string, unknown> & { auth: RequestAuth },
      requester,
      now,
      guardian: this.#guardian.record.recipients.x25519,
      exchange: (pk) => this.#guardian.withKeys((k) => x25519Shared(k.x25519.secretKey, pk)),
    });
    const key = Buffer.from(sha256(REPLAY_DOMAIN, v.requesterPk, v.nonce)).toString('hex');
    if (!this.#store.remember(key, v.expires, now)) {
      throw new AgentError('ERR_REPLAYED', `auth.nonce: ${Buffer.from(v.nonce).toString('hex')} was already used by this requester (a replayed request)`, {
        hint: 'make a fresh auth (new nonce) for every request; capsule open does',
      });
    }
    return true;
  }
}
