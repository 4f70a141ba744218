/**
 * The leaf rules of the wallet policy (wallet/policy.ts): the seven wallet rules and, through
 * rules/combinator.ts `capsuleRule`, the capsule rules (a time lock, an expiry, an allowlist of
 * requesters, … apply to signing as to releases: a wallet decision's "capsule" names the account).
 *
 * Deliberately not here: combining rules (rules/combinator.ts) or any rule's logic.
 */
import { CborValue } from "@capsule-engine/sdk";
import { capsuleRule } from "../../rules/combinator";
import { Scope, Verdict } from "../../rules/common";
import { chains } from "./chains";
import { coSigners } from "./coSigners";
import { contractCalls } from "./contractCalls";
import { dailyLimit } from "./dailyLimit";
import { recipients } from "./recipients";
import { timeWindow } from "./timeWindow";
import { txCap } from "./txCap";

/** The leaf rules the wallet policy knows, as listed in messages. */
export const WALLET_RULES = "recipients, txCap, dailyLimit, chains, coSigners, timeWindow, contractCalls, timeLock, deadMan, mOfN, allowlist, expiry";

/** A wallet or capsule leaf rule; null if `kind` is neither. */
export function walletRule(kind: string, body: CborValue, s: Scope): Verdict | null {
  if (kind == "recipients") return recipients(body, s);
  if (kind == "txCap") return txCap(body, s);
  if (kind == "dailyLimit") return dailyLimit(body, s);
  if (kind == "chains") return chains(body, s);
  if (kind == "coSigners") return coSigners(body, s);
  if (kind == "timeWindow") return timeWindow(body, s);
  if (kind == "contractCalls") return contractCalls(body, s);
  return capsuleRule(kind, body, s);
}
