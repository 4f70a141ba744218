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
  description: `Compiles POLICY.ts, unlock logic in AssemblyScript against the capsule_v1 ABI (contracts-as/ABI.md; the SDK is
    contracts-as/sdk), with the settings the guardian expects: the stub runtime, -O3, memory capped at the sandbox's page limit, and
    nothing imported outside capsule_v1. The result is validated as capsule logic check does, then written to POLICY.wasm (whole or not
    at all); its size, SHA-256 and imports are printed on stderr. The standard contracts (time lock, dead man's switch, m-of-n approvals,
    allowlist, expiry, and policy.ts combining them; wallet policies in wallet/) are in contracts-as/contracts/.`,
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
    ['its SHA-256, for a wallet account\'s "logic" in the agent configuration',
      'capsule logic check wallet-policy.wasm --json | jq -r .sha256'],
  ],
});

/** `capsule logic run`. */
export const LOGIC_RUN = command({
  name: 'logic run',
  summary: 'dry-run a decision offline, exactly as the guardian would make it',
  synopsis: 'capsule logic run POLICY.wasm --capsule C.capsule --requester age1… --at TIME [--approval FILE]… [--drand-beacon FILE|JSON]… '
    + '[--state FILE] [--fuel N] [--json]',
  description: `Evaluates POLICY.wasm for the capsule C.capsule (whose header must name this module) as the guardian does: the same
    sandbox, fuel metering and limits, with the time, requester, evidence and state you give. A decision is a pure function of these
    inputs, so it prints the verdict (allow or deny), the logic's reason, the fuel it took and its logs exactly as the guardian will, on
    any machine. Nothing is released and nothing is stored: the state the logic would change is only shown (in full with --json).`,
  arguments: { 'POLICY.wasm': 'the capsule\'s unlock logic' },
  positionals: { min: 1, max: 1 },
  options: {
    capsule: { type: 'string', value: 'C.capsule', description: 'the capsule to decide for (only its header is read); required' },
    requester: { type: 'string', value: 'age1…', description: 'who asks: the recipient the key would be released to; required' },
    at: {
      type: 'string', value: 'TIME',
      description: 'the evaluation time: RFC 3339 (2030-01-01T00:00:00Z) or milliseconds since the epoch; required',
    },
    approval: {
      type: 'string', multiple: true, value: 'FILE',
      description: 'evidence: an approval file, as `capsule approve -o` writes it',
    },
    'drand-beacon': {
      type: 'string', multiple: true, value: 'FILE|JSON',
      description: 'evidence: a drand beacon as drand serves it ({"round": N, "randomness": hex, "signature": hex}), in a file or inline',
    },
    state: {
      type: 'string', value: 'FILE', default: 'empty',
      description: 'the logic\'s stored state: a JSON object of hex key → hex value (as --json prints "state")',
    },
    fuel: { type: 'string', value: 'N', default: '50000000, as the agent', description: 'the fuel limit for this decision' },
    json: JSON_OUTPUT,
  },
  examples: [
    ['will it open in 2030?', 'capsule logic run time-lock.wasm --capsule will.capsule --requester age1… --at 2030-01-01T00:00:00Z'],
    ['an m-of-n decision with two approvals, as JSON',
      'capsule logic run policy.wasm --capsule will.capsule --requester age1… --at 2031-06-01T00:00:00Z --approval a1.json --approval '
        + 'a2.json --json'],
  ],
});

/** `capsule logic push`. */
export const LOGIC_PUSH = command({
  name: 'logic push',
  summary: 'upload a module to a guardian\'s module store',
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

/** `capsule logic` (a group: its subcommands). */
export const LOGIC = group({
  name: 'logic',
  summary: 'build, check, dry-run and push unlock logic',
  description: `Unlock logic is a WebAssembly module, written in AssemblyScript against the capsule_v1 ABI (contracts-as/ABI.md), that
    decides whether a guardian releases a capsule's key or signs a request. These commands compile it, validate it, dry-run a decision
    offline and upload it to a guardian.`,
  subs: { build: LOGIC_BUILD, check: LOGIC_CHECK, run: LOGIC_RUN, push: LOGIC_PUSH },
});
