/**
 * One request to every guardian of a set at once (check-ins and approvals fan out: each guardian
 * keeps its own state, so each must hear it), with each guardian's outcome kept apart: one that
 * is down or refuses does not hide the others' answers.
 *
 * Deliberately not here: releases (releaseFromGuardians.ts stops at m shares) and the CLI's wording.
 */
import type { DceError } from '../errors.ts';
import { GuardianClient } from './GuardianClient.ts';

/** One guardian's outcome: its value, or the error it ended with. */
export type GuardianResult<T> = { url: string; ok: true; value: T } | { url: string; ok: false; error: DceError };

/**
 * Calls `call` on a client of each URL concurrently and waits for all.
 * @param urls - The guardians' agent URLs (at least one).
 * @param call - The request, per client (its errors are caught and returned, not thrown).
 * @param timeoutMs - Each guardian's per-call timeout.
 * @returns One result per URL, in order.
 * @throws RangeError for an empty list of URLs.
 */
export async function toEveryGuardian<T>(urls: string[], call: (c: GuardianClient) => Promise<T>, timeoutMs = 30_000): Promise<Array<GuardianResult<T>>> {
  if (urls.length === 0) throw new RangeError('urls: expected at least one guardian URL, got none');
  return Promise.all(
    urls.map(async (url): Promise<GuardianResult<T>> => {
      try {
        return { url, ok: true, value: await call(new GuardianClient(url, timeoutMs)) };
      } catch (e) {
        return { url, ok: false, error: e as DceError };
      }
    }),
  );
}
