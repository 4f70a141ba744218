/**
 * Standard contract: the policy combinator (rules/combinator.ts). Params are one rule, usually
 * {"all": [rule, …]} or {"any": [rule, …]}, where a rule is {"timeLock": …} | {"deadMan": …} |
 * {"mOfN": …} | {"allowlist": …} | {"expiry": …} | {"all": […]} | {"any": […]}; see
 * contracts/README.md. Most capsules need only this module and their params.
 *
 * Deliberately not here: any rule logic.
 */
import { evalRule } from "./rules/combinator";
import { finish, paramsMap, rootScope } from "./rules/common";

export function decide(): i32 {
  return finish(evalRule(paramsMap("policy"), rootScope(), 0));
}
