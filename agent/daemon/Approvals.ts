/**
 * Storing an approver's approval for later releases (POST /v1/approvals): the message must name
 * this capsule and this requester (format/evidence.ts), the signature must verify, and the signer
 * must be an approver the capsule's logic params list (so strangers cannot fill the
 * MAX_APPROVALS slots); then, for a capsule sealed to this guardian (its header authenticated
 * once) and under its lock, the approval is refused if already stored or over the bound, else
 * recorded with an audit entry (auditedCommit.ts, issue 18 D4) whose receipt proves it (A1).
 *
 * Deliberately not here: HTTP (api.ts: the body's schema, the 201 answer) and what the logic does
 * with approvals at a release (Releaser.release reads them back).
 */
import { AgentError } from '../errors.ts';
import { verifyEvidence } from '../crypto/verifyEvidence.ts';
import { approvalMessage } from '../format/evidence.ts';
import { parseEvidence } from '../sandbox/evidence.ts';
import type { AuditLog } from './AuditLog.ts';
import { auditedCommit } from './auditedCommit.ts';
import type { Clock } from './Clock.ts';
import { listedApprovers } from './namedKeys.ts';
import type { Presented } from './present.ts';
import type { Receipt } from './Receipt.ts';
import type { Releaser } from './Releaser.ts';
import { requireCanonicalRecipient } from './requireCanonicalRecipient.ts';
import type { Store } from './Store.ts';

/** Approvals kept per capsule and requester: bounds what any signer can add to a release's evidence. */
export const MAX_APPROVALS = 32;

/** What storing an approval needs. */
export interface ApprovalDeps {
  /** Registers the capsule (authenticates its header) and holds its lock. */
  releaser: Pick<Releaser, 'register' | 'lock'>;
  store: Store;
  audit: AuditLog;
  clock: Clock;
}

/** A stored approval: its audit entry's seq and receipt. */
export interface StoredApproval {
  audit: number;
  receipt: Receipt;
}

/**
 * Checks and stores `approval` (the request's raw evidence item) by an approver for `requester`'s
 * releases of capsule `p`.
 * @param d - The store, audit log, clock and Releaser.
 * @param p - The presented capsule.
 * @param requester - The requester (age1…, exactly as encoded).
 * @param approval - The evidence item as the request carries it (hex fields); named `body.approval` in messages.
 * @returns The audit entry's seq and receipt.
 * @throws AgentError ERR_BAD_REQUEST (not an approval, another message, a bad signature, a
 *   non-canonical requester), ERR_FORBIDDEN (a signer the params do not list), ERR_REPLAYED
 *   (already stored), ERR_TOO_LARGE (MAX_APPROVALS stored), ERR_AUDIT, ERR_DISK_FULL; as Releaser.register
 */
export async function storeApproval(d: ApprovalDeps, p: Presented, requester: string, approval: unknown): Promise<StoredApproval> {
  requireCanonicalRecipient(requester, 'body.requester');
  const item = parseEvidence(approval, 'body.approval')[0]!;
  if (item.kind !== 'approval') throw new AgentError('ERR_BAD_REQUEST', `body.approval.kind: expected "approval", got "${item.kind}"`);
  const expected = approvalMessage(p.id, requester);
  if (Buffer.from(item.message).toString('utf8') !== expected) {
    throw new AgentError('ERR_BAD_REQUEST', `body.approval.message: expected "${expected}" (this capsule and this requester)`, {
      hint: 'make approvals with capsule approve',
    });
  }
  const signer = Buffer.from(item.signer).toString('hex');
  if (!verifyEvidence(item)) {
    throw new AgentError('ERR_BAD_REQUEST', `body.approval.signature: does not verify under the ${item.scheme} signer ${signer}`, {
      hint: 'the approval was altered or signed by another key',
    });
  }
  // Stored only if the logic would count it: its signer is an approver the params list. So signers
  // the capsule does not name cannot fill the MAX_APPROVALS slots (nothing stored, nothing audited).
  if (!listedApprovers(p.parsed.header.logic.params).has(`${item.scheme}:${signer}`)) {
    throw new AgentError(
      'ERR_FORBIDDEN',
      `body.approval.signer: ${item.scheme} ${signer} is not an approver listed in this capsule's logic params, so its approval would not count and is not stored`,
      {
        hint: 'the guardian stores approvals only from signers in a params "approvers" list; send other evidence with the release request (capsule open --approval)',
      },
    );
  }
  // Only for a capsule sealed to this guardian (its header authenticated once), one at a time.
  await d.releaser.register(p);
  return d.releaser.lock(p.stateKey, async () => {
    if (d.store.hasApproval(p.stateKey, requester, item.signer)) {
      throw new AgentError('ERR_REPLAYED', 'approval: already recorded for this capsule and requester');
    }
    if (d.store.approvalCount(p.stateKey, requester) >= MAX_APPROVALS) {
      throw new AgentError('ERR_TOO_LARGE', `approval: ${MAX_APPROVALS} approvals are already stored for this capsule and requester`, {
        hint: 'send further approvals with the release request (capsule open --approval) instead',
      });
    }
    const now = await d.clock.now();
    // D4: intent, then the commit recording it (auditedCommit.ts); the receipt proves the entry (A1).
    const { entry, receipt } = await auditedCommit(d, 'approval', now, { capsule: p.id, header: p.headerHash, requester, scheme: item.scheme, signer }, () => {
      d.store.addApproval(p.stateKey, requester, item, now);
    });
    return { audit: entry.seq, receipt };
  });
}
