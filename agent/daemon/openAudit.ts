/**
 * The agent's start-up of its audit trail (issue 18 D4, D5; docs/AUDIT.md): read the rollback
 * anchor, open the audit log (which checks the whole chain), compare the anchor with the log and the
 * database and refuse to start on a rollback unless the operator accepted it (then an `override`
 * entry records what was found), void the intents whose commit never happened, and keep the anchor
 * advancing after every write from then on.
 *
 * Deliberately not here: the log's format (AuditLog.ts), the anchor's storage (Anchor.ts).
 */
import { join } from 'node:path';
import { AuditError } from '../errors.ts';
import type { HeaderSigner } from '../crypto/guardianSignature.ts';
import { AnchorKeeper, LockedFileAnchor, rollbackFinding, type Anchor, type AnchorState } from './Anchor.ts';
import { AuditLog } from './AuditLog.ts';
import { reconcileIntents } from './auditedCommit.ts';
import type { Store } from './Store.ts';

export interface AuditStart {
  dataDir: string;
  signer: HeaderSigner;
  /** The guardian key (capsule-guardian1…) the anchor is bound to. */
  guardianKey: string;
  /** The module's lock/unlock (KeyStore). */
  lock: { lock(d: Uint8Array): Promise<Uint8Array>; unlock(b: Uint8Array): Promise<Uint8Array> };
  store: Store;
  now: number;
  acceptRollback: boolean;
  log: (event: string, fields: Record<string, unknown>) => void;
  /** Replaces the module-locked file (a TPM NV counter, issue 14). */
  anchor?: Anchor;
}

/**
 * Opens the audit log with its anchor checked and kept.
 * @throws AuditError ERR_AUDIT_* (a broken log), ERR_ROLLBACK / ERR_ANCHOR (rolled back or tampered,
 *   without acceptRollback), KeyStoreError (the module, reading or writing the anchor)
 */
export async function openAudit(o: AuditStart): Promise<AuditLog> {
  const anchor = o.anchor ?? new LockedFileAnchor(join(o.dataDir, 'anchor'), o.lock, o.guardianKey);
  let state: AnchorState | undefined;
  let finding: AuditError | undefined;
  try {
    state = await anchor.read();
  } catch (e) {
    if (!(e instanceof AuditError)) throw e;
    finding = e;
  }
  const audit = await AuditLog.open(join(o.dataDir, 'audit.log'), o.signer, o.now, { digestAt: state?.seq });
  try {
    const generation = o.store.generation();
    finding ??= rollbackFinding(
      state,
      {
        logSeq: audit.seq,
        digestAtAnchor: audit.scan.digestAt,
        wasAnchored: audit.scan.anchored || o.store.auditMeta('anchored') === '1',
        generation,
      },
      anchor.kind,
    );
    if (finding) {
      if (!o.acceptRollback) throw finding;
      // The operator accepted it: what was found is the first thing the continued log says.
      await audit.append('override', o.now, {
        found: finding.code,
        message: finding.message,
        anchor: state ? { ...state } : null,
        logSeq: audit.seq,
        generation,
      });
      o.log('rollback-accepted', { found: finding.code, message: finding.message });
    }
    const voided = await reconcileIntents(audit, o.store, o.now);
    if (voided.length) o.log('intents-voided', { seqs: voided });
    if (!state || finding) {
      await audit.append('anchor', o.now, { established: finding ? 'override' : 'first', generation: o.store.generation() });
      o.store.transaction(() => o.store.setAuditMeta('anchored', '1'));
    }
    const sample = (): AnchorState => ({ seq: audit.seq, head: audit.head, generation: o.store.generation() });
    await anchor.advance(sample());
    const keeper = new AnchorKeeper(anchor, sample, o.log);
    audit.afterWrite = () => keeper.poke();
    audit.beforeClose = () => keeper.flush();
    return audit;
  } catch (e) {
    await audit.close().catch(() => {});
    throw e;
  }
}
