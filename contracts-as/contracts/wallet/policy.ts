/**
 * Standard wallet contract: the wallet policy, the combinator of rules/combinator.ts over the
 * wallet rules and the capsule rules (wallet/rules/walletRule.ts). Params are one rule, e.g.
 * {"all": [{"dailyLimit": …}, {"recipients": …}, {"coSigners": …}]}; see contracts/README.md.
 * Most wallet accounts need only this module and their params.
 *
 * Deliberately not here: any rule logic.
 */
import { evalRuleWith } from "../rules/combinator";
import { finish, paramsMap, rootScope } from "../rules/common";
import { WALLET_RULES, walletRule } from "./rules/walletRule";

export function decide(): i32 {
  return finish(evalRuleWith(paramsMap("wallet/policy"), rootScope(), 0, walletRule, WALLET_RULES));
}
