/**
 * The policy combinator: a rule is a map with exactly one key —
 * {"timeLock": {…}} | {"deadMan": {…}} | {"mOfN": {…}} | {"allowlist": {…}} | {"expiry": {…}}
 * | {"all": [rule, …]} | {"any": [rule, …]} — nested up to 8 levels. "all" allows iff every item
 * allows, "any" iff at least one does; every item is evaluated (no short-circuit) so check-ins are
 * recorded and reasons are complete. A deny names the failing rules by kind and index, e.g.
 * "all: denied by timeLock#0 (opens at …)". Each leaf keeps its state under "<index path>:<name>"
 * (e.g. "1:opens", "0.2:lastCheckin"); deferred writes (expiry's count) apply only if the whole
 * policy allows.
 *
 * The leaves are pluggable (`evalRuleWith`): the wallet policy (contracts/wallet/policy.ts) passes
 * a leaf evaluator that knows the wallet rules as well as these.
 *
 * Deliberately not here: "not" (a negated rule would turn errors and missing evidence into allows),
 * weights or thresholds over rules (use mOfN for people).
 */
import { CborValue } from "@capsule-engine/sdk";
import { fail } from "@capsule-engine/sdk";
import { allowlist } from "./allowlist";
import { Scope, Verdict, allowed, denied, kindOf } from "./common";
import { deadMan } from "./deadMan";
import { expiry } from "./expiry";
import { mOfN } from "./mOfN";
import { timeLock } from "./timeLock";

const MAX_DEPTH = 8;

/** The leaf rules of the capsule policy, as listed in messages. */
export const CAPSULE_RULES = "timeLock, deadMan, mOfN, allowlist, expiry";

/** Evaluates leaf rule `kind` with params `body`; null if `kind` is not a rule it knows. */
export type LeafRule = (kind: string, body: CborValue, s: Scope) => Verdict | null;

/** The capsule leaf rules. */
export function capsuleRule(kind: string, body: CborValue, s: Scope): Verdict | null {
  if (kind == "timeLock") return timeLock(body, s);
  if (kind == "deadMan") return deadMan(body, s);
  if (kind == "mOfN") return mOfN(body, s);
  if (kind == "allowlist") return allowlist(body, s);
  if (kind == "expiry") return expiry(body, s);
  return null;
}

/** A rule of the capsule policy. */
export function evalRule(rule: CborValue, s: Scope, depth: i32): Verdict {
  return evalRuleWith(rule, s, depth, capsuleRule, CAPSULE_RULES);
}

/** A rule whose leaves `leaf` evaluates; `leaves` lists them for messages. */
export function evalRuleWith(rule: CborValue, s: Scope, depth: i32, leaf: LeafRule, leaves: string): Verdict {
  if (depth > MAX_DEPTH) fail(s.name + ": rules nested deeper than " + MAX_DEPTH.toString());
  if (!rule.isMap()) fail(s.name + ": a rule is a map with one key (" + leaves + ", all, any), found " + kindOf(rule));
  const keys = rule.keys();
  if (keys.length != 1 || rule.length != 1) fail(s.name + ": a rule is a map with exactly one key (" + leaves + ", all, any)");
  const kind = keys[0];
  const body = rule.get(kind)!;
  const sc = s.sub(kind);
  if (kind == "all" || kind == "any") return combine(kind == "all", body, sc, depth, leaf, leaves);
  const v = leaf(kind, body, sc);
  if (v === null) fail(sc.name + ": unknown rule (expected one of " + leaves + ", all, any)");
  return v!;
}

/** "<kind>#<i> (<reason>)". */
function label(rule: CborValue, i: i32, v: Verdict): string {
  return rule.keys()[0] + "#" + i.toString() + " (" + v.reason + ")";
}

function combine(all: bool, list: CborValue, s: Scope, depth: i32, leaf: LeafRule, leaves: string): Verdict {
  if (!list.isArray()) fail(s.name + ": expected an array of rules, found " + kindOf(list));
  const items = list.items();
  if (items.length == 0) fail(s.name + ": must list at least one rule");
  let allowedCount = 0;
  let firstAllowed = "";
  let failures = "";
  for (let i = 0; i < items.length; i++) {
    const v = evalRuleWith(items[i], s.item(i), depth + 1, leaf, leaves);
    // Labels only where a reason shows them: string building costs fuel.
    if (v.allow) {
      if (allowedCount++ == 0 && !all) firstAllowed = label(items[i], i, v);
    } else {
      failures += (failures.length > 0 ? "; " : "") + label(items[i], i, v);
    }
  }
  if (all) {
    if (allowedCount == items.length) return allowed("all: " + items.length.toString() + " of " + items.length.toString() + " rules allow");
    return denied("all: denied by " + failures);
  }
  if (allowedCount > 0) return allowed("any: allowed by " + firstAllowed);
  return denied("any: none allow: " + failures);
}
