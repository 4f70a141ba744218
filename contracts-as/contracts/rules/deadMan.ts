/**
 * Dead-man switch: params {"owner"?: 32-byte Ed25519 key (default: the capsule's owner),
 * "beneficiaries": [age1… …], "silenceMs": uint}. Allows iff the requester is a beneficiary and
 * now − lastCheckin ≥ silenceMs, where lastCheckin (state key "lastCheckin", 8-byte big-endian;
 * "<path>:lastCheckin" inside a policy) starts at the capsule's `created` (s × 1000).
 *
 * A check-in is evidence {kind "checkin", scheme "ed25519", signer = owner} whose message is
 * "capsule-checkin:v1:" ‖ hex(capsule id) ‖ ":" ‖ decimal(ms) (no leading zeros) signed by the
 * owner, with ms ≤ now. Each valid one moves lastCheckin to max(lastCheckin, ms), at once (not only
 * on allow); a request carrying one is denied with "check-in recorded".
 *
 * Deliberately not here: revoking beneficiaries or the owner, or check-ins by other keys.
 */
import { CborValue, stateGetI64, stateSetI64, verifyEd25519 } from "@capsule-engine/sdk";
import { bytesEqual, fail, parseDecimal, startsWith } from "@capsule-engine/sdk";
import {
  Scope, Verdict, allowed, bytesValue, checkinPrefix, denied, onlyKeys, sameRecipient, textListParam, uintParam, when,
} from "./common";

export function deadMan(p: CborValue, s: Scope): Verdict {
  onlyKeys(p, "beneficiaries,owner,silenceMs", s);
  const ownerParam = p.get("owner");
  let owner: Uint8Array;
  if (ownerParam !== null) owner = bytesValue(ownerParam, 32, s.what("owner"));
  else {
    const o = s.ctx.capsule.owner;
    if (o === null) fail(s.what("owner") + ": required (the capsule has no owner)");
    owner = o!;
  }
  const beneficiaries = textListParam(p, "beneficiaries", s);
  const silenceMs = uintParam(p, "silenceMs", s);

  const key = s.key("lastCheckin");
  const stored = stateGetI64(key, -1);
  const base = stored >= 0 ? stored : s.ctx.capsule.created * 1000;
  const prefix = checkinPrefix(s.ctx.capsule.id);
  let latest = base;
  let recorded = false;
  const ev = s.evidence;
  for (let i = 0; i < ev.length; i++) {
    const e = ev[i];
    if (e.kind != "checkin" || e.scheme != "ed25519" || !bytesEqual(e.signer, owner)) continue;
    if (!startsWith(e.message, prefix)) continue;
    const ts = parseDecimal(e.message, prefix.length, e.message.length);
    if (ts < 0 || ts > s.now) continue;
    if (!verifyEd25519(e.message, e.signature, owner)) continue;
    recorded = true;
    if (ts > latest) latest = ts;
  }
  if (recorded) {
    if (stored < 0 || latest > stored) stateSetI64(key, latest);
    return denied("check-in recorded");
  }
  let isBeneficiary = false;
  for (let i = 0; i < beneficiaries.length; i++) {
    if (sameRecipient(beneficiaries[i], s.ctx.requester)) { isBeneficiary = true; break; }
  }
  if (!isBeneficiary) return denied("requester is not a beneficiary");
  if (s.now - base < silenceMs) return denied("owner active at " + when(base) + "; opens at " + when(base + silenceMs) + " without a check-in");
  return allowed("owner silent since " + when(base));
}
