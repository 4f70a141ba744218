/**
 * The command table's entries for the hot wallet: `capsule wallet create|restore|show|address|sign`
 * (their interface: spec.ts). Deliberately not here: what they do (commands/wallet.ts).
 */
import { command, group } from '../spec.ts';
import { KEY_STORE_ENV } from './environment.ts';
import { DATA_DIR, JSON_OUTPUT } from './options.ts';

/** `capsule wallet create`. */
export const WALLET_CREATE = command({
  name: 'wallet create',
  summary: "create a wallet in the guardian's module from 24 new words, shown once",
  synopsis: 'capsule wallet create NAME [--data-dir D] [--mnemonic-to-stdout]',
  description: `Creates wallet NAME in the guardian's module (HSM6 or SCM, or the soft backend for development) from 24 new BIP39 words,
    shown once on the terminal. Write them down: they are the only backup of every account of the wallet. Stop the agent on the same data
    directory first: one process holds the module.`,
  arguments: { NAME: "the wallet's name, as the agent configuration's accounts name it" },
  positionals: { min: 1, max: 1 },
  options: {
    'data-dir': DATA_DIR,
    'mnemonic-to-stdout': {
      type: 'boolean',
      description: 'write the words to stdout even when it is not a terminal (scripted provisioning)',
    },
  },
  environment: KEY_STORE_ENV,
  examples: [
    ['a wallet named hot (the words appear on the terminal only)', 'capsule wallet create hot --data-dir /var/lib/capsule'],
    ['in a provisioning script', 'capsule wallet create hot --data-dir /tmp/guardian --mnemonic-to-stdout > words.txt'],
  ],
});

/** `capsule wallet restore`. */
export const WALLET_RESTORE = command({
  name: 'wallet restore',
  summary: 'restore a wallet from its words, read from stdin',
  synopsis: 'capsule wallet restore NAME [--data-dir D] < WORDS',
  description: `Restores wallet NAME on this module from its words, read from stdin (12 to 24 words, any spacing or case): the same
    accounts and addresses as before. Stop the agent on the same data directory first.`,
  arguments: { NAME: 'the name to give the wallet here' },
  positionals: { min: 1, max: 1 },
  options: { 'data-dir': DATA_DIR },
  environment: KEY_STORE_ENV,
  examples: [
    ['from a file of words', 'capsule wallet restore hot --data-dir /var/lib/capsule < words.txt'],
    ['typed in (end with Ctrl-D)', 'capsule wallet restore hot2 --data-dir /tmp/guardian'],
  ],
});

/** `capsule wallet show`. */
export const WALLET_SHOW = command({
  name: 'wallet show',
  summary: "list the wallets on the guardian's module",
  synopsis: 'capsule wallet show [--data-dir D] [--json]',
  description: "Lists the wallets on the guardian's module: each name and the module slot of its master seed.",
  positionals: { min: 0, max: 0 },
  options: { 'data-dir': DATA_DIR, json: { ...JSON_OUTPUT, description: 'print one JSON array' } },
  environment: KEY_STORE_ENV,
  examples: [
    ['the wallets of the guardian', 'capsule wallet show --data-dir /var/lib/capsule'],
    ['their names only', "capsule wallet show --json | jq -r '.[].name'"],
  ],
});

/** `capsule wallet address`. */
export const WALLET_ADDRESS = command({
  name: 'wallet address',
  summary: 'print the address of one account of a wallet',
  synopsis: 'capsule wallet address NAME PATH [--data-dir D] [--network mainnet|testnet|regtest]',
  description: `Prints the address of account PATH of wallet NAME: for m/44'/60'/… an Ethereum address (EIP-55), for m/84'/… a Bitcoin
    P2WPKH and for m/86'/… a P2TR address. The public key goes to stderr.`,
  arguments: { NAME: 'the wallet', PATH: "the BIP32 derivation path, e.g. \"m/44'/60'/0'/0/0\" (quote it for the shell)" },
  positionals: { min: 2, max: 2 },
  options: {
    'data-dir': DATA_DIR,
    network: {
      type: 'string',
      value: 'mainnet|testnet|regtest',
      default: "testnet for coin type 1', else mainnet",
      description: 'the Bitcoin network the address is for',
    },
  },
  environment: KEY_STORE_ENV,
  examples: [
    ['the first Ethereum account', "capsule wallet address hot \"m/44'/60'/0'/0/0\" --data-dir /var/lib/capsule"],
    ['a Bitcoin testnet P2WPKH address', "capsule wallet address hot \"m/84'/1'/0'/0/0\" --network testnet"],
  ],
});

/** `capsule wallet sign`. */
export const WALLET_SIGN = command({
  name: 'wallet sign',
  summary: 'ask a guardian to sign with a wallet account, if its policy allows',
  synopsis:
    'capsule wallet sign --guardian URL --wallet NAME --path PATH --identity FILE (--eth-tx JSON|HEX | --typed-data FILE | ' +
    '--message TEXT ' +
    '| --psbt FILE | --digest HEX) [--approval FILE]…',
  description: `Asks a running agent to sign with account PATH of wallet NAME; the account's policy (the agent configuration's
    "wallet.accounts"), which sees the decoded request, decides. Prints the signed raw transaction (--eth-tx), the 65-byte signature
    (--typed-data, --message), the PSBT with our inputs signed, in base64 (--psbt), or r‖s (--digest). A denial is exit 1 with the
    policy's reason, and nothing is signed. Give exactly one of the five requests.`,
  positionals: { min: 0, max: 0 },
  options: {
    guardian: { type: 'string', value: 'URL', description: 'the agent, e.g. http://127.0.0.1:7373; required' },
    wallet: { type: 'string', value: 'NAME', description: 'the wallet of the account (as configured); required' },
    path: { type: 'string', value: 'PATH', description: "the account's derivation path (as configured); required" },
    identity: {
      type: 'string',
      short: 'i',
      value: 'FILE',
      description: 'your age identity: authenticates the request (needed when the policy keeps state); required',
    },
    'eth-tx': { type: 'string', value: 'JSON|HEX', description: 'an unsigned Ethereum transaction: its fields as JSON, or EIP-2718 hex' },
    'typed-data': { type: 'string', value: 'FILE', description: 'an EIP-712 typed-data document (JSON)' },
    message: { type: 'string', value: 'TEXT', description: 'a personal_sign message' },
    psbt: { type: 'string', value: 'FILE', description: 'a Bitcoin PSBT, binary or base64' },
    digest: { type: 'string', value: 'HEX', description: '32 bytes, signed as given (only if the account allows raw digests)' },
    approval: { type: 'string', multiple: true, value: 'FILE', description: "a co-signer's approval of the request's hash" },
  },
  examples: [
    [
      'an Ethereum transfer (stdout: the signed transaction, for eth_sendRawTransaction)',
      "capsule wallet sign --guardian http://127.0.0.1:7373 --wallet hot --path \"m/44'/60'/0'/0/0\" --identity me.key " +
        '--eth-tx \'{"type":"eip1559","chainId":1,"nonce":0,"to":"0x…","value":"0x…","gas":21000,' +
        '"maxFeePerGas":"0x…","maxPriorityFeePerGas":"0x…"}\'',
    ],
    [
      'a Bitcoin PSBT (stdout: the PSBT with our inputs signed, base64)',
      "capsule wallet sign --guardian http://pi.local:7373 --wallet hot --path \"m/84'/0'/0'/0/0\" -i me.key --psbt spend.psbt",
    ],
  ],
});

/** `capsule wallet` (a group: its subcommands). */
export const WALLET = group({
  name: 'wallet',
  summary: 'the hot wallet: keys in the module that sign only as a policy allows',
  description: `The hot wallet: BIP32/BIP39 secp256k1 keys kept in the guardian's module, signing Ethereum transactions, EIP-712 data,
    messages and Bitcoin PSBTs only when the account's policy allows. create, restore, show and address open the guardian's key store
    directly (stop the agent on the same data directory first); sign asks a running agent.`,
  subs: { create: WALLET_CREATE, restore: WALLET_RESTORE, show: WALLET_SHOW, address: WALLET_ADDRESS, sign: WALLET_SIGN },
});
