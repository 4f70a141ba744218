/**
 * `digital-capsule-engine/client`: talking to a guardian (`capsule agent`) over its HTTP API
 * (docs/API.md): status, pushing logic modules, release and signing requests, check-ins and
 * approvals, fetching content by CID; the capsule prefix a release request sends; and keeping
 * the receipts the guardian's answers carry.
 *
 * Explicit named exports only. Deliberately not here: opening the release answer, which is an age
 * file holding the capsule's file key: decrypt it with `age-encryption` and open the capsule with
 * an unwrapper that returns that key (example below).
 *
 * @example
 * ```js
 * import { GuardianClient, capsulePrefix } from 'digital-capsule-engine/client';
 * import { decryptToFile, encodeIdentity } from 'digital-capsule-engine';
 * import { Decrypter } from 'age-encryption';
 *
 * const client = new GuardianClient('http://pi.local:7373', 30_000, { identity: me });
 * const { prefix } = await capsulePrefix({ path: 'secret.capsule' });
 * const { answer } = await client.release(prefix, me.recipient, []); // throws AgentError ERR_DENIED with the logic's reason
 * const d = new Decrypter();
 * d.addIdentity(encodeIdentity(me.secretKey));
 * const fileKey = await d.decrypt(answer);
 * await decryptToFile({ path: 'secret.capsule' }, () => Uint8Array.from(fileKey), 'secret.pdf');
 * ```
 * @packageDocumentation
 */

import type { EvidenceItem as Evidence } from '../sandbox/inputs.ts';
import type { Receipt as AuditReceipt } from '../daemon/Receipt.ts';

export { GuardianClient } from './GuardianClient.ts';
export type { ReleaseAnswer } from './GuardianClient.ts';
export { capsulePrefix } from './capsulePrefix.ts';
export { defaultReceiptsDir, isReceipt, saveReceipt } from './receiptStore.ts';
/**
 * A signed statement the logic may ask for: an approval of a requester, or a check-in, signed
 * with Ed25519 (`signer` a 32-byte public key) or as an Ethereum personal message (EIP-191,
 * `signer` a 20-byte address). `message` is the signed text as bytes, e.g.
 * `capsule-approval:v1:<capsule id hex>:<requester age1…>` (contracts-as/contracts/README.md).
 */
export type EvidenceItem = Evidence;
/**
 * What a guardian's answer carries to prove later that its decision is in its audit log: the
 * entry's sequence number, the SHA-256 (hex) of its signed body, its signature (hex), and the
 * guardian key (`capsule-guardian1…`). Keep it with saveReceipt().
 */
export type Receipt = AuditReceipt;
export { AgentError } from '../errors.ts';
export type { AgentErrorCode } from '../errors.ts';
