/**
 * The order of a decision's audit entry and its state commit (issue 18 D4, docs/AUDIT.md "Intent and
 * outcome"): the entry is written first, as the intent, marked `commit: true`; the state commit then
 * records that entry's seq in the same transaction (Store.markApplied); the answer leaves only after
 * both. If the commit fails, a `void` entry referencing the intent is appended (or owed to the next
 * write if the disk refuses it now) and the caller answers the commit's error (503). A process that
 * dies between the two leaves an intent without its commit record: the agent's start voids it
 * (reconcileIntents). So an allow in the log either happened, or is followed by its `void`.
 *
 * Deliberately not here: what a decision logs or commits (Releaser.ts, SigningService.ts, api.ts).
 */
import type { AuditEntry, AuditLog, Json } from './AuditLog.ts';
import { audited } from './audited.ts';
import { receiptOf, withReceipt, type Receipt } from './Receipt.ts';
import type { Store } from './Store.ts';

export interface Recorded {
  entry: AuditEntry;
  receipt: Receipt;
}

/**
 * Writes the decision entry, then (if `commit` is given) runs it with the entry's commit record in
 * one transaction. Without `commit`, the entry is the whole decision (a denial that changes nothing).
 * @throws AgentError ERR_AUDIT (503) if the entry cannot be written (nothing committed); the commit's
 *   own error (StoreError, 503) if the commit fails, with the `void` entry's receipt attached
 */
export async function auditedCommit(
  d: { audit: AuditLog; store: Store },
  kind: string,
  at: number,
  fields: { [k: string]: Json },
  commit?: () => void,
): Promise<Recorded> {
  const entry = await audited(d.audit.append(kind, at, commit ? { ...fields, commit: true } : fields));
  const receipt = receiptOf(entry, d.audit.guardian);
  if (!commit) return { entry, receipt };
  try {
    d.store.transaction(() => {
      commit();
      d.store.markApplied(entry.seq);
    });
  } catch (e) {
    const v = await d.audit.appendOwed('void', at, { ref: entry.seq, reason: (e as { code?: string }).code ?? 'ERR_INTERNAL' });
    throw withReceipt(e, v ? receiptOf(v, d.audit.guardian) : receipt);
  }
  d.audit.afterWrite?.();
  return { entry, receipt };
}

/** Writes an entry for a decision that failed (`error` is rethrown by the caller with the receipt attached). */
export async function auditedFailure(d: { audit: AuditLog }, kind: string, at: number, fields: { [k: string]: Json }, error: unknown): Promise<never> {
  const entry = await audited(d.audit.append(kind, at, fields));
  throw withReceipt(error, receiptOf(entry, d.audit.guardian));
}

/**
 * At start (D4): every intent in the log (`commit: true`, not voided) whose commit is not recorded
 * in the database gets a `void` entry — the process died between the two, so nothing happened.
 * Returns the voided seqs.
 */
export async function reconcileIntents(audit: AuditLog, store: Store, now: number): Promise<number[]> {
  const applied = store.appliedOf(audit.scan.intents);
  const lost = audit.scan.intents.filter((s) => !applied.has(s));
  for (const seq of lost) await audit.append('void', now, { ref: seq, reason: 'ERR_NOT_COMMITTED' });
  return lost;
}
