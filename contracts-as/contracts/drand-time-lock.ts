/**
 * Standard contract: drand time lock (rules/drandTimeLock.ts), configured entirely by params (see
 * contracts/README.md): opens when the guardian's clock is at or past notBefore and a drand beacon
 * for a round at or after it, valid under the chain's public key, is presented as evidence.
 * Entry point only.
 *
 * Deliberately not here: any rule logic. Not part of policy.ts's combinator: that would make every
 * policy module import verify_drand_beacon.
 */
import { finish, paramsMap, rootScope } from "./rules/common";
import { drandTimeLock } from "./rules/drandTimeLock";

export function decide(): i32 {
  return finish(drandTimeLock(paramsMap("drand-time-lock"), rootScope()));
}
