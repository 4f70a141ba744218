/**
 * The command table's entries for the guardian itself: `capsule guardian init|show`, `capsule
 * agent` and `capsule audit verify` (their interface: spec.ts). Deliberately not here: what they
 * do (commands/guardian.ts, agent.ts, audit.ts).
 */
import { command, group } from '../spec.ts';
import { KEY_STORE_ENV } from './environment.ts';
import { DATA_DIR, IPFS_OPTIONS, JSON_OUTPUT } from './options.ts';

/** `capsule guardian init`. */
export const GUARDIAN_INIT = command({
  name: 'guardian init',
  summary: 'provision a guardian: a new seed with a paper backup, or restore one',
  synopsis:
    'capsule guardian init [--backend zymbit|tpm2|soft [--pcrs LIST]] [--data-dir D] [--force] [--restore [--mnemonic-from-stdin]] ' +
    '[--confirm-words-from-stdin] [--mnemonic-to-stdout] [--allow-unisolated] [--json]',
  description: `Provisions a guardian in the data directory: a master seed is made in an isolated one-shot process (a bubblewrap
    sandbox), shown once as 24 BIP39 words for the paper backup, confirmed (three of the words are asked back), and stored only locked by
    the security module (zymbit), sealed by the TPM (tpm2) or in a passphrase-locked file (soft: development only). The guardian's
    recipients and signing key are then printed, as capsule guardian show prints them. --restore rebuilds the same x25519 and p256-ecdh
    keys from the words on a new device; capsules sealed to zymbit-lock or tpm2-rsa open only on the original module or TPM.
    guardian.json appears whole or not at all, so an interrupted init leaves no guardian.

    The words go to a terminal only, and the screen is cleared once they are written down. For scripted provisioning,
    --mnemonic-to-stdout with --confirm-words-from-stdin, or --restore --mnemonic-from-stdin, use pipes instead.`,
  positionals: { min: 0, max: 0 },
  options: {
    backend: {
      type: 'string',
      value: 'zymbit|tpm2|soft',
      default: 'zymbit',
      description: 'where the keys live: the Zymbit module, a TPM 2.0, or a passphrase-locked file (soft: development only)',
    },
    pcrs: {
      type: 'string',
      value: 'LIST',
      default: 'none: the authValue only',
      description: 'tpm2: seal the seed to these PCRs of the SHA-256 bank, e.g. 7 or 0,2,7',
    },
    'data-dir': DATA_DIR,
    force: { type: 'boolean', description: 'replace a guardian already in D (capsules sealed to it then need its words or its module)' },
    restore: { type: 'boolean', description: 'rebuild a guardian from its 24 words (asked on the terminal)' },
    'mnemonic-from-stdin': { type: 'boolean', description: 'with --restore: read the words from stdin instead of the terminal' },
    'confirm-words-from-stdin': { type: 'boolean', description: 'read the confirmation words from stdin instead of the terminal' },
    'mnemonic-to-stdout': {
      type: 'boolean',
      description: 'write the words to stdout even when it is not a terminal (they go wherever stdout goes)',
    },
    'allow-unisolated': {
      type: 'boolean',
      description: 'where bubblewrap cannot run, make the seed without its sandbox (with a warning; recorded in guardian.json)',
    },
    json: { ...JSON_OUTPUT, description: "print the guardian's public facts as JSON" },
  },
  environment: [...KEY_STORE_ENV, 'CAPSULE_SEED_BIND'],
  examples: [
    [
      'provision with the Zymbit module (the simulator here)',
      'CAPSULE_ZYMBIT_LIB=$PWD/native/build/libzk_sim.so capsule guardian init --data-dir /tmp/guardian',
    ],
    ['with a TPM 2.0, the seed also bound to PCR 7', 'capsule guardian init --backend tpm2 --pcrs 7 --data-dir /var/lib/capsule'],
    ['on a new device, from the paper backup', 'capsule guardian init --restore --data-dir /var/lib/capsule'],
    [
      'restore in a script, the words from a file (soft backend: development only)',
      'CAPSULE_SOFT_PASSPHRASE_FILE=pass.txt capsule guardian init --backend soft --restore --mnemonic-from-stdin ' + '--data-dir /tmp/dev < words.txt',
    ],
  ],
});

/** `capsule guardian show`. */
export const GUARDIAN_SHOW = command({
  name: 'guardian show',
  summary: "print the guardian's recipients, signing key and backend",
  synopsis: 'capsule guardian show [--data-dir D] [--json]',
  description: `Prints what the guardian in the data directory publishes: the recipients to seal to (x25519: age1…, p256-ecdh:
    capsule-ecdh1…, and on a TPM tpm2-rsa: capsule-tpm1…), its signing key (capsule-guardian1…: for verify --guardian-key, announcements
    and audit verify), its backend, model, serial and firmware, when it was created or restored, and how its seed process was isolated.`,
  positionals: { min: 0, max: 0 },
  options: { 'data-dir': DATA_DIR, json: JSON_OUTPUT },
  environment: KEY_STORE_ENV,
  examples: [
    ['the recipients to give to people who seal to this guardian', 'capsule guardian show --data-dir /var/lib/capsule'],
    ['the signing key alone', 'capsule guardian show --json | jq -r .signingKey'],
  ],
});

/** `capsule guardian` (a group: its subcommands). */
export const GUARDIAN = group({
  name: 'guardian',
  summary: 'provision a guardian and print its public keys',
  description: `A guardian holds the keys capsules are sealed to, in a Zymbit security module, a TPM 2.0 or (for development) a
    passphrase-locked file, derived from a master seed backed up on paper as 24 words. These commands provision one and print what it
    publishes; capsule agent then serves it.`,
  subs: { init: GUARDIAN_INIT, show: GUARDIAN_SHOW },
});

/** `capsule agent`. */
export const AGENT = command({
  name: 'agent',
  summary: 'run the guardian service: its HTTP API releases keys when the logic allows',
  synopsis:
    'capsule agent [--config FILE] [--data-dir D] [--listen HOST:PORT] [--lan] [--clock module|system|file:PATH] [--ipfs ' +
    'helia|kubo:URL|off] ' +
    '[--ipfs-listen MULTIADDR]… [--peer MULTIADDR]… [--accept-rollback]',
  description: `Runs the guardian as a service until SIGTERM or SIGINT (requests in flight then finish): an HTTP API under /v1
    (docs/API.md) that releases a capsule's key, encrypted to the requester, only when its unlock logic allows; records check-ins and
    approvals; signs with slot keys and hot-wallet accounts when their policies allow; and appends every decision to a signed,
    hash-chained audit log. With IPFS it also runs a node that fetches capsules by CID and indexes the announcements naming this
    guardian. Logs go to stderr as "capsule: {json}" lines; under systemd it reports readiness (Type=notify).

    Configuration is the defaults, then --config FILE, then the environment, then these options; every key is documented at the top of
    agent/daemon/config.ts.`,
  positionals: { min: 0, max: 0 },
  options: {
    config: {
      type: 'string',
      value: 'FILE',
      description: 'a JSON configuration file (rate limits, quotas, signing slots, wallet accounts, …)',
    },
    'data-dir': DATA_DIR,
    listen: {
      type: 'string',
      value: 'HOST:PORT',
      default: '127.0.0.1:7373',
      description: "the API's address ([::1]:7373 for IPv6); an address beyond loopback needs --lan",
    },
    lan: {
      type: 'boolean',
      description: 'allow listening beyond loopback (releases need no authentication: answers are encrypted to the requester)',
    },
    clock: {
      type: 'string',
      value: 'module|system|file:PATH',
      default: 'module',
      description: "the decision clock: the module's RTC, the system clock, or milliseconds read from a file (tests)",
    },
    ipfs: { ...IPFS_OPTIONS.ipfs, value: 'helia|kubo:URL|off', description: `${IPFS_OPTIONS.ipfs.description}, or off` },
    'ipfs-listen': {
      type: 'string',
      multiple: true,
      value: 'MULTIADDR',
      default: '/ip4/127.0.0.1/tcp/7374',
      description: "the embedded node's listen address",
    },
    peer: {
      ...IPFS_OPTIONS.peer,
      description: 'a node dialled at start and on retry; with no public routing, blocks and announcements come only from these',
    },
    'accept-rollback': {
      type: 'boolean',
      description: 'start although the database or audit log was found rolled back (an override entry is audited, the anchor ' + 're-established)',
    },
  },
  environment: [
    ...KEY_STORE_ENV,
    'CAPSULE_AGENT_HOST',
    'CAPSULE_AGENT_PORT',
    'CAPSULE_AGENT_LAN',
    'CAPSULE_AGENT_CLOCK',
    'CAPSULE_IPFS',
    'CAPSULE_IPFS_LISTEN',
    'CAPSULE_IPFS_PEERS',
    'CAPSULE_MODULE_TIMEOUT_MS',
  ],
  examples: [
    ['the guardian on this machine, on 127.0.0.1:7373', 'capsule agent --data-dir /var/lib/capsule'],
    [
      'on the LAN, with a configuration file and an IPFS peer',
      'capsule agent --config /etc/capsule/agent.json --listen 0.0.0.0:7373 --lan --peer /ip4/192.0.2.7/tcp/7374/p2p/12D3KooW…',
    ],
    ['without IPFS, on the system clock', 'capsule agent --data-dir /tmp/guardian --ipfs off --clock system'],
  ],
});

/** `capsule audit verify`. */
export const AUDIT_VERIFY = command({
  name: 'audit verify',
  summary: "check a guardian's audit log offline: chain, signatures, receipts, replay",
  synopsis:
    'capsule audit verify [AUDIT.log | --data-dir D] [--guardian-key capsule-guardian1… | --unpinned] [--receipt FILE]… [--replay ' + '[--modules DIR]]',
  description: `Checks a guardian's audit log offline: every entry's chain link and signature under a pinned guardian key (the one given,
    else the data directory's guardian record; with neither it fails unless --unpinned). Then each receipt a client kept: the log must
    hold that entry with that digest, so a truncated, older or rewritten log fails (docs/AUDIT.md). With --replay, each logged decision
    is re-run in the sandbox from its recorded inputs and must give the same verdict, fuel and inputs digest. Exits 1 naming the first
    entry or receipt that fails.`,
  arguments: { 'AUDIT.log': 'the log to check (default: audit.log in the data directory)' },
  positionals: { min: 0, max: 1 },
  options: {
    'data-dir': { ...DATA_DIR, description: "the guardian's data directory: its audit.log, guardian record (the pinned key) and modules" },
    'guardian-key': {
      type: 'string',
      value: 'capsule-guardian1…',
      description: 'check the log against this guardian key (`capsule guardian show` prints it)',
    },
    unpinned: { type: 'boolean', description: 'check only that the log is consistent with the key it names itself (proves little)' },
    receipt: {
      type: 'string',
      multiple: true,
      value: 'FILE',
      description: 'a receipt `capsule open` kept (in <data dir>/receipts): the log must hold its entry',
    },
    replay: { type: 'boolean', description: 're-run every logged decision from its recorded inputs' },
    modules: {
      type: 'string',
      value: 'DIR',
      default: '<data dir>/modules',
      description: 'with --replay: where the logic modules are, as <sha256>.wasm',
    },
  },
  environment: ['CAPSULE_DATA_DIR'],
  examples: [
    ['on the guardian: the whole log, every decision replayed', 'capsule audit verify --data-dir /var/lib/capsule --replay'],
    [
      "a copy of the log, against the guardian's key and the receipts you kept",
      'capsule audit verify audit.log --guardian-key capsule-guardian1… --receipt ~/.local/share/capsule/receipts/*.json',
    ],
  ],
});

/** `capsule audit` (a group: its subcommands). */
export const AUDIT = group({
  name: 'audit',
  summary: "check a guardian's audit log",
  description: `Every decision a guardian makes is appended to its audit log, hash-chained and signed by its module, before the answer is
    sent (docs/AUDIT.md); its answers carry receipts. capsule audit verify checks the log offline.`,
  subs: { verify: AUDIT_VERIFY },
});
