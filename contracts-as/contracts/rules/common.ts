/**
 * What the standard rules share beyond the SDK: the `Verdict` a rule returns, state writes deferred
 * until the final verdict is an allow, and `finish` to end decide(). The params helpers, the
 * `Scope` a rule runs in and the signed message formats are the SDK's (@capsule-engine/sdk:
 * params.ts, approvals.ts), re-exported here so the rules import one place; authors' policies use
 * the very same ones.
 *
 * Deliberately not here: any rule's logic (one file per rule) and the combinator (combinator.ts).
 */
import { CborValue, allow, deny, i64ToBytes, paramsMap as sdkParamsMap, stateSet } from "@capsule-engine/sdk";

export {
  Scope, approvalMessage, bytesValue, checkinPrefix, kindOf, listText, onlyKeys, optTimeParam, optUintParam, rootScope,
  sameRecipient, textListParam, timeParam, tryBytesValue, uintParam, when,
} from "@capsule-engine/sdk";

export class Verdict {
  allow: bool;
  reason: string;
  constructor(allow: bool, reason: string) {
    this.allow = allow;
    this.reason = reason;
  }
}

export function allowed(reason: string): Verdict { return new Verdict(true, reason); }
export function denied(reason: string): Verdict { return new Verdict(false, reason); }

// ---- state writes that happen only if the final verdict is an allow ----

class Pending {
  key: string;
  value: Uint8Array;
  constructor(key: string, value: Uint8Array) { this.key = key; this.value = value; }
}

const pending = new Array<Pending>();

/** Stores `value` (8 bytes, big-endian) under `key` if and only if the evaluation ends in an allow. */
export function onAllow(key: string, value: i64): void {
  pending.push(new Pending(key, i64ToBytes(value)));
}

/** Stores `value` under `key` if and only if the evaluation ends in an allow. */
export function onAllowBytes(key: string, value: Uint8Array): void {
  pending.push(new Pending(key, value));
}

/** Ends decide(): applies deferred writes on an allow, sets the reason, returns 1 or 0. */
export function finish(v: Verdict): i32 {
  if (!v.allow) return deny(v.reason);
  for (let i = 0; i < pending.length; i++) stateSet(pending[i].key, pending[i].value);
  return allow(v.reason);
}

// ---- params ----

/** The params, which must be a map; traps otherwise (pointing at this folder's README). */
export function paramsMap(contract: string): CborValue {
  return sdkParamsMap(contract, " (see contracts-as/contracts/README.md)");
}
