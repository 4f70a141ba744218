/**
 * A logic module fetched by CID for a decision that needs it and the store lacks: by its header's
 * locator (`logic.cid`), or — a module of at most one chunk is a single raw block — by the raw CID
 * of its SHA-256. Capped at MAX_MODULE_SIZE, verified against the hash the header names (which is
 * authoritative), validated and stored (ModuleStore.add), then pinned. Given at most 15 s: the
 * request that needs it is waiting.
 *
 * Deliberately not here: deciding (Decider.ts asks for the module), capsules (CapsuleFetcher.ts).
 */
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { create as digestOf } from 'multiformats/hashes/digest';
import { sha256 as sha256Hasher } from 'multiformats/hashes/sha2';
import { sha256 } from '../crypto/kdf.ts';
import { AgentError } from '../errors.ts';
import { cidFromBytes } from '../store/ContentStore.ts';
import type { DiskReserve } from './DiskSpace.ts';
import { fetchFailure, requireReachable } from './fetchFailure.ts';
import type { FetchSlots } from './FetchSlots.ts';
import type { IpfsConnection } from './IpfsConnection.ts';
import { MAX_MODULE_SIZE, type ModuleStore } from './ModuleStore.ts';

/** The longest a module fetch may take (a request is waiting for it). */
const MODULE_FETCH_MS = 15_000;

export interface ModuleFetcherOptions {
  connection: Pick<IpfsConnection, 'content' | 'signalFor'>;
  slots: FetchSlots;
  modules: Pick<ModuleStore, 'add'>;
  fetchTimeoutMs: number;
  /** The data directory's free-space reserve: no module is fetched below it. */
  reserve?: DiskReserve;
}

export class ModuleFetcher {
  readonly #o: ModuleFetcherOptions;

  constructor(o: ModuleFetcherOptions) {
    this.#o = o;
  }

  /**
   * The module whose SHA-256 is `hash`, fetched from `cidBytes` (else the raw CID of `hash`), stored and pinned.
   * @param hash - The module's SHA-256 (the header's logic.hash).
   * @param cidBytes - The header's logic.cid, if it has one.
   * @returns The module's bytes.
   * @throws AgentError ERR_NOT_FOUND (the bytes there are another module), ERR_UNAVAILABLE (busy,
   *   IPFS not open), ERR_DISK_FULL; ContentError (not found in time, too large, …); StoreError; as ModuleStore.add
   */
  async module(hash: Uint8Array, cidBytes: Uint8Array | undefined): Promise<Uint8Array> {
    const cid = cidBytes ? cidFromBytes(cidBytes, 'logic.cid') : CID.createV1(raw.code, digestOf(sha256Hasher.code, hash));
    return this.#o.slots.run(async () => {
      await this.#o.reserve?.require(`logic ${cid}`, MAX_MODULE_SIZE);
      const content = await this.#o.connection.content();
      await requireReachable(content, cid);
      const ms = Math.min(this.#o.fetchTimeoutMs, MODULE_FETCH_MS);
      const signal = this.#o.connection.signalFor(ms);
      const parts: Uint8Array[] = [];
      try {
        for await (const chunk of content.get(cid, { maxBytes: MAX_MODULE_SIZE, signal })) parts.push(Uint8Array.from(chunk));
      } catch (e) {
        await content.discard?.(cid).catch(() => 0);
        throw fetchFailure(e, cid, ms);
      }
      const bytes = new Uint8Array(Buffer.concat(parts));
      if (!Buffer.from(sha256(bytes)).equals(Buffer.from(hash))) {
        await content.discard?.(cid).catch(() => 0);
        // The module the header names is not at its locator: not found (404), like a module found nowhere.
        throw new AgentError('ERR_NOT_FOUND', `logic ${cid}: its bytes are not the module the header names (SHA-256 ${Buffer.from(hash).toString('hex')})`, {
          hint: "the header's logic.cid points at another module; logic.hash is authoritative",
        });
      }
      await this.#o.modules.add(bytes);
      await content.pin(cid, { signal }).catch(() => {});
      return bytes;
    });
  }
}
