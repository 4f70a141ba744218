/**
 * A Kubo daemon (on the device: its container) as the content store, over the Kubo RPC API with
 * kubo-rpc-client. Adds use the shared import settings, so the CID equals the embedded node's;
 * reads go block by block through readVerified (the RPC's `cat` is not verified, and a daemon is
 * another process we do not trust with the bytes).
 *
 * An unreachable daemon is ContentError ERR_IPFS_UNREACHABLE naming the URL, with a hint; retrying
 * with backoff is the caller's choice (the agent's background work does, a CLI command does not).
 * Deliberately not here: starting or configuring the daemon.
 */
import * as dagPb from '@ipld/dag-pb';
import { create, type KuboRPCClient } from 'kubo-rpc-client';
import type { CID } from 'multiformats/cid';
import { ContentError } from '../errors.ts';
import type { ContentStore, GetOptions, Message, Signal, SubscribeOptions } from './ContentStore.ts';
import { KUBO_ADD_OPTIONS, owned } from './importSettings.ts';
import { readVerified } from './readVerified.ts';

const HAS_TIMEOUT_MS = 2000;

export class KuboStore implements ContentStore {
  readonly kind = 'kubo' as const;
  readonly where: string;
  readonly #rpc: KuboRPCClient;

  constructor(url: string) {
    this.where = url;
    this.#rpc = create({ url });
  }

  /** Checks the daemon answers (`id`), so a misconfiguration is reported at start. */
  async start({ signal }: Signal = {}): Promise<void> {
    // Bounded: a daemon that accepts the connection but never answers must not hold a start forever.
    const bounded = AbortSignal.any([AbortSignal.timeout(10_000), ...(signal ? [signal] : [])]);
    await this.#call('id', () => this.#rpc.id({ signal: bounded }), signal);
  }

  /** Runs one RPC call, turning transport failures into ERR_IPFS_UNREACHABLE and daemon errors into ERR_IPFS. */
  async #call<T>(what: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    try {
      return await fn();
    } catch (cause) {
      if (signal?.aborted) throw signal.reason ?? cause;
      if (cause instanceof ContentError) throw cause;
      const e = cause as { name?: string; message?: string; cause?: { code?: string } };
      if (e?.name === 'TypeError' || e?.cause?.code === 'ECONNREFUSED' || /fetch failed|ECONNREFUSED|ENOTFOUND|socket hang up/.test(String(e?.message))) {
        throw new ContentError('ERR_IPFS_UNREACHABLE', `Kubo RPC at ${this.where}: unreachable (${what})`, {
          cause,
          hint: 'is the IPFS daemon running, and is its API address the one configured (ipfs: kubo:URL)?',
        });
      }
      throw new ContentError('ERR_IPFS', `Kubo RPC at ${this.where}: ${what} failed`, { cause, hint: "see the daemon's log" });
    }
  }

  async add(content: Uint8Array | AsyncIterable<Uint8Array>, { signal }: Signal = {}): Promise<CID> {
    const r = await this.#call('add', () => this.#rpc.add(owned(content, signal), { ...KUBO_ADD_OPTIONS, pin: true, signal }), signal);
    return r.cid;
  }

  get(cid: CID, options: GetOptions): AsyncIterable<Uint8Array> {
    return this.#get(cid, options);
  }

  /** A refusal over the cap keeps nothing: the root the daemon fetched to read the size is removed (if unpinned). */
  async *#get(cid: CID, options: GetOptions): AsyncGenerator<Uint8Array> {
    try {
      yield* readVerified((c, signal) => this.#call(`block/get ${c}`, () => this.#rpc.block.get(c, { signal }), signal), cid, options);
    } catch (e) {
      if ((e as ContentError).code === 'ERR_CONTENT_TOO_LARGE') await this.discard(cid).catch(() => 0);
      throw e;
    }
  }

  async pin(cid: CID, { signal }: Signal = {}): Promise<void> {
    await this.#call(`pin/add ${cid}`, () => this.#rpc.pin.add(cid, { signal }), signal);
  }

  async unpin(cid: CID, { signal }: Signal = {}): Promise<void> {
    try {
      await this.#call(`pin/rm ${cid}`, () => this.#rpc.pin.rm(cid, { signal }), signal);
    } catch (e) {
      if ((e as ContentError).code === 'ERR_IPFS' && /not pinned/i.test(String(((e as Error).cause as Error)?.message))) return;
      throw e;
    }
  }

  async has(cid: CID, { signal }: Signal = {}): Promise<boolean> {
    try {
      // A local lookup: `timeout` guards daemons that ignore offline=true (js-ipfs waits for the network).
      await this.#call(`block/stat ${cid}`, () => this.#rpc.block.stat(cid, { signal, offline: true, timeout: HAS_TIMEOUT_MS } as never), signal);
      return true;
    } catch (e) {
      if ((e as ContentError).code === 'ERR_IPFS') return false; // "not found locally"
      throw e;
    }
  }

  /**
   * Removes the daemon's unpinned blocks of `cid`'s DAG (what a refused or failed fetch left).
   * The daemon refuses to remove a pinned block; that branch is then left alone.
   */
  async discard(root: CID, { signal }: Signal = {}): Promise<number> {
    let removed = 0;
    const visit = async (c: CID, depth: number): Promise<void> => {
      if (depth > 16 || !(await this.has(c, { signal }))) return;
      let links: CID[] = [];
      if (c.code === dagPb.code) {
        try {
          const bytes = await this.#call(`block/get ${c}`, () => this.#rpc.block.get(c, { signal, offline: true, timeout: HAS_TIMEOUT_MS } as never), signal);
          links = dagPb.decode(bytes).Links.map((l) => l.Hash);
        } catch {
          // unreadable: remove the block, follow nothing
        }
      }
      let ok = false;
      for await (const r of this.#rpc.block.rm(c, { signal })) ok = !r.error;
      if (!ok) return; // pinned (or otherwise kept by the daemon)
      removed++;
      for (const l of links) await visit(l, depth + 1);
    };
    await visit(root, 0);
    return removed;
  }

  async publish(topic: string, data: Uint8Array, { signal }: Signal = {}): Promise<number> {
    await this.#call('pubsub/pub', () => this.#rpc.pubsub.publish(topic, data, { signal }), signal);
    // The RPC does not say how many peers it reached: report the topic's known peers, and at least 1
    // (the daemon's own subscribers get it too), so a caller waiting for a recipient does not wait.
    const peers = await this.#call('pubsub/peers', () => this.#rpc.pubsub.peers(topic, { signal }), signal).catch(() => []);
    return Math.max(peers.length, 1);
  }

  async subscribe(topic: string, onMessage: (m: Message) => void, { signal, validate, onEnd }: SubscribeOptions = {}): Promise<() => void> {
    const handler = (m: { topic: string; data: Uint8Array; from?: { toString(): string } }) => {
      const from = m.from?.toString() ?? '';
      if (m.topic === topic && (!validate || validate(m.data, from))) onMessage({ topic, data: m.data, from });
    };
    // The subscription is over when the stream breaks (a fatal error), but also when it ends
    // cleanly (a daemon shutting down gracefully, a proxy closing it) — then the client calls no
    // onError: it only aborts the signal it put in place of ours in `opts` (kubo-rpc-client 7's
    // subscription tracker). Either way onEnd is called once, unless we unsubscribed or were aborted.
    let over = false;
    const end = (cause?: Error) => {
      if (over || signal?.aborted) return;
      over = true;
      onEnd?.(
        new ContentError(cause ? 'ERR_IPFS_UNREACHABLE' : 'ERR_IPFS', `Kubo RPC at ${this.where}: the subscription to ${topic} ${cause ? 'broke' : 'ended'}`, {
          cause,
          hint: "the agent subscribes again with backoff; check the daemon's log if this repeats",
        }),
      );
    };
    const opts = {
      signal,
      onError: (e: Error, fatal?: boolean) => {
        if (fatal) end(e);
      },
    };
    await this.#call('pubsub/sub', () => this.#rpc.pubsub.subscribe(topic, handler as never, opts as never), signal);
    const tracked = opts.signal !== signal ? opts.signal : undefined;
    tracked?.addEventListener('abort', () => end(), { once: true });
    if (tracked?.aborted) end();
    return () => {
      over = true;
      void this.#rpc.pubsub.unsubscribe(topic, handler as never).catch(() => {});
    };
  }

  async connect(addr: string, { signal }: Signal = {}): Promise<void> {
    const { multiaddr } = await import('@multiformats/multiaddr');
    await this.#call(`swarm/connect ${addr}`, () => this.#rpc.swarm.connect(multiaddr(addr), { signal }), signal);
  }

  async addresses(): Promise<string[]> {
    const id = await this.#call('id', () => this.#rpc.id());
    return id.addresses.map(String);
  }

  async stop(): Promise<void> {}
}
