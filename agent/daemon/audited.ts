/**
 * Fail closed on the audit log: a decision whose entry cannot be written is not answered (issue 18
 * D1, docs/AUDIT.md §1.6 and §3). Wraps an append so that its failure becomes the error the agent
 * answers. Deliberately not here: what is appended and in which order (auditedCommit.ts), and the
 * log's own recovery from a failed write (AuditLog.ts).
 */
import { AgentError, KeyStoreError } from '../errors.ts';

/**
 * Resolves with the appended entry, or fails the decision.
 * @throws KeyStoreError as thrown (the module could not sign the entry: 503 ERR_MODULE_CALL);
 *   AgentError ERR_AUDIT (503) for any other failed append, with it as `cause`
 */
export async function audited<T>(append: Promise<T>): Promise<T> {
  try {
    return await append;
  } catch (cause) {
    // The module could not sign the entry (failing or hung): answer with the module's own error
    // (503 ERR_MODULE_CALL); nothing was written, nothing is released, nothing committed.
    if (cause instanceof KeyStoreError) throw cause;
    throw new AgentError('ERR_AUDIT', 'audit log: the decision could not be recorded, so it is not answered', {
      cause,
      hint: 'check the data directory (disk full? read-only?); the agent refuses every decision until it can log',
    });
  }
}
