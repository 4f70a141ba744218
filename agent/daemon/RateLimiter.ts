/**
 * Request rate limits as token buckets at three levels: per client address, per network (/24 for
 * IPv4, /64 for IPv6) and global, so rotating source addresses (127.0.0.2, .3, …) does not
 * multiply the budget. A request takes one token from each of its three buckets, and only if all
 * three have one; otherwise it is refused with the seconds until it would pass (Retry-After).
 * Each bucket holds 2 s of its rate (burst); a rate of 0 disables that level.
 *
 * Memory is bounded: the per-address and per-network maps are cleared beyond 10,000 keys (the
 * global bucket still holds then). Deliberately not here: HTTP (HttpServer.ts), fairness between
 * admitted requests (the decision scheduler).
 */
import { AgentError } from '../errors.ts';
import { clientKey, networkKey } from './clientAddress.ts';

export interface RateLimits {
  /** Requests per second per client address (IPv6: per /64). */
  perAddress: number;
  /** Requests per second per /24 (IPv4) or /64 (IPv6). */
  perNetwork: number;
  /** Requests per second from everyone together. */
  global: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

const MAX_KEYS = 10_000;

export class RateLimiter {
  readonly #limits: RateLimits;
  readonly #address = new Map<string, Bucket>();
  readonly #network = new Map<string, Bucket>();
  #global: Bucket | undefined;
  readonly #now: () => number;

  /** `now` in ms (monotonic); injectable for tests of the arithmetic. */
  constructor(limits: RateLimits, now: () => number = () => performance.now()) {
    for (const [k, v] of Object.entries(limits)) if (!Number.isFinite(v) || v < 0) throw new RangeError(`limits.${k}: expected a rate ≥ 0, got ${v}`);
    this.#limits = limits;
    this.#now = now;
  }

  /**
   * Takes one token for a request from `address`.
   * @throws AgentError ERR_RATE_LIMITED (429) with `retryAfter` (whole seconds) set.
   */
  take(address: string | undefined): void {
    const l = this.#limits;
    const now = this.#now();
    const levels: Array<[string, number, Bucket | undefined, (b: Bucket) => void]> = [];
    if (l.perAddress) {
      const k = clientKey(address);
      levels.push([k, l.perAddress, this.#address.get(k), (b) => this.#put(this.#address, k, b)]);
    }
    if (l.perNetwork) {
      const k = networkKey(address);
      levels.push([`network ${k}`, l.perNetwork, this.#network.get(k), (b) => this.#put(this.#network, k, b)]);
    }
    if (l.global)
      levels.push([
        'all clients',
        l.global,
        this.#global,
        (b) => {
          this.#global = b;
        },
      ]);
    const filled = levels.map(([what, rate, b, put]) => {
      const bucket = b ?? { tokens: rate * 2, at: now };
      bucket.tokens = Math.min(rate * 2, bucket.tokens + ((now - bucket.at) / 1000) * rate);
      bucket.at = now;
      put(bucket);
      return { what, rate, bucket };
    });
    const short = filled.filter((f) => f.bucket.tokens < 1);
    if (short.length) {
      const worst = short.reduce((a, b) => ((1 - a.bucket.tokens) / a.rate >= (1 - b.bucket.tokens) / b.rate ? a : b));
      const retryAfter = Math.max(1, Math.ceil((1 - worst.bucket.tokens) / worst.rate));
      throw Object.assign(
        new AgentError('ERR_RATE_LIMITED', `too many requests from ${worst.what} (limit ${worst.rate}/s)`, { hint: `retry after ${retryAfter} s` }),
        { retryAfter },
      );
    }
    for (const f of filled) f.bucket.tokens -= 1;
  }

  #put(map: Map<string, Bucket>, key: string, b: Bucket): void {
    if (!map.has(key) && map.size >= MAX_KEYS) map.clear(); // bounded memory under address churn
    map.set(key, b);
  }
}
