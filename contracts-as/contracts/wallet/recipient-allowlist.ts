/**
 * Standard wallet contract: Recipient allowlist (rules/recipients.ts), configured entirely by params (see
 * contracts/README.md). Entry point only: the rule lives in wallet/rules so the wallet policy
 * (wallet/policy.ts) can combine it; state keys are unprefixed here.
 *
 * Deliberately not here: any rule logic.
 */
import { finish, paramsMap, rootScope } from "../rules/common";
import { recipients } from "./rules/recipients";

export function decide(): i32 {
  return finish(recipients(paramsMap("recipient-allowlist"), rootScope()));
}
