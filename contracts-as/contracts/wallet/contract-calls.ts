/**
 * Standard wallet contract: Deny unknown contract calls (rules/contractCalls.ts), configured entirely by params (see
 * contracts/README.md). Entry point only: the rule lives in wallet/rules so the wallet policy
 * (wallet/policy.ts) can combine it; state keys are unprefixed here.
 *
 * Deliberately not here: any rule logic.
 */
import { finish, paramsMap, rootScope } from "../rules/common";
import { contractCalls } from "./rules/contractCalls";

export function decide(): i32 {
  return finish(contractCalls(paramsMap("contract-calls"), rootScope()));
}
