/**
 * Standard wallet contract: Co-signers above a threshold (rules/coSigners.ts), configured entirely by params (see
 * contracts/README.md). Entry point only: the rule lives in wallet/rules so the wallet policy
 * (wallet/policy.ts) can combine it; state keys are unprefixed here.
 *
 * Deliberately not here: any rule logic.
 */
import { finish, paramsMap, rootScope } from "../rules/common";
import { coSigners } from "./rules/coSigners";

export function decide(): i32 {
  return finish(coSigners(paramsMap("co-signers"), rootScope()));
}
