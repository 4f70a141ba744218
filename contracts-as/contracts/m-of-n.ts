/**
 * Standard contract: M-of-N approvals (rules/mOfN.ts), configured entirely by params
 * (see contracts/README.md). Entry point only: the rule lives in the shared rules folder so the
 * policy combinator (policy.ts) can use it too; state keys are unprefixed here.
 *
 * Deliberately not here: any rule logic.
 */
import { finish, paramsMap, rootScope } from "./rules/common";
import { mOfN } from "./rules/mOfN";

export function decide(): i32 {
  return finish(mOfN(paramsMap("m-of-n"), rootScope()));
}
