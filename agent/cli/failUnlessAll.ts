/**
 * The CLI's ending for a request sent to every guardian of a set (check-ins, approvals:
 * client/toEveryGuardian.ts): nothing when all took it; one guardian's own error as it came when
 * there was only one; otherwise a `capsule:` line per guardian that did not, then one error
 * naming them. Deliberately not here: sending (toEveryGuardian) and the success lines.
 */
import type { GuardianResult } from '../client/toEveryGuardian.ts';
import { AgentError } from '../errors.ts';
import type { Terminal } from './Terminal.ts';

/** How the command words its outcome. */
export interface FanOutWords {
  /** What was sent, e.g. 'the check-in'. */
  what: string;
  /** The past participle for a guardian that took it, e.g. 'recorded'. */
  done: string;
  /** The command to run again, e.g. 'checkin'. */
  command: string;
  /** Whether a first failure that is a denial makes the error ERR_DENIED (else ERR_UNREACHABLE). */
  denialCounts?: boolean;
}

/**
 * Returns when every guardian took the request; otherwise reports and throws.
 * @throws the one guardian's own error (a single URL); AgentError ERR_DENIED or ERR_UNREACHABLE naming the guardians that did not
 */
export function failUnlessAll<T>(t: Terminal, results: Array<GuardianResult<T>>, w: FanOutWords): void {
  const failed = results.flatMap((r) => (r.ok ? [] : [r]));
  if (failed.length === 0) return;
  if (results.length === 1) throw failed[0]!.error; // one guardian: its own error, as it came
  for (const f of failed) t.stderr.write(`capsule: ${f.error.message.startsWith(`guardian ${f.url}`) ? '' : `guardian ${f.url}: `}${f.error.message}\n`);
  throw new AgentError(
    w.denialCounts && failed[0]!.error.code === 'ERR_DENIED' ? 'ERR_DENIED' : 'ERR_UNREACHABLE',
    `${w.what} was not ${w.done} by ${failed.length} of ${results.length} guardians (${failed.map((f) => f.url).join(', ')})`,
    {
      hint:
        failed.length < results.length
          ? `the others ${w.done} it; run capsule ${w.command} again for those guardians once they answer`
          : `no guardian ${w.done} it; see each guardian's line above`,
    },
  );
}
