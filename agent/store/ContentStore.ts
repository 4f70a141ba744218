/**
 * Where capsules and logic modules live by CID (issue #6): the interface both backends implement —
 * `helia` (an embedded node, HeliaStore.ts) and `kubo` (a Kubo daemon over its RPC, KuboStore.ts) —
 * and the parsing of the one setting that picks between them.
 *
 * Every method takes an AbortSignal. `get` is always capped and verified (readVerified.ts); `add`
 * always uses the shared import settings (importSettings.ts), so a capsule has one CID everywhere.
 * Deliberately not here: what is announced (Announcement.ts) or indexed (the agent).
 */
import { CID } from 'multiformats/cid';
import { ContentError } from '../errors.ts';
import { checkCid } from './readVerified.ts';

export interface Signal {
  signal?: AbortSignal;
}

export interface GetOptions extends Signal {
  maxBytes: number;
}

export interface SubscribeOptions extends Signal {
  validate?: (data: Uint8Array, from: string) => boolean;
  /** The subscription died (Kubo: the daemon went away); subscribe again. */
  onEnd?: (e: Error) => void;
}

export interface Message {
  topic: string;
  data: Uint8Array;
  /** The sending peer, as the transport reports it (informational: announcements carry their own signature). */
  from: string;
}

export interface ContentStore {
  readonly kind: 'helia' | 'kubo';
  /** Where this store is: the data directory or the RPC URL (for messages). */
  readonly where: string;
  /** Imports and pins; returns the root CID. */
  add(content: Uint8Array | AsyncIterable<Uint8Array>, options?: Signal): Promise<CID>;
  /** Streams the file's bytes, verified against `cid`; refuses over `maxBytes` before any data. */
  get(cid: CID, options: GetOptions): AsyncIterable<Uint8Array>;
  /** Keeps the whole DAG locally (fetching what is missing). */
  pin(cid: CID, options?: Signal): Promise<void>;
  unpin(cid: CID, options?: Signal): Promise<void>;
  /**
   * Deletes the locally held blocks of `cid`'s DAG that no pin keeps: what a refused, failed or
   * abandoned fetch left behind. Returns how many were deleted. (The embedded node only: a Kubo
   * daemon collects its own garbage.)
   */
  discard?(cid: CID, options?: Signal): Promise<number>;
  /** True when the root block is held locally (no network). */
  has(cid: CID, options?: Signal): Promise<boolean>;
  /** Sends to a pubsub topic; resolves with the number of peers it went to (Helia: may be 0; Kubo cannot tell and says ≥ 1). */
  publish(topic: string, data: Uint8Array, options?: Signal): Promise<number>;
  /**
   * Calls `onMessage` for each message on `topic` that `validate` accepts, until the returned
   * function is called. Helia: a rejected message is neither delivered nor forwarded, and lowers
   * its sender's gossipsub score on the announcement topic; Kubo: it is only dropped here.
   */
  subscribe(topic: string, onMessage: (m: Message) => void, options?: SubscribeOptions): Promise<() => void>;
  /** Dials a peer (a multiaddr); Kubo: `swarm connect`. */
  connect(addr: string, options?: Signal): Promise<void>;
  /** Open peer connections, where the backend knows (the embedded node: with no routing, no peer means no fetch). */
  connections?(): number;
  /** Multiaddrs others can dial (with /p2p/ID). */
  addresses(): Promise<string[]>;
  stop(): Promise<void>;
}

/** The `ipfs` setting: "helia" (embedded, the default), "kubo:URL" (a daemon's RPC), or "off". */
export type IpfsSpec = { kind: 'helia' } | { kind: 'kubo'; url: string } | { kind: 'off' };

export function parseIpfsSpec(text: string, source: string): IpfsSpec {
  if (text === 'helia') return { kind: 'helia' };
  if (text === 'off') return { kind: 'off' };
  if (text.startsWith('kubo:')) {
    const url = text.slice(5);
    let u: URL;
    try {
      u = new URL(url);
    } catch (cause) {
      throw new ContentError('ERR_IPFS', `${source}: "${url}" is not a URL`, { cause, hint: 'example: kubo:http://127.0.0.1:5001' });
    }
    if (u.username || u.password)
      throw new ContentError('ERR_IPFS', `${source}: a Kubo URL with credentials is not supported (they would appear in logs and status)`, {
        hint: 'put the daemon behind a local address, e.g. kubo:http://127.0.0.1:5001',
      });
    if (u.protocol !== 'http:' && u.protocol !== 'https:')
      throw new ContentError('ERR_IPFS', `${source}: expected an http(s) URL after kubo:, got ${u.protocol}`, { hint: 'example: kubo:http://127.0.0.1:5001' });
    return { kind: 'kubo', url: url.replace(/\/+$/, '') };
  }
  throw new ContentError('ERR_IPFS', `${source}: expected "helia", "kubo:URL" or "off", got ${JSON.stringify(text)}`, {
    hint: 'example: kubo:http://127.0.0.1:5001 for a Kubo daemon',
  });
}

/** Parses and checks a CID given by a person or a peer (CIDv1, raw or dag-pb, SHA-256). */
export function parseCid(text: string, at: string): CID {
  let cid: CID;
  try {
    cid = CID.parse(text.trim());
  } catch (cause) {
    throw new ContentError('ERR_BAD_CID', `${at}: not a CID (${JSON.stringify(text.slice(0, 64))})`, {
      cause,
      hint: 'a capsule CID looks like bafybei… or bafkrei…',
    });
  }
  checkCid(cid);
  return cid;
}

/** `cid` from its binary form (headers, announcements). */
export function cidFromBytes(bytes: Uint8Array, at: string): CID {
  let cid: CID;
  try {
    cid = CID.decode(bytes);
  } catch (cause) {
    throw new ContentError('ERR_BAD_CID', `${at}: not a binary CID`, { cause });
  }
  checkCid(cid);
  return cid;
}
