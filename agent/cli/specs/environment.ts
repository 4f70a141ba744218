/**
 * The environment variables that change what `capsule` commands do, each described once; a
 * command's spec lists the ones that affect it and its help prints these lines.
 *
 * Deliberately not here: reading them (each module that uses one reads it itself, and its own
 * comment is the authority; this text must say the same).
 */

/** Variable name → what it does (one or two sentences, no final period). */
export const ENVIRONMENT = {
  CAPSULE_DATA_DIR:
    'the data directory when --data-dir is not given (default: /var/lib/capsule for root, else ' + '$XDG_DATA_HOME/capsule, else ~/.local/share/capsule)',
  CAPSULE_ZYMBIT_LIB:
    "zymbit backend: the module's library (default: the one recorded at provisioning, else " +
    '/usr/lib/libzk_app_utils.so); native/build/libzk_sim.so is the simulator',
  CAPSULE_TPM_TCTI:
    'tpm2 backend: how to reach the TPM, e.g. swtpm:host=127.0.0.1,port=2321 (default: the TCTI ' + 'recorded at provisioning, else device:/dev/tpmrm0)',
  CAPSULE_TPM_AUTH_FILE: "tpm2 backend: the file holding the TPM keys' 32-byte authValue (default: tpm2-auth in the data directory)",
  CAPSULE_SOFT_PASSPHRASE_FILE: "soft backend (development only): a file holding the key file's passphrase",
  CREDENTIALS_DIRECTORY: "soft backend: systemd's credentials directory; its soft-passphrase is used when " + 'CAPSULE_SOFT_PASSPHRASE_FILE is not set',
  CAPSULE_SOFT_PASSPHRASE:
    'soft backend: the passphrase itself (at least 8 characters; removed from the environment once ' + 'read, but /proc/PID/environ keeps it: prefer the file)',
  CAPSULE_SEED_BIND: 'paths (colon-separated, absolute) the sandboxed seed process may write, e.g. the Zymbit ' + "daemon's socket directory",
  CAPSULE_MODULE_TIMEOUT_MS: 'a security-module call not answered within this many milliseconds fails (default 10000)',
  CAPSULE_IPFS: 'the content store when --ipfs is not given: helia (the embedded node, default) or kubo:URL',
  CAPSULE_IPFS_PEERS: 'multiaddrs (comma-separated, with /p2p/ID) dialled first when no --peer is given',
  CAPSULE_IPFS_LISTEN: "the embedded node's listen multiaddrs, comma-separated (default /ip4/127.0.0.1/tcp/7374)",
  CAPSULE_AGENT_HOST: 'the address the API listens on (default 127.0.0.1; another address needs lan)',
  CAPSULE_AGENT_PORT: "the API's port (default 7373)",
  CAPSULE_AGENT_LAN: '1 or true: allow listening beyond loopback (as --lan)',
  CAPSULE_AGENT_CLOCK: "the decision clock: module (the module's RTC, default), system, or file:PATH (tests)",
  CAPSULE_THREADS: 'threads for files of 32 MiB and more (default: the cores, at most 4; 1 keeps to one thread)',
  CAPSULE_CRYPTSETUP: 'the cryptsetup binary (default: cryptsetup on PATH)',
  TMPDIR: 'the temporary directory (default /tmp)',
  CAPSULE_COMPILE_CACHE: "where V8's compile cache is kept (default ~/.cache/digital-capsule-engine/compile-cache), or off",
} as const;

/** A variable ENVIRONMENT describes. */
export type EnvName = keyof typeof ENVIRONMENT;

/** What opening the guardian's key store reads (guardian, seal/decrypt --on-guardian, wallet, agent, device). */
export const KEY_STORE_ENV = [
  'CAPSULE_DATA_DIR',
  'CAPSULE_ZYMBIT_LIB',
  'CAPSULE_TPM_TCTI',
  'CAPSULE_TPM_AUTH_FILE',
  'CAPSULE_SOFT_PASSPHRASE_FILE',
  'CREDENTIALS_DIRECTORY',
  'CAPSULE_SOFT_PASSPHRASE',
] as const satisfies readonly EnvName[];

/** What the one-shot IPFS commands read (publish, fetch, watch, seal --publish, image publish|fetch). */
export const IPFS_ENV = ['CAPSULE_IPFS', 'CAPSULE_IPFS_PEERS', 'CAPSULE_DATA_DIR'] as const satisfies readonly EnvName[];
