/**
 * Opening a threshold capsule (SPEC.md §5.6): ask every guardian of its set at once, collect the
 * shares they release, stop at m valid ones and combine them into the file key. Each guardian
 * evaluates the logic on its own clock and state; this client only counts answers.
 *
 * A share counts only after it is decrypted with the requester's identity and matches its
 * commitment in the header (checkShare), so a guardian that answers garbage, a share from another
 * capsule or a tampered one costs that guardian its vote and nothing else. Each guardian has its
 * own timeout (GuardianClient), so one that hangs is reported and the others still count. Once m
 * shares are in, the requests still in flight are aborted (those guardians may still have counted
 * an open: state such as maxOpens is per guardian).
 *
 * Deliberately not here: decrypting the payload (the caller, with the returned key), the single-
 * guardian release (GuardianClient.release), and the CLI's wording (cli/commands/open.ts).
 */
import { checkShare, combineShares, type GuardianShare } from '../capsule/shares.ts';
import { openReleaseAnswer } from './openReleaseAnswer.ts';
import type { Identity } from '../crypto/identity.ts';
import { wipe } from '../crypto/secrets.ts';
import { AgentError, DceError } from '../errors.ts';
import { GuardianSetError } from '../format/guardianSet.ts';
import type { CapsuleHeader } from '../format/header.ts';
import type { EvidenceItem } from '../sandbox/inputs.ts';
import type { GuardianClient, ReleaseAnswer } from './GuardianClient.ts';

/** What one guardian answered. */
export interface GuardianOutcome {
  /** The guardian's URL as given. */
  url: string;
  /** allow: its share counted; deny: its logic said no; error: no usable answer; skipped: not needed (m reached first). */
  verdict: 'allow' | 'deny' | 'error' | 'skipped';
  /** The share's index in the set (allow only). */
  index?: number;
  /** The logic's reason (allow, deny) or the error's message (error). */
  reason?: string;
  /** The error's code (error, deny: ERR_DENIED). */
  code?: string;
}

export interface ReleaseFromGuardiansOptions {
  header: CapsuleHeader;
  /** The capsule's release prefix (header + first chunk), sent to each guardian. */
  prefix: Uint8Array;
  clients: GuardianClient[];
  identity: Identity;
  evidence: EvidenceItem[];
  signal?: AbortSignal;
  /** Called once per guardian as soon as its outcome is known (the CLI prints a line). */
  onOutcome?: (o: GuardianOutcome) => void;
}

/**
 * Asks all guardians concurrently and combines the first m valid shares.
 * @returns The 32-byte file key (caller wipes it) and every guardian's outcome, in `clients` order.
 * @throws GuardianSetError ERR_BAD_GUARDIAN_SET (the capsule has no guardian set),
 *   ERR_NOT_ENOUGH_SHARES (fewer than m guardians released a valid share; the message lists each
 *   guardian's verdict and reason, and `outcomes` is attached).
 * @throws RangeError when fewer clients are given than the set's threshold.
 */
export async function releaseFromGuardians(o: ReleaseFromGuardiansOptions): Promise<{ key: Uint8Array; outcomes: GuardianOutcome[] }> {
  const set = o.header.guardianSet;
  if (!set) throw new GuardianSetError('ERR_BAD_GUARDIAN_SET', 'this capsule has no guardian set: open it with one --guardian');
  const m = set.threshold;
  if (o.clients.length < m)
    throw new RangeError(
      `guardians: this capsule needs ${m} of its ${set.guardians.length} guardians, got ${o.clients.length} URL${o.clients.length === 1 ? '' : 's'}`,
    );
  const stop = new AbortController();
  const signal = o.signal ? AbortSignal.any([o.signal, stop.signal]) : stop.signal;
  const outcomes: GuardianOutcome[] = o.clients.map((c) => ({ url: c.url, verdict: 'skipped' }));
  const shares: GuardianShare[] = [];
  let closed = false; // set once this call has returned or thrown: a late share is wiped, not kept
  const settle = (i: number, out: GuardianOutcome) => {
    outcomes[i] = out;
    o.onOutcome?.(out);
  };
  try {
    await Promise.all(
      o.clients.map(async (client, i) => {
        let answer: ReleaseAnswer;
        try {
          answer = await client.release(o.prefix, o.identity.recipient, o.evidence, signal);
        } catch (e) {
          if (stop.signal.aborted && !o.signal?.aborted) return; // m reached: this one was not needed
          if (o.signal?.aborted) throw e;
          const err = e as DceError;
          const denied = err instanceof AgentError && err.code === 'ERR_DENIED';
          settle(i, {
            url: client.url,
            verdict: denied ? 'deny' : 'error',
            code: err.code ?? 'ERR_PROTOCOL',
            reason: denied ? String((err as DceError & { reason?: unknown }).reason) : err.message,
          });
          return;
        }
        let share: GuardianShare | undefined;
        try {
          share = await openShare(client.url, answer, o.identity, o.header);
        } catch (e) {
          settle(i, { url: client.url, verdict: 'error', code: (e as DceError).code ?? 'ERR_PROTOCOL', reason: (e as Error).message });
          return;
        }
        if (closed) {
          wipe(share.share); // the call already ended (aborted by the caller): nobody will wipe it later
          return;
        }
        if (shares.length >= m || shares.some((s) => s.index === share.index)) {
          // Enough already, or a second guardian answering with the same share index: not counted.
          if (shares.some((s) => s.index === share.index))
            settle(i, {
              url: client.url,
              verdict: 'error',
              code: 'ERR_BAD_SHARE',
              reason: `released share ${share.index}, which another guardian already released`,
            });
          wipe(share.share);
          return;
        }
        shares.push(share);
        settle(i, { url: client.url, verdict: 'allow', index: share.index, reason: answer.reason });
        if (shares.length === m) stop.abort();
      }),
    );
    if (shares.length < m) {
      const lines = outcomes.map((x) => `${x.url}: ${x.verdict}${x.reason !== undefined ? ` (${x.reason})` : ''}`).join('; ');
      throw Object.assign(
        new GuardianSetError(
          'ERR_NOT_ENOUGH_SHARES',
          `${m}-of-${set.guardians.length}: ${shares.length} guardian${shares.length === 1 ? '' : 's'} released a share, ${m} needed — ${lines}`,
        ),
        { outcomes },
      );
    }
    return { key: await combineShares(o.header, shares), outcomes };
  } finally {
    closed = true;
    stop.abort();
    for (const s of shares) wipe(s.share);
  }
}

/**
 * The share inside one guardian's allow answer: age-decrypted with the requester's identity, 32
 * bytes, a valid index, and matching its commitment.
 * @throws AgentError ERR_PROTOCOL (not a share answer, undecryptable, wrong size);
 *   GuardianSetError ERR_BAD_SHARE (fails its commitment).
 */
async function openShare(url: string, answer: ReleaseAnswer, identity: Identity, header: CapsuleHeader): Promise<GuardianShare> {
  const index = answer.share?.index;
  const n = header.guardianSet!.guardians.length;
  if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= n) {
    throw new AgentError('ERR_PROTOCOL', `guardian ${url}: the answer is not a share of this capsule's ${n} guardians (share.index ${JSON.stringify(index)})`);
  }
  const share = await openReleaseAnswer(url, answer.answer, identity, 'share');
  const s = { index, share };
  try {
    checkShare(header, s);
  } catch (e) {
    wipe(share);
    throw e;
  }
  return s;
}
