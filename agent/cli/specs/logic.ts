/**
 * The command table's entries for unlock logic: `capsule logic build|check|run|push` (their
 * interface: spec.ts). Deliberately not here: what they do (commands/logic.ts).
 */
import { command, group } from '../spec.ts';
import { JSON_OUTPUT } from './options.ts';

/** `capsule logic build`. */
export const LOGIC_BUILD = command({
  name: 'logic build',
  summary: 'compile unlock logic written in AssemblyScript into a module',
  synopsis: 'capsule logic build POLICY.ts -o POLICY.wasm',
  description: `Compiles POLICY.ts, unlock logic in AssemblyScript against the capsule_v1 ABI (contracts-as/ABI.md), with the settings
    the guardian expects: the stub runtime, -O3, memory capped at the sandbox's page limit, and nothing imported outside capsule_v1. The result is validated as capsule logic check does, then written to POLICY.wasm (whole or not
    at all); its size, SHA-256 and imports are printed on stderr. The standard contracts (time lock, dead man's switch, m-of-n approvals,
    allowlist, expiry, and policy.ts combining them; wallet policies in wallet/) are in contracts-as/contracts/.

    The SDK is the package @capsule-engine/sdk (import { allow, deny, now } from "@capsule-engine/sdk"): taken from node_modules in
    POLICY.ts's folder or one above it, else from the engine (contracts-as/sdk). An SDK for another ABI, or of a major version the
    engine does not support, is refused naming both versions (ERR_SDK_VERSION). Compile errors are printed as file:line:col, the
    source line and a caret.`,
  arguments: { 'POLICY.ts': 'the policy source (AssemblyScript)' },
  positionals: { min: 1, max: 1 },
  options: { output: { type: 'string', short: 'o', value: 'POLICY.wasm', description: 'the module to write; required' } },
  examples: [
    ['the standard time lock', 'capsule logic build contracts-as/contracts/time-lock.ts -o time-lock.wasm'],
    ['the combinable policy, for --params-file rules', 'capsule logic build contracts-as/contracts/policy.ts -o policy.wasm'],
  ],
});

/** `capsule logic check`. */
export const LOGIC_CHECK = command({
  name: 'logic check',
  summary: 'validate a module against the capsule_v1 ABI; show its hash and imports',
  synopsis: 'capsule logic check POLICY.wasm [--json]',
  description: `Checks that POLICY.wasm is a module a guardian accepts (contracts-as/ABI.md §2): well-formed, allowed features only,
    imports only from capsule_v1 with the right signatures, decide and memory exported, memory declared with a maximum under the cap and
    not shared, tables bounded, and that it can be metered for fuel. Prints its SHA-256 (the hash a capsule names), size, imports, memory
    and functions; exits 1 naming the first problem.`,
  arguments: { 'POLICY.wasm': 'the module to check' },
  positionals: { min: 1, max: 1 },
  options: { json: JSON_OUTPUT },
  examples: [
    ['check a module built elsewhere', 'capsule logic check time-lock.wasm'],
    ['its SHA-256, for a wallet account\'s "logic" in the agent configuration', 'capsule logic check wallet-policy.wasm --json | jq -r .sha256'],
  ],
});

/** `capsule logic run`. */
export const LOGIC_RUN = command({
  name: 'logic run',
  summary: 'dry-run a decision offline, exactly as the guardian would make it',
  synopsis:
    'capsule logic run POLICY.wasm --capsule C.capsule --requester age1… --at TIME [--approval FILE]… [--drand-beacon FILE|JSON]… ' +
    '[--state FILE] [--fuel N] [--json]',
  description: `Evaluates POLICY.wasm for the capsule C.capsule (whose header must name this module) as the guardian does: the same
    sandbox, fuel metering and limits, with the time, requester, evidence and state you give. A decision is a pure function of these
    inputs, so it prints the verdict (allow or deny), the logic's reason, the fuel it took and its logs exactly as the guardian will, on
    any machine. Nothing is released and nothing is stored: the state the logic would change is only shown (in full with --json).`,
  arguments: { 'POLICY.wasm': "the capsule's unlock logic" },
  positionals: { min: 1, max: 1 },
  options: {
    capsule: { type: 'string', value: 'C.capsule', description: 'the capsule to decide for (only its header is read); required' },
    requester: { type: 'string', value: 'age1…', description: 'who asks: the recipient the key would be released to; required' },
    at: {
      type: 'string',
      value: 'TIME',
      description: 'the evaluation time: RFC 3339 (2030-01-01T00:00:00Z) or milliseconds since the epoch; required',
    },
    approval: {
      type: 'string',
      multiple: true,
      value: 'FILE',
      description: 'evidence: an approval file, as `capsule approve -o` writes it',
    },
    'drand-beacon': {
      type: 'string',
      multiple: true,
      value: 'FILE|JSON',
      description: 'evidence: a drand beacon as drand serves it ({"round": N, "randomness": hex, "signature": hex}), in a file or inline',
    },
    state: {
      type: 'string',
      value: 'FILE',
      default: 'empty',
      description: 'the logic\'s stored state: a JSON object of hex key → hex value (as --json prints "state")',
    },
    fuel: { type: 'string', value: 'N', default: '50000000, as the agent', description: 'the fuel limit for this decision' },
    json: JSON_OUTPUT,
  },
  examples: [
    ['will it open in 2030?', 'capsule logic run time-lock.wasm --capsule will.capsule --requester age1… --at 2030-01-01T00:00:00Z'],
    [
      'an m-of-n decision with two approvals, as JSON',
      'capsule logic run policy.wasm --capsule will.capsule --requester age1… --at 2031-06-01T00:00:00Z --approval a1.json --approval ' + 'a2.json --json',
    ],
  ],
});

/** `capsule logic push`. */
export const LOGIC_PUSH = command({
  name: 'logic push',
  summary: "upload a module to a guardian's module store",
  synopsis: 'capsule logic push MODULE.wasm --guardian URL',
  description: `Uploads MODULE.wasm to the agent at URL (POST /v1/modules). The store is content-addressed: the agent validates and
    meters the module and keeps it under its SHA-256, which is printed on stdout; capsules and wallet accounts naming that hash are then
    decided by it. Pushing a module that is already there changes nothing.`,
  arguments: { 'MODULE.wasm': 'the compiled unlock logic' },
  positionals: { min: 1, max: 1 },
  options: { guardian: { type: 'string', value: 'URL', description: 'the agent, e.g. http://127.0.0.1:7373; required' } },
  examples: [
    ['the module a capsule names, to the local agent', 'capsule logic push time-lock.wasm --guardian http://127.0.0.1:7373'],
    ['a wallet policy, to a device on the LAN', 'capsule logic push wallet-policy.wasm --guardian http://pi.local:7373'],
  ],
});

/** `capsule logic explain`. */
export const LOGIC_EXPLAIN = command({
  name: 'logic explain',
  summary: 'when does a capsule open, for whom, and what is missing',
  synopsis: 'capsule logic explain POLICY.wasm --capsule C.capsule [--state FILE] [--approval FILE]… [--requester age1…]… [--from TIME] [--json]',
  description: `Evaluates the capsule's unlock logic POLICY.wasm (whose SHA-256 must be the logic hash in C.capsule's header) across
    time and requesters, in the same sandbox with the same inputs and fuel as capsule logic run and the guardian, and prints for each
    requester the earliest time it would allow, with the deny reasons it met before; or "never within the horizon" (100 years from
    --from). The requesters are those the params name (beneficiaries, allowlist entries), those the approvals given name, and each
    --requester; when none is named, a stand-in for anyone. For a dead man's switch it prints "owner silent since … — opens at … for
    …" (the last check-in from --state, else the capsule's creation); for m-of-n approvals how many are missing and who could give
    them, and when it would open once they are given (simulated with stand-in approver keys: nobody can sign for the real ones).

    A policy is arbitrary code, so the times are found by evaluating it at chosen points, not proved: the times and durations in its
    params and state (±1 ms), the times its own reasons name, a doubling ladder from --from, then a binary search for the exact
    millisecond. The output says so. With --json: {capsule, from, until, sampled, probes, method, requesters: [{requester, source,
    openNow, opensAt, opensAtMs, opensIn, closesAt, allowReason, atBoundary, denials: [{reason, verdict, first, last}], probes,
    deadMan: [{path, silentSince, since, silenceMs, byParams, beneficiary}], approvals: [{path, threshold, given, missing,
    logicCount, approvers: [{scheme, key, given}]}], ifApproved}]}.`,
  arguments: { 'POLICY.wasm': "the capsule's unlock logic" },
  positionals: { min: 1, max: 1 },
  options: {
    capsule: { type: 'string', value: 'C.capsule', description: 'the capsule to explain (only its header is read); required' },
    state: {
      type: 'string',
      value: 'FILE',
      default: 'empty',
      description: "the logic's stored state, as capsule logic run takes it (e.g. a dead man's switch's lastCheckin)",
    },
    approval: {
      type: 'string',
      multiple: true,
      value: 'FILE',
      description: 'evidence given with every evaluation: an approval (or check-in) file, as `capsule approve -o` writes it',
    },
    requester: { type: 'string', multiple: true, value: 'age1…', description: 'explain for this requester too' },
    from: {
      type: 'string',
      value: 'TIME',
      default: 'now',
      description: 'the first time considered: RFC 3339 (2030-01-01T00:00:00Z) or milliseconds since the epoch',
    },
    json: JSON_OUTPUT,
  },
  examples: [
    ['when does my will open, and for whom?', 'capsule logic explain policy.wasm --capsule will.capsule'],
    [
      "a dead man's switch with its last check-in, from a given day",
      'capsule logic explain dead-man.wasm --capsule will.capsule --state state.json --from 2027-01-01T00:00:00Z',
    ],
    [
      'which approvals are still missing for Alice, as JSON',
      'capsule logic explain policy.wasm --capsule will.capsule --requester age1… --approval a1.json --json',
    ],
  ],
});

/** `capsule logic test`. */
export const LOGIC_TEST = command({
  name: 'logic test',
  summary: 'run scenario tests of unlock logic: cases with expected verdicts',
  synopsis: 'capsule logic test [DIR | SCENARIOS.json] [--json]',
  description: `Runs the cases of a scenario file (JSON; the format: agent/logic/SCENARIOS.md, its JSON Schema
    agent/logic/scenarios.schema.json) against unlock logic, each in the real sandbox with the real host, exactly as the guardian would
    decide: the same fuel limit and the same input encoding. A case gives the time, the requester, params, prior state, approvals and
    check-ins (signed on the fly by the file's named test keys, derived from their names: no key material in the file), drand beacons
    or other evidence, and what it expects: the verdict (allow, deny, or error for a trap), the reason (exact, or a pattern), state after
    it, and a fuel ceiling. The module (policy, .ts built as capsule logic build does, or .wasm) is compiled once and instantiated
    afresh for each case.

    DIR (default: the current folder) means DIR/scenarios.json; the file's policy and params default to policy.ts and params.json
    beside it. Prints one line per case (✓ or ✗), under a failing case the expected (-) and actual (+) verdict, error, reason, state
    and fuel, then "N passed, M failed"; exits 1 when any case failed. A file with an unknown field, a wrong type or an unknown test
    key is refused (ERR_BAD_SCENARIO) naming the file, the case and the field. --json prints {passed, failed, files: [{file, policy,
    module, fuelLimit, capsule, keys, passed, failed, cases: [{name, ok, actual: {verdict, reason, error?, fuel?, state, changed},
    mismatches: [{field, key?, expected, actual}]}]}]}.`,
  arguments: { 'DIR | SCENARIOS.json': 'a folder holding scenarios.json, or a scenario file' },
  positionals: { min: 0, max: 1 },
  options: { json: JSON_OUTPUT },
  examples: [
    ['the project in the current folder (scenarios.json, policy.ts, params.json)', 'capsule logic test'],
    ["the standard time lock's scenarios", 'capsule logic test contracts-as/contracts/scenarios/time-lock.scenarios.json'],
    ['for a tool: which cases failed', "capsule logic test my-policy --json | jq -r '.files[].cases[] | select(.ok | not) | .name'"],
  ],
});

/** `capsule logic init`. */
export const LOGIC_INIT = command({
  name: 'logic init',
  summary: 'start a policy project: policy.ts, params.json, scenarios.json and a README',
  synopsis: 'capsule logic init DIR',
  description: `Writes a ready unlock-logic project into DIR (created if missing; refused if it exists and is not empty, so nothing is
    overwritten): policy.ts, a business-hours time lock that imports the SDK by package name (@capsule-engine/sdk) and uses its UTC
    calendar helpers; params.json, its params (for capsule seal --params-file); scenarios.json, cases for capsule logic test; and a
    short README.md. capsule logic build and capsule logic test pass in it as written. The SDK needs no install: capsule logic build
    takes it from DIR's node_modules if there is one, else from the engine. Prints the files written on stdout.`,
  arguments: { DIR: 'the folder to create (or an empty one)' },
  positionals: { min: 1, max: 1 },
  options: {},
  examples: [
    ['start, build and test a policy', 'capsule logic init my-policy && cd my-policy && capsule logic build policy.ts -o policy.wasm && capsule logic test'],
    ['in the current (empty) folder; then seal with the result: capsule seal … --logic policy.wasm --params-file params.json', 'capsule logic init .'],
  ],
});

/** `capsule logic` (a group: its subcommands). */
export const LOGIC = group({
  name: 'logic',
  summary: 'build, check, dry-run and push unlock logic',
  description: `Unlock logic is a WebAssembly module, written in AssemblyScript against the capsule_v1 ABI (contracts-as/ABI.md), that
    decides whether a guardian releases a capsule's key or signs a request. These commands compile it, validate it, dry-run a decision
    offline and upload it to a guardian.`,
  subs: { build: LOGIC_BUILD, check: LOGIC_CHECK, run: LOGIC_RUN, push: LOGIC_PUSH, explain: LOGIC_EXPLAIN, test: LOGIC_TEST, init: LOGIC_INIT },
});
