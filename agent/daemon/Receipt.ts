/**
 * Receipts (issue 18, Build 4): what a guardian's answer carries so that its client can later prove
 * that the decision is in the audit log. A receipt is {seq, digest, sig, guardian}: the entry's
 * sequence number, the SHA-256 of its signed body (the entry without `sig`, canonical JSON), the
 * entry's own signature over that digest, and the guardian key. No extra signing: the audit entry's
 * signature is the receipt's. A log cut short, or replaced by an older copy, no longer holds the
 * entry with that digest at that seq, and `capsule audit verify --receipt` fails.
 *
 * Errors the agent answers after writing an entry (a denial, a failed decision) carry the receipt
 * too: it is attached to the error object here and read by the HTTP layer. Deliberately not here:
 * storing receipts (the client) and the log itself (AuditLog.ts).
 */
import { AuditError } from '../errors.ts';
import { GUARDIAN_KEY_HRP, parseP256Key, verifyP256 } from '../crypto/p256.ts';
import { bodyDigest, type AuditEntry } from './AuditLog.ts';

export interface Receipt {
  seq: number;
  /** SHA-256 (hex) of the entry's signed body. */
  digest: string;
  /** The entry's signature (hex r ‖ s, low S) over `digest`. */
  sig: string;
  /** The guardian key (capsule-guardian1…) that signed it. */
  guardian: string;
}

/** The receipt for a written entry. */
export function receiptOf(entry: AuditEntry, guardian: string): Receipt {
  return { seq: entry.seq, digest: bodyDigest(entry), sig: entry.sig, guardian };
}

const attached = new WeakMap<object, Receipt>();

/** Records that `error` is answered after `receipt`'s entry was written; returns the error. */
export function withReceipt<E>(error: E, receipt: Receipt | undefined): E {
  if (receipt && typeof error === 'object' && error !== null) attached.set(error, receipt);
  return error;
}

/** The receipt attached to an error answer, if an entry was written for it. */
export function receiptOfError(error: unknown): Receipt | undefined {
  return typeof error === 'object' && error !== null ? attached.get(error) : undefined;
}

/**
 * Parses a stored receipt (JSON text); `name` is how messages refer to it (its file name).
 * @throws AuditError ERR_AUDIT_RECEIPT: not a receipt
 */
export function parseReceipt(text: string, name: string): Receipt {
  let r: Partial<Receipt>;
  try {
    r = JSON.parse(text) as Partial<Receipt>;
  } catch (cause) {
    throw new AuditError('ERR_AUDIT_RECEIPT', `receipt ${name}: not JSON`, {
      cause,
      hint: 'pass the receipt files capsule open stored (one JSON object each)',
    });
  }
  const ok =
    typeof r === 'object' &&
    r !== null &&
    Number.isSafeInteger(r.seq) &&
    (r.seq as number) >= 0 &&
    typeof r.digest === 'string' &&
    /^[0-9a-f]{64}$/.test(r.digest) &&
    typeof r.sig === 'string' &&
    /^[0-9a-f]{128}$/.test(r.sig) &&
    typeof r.guardian === 'string';
  if (!ok)
    throw new AuditError('ERR_AUDIT_RECEIPT', `receipt ${name}: expected {seq, digest (64 hex), sig (128 hex), guardian}`, {
      hint: 'pass the receipt files capsule open stored',
    });
  return { seq: r.seq!, digest: r.digest!, sig: r.sig!, guardian: r.guardian! };
}

/**
 * Checks a receipt against a verified log's entries: its signature verifies under its guardian key,
 * which is the log's, and the log holds the entry at its seq with exactly its digest and signature.
 * @throws AuditError ERR_AUDIT_RECEIPT naming the receipt and the seq
 */
export function checkReceipt(r: Receipt, entries: AuditEntry[], name: string): void {
  const at = `receipt ${name} (entry ${r.seq})`;
  let key: Uint8Array;
  try {
    key = parseP256Key(GUARDIAN_KEY_HRP, r.guardian, `${at} guardian`);
  } catch (cause) {
    throw new AuditError('ERR_AUDIT_RECEIPT', `${at}: guardian is not a capsule-guardian1… key`, { cause });
  }
  if (!verifyP256(Uint8Array.from(Buffer.from(r.sig, 'hex')), Uint8Array.from(Buffer.from(r.digest, 'hex')), key)) {
    throw new AuditError('ERR_AUDIT_RECEIPT', `${at}: its signature does not verify under ${r.guardian} (not a receipt this guardian gave)`);
  }
  if (entries[0]?.guardian !== r.guardian) {
    throw new AuditError('ERR_AUDIT_RECEIPT', `${at}: given by guardian ${r.guardian}, but the log is ${String(entries[0]?.guardian)}'s`, {
      hint: "check the receipt against its own guardian's log",
    });
  }
  const e = entries[r.seq];
  if (!e) {
    throw new AuditError(
      'ERR_AUDIT_RECEIPT',
      `${at}: the log ends at entry ${entries.length - 1}, so the promised entry ${r.seq} is missing (the log was truncated or replaced by an older copy)`,
      {
        hint: "the guardian's log lost entries it acknowledged: keep this receipt and the log as evidence",
      },
    );
  }
  if (bodyDigest(e) !== r.digest || e.sig !== r.sig) {
    throw new AuditError(
      'ERR_AUDIT_RECEIPT',
      `${at}: the log's entry ${r.seq} is not the one the receipt was given for (digest ${bodyDigest(e)}, receipt ${r.digest}): the log was rewritten from this point`,
      {
        hint: "the guardian's log lost entries it acknowledged: keep this receipt and the log as evidence",
      },
    );
  }
}
