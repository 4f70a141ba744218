/**
 * Test module (not a contract): allows iff the context says the requester is authenticated
 * (ABI.md §4.1 "authenticated"), naming what it read; used by test/requester-auth.test.ts to show
 * the SDK reader and that an absent key reads as false.
 *
 * Deliberately not here: anything else a policy would check.
 */
import { allow, authenticated, deny } from "@capsule-engine/sdk";

export function decide(): i32 {
  return authenticated() ? allow("requester authenticated") : deny("requester not authenticated");
}
