/**
 * Standard wallet contract: Time windows (business hours) (rules/timeWindow.ts), configured entirely by params (see
 * contracts/README.md). Entry point only: the rule lives in wallet/rules so the wallet policy
 * (wallet/policy.ts) can combine it; state keys are unprefixed here.
 *
 * Deliberately not here: any rule logic.
 */
import { finish, paramsMap, rootScope } from "../rules/common";
import { timeWindow } from "./rules/timeWindow";

export function decide(): i32 {
  return finish(timeWindow(paramsMap("time-window"), rootScope()));
}
