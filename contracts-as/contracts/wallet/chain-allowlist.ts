/**
 * Standard wallet contract: Chain allowlist (rules/chains.ts), configured entirely by params (see
 * contracts/README.md). Entry point only: the rule lives in wallet/rules so the wallet policy
 * (wallet/policy.ts) can combine it; state keys are unprefixed here.
 *
 * Deliberately not here: any rule logic.
 */
import { finish, paramsMap, rootScope } from "../rules/common";
import { chains } from "./rules/chains";

export function decide(): i32 {
  return finish(chains(paramsMap("chain-allowlist"), rootScope()));
}
