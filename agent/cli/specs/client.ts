/**
 * The command table's entries for a guardian's clients: `capsule open`, `checkin`, `approve` and
 * `sign-request` (their interface: spec.ts). Deliberately not here: what they do (commands/*.ts)
 * and the protocol (agent/client/GuardianClient.ts).
 */
import { command } from '../spec.ts';

/** --guardian (repeatable: a guardian set's guardians) and --timeout, as open and checkin take them. */
const GUARDIANS = {
  guardian: {
    type: 'string',
    multiple: true,
    value: 'URL',
    description: "the guardian's agent, e.g. http://127.0.0.1:7373; required; repeat it for the guardians of a guardian set",
  },
  timeout: {
    type: 'string',
    value: 'SECONDS',
    default: '30',
    description: "how long to wait for each guardian's answer; one that takes longer is counted as not answering",
  },
} as const;

/** `capsule open`. */
export const OPEN = command({
  name: 'open',
  summary: "ask a guardian to release a capsule's key, then decrypt the capsule here",
  synopsis:
    'capsule open CAPSULE|CID --guardian URL [--guardian URL]… --identity FILE [--approval FILE]… [--drand-beacon FILE|JSON]… [--timeout SECONDS] [--receipts DIR] -o OUT',
  description: `Asks the guardian at URL to release the key of CAPSULE to your identity's recipient. The guardian evaluates the capsule's
    unlock logic (with the approvals and drand beacons given) and answers with the key encrypted to you, or with a denial: exit 1 with
    the logic's reason. A malformed approval or beacon is refused here, before anything is sent.
    The capsule is then decrypted here, streaming, and OUT appears only if every chunk and the payload digest verified. The request is
    authenticated with the identity, so the guardian may count an open for it. The receipt of every answer is kept, for capsule audit
    verify --receipt.

    By CID, the guardian fetches the capsule from IPFS itself and decides; the capsule's bytes are then downloaded from the guardian and
    checked against the CID before anything is decrypted.

    A capsule sealed to a guardian set (capsule seal --threshold M) opens when M of its guardians each release their share: give
    each guardian's URL with --guardian. They are asked at once, each evaluating the logic on its own clock and state; one line per
    guardian reports its verdict, and the open stops as soon as M valid shares are in. A guardian that denies, hangs past --timeout or
    answers with a share that does not match the capsule only loses its vote; with fewer than M shares nothing is written and the
    error lists each guardian's verdict and reason. Approvals and beacons go to every guardian.`,
  arguments: { 'CAPSULE|CID': 'the capsule file, or the CID (bafy…) of a published capsule' },
  positionals: { min: 1, max: 1 },
  options: {
    ...GUARDIANS,
    identity: {
      type: 'string',
      short: 'i',
      value: 'FILE',
      description: 'your age identity: the key is released to its recipient, and it authenticates the request; required',
    },
    approval: {
      type: 'string',
      multiple: true,
      value: 'FILE',
      description: 'an approval for m-of-n logic, as `capsule approve -o` writes it',
    },
    'drand-beacon': {
      type: 'string',
      multiple: true,
      value: 'FILE|JSON',
      description:
        'a drand beacon for drand-time-lock logic, as drand serves it ({"round": N, "randomness": hex, "signature": hex}, ' +
        'e.g. from https://api.drand.sh/<chain hash>/public/<round>), in a file or inline',
    },
    receipts: {
      type: 'string',
      value: 'DIR',
      default: '<data dir>/receipts',
      description: "where the guardian's receipts are kept (one JSON file each)",
    },
    output: { type: 'string', short: 'o', value: 'OUT', description: 'the file to write the payload to; required' },
  },
  environment: ['CAPSULE_DATA_DIR', 'TMPDIR', 'CAPSULE_THREADS'],
  examples: [
    ['open a will once its logic allows', 'capsule open will.capsule --guardian http://127.0.0.1:7373 --identity me.key -o will.pdf'],
    ['with two approvals (m-of-n)', 'capsule open will.capsule --guardian http://pi.local:7373 -i me.key --approval a1.json --approval a2.json -o will.pdf'],
    [
      'a 2-of-3 guardian set: any two guardians that allow are enough',
      'capsule open will.capsule --guardian http://10.0.0.2:7373 --guardian http://10.0.0.3:7373 --guardian http://10.0.0.4:7373 -i me.key -o will.pdf',
    ],
    ['a published capsule, by CID', 'capsule open bafybei… --guardian http://pi.local:7373 --identity me.key -o will.pdf'],
    [
      'a drand time lock, with a quicknet beacon fetched after the unlock time',
      'curl -s https://api.drand.sh/52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971/public/latest > beacon.json && ' +
        'capsule open will.capsule --guardian http://pi.local:7373 -i me.key --drand-beacon beacon.json -o will.pdf',
    ],
  ],
});

/** `capsule checkin`. */
export const CHECKIN = command({
  name: 'checkin',
  summary: "tell a guardian the capsule's owner is still here (dead-man's switch)",
  synopsis: 'capsule checkin CAPSULE --guardian URL [--guardian URL]… [--timeout SECONDS] --key OWNER.key',
  description: `Sends the owner's signed "still here" for a capsule whose logic is a dead-man's switch: the message
    "capsule-checkin:v1:<capsule id>:<time>", at the guardian's time, signed with the owner's Ed25519 key derived from the identity in
    OWNER.key (as seal --sign-with derives it). The guardian runs the capsule's logic, which records it; a stale, replayed or foreign
    check-in is refused, and one the logic does not count is exit 1. For a capsule sealed to a guardian set, give every guardian's URL:
    each keeps its own state, so each gets its own check-in (signed at its own time); exit 1 if any did not record it, naming them.`,
  arguments: { CAPSULE: 'the capsule file (only its header is sent)' },
  positionals: { min: 1, max: 1 },
  options: {
    ...GUARDIANS,
    key: {
      type: 'string',
      value: 'OWNER.key',
      description: "the owner's identity file, the one the capsule was sealed --sign-with; required",
    },
  },
  examples: [
    ['check in (e.g. monthly, from cron)', 'capsule checkin will.capsule --guardian http://pi.local:7373 --key owner.key'],
    ['to the agent on this machine', 'capsule checkin /srv/capsules/will.capsule --guardian http://127.0.0.1:7373 --key ~/.config/capsule/owner.key'],
  ],
});

/** `capsule approve`. */
export const APPROVE = command({
  name: 'approve',
  summary: "sign an approver's approval for a capsule with m-of-n logic",
  synopsis: 'capsule approve CAPSULE --requester age1… (--key ED25519.key | --eth-key HEX.key) [--guardian URL]… [-o APPROVAL.json]',
  description: `Signs an approver's approval for m-of-n logic: the message "capsule-approval:v1:<capsule id>:<requester>" names the
    capsule and who may open it. With --key (an age identity file) it is an Ed25519 signature by the key derived from it (as seal
    --sign-with); with --eth-key (a secp256k1 private key in hex) an Ethereum personal_sign. With --guardian the approval is sent to the
    guardian, which stores it if the capsule's params name the signer; otherwise it is written as an approval file (JSON) for capsule
    open --approval.`,
  arguments: { CAPSULE: 'the capsule file (only its header is read)' },
  positionals: { min: 1, max: 1 },
  options: {
    requester: { type: 'string', value: 'age1…', description: 'the recipient the approval lets open the capsule; required' },
    key: { type: 'string', value: 'ED25519.key', description: 'sign with the Ed25519 key derived from this age identity file' },
    'eth-key': {
      type: 'string',
      value: 'HEX.key',
      description: 'sign with this secp256k1 private key (a file holding 64 hex digits), as personal_sign',
    },
    guardian: {
      type: 'string',
      multiple: true,
      value: 'URL',
      description: "send the approval to this guardian's agent instead of writing it; repeat it for every guardian of a guardian set",
    },
    output: { type: 'string', short: 'o', value: 'APPROVAL.json', default: 'stdout', description: 'the approval file to write' },
  },
  examples: [
    ['an approval file for the requester to pass to capsule open', 'capsule approve will.capsule --requester age1… --key approver.key -o a1.json'],
    ['with an Ethereum key, sent to the guardian', 'capsule approve will.capsule --requester age1… --eth-key signer.hex --guardian http://pi.local:7373'],
  ],
});

/** `capsule sign-request`. */
export const SIGN_REQUEST = command({
  name: 'sign-request',
  summary: 'ask a guardian to sign a digest with a slot key, if its policy allows',
  synopsis: 'capsule sign-request --guardian URL --slot N --digest HEX --identity FILE [--approval FILE]…',
  description: `Asks the guardian to sign a 32-byte digest with the key in module slot N, which it does only if the slot's signing policy
    (the agent configuration's "signing") allows. Prints {"signature": r‖s in hex (low S), "recoveryId": 0|1} on stdout; a denial is exit
    1 with the policy's reason. The request is authenticated with the identity, which a policy that spends a limit requires. For
    transactions and messages the policy can read, use capsule wallet sign.`,
  positionals: { min: 0, max: 0 },
  options: {
    guardian: { type: 'string', value: 'URL', description: "the guardian's agent, e.g. http://127.0.0.1:7373; required" },
    slot: { type: 'string', value: 'N', description: 'the module slot whose key signs (as configured); required' },
    digest: {
      type: 'string',
      value: 'HEX',
      description: '32 bytes as 64 hex digits, signed as given (hash the message yourself); required',
    },
    identity: { type: 'string', short: 'i', value: 'FILE', description: 'your age identity: authenticates the request; required' },
    approval: { type: 'string', multiple: true, value: 'FILE', description: "a co-signer's approval, as evidence for the policy" },
  },
  examples: [
    [
      'sign a SHA-256 with slot 1',
      'capsule sign-request --guardian http://127.0.0.1:7373 --slot 1 --digest "$(sha256sum < tx.bin | cut -c1-64)" --identity me.key',
    ],
    ["with a co-signer's approval", 'capsule sign-request --guardian http://pi.local:7373 --slot 1 --digest 9f86d0…0a08 -i me.key --approval cosigner.json'],
  ],
});
