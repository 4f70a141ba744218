/**
 * The files `capsule logic init DIR` writes: a business-hours time lock in AssemblyScript that
 * imports the SDK by package name (`@capsule-engine/sdk`) and uses its calendar helpers, the params
 * to seal it with, scenario cases for `capsule logic test` (agent/logic/SCENARIOS.md) that pass as
 * written, and a short README. They are strings here rather than files beside this one so that the
 * published build (dist/, compiled by tsc, which copies no other files) carries them.
 *
 * Deliberately not here: writing them (cli/commands/logicInit.ts), and any choice the author
 * should make (no requester list, no approvals: the README says where those are).
 */

/** The policy: opens at notBefore, then Monday to Friday, fromHour:00 to toHour:00 UTC. */
export const POLICY_TS = `/**
 * Unlock logic: the capsule opens on or after \`notBefore\`, and then only in business hours —
 * Monday to Friday, from \`fromHour\`:00 to \`toHour\`:00 UTC. Any requester may open it then.
 *
 * Times are milliseconds since the Unix epoch, UTC: \`now()\` returns the evaluation time that way
 * (an input the guardian gives, not a clock), and time params take ms or RFC 3339 text
 * ("2030-01-01T00:00:00Z"). The calendar helpers (utcWeekday, utcHour, …) work in UTC too.
 *
 *   capsule logic build policy.ts -o policy.wasm   # compile (the SDK is resolved for you)
 *   capsule logic test                             # run scenarios.json's cases
 */
import {
  FRIDAY, allow, deny, fail, now, onlyKeys, paramsMap, timeParam, uintParam, utcHour, utcWeekday, weekdayName, when,
} from "@capsule-engine/sdk";

export function decide(): i32 {
  const p = paramsMap();
  onlyKeys(p, "notBefore,fromHour,toHour"); // an unknown key traps: a typo must not drop a condition
  const notBefore = timeParam(p, "notBefore");
  const fromHour = uintParam(p, "fromHour");
  const toHour = uintParam(p, "toHour");
  if (fromHour >= toHour || toHour > 24) fail("params: expected 0 <= fromHour < toHour <= 24");

  const t = now(); // milliseconds since the epoch, UTC
  if (t < notBefore) return deny("opens at " + when(notBefore));

  const day = utcWeekday(t); // 1 = Monday … 7 = Sunday
  if (day > FRIDAY) return deny("closed on " + weekdayName(day) + " (UTC); open Monday to Friday");

  const hour = <i64>utcHour(t);
  if (hour < fromHour || hour >= toHour) {
    return deny("closed at " + hour.toString() + ":00 UTC; open " + fromHour.toString() + ":00 to " + toHour.toString() + ":00");
  }
  return allow("open: " + weekdayName(day) + ", business hours");
}
`;

/** What the capsule is sealed with (`capsule seal … --params-file params.json`), and what the scenarios run with. */
export const PARAMS_JSON = `${JSON.stringify({ notBefore: '2030-01-01T00:00:00Z', fromHour: 9, toHour: 17 }, null, 2)}\n`;

/** Cases for `capsule logic test`; the policy and params default to policy.ts and params.json beside it. */
export const SCENARIOS_JSON = `{
  "$schema": "https://github.com/digital-capsule-engine/schemas/scenarios.schema.json",
  "description": "policy.ts with params.json: opens from 2030-01-01, Monday to Friday, 9:00 to 17:00 UTC.",
  "keys": { "alice": { "type": "age" } },
  "cases": [
    {
      "name": "denies before notBefore (a Monday, in business hours)",
      "at": "2029-12-31T10:00:00Z", "requester": "alice",
      "expect": { "verdict": "deny", "reason": "opens at 1893456000000 (2030-01-01T00:00:00Z)" }
    },
    {
      "name": "allows on Tuesday 2030-01-01 at 10:00 UTC",
      "at": "2030-01-01T10:00:00Z", "requester": "alice",
      "expect": { "verdict": "allow", "reason": "open: Tuesday, business hours", "changed": [] }
    },
    {
      "name": "denies one millisecond before 9:00",
      "at": "2030-01-01T08:59:59.999Z", "requester": "alice",
      "expect": { "verdict": "deny", "reason": "closed at 8:00 UTC; open 9:00 to 17:00" }
    },
    {
      "name": "denies at 17:00 (the end is exclusive)",
      "at": "2030-01-01T17:00:00Z", "requester": "alice",
      "expect": { "verdict": "deny", "reason": { "pattern": "^closed at 17:00 UTC" } }
    },
    {
      "name": "denies on a Saturday",
      "at": "2030-01-05T12:00:00Z", "requester": "alice",
      "expect": { "verdict": "deny", "reason": "closed on Saturday (UTC); open Monday to Friday" }
    },
    {
      "name": "allows on Monday at 9:00 sharp",
      "at": "2030-01-07T09:00:00Z", "requester": "alice",
      "expect": { "verdict": "allow", "maxFuel": 1000000 }
    }
  ]
}
`;

/** A short README for the new folder. */
export const README_MD = `# Unlock logic

A capsule's unlock logic, written in AssemblyScript against the capsule engine's SDK
(\`@capsule-engine/sdk\`, ABI \`capsule_v1\`). \`policy.ts\` opens the capsule on or after
\`notBefore\`, then only Monday to Friday between \`fromHour\` and \`toHour\` UTC.

| File | What it is |
| --- | --- |
| \`policy.ts\` | the logic: \`decide()\` returns \`allow(…)\` or \`deny(…)\` |
| \`params.json\` | its parameters, sealed into the capsule |
| \`scenarios.json\` | test cases: a time, a requester, the expected verdict and reason |

\`\`\`sh
capsule logic build policy.ts -o policy.wasm   # compile with the guardian's settings
capsule logic test                             # run every case in scenarios.json
capsule seal secret.pdf --guardian age1… --logic policy.wasm --params-file params.json -o secret.capsule
\`\`\`

- Time is **milliseconds since the Unix epoch, UTC**: \`now()\` returns it so, time params accept ms
  or RFC 3339 text (\`"2030-01-01T00:00:00Z"\`), and \`utcWeekday\`, \`utcHour\`, \`utcTime\`,
  \`addDuration\` / \`durationMs\` (ISO 8601: \`"P1D"\`, \`"PT12H"\`) do calendar work in UTC.
- The SDK is resolved from this folder's \`node_modules/@capsule-engine/sdk\` if you install one,
  otherwise from the installed engine; \`capsule logic build\` refuses an SDK built for another ABI.
- Approvals (m-of-n), check-ins (dead man's switch) and allowlists: see the standard contracts
  (\`contracts-as/contracts\` in the engine) and the SDK's \`approvals.ts\` and \`params.ts\`.
- A failing case prints the expected and actual verdict; \`capsule logic test --json\` is for tools.
`;

/** The files, in the order they are written and listed. */
export const INIT_FILES: ReadonlyArray<readonly [name: string, content: string]> = [
  ['policy.ts', POLICY_TS],
  ['params.json', PARAMS_JSON],
  ['scenarios.json', SCENARIOS_JSON],
  ['README.md', README_MD],
];
