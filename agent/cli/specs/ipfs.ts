/**
 * The command table's entries for publishing over IPFS: `capsule publish`, `fetch` and `watch`
 * (their interface: spec.ts). Deliberately not here: what they do (commands/*.ts, cli/ipfs.ts).
 */
import { command } from '../spec.ts';
import { IPFS_ENV } from './environment.ts';
import { IPFS_OPTIONS } from './options.ts';

/** `capsule publish`. */
export const PUBLISH = command({
  name: 'publish',
  summary: 'add a capsule and its logic module to IPFS, print its CID, announce it',
  synopsis:
    'capsule publish CAPSULE [--logic MODULE.wasm] [--sign-with IDENTITY [--guardian-key capsule-guardian1…]] [--ipfs ' +
    'helia|kubo:URL] ' +
    '[--data-dir D] [--peer MULTIADDR]…',
  description: `Adds and pins CAPSULE (and with --logic its unlock logic module) in the content store and prints the capsule's CID on
    stdout. With --sign-with it also sends a signed announcement (docs/ANNOUNCEMENTS.md: the capsule's and the logic's CIDs, the
    guardian's key, the time) on the topic capsule-engine/announce/v1, so that the guardian it names fetches and indexes the capsule. The
    header is read first: a file that is not a capsule is refused before anything is added. The embedded node runs only for this command:
    what it adds stays in the data directory's repository, served by capsule agent or capsule watch running on it.`,
  arguments: { CAPSULE: 'the capsule file' },
  positionals: { min: 1, max: 1 },
  options: {
    ...IPFS_OPTIONS,
    logic: {
      type: 'string',
      value: 'MODULE.wasm',
      description: "also add the capsule's logic module (the one its header names), for guardians to fetch",
    },
    'sign-with': {
      type: 'string',
      value: 'IDENTITY',
      description: 'announce it, signed with the owner key derived from this identity file',
    },
    'guardian-key': {
      type: 'string',
      value: 'capsule-guardian1…',
      default: 'the guardian that signed the header',
      description: 'the guardian the announcement names (`capsule guardian show` prints it)',
    },
  },
  environment: IPFS_ENV,
  examples: [
    [
      'publish a capsule and its module into ~/.capsule (served by capsule watch there)',
      'capsule publish will.capsule --logic time-lock.wasm --data-dir ~/.capsule',
    ],
    [
      'publish and announce to a guardian, through a Kubo daemon',
      'capsule publish will.capsule --sign-with owner.key --guardian-key capsule-guardian1… --ipfs kubo:http://127.0.0.1:5001',
    ],
  ],
});

/** `capsule fetch`. */
export const FETCH = command({
  name: 'fetch',
  summary: 'fetch a capsule (or any file) by CID, every block checked against the CID',
  synopsis: 'capsule fetch CID -o OUT|- [--max-size BYTES] [--timeout SECONDS] [--ipfs helia|kubo:URL] [--data-dir D] [--peer MULTIADDR]…',
  description: `Fetches the content named by CID, hashing every block against the CID that names it, whatever the backend; content over
    --max-size is refused before its data is fetched. OUT is written only when all of it arrived and verified (under a temporary name,
    renamed at the end); -o - writes to stdout, never to a terminal. It does not check that the content is a capsule: capsule verify does
    that, offline.`,
  arguments: { CID: "the content's CID, e.g. bafybei…" },
  positionals: { min: 1, max: 1 },
  options: {
    ...IPFS_OPTIONS,
    output: { type: 'string', short: 'o', value: 'OUT|-', description: 'the file to write, or - for stdout; required' },
    'max-size': { type: 'string', value: 'BYTES', default: '4294967296 (4 GiB)', description: 'refuse larger content' },
    timeout: { type: 'string', value: 'SECONDS', default: '120', description: 'give up when it has not all arrived by then' },
  },
  environment: IPFS_ENV,
  examples: [
    ['from a peer that has it', 'capsule fetch bafybei… -o will.capsule --peer /ip4/192.0.2.7/tcp/7374/p2p/12D3KooW…'],
    ['through a Kubo daemon, into a pipe', 'capsule fetch bafybei… -o - --ipfs kubo:http://127.0.0.1:5001 | capsule verify -'],
  ],
});

/** `capsule watch`. */
export const WATCH = command({
  name: 'watch',
  summary: 'run an IPFS node serving the data directory; print announcements as JSON',
  synopsis: 'capsule watch [--ipfs helia|kubo:URL] [--data-dir D] [--ipfs-listen MULTIADDR]… [--peer MULTIADDR]… [--count N]',
  description: `Runs a node and prints each valid capsule announcement as one JSON line on stdout, as it arrives. Malformed, unsigned or
    forged announcements are dropped (on the embedded node, also not forwarded, and their sender's score drops), each reported on stderr.
    The node also serves the blocks in its data directory, so it is the always-on home of what capsule publish adds there. It stops on
    Ctrl-C, or after N announcements, and prints the counts.`,
  positionals: { min: 0, max: 0 },
  options: {
    ...IPFS_OPTIONS,
    'ipfs-listen': {
      type: 'string',
      multiple: true,
      value: 'MULTIADDR',
      default: '/ip4/127.0.0.1/tcp/0 (a free loopback port)',
      description: 'where the node listens',
    },
    count: { type: 'string', value: 'N', default: 'until Ctrl-C', description: 'stop after N announcements' },
  },
  environment: IPFS_ENV,
  examples: [
    ['an always-on node for ~/.capsule, reachable on the LAN', 'capsule watch --data-dir ~/.capsule --ipfs-listen /ip4/0.0.0.0/tcp/7375'],
    ['wait for one announcement from a peer', 'capsule watch --peer /ip4/192.0.2.7/tcp/7374/p2p/12D3KooW… --count 1 | jq .capsule'],
  ],
});
