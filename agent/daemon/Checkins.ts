/**
 * An owner's check-in (POST /v1/checkin) up to the decision: the message must be
 * "capsule-checkin:v1:<this capsule's id>:<ms>" (format/evidence.ts), Ed25519, signed within the
 * window around the guardian's time (CHECKIN_WINDOW_MS back, CLOCK_SKEW_MS ahead) and verify; the
 * signer must be a key the capsule names (D9: its header owner or an `owner` param). Then it goes
 * through the decision pipeline (Releaser.checkin), keyed for replays by capsule, signer and
 * message, and remembered until it could no longer be fresh.
 *
 * Deliberately not here: HTTP (api.ts) and the pipeline (Releaser.ts, Decider.ts).
 */
import { AgentError } from '../errors.ts';
import { sha256 } from '../crypto/kdf.ts';
import { verifyEvidence } from '../crypto/verifyEvidence.ts';
import { parseCheckinMessage } from '../format/evidence.ts';
import type { EvidenceItem } from '../sandbox/inputs.ts';
import type { Clock } from './Clock.ts';
import { checkinKeys } from './namedKeys.ts';
import type { Presented } from './present.ts';
import type { Outcome, Releaser } from './Releaser.ts';

/** A check-in older than this, or this far in the future, is refused (with the replay cache: no replays). */
export const CHECKIN_WINDOW_MS = 10 * 60_000;
/** How far ahead of the guardian's time a check-in may be signed (the signer's clock may run ahead). */
export const CLOCK_SKEW_MS = 60_000;

/** What a check-in needs. */
export interface CheckinDeps {
  releaser: Pick<Releaser, 'checkin'>;
  clock: Clock;
}

/**
 * Checks the check-in `item` for capsule `p` and decides on it.
 * @param d - The Releaser and the guardian's clock.
 * @param p - The presented capsule.
 * @param item - The check-in, parsed (sandbox/evidence.ts parseEvidence, at `body.checkin`).
 * @returns The decision's outcome (`changed` non-empty when the logic recorded it).
 * @throws AgentError ERR_BAD_REQUEST (not a check-in, another message, a bad signature),
 *   ERR_REPLAYED (outside the window, or seen before), ERR_FORBIDDEN (a signer the capsule does not
 *   name); as Releaser.checkin
 */
export async function checkIn(d: CheckinDeps, p: Presented, item: EvidenceItem): Promise<Outcome> {
  const now = await d.clock.now();
  checkCheckin(item, p.id, now);
  requireNamedCheckinKey(item, p);
  // Keyed by signer and message: a check-in signed by someone else can never take the owner's place.
  // And by capsule (header hash): a copy of the check-in sent to another capsule with this id first cannot spend it (D2).
  const replayKey = Buffer.from(sha256(Buffer.from(p.stateKey, 'hex'), item.signer, item.message)).toString('hex');
  return d.releaser.checkin(p, item, replayKey, now + CHECKIN_WINDOW_MS + CLOCK_SKEW_MS);
}

/**
 * "capsule-checkin:v1:<id>:<ms>", Ed25519, fresh (within the window around `now`), validly signed.
 * @throws AgentError ERR_BAD_REQUEST, ERR_REPLAYED (stale or from the future)
 */
export function checkCheckin(e: EvidenceItem, id: string, now: number): void {
  if (e.kind !== 'checkin' || e.scheme !== 'ed25519') {
    throw new AgentError('ERR_BAD_REQUEST', `body.checkin: expected kind "checkin" and scheme "ed25519", got "${e.kind}" / "${e.scheme}"`);
  }
  const m = parseCheckinMessage(Buffer.from(e.message).toString('utf8'));
  if (!m || m.id !== id)
    throw new AgentError('ERR_BAD_REQUEST', `body.checkin.message: expected "capsule-checkin:v1:${id}:<ms>"`, { hint: 'make check-ins with capsule checkin' });
  if (m.at < now - CHECKIN_WINDOW_MS || m.at > now + CLOCK_SKEW_MS) {
    throw new AgentError(
      'ERR_REPLAYED',
      `body.checkin: signed at ${new Date(m.at).toISOString()}, outside the ${CHECKIN_WINDOW_MS / 60_000}-minute window around the guardian's time ${new Date(now).toISOString()}`,
      {
        hint: 'check-ins are fresh or refused (a stale one could be a replay); sign a new one, and check the clocks',
      },
    );
  }
  if (!verifyEvidence(e))
    throw new AgentError('ERR_BAD_REQUEST', 'body.checkin.signature: does not verify under the signer', {
      hint: 'the check-in was altered or signed by another key',
    });
}

/**
 * D9: a check-in counts only from a key the capsule names (header owner, or an `owner` param): any
 * other signer is refused before anything is decided or audited.
 * @throws AgentError ERR_FORBIDDEN
 */
export function requireNamedCheckinKey(e: EvidenceItem, p: Presented): void {
  const named = checkinKeys(p.parsed.header.owner, p.parsed.header.logic.params);
  const signer = Buffer.from(e.signer).toString('hex');
  if (named.has(signer)) return;
  throw new AgentError(
    'ERR_FORBIDDEN',
    named.size === 0
      ? `body.checkin.signer: this capsule names no check-in key (no owner in its header, no "owner" in its logic params), so no check-in is accepted`
      : `body.checkin.signer: ${signer} is not a key this capsule names (its owner or an "owner" param); expected one of ${[...named].join(', ')}`,
    {
      hint: 'sign check-ins with the owner key the capsule was sealed with (capsule checkin --identity OWNER.key)',
    },
  );
}
