/**
 * `@capsule-engine/sdk`: what unlock logic imports by name —
 * `import { allow, deny, now, paramsMap, timeParam, utcWeekday } from "@capsule-engine/sdk"`.
 * Re-exports the friendly API: inputs, verdict, reason, logs, state and signature checks
 * (capsule.ts), CBOR values (cbor.ts, cbor-value.ts), strict params helpers (params.ts), approvals
 * and check-ins (approvals.ts), UTC calendar and ISO 8601 durations (calendar.ts), text, hex and
 * RFC 3339 helpers (util.ts, text.ts), and the SDK's version (version.ts).
 *
 * Time everywhere is **milliseconds** since the Unix epoch, UTC, as `now()` returns it.
 *
 * Deliberately not here: the raw host bindings (import "@capsule-engine/sdk/env" only to reach a
 * host call exactly as ABI.md defines it), and the specialised parts a policy imports by path when
 * it needs them: "@capsule-engine/sdk/wallet" (signing requests, U256), "@capsule-engine/sdk/drand"
 * (drand beacons).
 */
export * from "./capsule";
export * from "./util";
export * from "./params";
export * from "./approvals";
export * from "./calendar";
export * from "./version";
