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
 * Deliberately not here: "not" (a negated rule would turn errors and missing evidence into allows),
 * weights or thresholds over rules (use mOfN for people).
 */
import { CborValue } from "../../sdk/capsule";
import { fail } from "../../sdk/util";
import { allowlist } from "./allowlist";
import { Scope, Verdict, allowed, denied, kindOf } from "./common";
import { deadMan } from "./deadMan";
import { expiry } from "./expiry";
import { mOfN } from "./mOfN";
import { timeLock } from "./timeLock";

const MAX_DEPTH = 8;
const KINDS = "timeLock, deadMan, mOfN, allowlist, expiry, all, any";

export function evalRule(rule: CborValue, s: Scope, depth: i32): Verdict {
  if (depth > MAX_DEPTH) fail(s.name + ": rules nested deeper than " + MAX_DEPTH.toString());
  if (!rule.isMap()) fail(s.name + ": a rule is a map with one key (" + KINDS + "), found " + kindOf(rule));
  const keys = rule.keys();
  if (keys.length != 1 || rule.length != 1) fail(s.name + ": a rule is a map with exactly one key (" + KINDS + ")");
  const kind = keys[0];
  const body = rule.get(kind)!;
  const sc = s.sub(kind);
  if (kind == "all" || kind == "any") return combine(kind == "all", body, sc, depth);
  if (kind == "timeLock") return timeLock(body, sc);
  if (kind == "deadMan") return deadMan(body, sc);
  if (kind == "mOfN") return mOfN(body, sc);
  if (kind == "allowlist") return allowlist(body, sc);
  if (kind == "expiry") return expiry(body, sc);
  fail(sc.name + ": unknown rule (expected one of " + KINDS + ")");
  return denied("");
}

function combine(all: bool, list: CborValue, s: Scope, depth: i32): Verdict {
  const name = all ? "all" : "any";
  if (!list.isArray()) fail(s.name + ": expected an array of rules, found " + kindOf(list));
  const items = list.items();
  if (items.length == 0) fail(s.name + ": must list at least one rule");
  let allowedCount = 0;
  let firstAllowed = "";
  let failures = "";
  for (let i = 0; i < items.length; i++) {
    const v = evalRule(items[i], s.item(i), depth + 1);
    const label = items[i].keys()[0] + "#" + i.toString() + " (" + v.reason + ")";
    if (v.allow) {
      if (allowedCount++ == 0) firstAllowed = label;
    } else {
      failures += (failures.length > 0 ? "; " : "") + label;
    }
  }
  if (all) {
    if (allowedCount == items.length) return allowed("all: " + items.length.toString() + " of " + items.length.toString() + " rules allow");
    return denied("all: denied by " + failures);
  }
  if (allowedCount > 0) return allowed("any: allowed by " + firstAllowed);
  return denied("any: none allow: " + failures);
}
