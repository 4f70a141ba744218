/**
 * Standard contract: Time lock (rules/timeLock.ts), configured entirely by params
 * (see contracts/README.md). Entry point only: the rule lives in the shared rules folder so the
 * policy combinator (policy.ts) can use it too; state keys are unprefixed here.
 *
 * Deliberately not here: any rule logic.
 */
import { finish, paramsMap, rootScope } from "./rules/common";
import { timeLock } from "./rules/timeLock";

export function decide(): i32 {
  return finish(timeLock(paramsMap("time-lock"), rootScope()));
}
