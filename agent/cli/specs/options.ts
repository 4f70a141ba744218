/**
 * Options several commands share, described once: the data directory, the IPFS store options and
 * `--json`. A command whose option means something narrower spreads one and overrides the text.
 *
 * Deliberately not here: the commands' own options (their spec files).
 */
import type { OptionSpec } from '../spec.ts';

/** How help states the default data directory. */
export const DEFAULT_DATA_DIR = '$CAPSULE_DATA_DIR, else /var/lib/capsule for root, else ~/.local/share/capsule';

/** `--data-dir D`: the guardian's data directory. */
export const DATA_DIR: OptionSpec = {
  type: 'string',
  value: 'D',
  default: DEFAULT_DATA_DIR,
  description: "the guardian's data directory",
};

/** `--json`: data as JSON on stdout. */
export const JSON_OUTPUT: OptionSpec = { type: 'boolean', description: 'print one JSON document instead of text' };

/** `--ipfs`, `--data-dir`, `--peer`: the content store of the one-shot IPFS commands (cli/ipfs.ts). */
export const IPFS_OPTIONS = {
  ipfs: {
    type: 'string',
    value: 'helia|kubo:URL',
    default: '$CAPSULE_IPFS, else helia',
    description:
      "the content store: helia, an embedded node whose repository is <data dir>/ipfs, or kubo:URL, a Kubo daemon's RPC API " +
      '(e.g. kubo:http://127.0.0.1:5001)',
  },
  'data-dir': {
    ...DATA_DIR,
    description: 'the data directory whose IPFS repository the embedded node uses (served by `capsule agent` or `capsule watch` on it)',
  },
  peer: {
    type: 'string',
    multiple: true,
    value: 'MULTIADDR',
    default: '$CAPSULE_IPFS_PEERS',
    description: 'a node to connect to first, e.g. /ip4/192.0.2.7/tcp/7374/p2p/12D3KooW… (the embedded node dials nothing else: no ' + 'bootstrap, no DHT)',
  },
} as const satisfies Record<string, OptionSpec>;
