/**
 * ModuleGuard: the one door to a security-module context. It runs calls one at a time (a module
 * context must not be used concurrently), bounds each caller's wait by a timeout, and keeps the
 * module's health (ok / failing, with the last error's code and one-line message) for
 * /v1/status. While failing it probes the module in the background (a cheap call, every
 * probeIntervalMs), so health returns to ok by itself when the module does — no restart.
 *
 * Why a hung call is handled this way: koffi runs a call on a worker thread and cannot cancel
 * it. So a caller that times out gets ERR_MODULE_CALL at once and the call's eventual result is
 * ignored (a returned buffer — possibly an unlocked seed — is wiped). The context is NOT reused
 * while that call is still running: every later call fails fast ("has not answered …") instead of
 * queueing behind it or racing it on the same context, and calls that were queued before the
 * timeout are skipped when their own callers have given up. When the stuck call finally
 * returns, the context is usable again. (Re-opening a fresh context instead would be wrong: the
 * real library serialises on its daemon anyway, and two contexts would double the stuck threads.)
 *
 * Deliberately not here: what the calls do (ZymbitModule.ts), the KeyStore interface.
 */
import { KeyStoreError, hasCode } from '../errors.ts';
import { SerialQueue } from './KeyStore.ts';

/** What /v1/status reports about the key custodian. */
export interface ModuleHealth {
  state: 'ok' | 'failing';
  /** The last failure's code and one-line message (while failing). */
  code?: string;
  message?: string;
  /** When the module started failing (ms since the epoch). */
  since?: number;
}

export interface ModuleGuardOptions {
  /** A caller waits at most this long for its call (queueing included). */
  timeoutMs: number;
  /** A cheap call used to notice recovery while failing (e.g. reading the module's clock). */
  probe?: () => Promise<unknown>;
  probeIntervalMs?: number;
  /** The custodian's name in messages (default "zymbit"). */
  name?: string;
  /** The hint on a call that did not answer (default: the module or zkifc is not responding). */
  stuckHint?: string;
}

/** A failure of the module itself (not a refusal it made on purpose, like a failed integrity check). */
export function isModuleFailure(e: unknown): boolean {
  // A TPM in lockout refuses every authorised use: for /v1/status it is failing until it recovers.
  return hasCode(e, 'ERR_MODULE_CALL') || hasCode(e, 'ERR_MODULE_ABSENT') || hasCode(e, 'ERR_TPM_LOCKOUT');
}

export class ModuleGuard {
  readonly timeoutMs: number;
  readonly #queue = new SerialQueue();
  readonly #probe: (() => Promise<unknown>) | undefined;
  readonly #probeIntervalMs: number;
  readonly #name: string;
  readonly #stuckHint: string;
  #probeTimer: ReturnType<typeof setInterval> | undefined;
  /** The call still running on the context after its caller gave up. */
  #stuck: { call: string; since: number } | undefined;
  #health: ModuleHealth = { state: 'ok' };
  #closed = false;

  constructor(options: ModuleGuardOptions) {
    if (!Number.isSafeInteger(options.timeoutMs) || options.timeoutMs <= 0 || options.timeoutMs > 2 ** 31 - 1) {
      throw new RangeError(`timeoutMs: expected an integer 1..2147483647, got ${options.timeoutMs}`);
    }
    this.timeoutMs = options.timeoutMs;
    this.#probe = options.probe;
    this.#probeIntervalMs = options.probeIntervalMs ?? Math.min(1000, options.timeoutMs);
    this.#name = options.name ?? 'zymbit';
    this.#stuckHint = options.stuckHint ?? 'the module (or its daemon, zkifc) is not responding; the agent retries by itself and recovers when it answers';
  }

  get health(): ModuleHealth {
    return { ...this.#health };
  }

  /**
   * Runs `f` (named `call` in errors) when the context is free.
   * @throws KeyStoreError ERR_MODULE_CALL when the module has not answered within timeoutMs, or
   *   a previous call is still stuck on the context; whatever `f` throws otherwise.
   */
  run<T>(call: string, f: () => Promise<T>): Promise<T> {
    if (this.#stuck) {
      const ms = Date.now() - this.#stuck.since;
      const e = new KeyStoreError(
        'ERR_MODULE_CALL',
        `${this.#name}: ${call} refused: the ${this.#name === 'zymbit' ? 'module' : 'TPM'} has not answered ${this.#stuck.call} for ${ms} ms`,
        {
          hint: this.#stuckHint,
        },
      );
      this.#failing(e);
      return Promise.reject(e);
    }
    let abandoned = false;
    let running = false;
    const job = this.#queue.run(async () => {
      if (abandoned) throw new KeyStoreError('ERR_MODULE_CALL', `${this.#name}: ${call} skipped (its caller gave up)`);
      running = true;
      try {
        return await f();
      } finally {
        running = false;
      }
    });
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        abandoned = true;
        if (running) {
          const stuck = { call, since: Date.now() - this.timeoutMs };
          this.#stuck = stuck;
          const release = (): void => {
            if (this.#stuck === stuck) this.#stuck = undefined;
          };
          job.then(
            (v) => {
              wipeResult(v);
              release();
              if (!this.#closed) this.#ok();
            },
            (e) => {
              release();
              if (isModuleFailure(e)) this.#failing(e as Error);
            },
          );
        }
        const e = new KeyStoreError('ERR_MODULE_CALL', `${this.#name}: ${call} did not answer within ${this.timeoutMs} ms`, {
          hint: this.#stuckHint,
        });
        this.#failing(e);
        reject(e);
      }, this.timeoutMs);
      job.then(
        (v) => {
          clearTimeout(timer);
          if (abandoned) return;
          this.#ok();
          resolve(v);
        },
        (e) => {
          clearTimeout(timer);
          if (abandoned) return;
          if (isModuleFailure(e)) this.#failing(e as Error);
          else if (hasCode(e, 'ERR_LOCK_INTEGRITY') || hasCode(e, 'ERR_UNSUPPORTED_BY_MODEL')) this.#ok(); // the module answered
          reject(e);
        },
      );
    });
  }

  /** Stops probing; pending calls still settle. */
  close(): void {
    this.#closed = true;
    this.#stopProbing();
  }

  #ok(): void {
    if (this.#health.state !== 'ok') this.#health = { state: 'ok' };
    this.#stopProbing();
  }

  #failing(e: Error & { code?: string }): void {
    // One line, no internals: the code and the message (which names the call, never a path).
    const message = e.message.split('\n')[0]!;
    this.#health = { state: 'failing', code: e.code ?? 'ERR_MODULE_CALL', message, since: this.#health.since ?? Date.now() };
    if (this.#probe && !this.#probeTimer && !this.#closed) {
      this.#probeTimer = setInterval(() => {
        if (this.#stuck || this.#closed) return; // still hung: nothing to learn by queueing more
        this.run('probe', this.#probe!).catch(() => {});
      }, this.#probeIntervalMs);
      this.#probeTimer.unref();
    }
  }

  #stopProbing(): void {
    if (this.#probeTimer) clearInterval(this.#probeTimer);
    this.#probeTimer = undefined;
  }
}

/** A result nobody will read (its caller timed out) may be a secret: wipe it. */
function wipeResult(v: unknown): void {
  if (v instanceof Uint8Array) v.fill(0);
}
