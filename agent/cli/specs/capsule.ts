/**
 * The command table's entries for making and reading capsules: keygen, seal, inspect, verify and
 * decrypt (their interface: spec.ts). Deliberately not here: what they do (commands/*.ts).
 */
import { command } from '../spec.ts';
import { KEY_STORE_ENV } from './environment.ts';
import { DATA_DIR, IPFS_OPTIONS, JSON_OUTPUT } from './options.ts';

/** `capsule keygen`. */
export const KEYGEN = command({
  name: 'keygen',
  summary: 'create an identity (age X25519 key file) and its owner signing key',
  synopsis: 'capsule keygen [-o FILE]',
  description: `Creates a new X25519 identity in age's file format (age -d -i opens with it). The owner's Ed25519 signing key, used by
    seal --sign-with, checkin and approve, is derived from it (SPEC.md §7). With -o the file is created with mode 0600, never over an
    existing one, and the public key (age1…) and the owner signing key (64 hex digits) are printed on stderr; without -o the identity
    goes to stdout. There is no passphrase protection: use age -p on the file if you need it.`,
  positionals: { min: 0, max: 0 },
  options: {
    output: {
      type: 'string',
      short: 'o',
      value: 'FILE',
      default: 'stdout',
      description: 'write the identity to FILE (created 0600; an existing FILE is refused)',
    },
  },
  examples: [
    ['a guardian key for testing (its public key is the age1… line of the file)', 'capsule keygen -o guardian.key'],
    ['your own key, to sign what you seal (stderr shows its owner signing key)', 'capsule keygen -o owner.key'],
  ],
});

/** `capsule seal`. */
export const SEAL = command({
  name: 'seal',
  summary: 'encrypt a file into a capsule that opens only when its unlock logic allows',
  synopsis:
    'capsule seal FILE|- (--guardian age1…|capsule-ecdh1…|capsule-tpm1… [--guardian …] [--threshold M] ' +
    '| --on-guardian x25519|p256-ecdh|zymbit-lock|tpm2-rsa [--data-dir D]) --logic MODULE.wasm ' +
    '[--params JSON | --params-file F] [--logic-cid CID] [--sign-with IDENTITY] [--salted-digest] -o OUT ' +
    '[--publish [--guardian-key capsule-guardian1…] [--ipfs helia|kubo:URL] [--peer MULTIADDR]…]',
  description: `Encrypts FILE (or stdin), of any size and in constant memory, into a capsule: a header naming the unlock logic (the
    module's SHA-256, its params and optionally its CID) with one key stanza per guardian key, then the payload under age's STREAM with
    AES-256-GCM. Off the device, --guardian wraps the key to a guardian's published recipients; on the guardian itself, --on-guardian
    uses its own keys and signs the header with its module key (zymbit-lock and tpm2-rsa open only on that module or TPM, never from the
    paper backup). --sign-with signs the header with your owner key. The output is written under a temporary name and renamed only once
    complete; without -o the capsule goes to stdout, never to a terminal.

    With --publish the capsule and its logic module are then added to IPFS (the header records the module's CID) and the capsule's CID is
    printed on stdout; with --sign-with too, a signed announcement tells the guardian about it.`,
  arguments: { 'FILE|-': 'the file to seal; - reads stdin' },
  positionals: { min: 1, max: 1 },
  options: {
    guardian: {
      type: 'string',
      short: 'g',
      multiple: true,
      value: 'RECIPIENT',
      description:
        'wrap the key to this guardian recipient: age1… (x25519), capsule-ecdh1… (p256-ecdh) or capsule-tpm1… (a TPM ' +
        'guardian), as `capsule guardian show` prints them',
    },
    threshold: {
      type: 'string',
      value: 'M',
      description:
        "with two or more --guardian: make them a guardian set in which any M of the guardians' shares open the capsule " +
        '(each --guardian wraps its Shamir share of the key, SPEC.md §5.6); without it every --guardian can open it alone',
    },
    'on-guardian': {
      type: 'string',
      multiple: true,
      value: 'STANZA',
      description: 'on the guardian: wrap the key to its own x25519, p256-ecdh, zymbit-lock or tpm2-rsa key, and sign the header',
    },
    'data-dir': {
      ...DATA_DIR,
      description: "with --on-guardian: the guardian's data directory; with --publish: the data directory of the IPFS repository",
    },
    logic: { type: 'string', value: 'MODULE.wasm', description: 'the unlock logic, compiled (capsule logic build); required' },
    params: {
      type: 'string',
      value: 'JSON',
      description: 'the logic\'s parameters as JSON, e.g. \'{"notBefore":"2030-01-01T00:00:00Z"}\' (stored as deterministic CBOR, at most ' + '16384 bytes)',
    },
    'params-file': { type: 'string', value: 'F', description: "the logic's parameters from a JSON file (instead of --params)" },
    'logic-cid': {
      type: 'string',
      value: 'CID',
      description: "record the module's IPFS CID in the header, so a guardian can fetch it (--publish sets it)",
    },
    'sign-with': {
      type: 'string',
      value: 'IDENTITY',
      description: 'sign the header with the owner key derived from this identity file (capsule keygen)',
    },
    'salted-digest': {
      type: 'boolean',
      description: "hide the payload's digest from anyone without the key: use it for short or guessable payloads (SPEC.md §11)",
    },
    output: {
      type: 'string',
      short: 'o',
      value: 'OUT',
      default: 'stdout, unless it is a terminal',
      description: 'the capsule file to write',
    },
    publish: {
      type: 'boolean',
      description: "then add the capsule and its module to IPFS and print the capsule's CID on stdout (needs -o FILE)",
    },
    'guardian-key': {
      type: 'string',
      value: 'capsule-guardian1…',
      description: 'with --publish and --sign-with: the guardian the announcement names (`capsule guardian show` prints it)',
    },
    ipfs: { ...IPFS_OPTIONS.ipfs, description: `with --publish: ${IPFS_OPTIONS.ipfs.description}` },
    peer: { ...IPFS_OPTIONS.peer, description: `with --publish: ${IPFS_OPTIONS.peer.description}` },
  },
  environment: ['CAPSULE_THREADS', ...KEY_STORE_ENV, 'CAPSULE_IPFS', 'CAPSULE_IPFS_PEERS'],
  examples: [
    [
      'seal a will to a guardian, to open from 2030 on, signed with your owner key',
      'capsule seal will.pdf --guardian age1… --logic time-lock.wasm --params \'{"notBefore":"2030-01-01T00:00:00Z"}\' ' +
        '--sign-with owner.key -o will.capsule',
    ],
    [
      'seal stdin to two guardians, with the params in a file',
      'tar c docs | capsule seal - -g age1… -g capsule-ecdh1… --logic policy.wasm --params-file policy.json -o docs.capsule',
    ],
    [
      'on the guardian: to its own x25519 key (recoverable from the paper backup), header signed by its module',
      'capsule seal notes.txt --on-guardian x25519 --data-dir /var/lib/capsule --logic policy.wasm -o notes.capsule',
    ],
    [
      "seal, publish over IPFS and announce it (stdout: the capsule's CID)",
      'capsule seal will.pdf --guardian age1… --logic time-lock.wasm -o will.capsule ' + '--publish --sign-with owner.key --guardian-key capsule-guardian1…',
    ],
  ],
});

/** `capsule inspect`. */
export const INSPECT = command({
  name: 'inspect',
  summary: "show a capsule's header (logic, params, sizes, stanzas) without a key",
  synopsis: 'capsule inspect CAPSULE|- [--json]',
  description: `Prints the header of CAPSULE as data: format version, id, creation time, the owner and guardian signers, the logic's
    SHA-256, CID and params, the payload's size, chunks, cipher and digest, and the key stanzas. It needs no key and reads only the
    header, not the payload; it checks only that the header parses (capsule verify checks everything that can be checked without a key).`,
  arguments: { 'CAPSULE|-': 'the capsule file; - reads stdin' },
  positionals: { min: 1, max: 1 },
  options: { json: JSON_OUTPUT },
  examples: [
    ['the header as text', 'capsule inspect will.capsule'],
    ["the logic module's SHA-256 of a capsule read from stdin", 'capsule inspect - --json < will.capsule | jq -r .logic.sha256'],
  ],
});

/** `capsule verify`. */
export const VERIFY = command({
  name: 'verify',
  summary: 'check a capsule offline without a key: structure, signatures, logic hash',
  synopsis: 'capsule verify CAPSULE|- [--logic MODULE.wasm] [--guardian-key capsule-guardian1…] [--json]',
  description: `Runs every check on CAPSULE that needs no key (SPEC.md §9): the preamble, a deterministic CBOR header with valid fields,
    the owner's Ed25519 signature and the guardian's P-256 signature when present, well-formed key stanzas, and the exact length of the
    chunked payload. With --logic, the module must be the one the header names; with --guardian-key, that guardian must have signed the
    header. Prints each check passed; exits 1 on the first failure. Payload authenticity needs the key: capsule decrypt or capsule open
    check it.`,
  arguments: { 'CAPSULE|-': 'the capsule file; - reads stdin' },
  positionals: { min: 1, max: 1 },
  options: {
    logic: { type: 'string', value: 'MODULE.wasm', description: "also check that this module is the capsule's unlock logic (SHA-256)" },
    'guardian-key': {
      type: 'string',
      value: 'capsule-guardian1…',
      description: 'also check that this guardian signed the header (`capsule guardian show` prints its key)',
    },
    json: JSON_OUTPUT,
  },
  examples: [
    ['every offline check, and that time-lock.wasm is its logic', 'capsule verify will.capsule --logic time-lock.wasm'],
    ['that a capsule was sealed on this guardian', 'capsule verify local.capsule --guardian-key capsule-guardian1… --json'],
  ],
});

/** `capsule decrypt`. */
export const DECRYPT = command({
  name: 'decrypt',
  summary: "open a capsule with a guardian's key held on this machine",
  synopsis: 'capsule decrypt CAPSULE|- (--identity FILE | --on-guardian [--data-dir D]) [-o OUT]',
  description: `Opens CAPSULE with a guardian key held on this machine: an identity file (--identity), or on the guardian itself its own
    keys (--on-guardian: derived from its locked seed, or its module or TPM for zymbit-lock and tpm2-rsa). The unlock logic is not
    evaluated: this is the key holder's or operator's tool (capsule open asks a guardian, which releases a key only when the logic
    allows). The output appears only when every chunk and the payload digest verified: with -o under a temporary name renamed at the end,
    and to stdout nothing is written until the whole capsule verified (it is first spooled, encrypted, to the temporary directory).`,
  arguments: { 'CAPSULE|-': 'the capsule file; - reads stdin' },
  positionals: { min: 1, max: 1 },
  options: {
    identity: {
      type: 'string',
      short: 'i',
      value: 'FILE',
      description: 'the age identity file of the guardian key the capsule was sealed to',
    },
    'on-guardian': { type: 'boolean', description: "use this guardian's own keys (run it on the guardian)" },
    'data-dir': { ...DATA_DIR, description: "with --on-guardian: the guardian's data directory" },
    output: {
      type: 'string',
      short: 'o',
      value: 'OUT',
      default: 'stdout, unless it is a terminal',
      description: 'the file to write the payload to',
    },
  },
  environment: ['TMPDIR', 'CAPSULE_THREADS', ...KEY_STORE_ENV],
  examples: [
    ['with a guardian key file', 'capsule decrypt will.capsule --identity guardian.key -o will.pdf'],
    ['on the guardian, as its operator', 'capsule decrypt will.capsule --on-guardian --data-dir /var/lib/capsule -o will.pdf'],
    ['from stdin into a pipe (written only once all of it verified)', 'capsule decrypt - -i guardian.key < docs.capsule | tar x'],
  ],
});
