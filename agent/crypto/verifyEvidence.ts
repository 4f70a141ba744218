/**
 * Whether an evidence item's signature verifies under its signer, by its scheme: Ed25519 (raw
 * 32-byte key) or EIP-191 personal_sign (the signer is the 20-byte Ethereum address). Used by the
 * agent for approvals and check-ins before anything is stored or decided (daemon/Approvals.ts,
 * daemon/Checkins.ts).
 *
 * Deliberately not here: what the message must say (format/evidence.ts) and who may sign it
 * (daemon/namedKeys.ts).
 */
import { verifyPersonalSign } from '../sandbox/ethereum.ts';
import type { EvidenceItem } from '../sandbox/inputs.ts';
import { verifyEd25519 } from './verifyEd25519.ts';

/**
 * Verifies `e.signature` over `e.message` under `e.signer` with `e.scheme`.
 * @param e - A parsed evidence item (sandbox/evidence.ts parseEvidence).
 * @returns True when the signature verifies (never throws for a bad one).
 */
export function verifyEvidence(e: EvidenceItem): boolean {
  return e.scheme === 'ed25519' ? verifyEd25519(e.message, e.signature, e.signer) : verifyPersonalSign(e.message, e.signature, e.signer);
}
