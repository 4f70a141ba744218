/**
 * The agent's content store (IPFS), opened in the background: nothing happens until start() (the
 * agent starts IPFS after it is ready: libp2p costs ~0.7 s to load), then the store is opened,
 * and while it cannot be (a daemon unreachable) opening is retried with backoff (doubling up to
 * 60 s) until stop. Once open, `onOpen` starts what keeps it useful (peers, subscriptions:
 * IpfsService.ts). Fetches wait for the store at most `waitMs` and are then refused (503).
 *
 * Deliberately not here: what is fetched (CapsuleFetcher.ts, ModuleFetcher.ts), peers and topics
 * (keepPeers.ts, keepSubscribed.ts).
 */
import { AgentError, type DceError } from '../errors.ts';
import type { ContentStore } from '../store/ContentStore.ts';

export interface IpfsConnectionOptions {
  open: (signal: AbortSignal) => Promise<ContentStore>;
  /** How long a fetch waits for the store to open before it is refused (503). */
  waitMs: number;
  /** First retry delay; doubles up to 60 s. */
  backoffMs?: number;
  log: (event: string, fields?: Record<string, unknown>) => void;
  /** Called once the store is open (not after stop); what it returns is awaited by stop(). */
  onOpen: (store: ContentStore) => Promise<void>;
}

export class IpfsConnection {
  readonly #o: IpfsConnectionOptions;
  readonly #stop = new AbortController();
  #content: ContentStore | undefined;
  #lastError: string | undefined;
  readonly #ready: Promise<ContentStore>;
  #begin: () => void = () => {};
  #kept: Promise<void> | undefined;

  /** Nothing is opened until start(). */
  constructor(o: IpfsConnectionOptions) {
    this.#o = o;
    this.#ready = new Promise<void>((r) => {
      this.#begin = r;
    }).then(() => this.#openWithBackoff());
    this.#ready.catch(() => {});
  }

  /** Starts opening the store in the background. */
  start(): void {
    this.#begin();
  }

  /** Aborted by stop(): every fetch and maintenance loop ends on it. */
  get signal(): AbortSignal {
    return this.#stop.signal;
  }

  /** The open store, if it is open. */
  get current(): ContentStore | undefined {
    return this.#content;
  }

  /** Why the last attempt to open failed (cleared once open). */
  get lastError(): string | undefined {
    return this.#lastError;
  }

  /** The stop signal, or `ms` elapsed: whichever comes first. */
  signalFor(ms: number): AbortSignal {
    return AbortSignal.any([this.#stop.signal, AbortSignal.timeout(ms)]);
  }

  /**
   * The store, waiting for it up to `waitMs`.
   * @throws AgentError ERR_UNAVAILABLE (not open yet, or the agent is stopping)
   */
  async content(): Promise<ContentStore> {
    if (this.#content) return this.#content;
    if (this.#stop.signal.aborted) throw stopping();
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(
        () =>
          reject(
            new AgentError('ERR_UNAVAILABLE', `IPFS is not available yet${this.#lastError ? `: ${this.#lastError}` : ''}`, {
              hint: 'the agent keeps retrying in the background; check the ipfs setting and the daemon',
            }),
          ),
        this.#o.waitMs,
      ).unref(),
    );
    return Promise.race([this.#ready, timeout]);
  }

  /** Resolves after `ms`, or at once when the agent stops. */
  sleep(ms: number): Promise<void> {
    return new Promise((r) => {
      const t = setTimeout(r, ms);
      this.#stop.signal.addEventListener(
        'abort',
        () => {
          clearTimeout(t);
          r();
        },
        { once: true },
      );
    });
  }

  /** Stops opening and what onOpen started, then closes the store. */
  async stop(): Promise<void> {
    this.#stop.abort(stopping());
    this.#begin(); // so that #ready settles even if start() never came
    await this.#ready.catch(() => {});
    await this.#kept;
  }

  /** Closes the store (after stop(), once nothing uses it any more). */
  async close(): Promise<void> {
    await this.#content?.stop().catch(() => {});
    this.#content = undefined;
  }

  async #openWithBackoff(): Promise<ContentStore> {
    let delay = this.#o.backoffMs ?? 1000;
    for (;;) {
      if (this.#stop.signal.aborted) throw stopping();
      try {
        const store = await this.#o.open(this.#stop.signal);
        if (this.#stop.signal.aborted) {
          await store.stop().catch(() => {});
          throw this.#stop.signal.reason;
        }
        this.#content = store;
        this.#lastError = undefined;
        this.#o.log('ipfs-ready', { backend: store.kind, where: store.where, addresses: await store.addresses().catch(() => []) });
        this.#kept = this.#o.onOpen(store);
        return store;
      } catch (e) {
        if (this.#stop.signal.aborted) throw e;
        this.#lastError = (e as Error).message;
        this.#o.log('ipfs-unavailable', { code: (e as DceError).code ?? 'ERR_IPFS', message: this.#lastError, retryInMs: delay });
        await this.sleep(delay);
        delay = Math.min(delay * 2, 60_000);
      }
    }
  }
}

function stopping(): AgentError {
  return new AgentError('ERR_UNAVAILABLE', 'the agent is stopping', { hint: 'retry once it is back' });
}
