/**
 * Capsules by CID (a release by CID, an announcement): fetched, authenticated, capped, then pinned.
 * The prefix is fetched first (verified, under the cap) and authenticated — the header must open
 * with a key this guardian holds and its first chunk authenticate (CapsuleRegistry.register,
 * SPEC.md §11.7) — and only then, within the disk quota (maxStoredBytes) and the free-space
 * reserve, is the rest fetched through the verified reader (so the cap applies to the bytes really
 * delivered, not to what a root block claims), and pinned (pinning alone would fetch whatever DAG
 * a CID names, uncapped); then CID → id (with the header hash) is recorded. So neither a release
 * by CID nor an announcement makes the guardian download, keep or serve content that is not a
 * capsule sealed to it. A CID that failed for a reason other than the network is remembered and
 * refused again.
 *
 * Deliberately not here: opening the store (IpfsConnection.ts), modules (ModuleFetcher.ts),
 * announcements (AnnouncementQueue.ts), the HTTP routes (api.ts) and decisions (Releaser.ts).
 */
import type { CID } from 'multiformats/cid';
import { MAX_PREFIX_SIZE } from '../capsule/prefix.ts';
import { AgentError } from '../errors.ts';
import { PREAMBLE_SIZE } from '../format/constants.ts';
import { capsuleLength } from '../format/layout.ts';
import { cidFromBytes, parseCid } from '../store/ContentStore.ts';
import type { CapsuleRegistry } from './CapsuleRegistry.ts';
import type { DiskReserve } from './DiskSpace.ts';
import { fetchFailure, isTransient, requireReachable } from './fetchFailure.ts';
import type { FetchSlots } from './FetchSlots.ts';
import type { IpfsConnection } from './IpfsConnection.ts';
import { present, type Presented } from './present.ts';
import type { Store } from './Store.ts';

/** Failed CIDs remembered (the oldest forgotten first). */
const FAILED_MAX = 1024;

export interface CapsuleFetcherOptions {
  connection: Pick<IpfsConnection, 'content' | 'signalFor' | 'signal'>;
  slots: FetchSlots;
  store: Store;
  /** Authenticates and records a fetched capsule's header before the rest is fetched. */
  registry: Pick<CapsuleRegistry, 'register'>;
  maxCapsuleBytes: number;
  /** All capsules kept by CID together (the disk quota). */
  maxStoredBytes: number;
  fetchTimeoutMs: number;
  /** The data directory's free-space reserve: no capsule is fetched below it (507 ERR_DISK_FULL). */
  reserve?: DiskReserve;
  now: () => Promise<number>;
  log: (event: string, fields?: Record<string, unknown>) => void;
}

export class CapsuleFetcher {
  readonly #o: CapsuleFetcherOptions;
  readonly #failed = new Map<string, unknown>();

  constructor(o: CapsuleFetcherOptions) {
    this.#o = o;
  }

  /**
   * The capsule at `cidText`, fetched, authenticated and pinned (or the one recorded already).
   * @param cidText - The CID (named `cid` in messages).
   * @param source - What asked for it (recorded with the CID).
   * @param logic - The logic module's CID an announcement named (else the header's logic.cid).
   * @returns The presented capsule (its prefix parsed).
   * @throws ContentError (bad CID, not found in time, too large, …), AgentError ERR_QUOTA,
   *   ERR_DISK_FULL, ERR_UNAVAILABLE; CapsuleFormatError and others from registration; StoreError
   */
  async capsuleByCid(cidText: string, source: 'release' | 'announcement', logic?: CID): Promise<Presented> {
    const cid = parseCid(cidText, 'cid');
    const key = cid.toString();
    const known = this.#o.store.cid(key);
    const rec = known && this.#o.store.capsule(known.headerHash); // the registry is keyed by header hash (D2)
    if (rec) return present(rec.prefix);
    if (this.#failed.has(key)) throw this.#failed.get(key);
    return this.#o.slots.run(async () => {
      await this.#o.reserve?.require(`${cid}`, MAX_PREFIX_SIZE); // fetched blocks are written to the data directory
      const content = await this.#o.connection.content();
      await requireReachable(content, cid);
      const signal = this.#o.connection.signalFor(this.#o.fetchTimeoutMs);
      try {
        const parts: Uint8Array[] = [];
        let kept = 0;
        for await (const chunk of content.get(cid, { maxBytes: this.#o.maxCapsuleBytes, signal })) {
          const take = chunk.subarray(0, MAX_PREFIX_SIZE - kept);
          parts.push(Uint8Array.from(take));
          kept += take.length;
          if (kept >= MAX_PREFIX_SIZE) break; // the rest only once it authenticates
        }
        const p = present(new Uint8Array(Buffer.concat(parts)));
        await this.#o.registry.register(p); // another header with this id is another capsule (D2), not a mismatch
        // A disk quota for what anyone can make the guardian keep (anyone can seal a capsule to it).
        const size = capsuleLength(p.parsed.headerBytes.length - PREAMBLE_SIZE, p.parsed.header.payload.size);
        const stored = this.#o.store.storedBytes();
        if (stored + size > this.#o.maxStoredBytes) {
          throw new AgentError(
            'ERR_QUOTA',
            `${cid}: ${size} bytes would take the capsules kept here to ${stored + size}, above maxStoredBytes ${this.#o.maxStoredBytes}`,
            {
              hint: 'the operator can raise maxStoredBytes or remove capsules; send the capsule bytes instead (capsule open FILE)',
            },
          );
        }
        await this.#o.reserve?.require(`${cid}`, size); // and the disk's free-space reserve (D3)
        for await (const _ of content.get(cid, { maxBytes: this.#o.maxCapsuleBytes, signal })) void _; // all of it, verified
        await content.pin(cid, { signal });
        const logicCid = logic ?? (p.parsed.header.logic.cid ? cidFromBytes(p.parsed.header.logic.cid, 'logic.cid') : undefined);
        this.#o.store.putCid({ cid: key, capsule: p.id, headerHash: p.headerHash, logic: logicCid?.toString() ?? null, source, size }, await this.#o.now());
        return p;
      } catch (e) {
        const err = fetchFailure(e, cid, this.#o.fetchTimeoutMs);
        if (!isTransient(err)) this.#remember(key, err);
        // Whatever was fetched and is not pinned goes: a refused or failed capsule leaves nothing.
        const gone = await content.discard?.(cid).catch(() => 0);
        if (gone) this.#o.log('discarded', { capsule: key, blocks: gone });
        throw err;
      }
    });
  }

  /**
   * The capsule's bytes for GET /v1/content: only capsules this guardian has fetched or indexed.
   * @throws ContentError ERR_BAD_CID; AgentError ERR_NOT_FOUND (not one of ours), ERR_UNAVAILABLE (IPFS not open)
   */
  async stream(cidText: string): Promise<AsyncIterable<Uint8Array>> {
    const cid = parseCid(cidText, 'cid');
    if (!this.#o.store.cid(cid.toString())) {
      throw new AgentError('ERR_NOT_FOUND', `${cid}: not a capsule this guardian holds`, {
        hint: 'the guardian serves the capsules it guards (released or announced), not arbitrary content',
      });
    }
    return (await this.#o.connection.content()).get(cid, { maxBytes: this.#o.maxCapsuleBytes, signal: this.#o.connection.signal });
  }

  #remember(key: string, e: unknown): void {
    this.#failed.set(key, e);
    if (this.#failed.size > FAILED_MAX) this.#failed.delete(this.#failed.keys().next().value!);
  }
}
