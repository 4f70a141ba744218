/**
 * The texts that evidence signs (SPEC.md and contracts-as/contracts/README.md): an approver's
 * approval "capsule-approval:v1:<capsule id hex>:<requester age1…>" and an owner's check-in
 * "capsule-checkin:v1:<capsule id hex>:<ms since the epoch>". The CLI builds them (approve.ts,
 * checkin.ts), the agent checks them (daemon/Approvals.ts, daemon/Checkins.ts); this is their one
 * home in TypeScript (the AssemblyScript logic parses them on its side).
 *
 * Deliberately not here: signing and verifying (crypto/verifyEvidence.ts), freshness and replays
 * (the agent's), and the evidence item's JSON shape (sandbox/evidence.ts).
 */

/** What every approval message starts with (version 1). */
export const APPROVAL_PREFIX = 'capsule-approval:v1:';
/** What every check-in message starts with (version 1). */
export const CHECKIN_PREFIX = 'capsule-checkin:v1:';

/**
 * The message an approver signs to approve a release of capsule `id` to `requester`.
 * @param id - The capsule id (32 hex digits).
 * @param requester - The requester's recipient (age1…), exactly as the release names it.
 * @returns "capsule-approval:v1:<id>:<requester>".
 */
export function approvalMessage(id: string, requester: string): string {
  return `${APPROVAL_PREFIX}${id}:${requester}`;
}

/**
 * The message an owner signs to check in on capsule `id` at time `ms`.
 * @param id - The capsule id (32 hex digits).
 * @param ms - Milliseconds since the epoch (the guardian's time), a non-negative integer.
 * @returns "capsule-checkin:v1:<id>:<ms>".
 */
export function checkinMessage(id: string, ms: number): string {
  return `${CHECKIN_PREFIX}${id}:${ms}`;
}

const CHECKIN = new RegExp(`^${CHECKIN_PREFIX}([0-9a-f]{32}):(0|[1-9][0-9]{0,15})$`);

/**
 * The capsule id and time a check-in message names, or undefined when `text` is not one
 * (canonical: lowercase id, decimal ms without leading zeros, at most 16 digits).
 * @param text - The signed message, as UTF-8 text.
 * @returns `{ id, at }` or undefined.
 */
export function parseCheckinMessage(text: string): { id: string; at: number } | undefined {
  const m = CHECKIN.exec(text);
  return m ? { id: m[1]!, at: Number(m[2]) } : undefined;
}
