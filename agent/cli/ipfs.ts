/**
 * What the IPFS commands (publish, fetch, watch, seal --publish) share: opening the content store
 * their options choose (`--ipfs helia|kubo:URL`, `--data-dir`, `--peer`: specs/options.ts), and publishing a
 * capsule with its logic module and an optional signed announcement.
 *
 * One-shot commands run the embedded node with a fresh identity and listen nowhere: the content
 * stays in `<data dir>/ipfs`, served by the long-running node on that directory (`capsule agent`
 * or `capsule watch`). Deliberately not here: the store backends (agent/store/).
 */
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { create as digestOf } from 'multiformats/hashes/digest';
import { sha256 as sha256Hasher } from 'multiformats/hashes/sha2';
import type { ParsedHeader } from '../capsule/CapsuleReader.ts';
import { sha256 } from '../crypto/kdf.ts';
import { parseP256Key, GUARDIAN_KEY_HRP } from '../crypto/p256.ts';
import type { Identity } from '../crypto/identity.ts';
import { CapsuleFormatError, UsageError } from '../errors.ts';
import { bytesOf, type ByteSource } from '../io/sources.ts';
import { ANNOUNCE_TOPIC, encodeAnnouncement } from '../store/Announcement.ts';
import { cidFromBytes, parseIpfsSpec, type ContentStore } from '../store/ContentStore.ts';
import { CHUNK_BYTES } from '../store/importSettings.ts';
import { connectAll, openContentStore } from '../store/openContentStore.ts';
import { list, str, type Parsed } from './args.ts';
import { dataDirOf } from './dataDir.ts';
import { say, writeOut, type Terminal } from './Terminal.ts';
import { readHeader } from '../capsule/inspect.ts';

export async function openCliStore(t: Terminal, p: Parsed, o: { listen?: string[]; ephemeral?: boolean } = {}): Promise<ContentStore> {
  const env = t.env ?? process.env;
  const spec = parseIpfsSpec(str(p, 'ipfs') ?? env.CAPSULE_IPFS ?? 'helia', str(p, 'ipfs') !== undefined ? '--ipfs' : 'CAPSULE_IPFS');
  if (spec.kind === 'off')
    throw new UsageError('ERR_USAGE', 'this command needs IPFS, and the ipfs setting is "off"', { hint: 'pass --ipfs helia or --ipfs kubo:URL' });
  const store = await openContentStore(spec, {
    dataDir: dataDirOf(t, str(p, 'data-dir')),
    listen: o.listen ?? [],
    ephemeral: o.ephemeral ?? true,
    signal: t.signal,
  });
  try {
    const peers = list(p, 'peer').length
      ? list(p, 'peer')
      : (env.CAPSULE_IPFS_PEERS ?? '')
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean);
    await connectAll(store, peers, t.signal);
    return store;
  } catch (e) {
    await store.stop().catch(() => {});
    throw e;
  }
}

/** The module's CID: its header locator, else the raw-leaf CID of its hash (right for modules of one chunk). */
export function logicCidOf(parsed: ParsedHeader): CID {
  const l = parsed.header.logic;
  return l.cid ? cidFromBytes(l.cid, 'logic.cid') : CID.createV1(raw.code, digestOf(sha256Hasher.code, l.hash));
}

export interface PublishOptions {
  module?: Uint8Array;
  signWith?: Identity;
  /** capsule-guardian1… for the announcement (else the header's guardian key). */
  guardianKey?: string;
  announceTimeoutMs?: number;
}

/** Checks what an announcement needs before anything is added (so a refusal leaves nothing half-done). */
export function announcementGuardian(parsed: ParsedHeader, o: PublishOptions): Uint8Array | undefined {
  if (!o.signWith) {
    if (o.guardianKey !== undefined)
      throw new UsageError('ERR_USAGE', '--guardian-key goes with --sign-with (it is part of the signed announcement)', {
        hint: 'add --sign-with IDENTITY to announce, or drop --guardian-key to publish without announcing',
      });
    return undefined;
  }
  if (o.guardianKey !== undefined) return parseP256Key(GUARDIAN_KEY_HRP, o.guardianKey, '--guardian-key');
  if (parsed.header.guardian) return parsed.header.guardian;
  throw new UsageError('ERR_USAGE', "announcing needs the guardian's key, and this capsule's header names none (it was sealed off the guardian)", {
    hint: 'add --guardian-key capsule-guardian1… (capsule guardian show prints it)',
  });
}

/** Adds and pins the capsule (and module), announces when asked; returns the capsule's CID. */
export async function publishCapsule(t: Terminal, store: ContentStore, capsule: ByteSource, parsed: ParsedHeader, o: PublishOptions): Promise<CID> {
  const guardian = announcementGuardian(parsed, o);
  if (o.module && !Buffer.from(sha256(o.module)).equals(Buffer.from(parsed.header.logic.hash))) {
    throw new CapsuleFormatError('ERR_LOGIC_HASH_MISMATCH', 'the module given with --logic is not the one the capsule names (SHA-256 differs)');
  }
  let logic = logicCidOf(parsed);
  if (o.module) {
    const added = await store.add(o.module, { signal: t.signal });
    if (parsed.header.logic.cid && !added.equals(logic)) say(t, `warning: the header's logic.cid is ${logic}, but the module's CID is ${added}`);
    logic = added;
  } else if (!parsed.header.logic.cid) {
    say(t, `note: the logic module was not published (no --logic); its CID would be ${logic} for a module of at most ${CHUNK_BYTES} bytes`);
  }
  const cid = await store.add(bytesOf(capsule, t.signal), { signal: t.signal });
  say(t, `published ${cid} (logic ${logic}) to ${store.kind === 'helia' ? `the embedded node in ${store.where}` : `Kubo at ${store.where}`}`);
  if (guardian && o.signWith) {
    const bytes = encodeAnnouncement({ capsule: cid, logic, guardian, created: Date.now() }, o.signWith);
    const n = await announce(store, bytes, o.announceTimeoutMs ?? 5000, t.signal);
    say(
      t,
      n > 0
        ? `announced on ${ANNOUNCE_TOPIC} to ${n} peer(s)`
        : `warning: announced on ${ANNOUNCE_TOPIC}, but no subscribed peer was connected (use --peer to reach one)`,
    );
  }
  return cid;
}

/**
 * `publish` and `seal --publish`: reads the capsule's header first (a non-capsule, or an
 * announcement without a guardian key, is refused before a node starts), publishes, and prints
 * the CID on stdout.
 */
export async function publishFile(t: Terminal, p: Parsed, src: { path: string; name: string }, o: PublishOptions): Promise<void> {
  const parsed = await readHeader(src, t.signal);
  announcementGuardian(parsed, o);
  const store = await openCliStore(t, p);
  try {
    const cid = await publishCapsule(t, store, src, parsed, o);
    await writeOut(t, `${cid}\n`);
  } finally {
    await store.stop();
  }
}

/**
 * Publishes until at least one subscriber took it, or the time is up: right after connecting,
 * gossipsub may not yet know the peer's subscription and would send to no one. `topic`: the
 * announcement topic, or the image-manifest topic (`capsule image publish`).
 */
export async function announce(store: ContentStore, bytes: Uint8Array, timeoutMs: number, signal?: AbortSignal, topic = ANNOUNCE_TOPIC): Promise<number> {
  const until = performance.now() + timeoutMs;
  for (;;) {
    const n = await store.publish(topic, bytes, { signal });
    if (n > 0 || performance.now() >= until) return n;
    signal?.throwIfAborted();
    await new Promise((r) => setTimeout(r, 50));
  }
}
