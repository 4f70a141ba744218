/**
 * Standard wallet contract: Rolling daily spend limit (rules/dailyLimit.ts), configured entirely by params (see
 * contracts/README.md). Entry point only: the rule lives in wallet/rules so the wallet policy
 * (wallet/policy.ts) can combine it; state keys are unprefixed here.
 *
 * Deliberately not here: any rule logic.
 */
import { finish, paramsMap, rootScope } from "../rules/common";
import { dailyLimit } from "./rules/dailyLimit";

export function decide(): i32 {
  return finish(dailyLimit(paramsMap("daily-limit"), rootScope()));
}
