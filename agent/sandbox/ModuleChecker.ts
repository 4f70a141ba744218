/**
 * Validation and metering of a module entering the agent's store, off the main thread: Binaryen
 * runs in a worker that is terminated after any refusal, after `maxChecks` modules and when idle,
 * so its heap (which never shrinks, and which a failed parse used to leak) dies with it, a slow
 * parse never stalls the event loop (`/v1/status` keeps answering), and a parse that runs too long
 * is cut off. The agent's main thread never loads Binaryen (issue 18 D10). How a checker is started
 * is a strategy (`spawn`): a worker here, a short-lived child process in the agent (daemon/ProcessChecker.ts).
 *
 * Deliberately not here: what is valid (validate.ts) and storing the module (ModuleStore.ts).
 */
import { Worker } from 'node:worker_threads';
import { SandboxError, type SandboxErrorCode } from '../errors.ts';
import type { Limits } from './limits.ts';
import { MeteredCache, type Checked } from './MeteredCache.ts';
import type { ModuleReport } from './validate.ts';

export { METERED_CACHE_BYTES, type Checked } from './MeteredCache.ts';

export interface CheckerOptions {
  /** A check (Binaryen's parse, validation and metering) taking longer than this fails. */
  timeoutMs?: number;
  /** The worker is replaced after this many checks (bounds the Binaryen heap it keeps). */
  maxChecks?: number;
  /** An idle worker is terminated after this long. */
  idleMs?: number;
}

/** What a checker answers for check `id`: the report and metered bytes, or the error (name, code, message). */
export type CheckReply = { id: number; report?: ModuleReport; metered?: Uint8Array; error?: { name: string; code: string; message: string } };

/**
 * One running checker (a worker, a child process: ModuleChecker's spawn strategy), after it said
 * it is ready. Events: 'message' (a CheckReply), 'error' (an Error), 'exit' (code, signal?).
 */
export interface CheckerEndpoint {
  on(event: 'message' | 'error' | 'exit', listener: (...args: any[]) => void): unknown;
  off(event: 'message' | 'error' | 'exit', listener: (...args: any[]) => void): unknown;
  /** Sends one check (`onError` if it cannot be sent). */
  send(message: { id: number; bytes: Uint8Array; limits: Limits }, onError: (e: Error) => void): void;
  /** While it checks it may keep the event loop alive; idle, it must not. */
  hold(on: boolean): void;
  /** Ends it. */
  close(): Promise<void>;
}

/** Starts a checker: resolves once it is ready; rejects with SandboxError ERR_SANDBOX when it fails to start. */
export type CheckerSpawn = () => Promise<CheckerEndpoint>;

/**
 * Resolves with `endpoint` at its first message (the ready signal); rejects if it errs or exits first.
 * For spawn strategies (the worker's below, the agent's child process: daemon/ProcessChecker.ts).
 */
export function readyOnFirstMessage(endpoint: CheckerEndpoint): Promise<CheckerEndpoint> {
  return new Promise<CheckerEndpoint>((resolve, reject) => {
    endpoint.on('message', function first() {
      endpoint.off('message', first);
      resolve(endpoint);
    });
    endpoint.on('error', (e: Error) => reject(new SandboxError('ERR_SANDBOX', `module checker failed to start: ${e.message}`, { cause: e })));
    endpoint.on('exit', (code: number | null, signal?: string | null) =>
      reject(new SandboxError('ERR_SANDBOX', `module checker exited while starting (code ${code ?? signal})`)),
    );
  });
}

/** The default strategy: a worker thread with capped heaps, unref'd (it never keeps the process alive). */
export const spawnWorker: CheckerSpawn = () => {
  const w = new Worker(new URL(import.meta.url.endsWith('.ts') ? './checkWorker.ts' : './checkWorker.js', import.meta.url), {
    resourceLimits: { maxOldGenerationSizeMb: 128, maxYoungGenerationSizeMb: 16, stackSizeMb: 4 },
  });
  w.unref();
  return readyOnFirstMessage({
    on: (e, l) => w.on(e, l),
    off: (e, l) => w.off(e, l),
    // A copy is sent: the caller keeps its bytes.
    send: (m) => w.postMessage({ ...m, bytes: Uint8Array.from(m.bytes) }),
    hold: () => {},
    close: async () => {
      await w.terminate();
    },
  });
};

export class ModuleChecker {
  readonly #o: Required<CheckerOptions>;
  readonly #spawnOne: CheckerSpawn;
  #worker: Promise<CheckerEndpoint> | undefined;
  #checks = 0;
  #idle: ReturnType<typeof setTimeout> | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #next = 0;
  /** Workers (or processes) started so far (tests and the bench read it). */
  spawned = 0;

  /**
   * @param options - Timeouts and retirement.
   * @param spawn - How a checker is started (default: a worker thread).
   */
  constructor(options: CheckerOptions = {}, spawn: CheckerSpawn = spawnWorker) {
    this.#o = { timeoutMs: options.timeoutMs ?? 30_000, maxChecks: options.maxChecks ?? 32, idleMs: options.idleMs ?? 2000 };
    this.#spawnOne = spawn;
  }

  /**
   * Validates and meters `bytes` in the checker (one check at a time).
   * @throws SandboxError ERR_INVALID_MODULE (refused, with the reason), ERR_TIMEOUT (took longer
   *   than timeoutMs), ERR_SANDBOX (the checker failed)
   */
  check(bytes: Uint8Array, limits: Limits): Promise<Checked> {
    const run = this.#queue.then(() => this.#run(bytes, limits));
    this.#queue = run.catch(() => {});
    return run;
  }

  /** Ends the checker now (the next check starts another). */
  async close(): Promise<void> {
    clearTimeout(this.#idle);
    const w = this.#worker;
    this.#worker = undefined;
    this.#checks = 0;
    await (await w?.catch(() => undefined))?.close();
  }

  #spawn(): Promise<CheckerEndpoint> {
    this.spawned++;
    let ready: Promise<CheckerEndpoint>;
    try {
      ready = this.#spawnOne();
    } catch (e) {
      ready = Promise.reject(new SandboxError('ERR_SANDBOX', `module checker failed to start: ${(e as Error).message}`, { cause: e }));
    }
    ready.catch(() => {
      if (this.#worker === ready) this.#worker = undefined;
    });
    return ready;
  }

  async #run(bytes: Uint8Array, limits: Limits): Promise<Checked> {
    clearTimeout(this.#idle);
    const pending = (this.#worker ??= this.#spawn());
    const worker = await pending;
    worker.hold(true);
    const id = ++this.#next;
    try {
      return await new Promise<Checked>((resolve, reject) => {
        const done = () => {
          clearTimeout(timer);
          worker.off('message', onMessage);
          worker.off('error', onError);
          worker.off('exit', onExit);
        };
        const onMessage = (m: CheckReply) => {
          if (m.id !== id) return;
          done();
          if (m.error)
            reject(
              m.error.name === 'SandboxError'
                ? new SandboxError(m.error.code as SandboxErrorCode, m.error.message)
                : new SandboxError('ERR_INVALID_MODULE', `logic module: refused while checking it (${m.error.message.split('\n')[0]!.slice(0, 160)})`),
            );
          else resolve({ report: m.report!, metered: m.metered! });
        };
        const onError = (e: Error) => {
          done();
          reject(new SandboxError('ERR_SANDBOX', `module checker failed: ${e.message}`, { cause: e }));
        };
        const onExit = (code: number | null, signal?: string | null) => {
          done();
          reject(new SandboxError('ERR_SANDBOX', `module checker exited (code ${code ?? signal})`));
        };
        worker.on('message', onMessage);
        worker.on('error', onError);
        worker.on('exit', onExit);
        const timer = setTimeout(() => {
          done();
          reject(new SandboxError('ERR_TIMEOUT', `logic module: checking it took longer than ${this.#o.timeoutMs} ms; the checker was terminated`));
        }, this.#o.timeoutMs);
        worker.send({ id, bytes, limits }, onError);
      });
    } catch (e) {
      // Any failure retires the checker: a refusal may have left Binaryen's heap grown or corrupt.
      if (this.#worker === pending) await this.close();
      throw e;
    } finally {
      worker.hold(false);
      if (this.#worker === pending) {
        if (++this.#checks >= this.#o.maxChecks) await this.close();
        else this.#idle = setTimeout(() => void this.close(), this.#o.idleMs).unref();
      }
    }
  }
}

let shared: ModuleChecker | undefined;
let isolated: MeteredCache | undefined;

/** The process's shared ModuleChecker (created on first use; its worker lives only while it checks). */
export function sharedChecker(): ModuleChecker {
  return (shared ??= new ModuleChecker());
}

/**
 * Validates and meters `bytes` off the main thread with the process's shared ModuleChecker, once
 * per module and limits: the result is kept in memory (a MeteredCache without a disk layer, at most
 * METERED_CACHE_BYTES), and concurrent callers share one check. The agent's module store keeps
 * metered binaries on disk as well (ModuleStore's meteredCache option).
 * @throws SandboxError ERR_INVALID_MODULE, ERR_TIMEOUT, ERR_SANDBOX (see ModuleChecker.check)
 */
export function checkIsolated(bytes: Uint8Array, limits: Limits): Promise<Checked> {
  isolated ??= new MeteredCache({ check: (b, l) => sharedChecker().check(b, l) });
  return isolated.get(bytes, limits);
}
