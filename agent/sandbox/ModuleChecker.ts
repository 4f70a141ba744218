/**
 * Validation and metering of a module entering the agent's store, off the main thread: Binaryen
 * runs in a worker that is terminated after any refusal, after `maxChecks` modules and when idle,
 * so its heap (which never shrinks, and which a failed parse used to leak) dies with it, a slow
 * parse never stalls the event loop (`/v1/status` keeps answering), and a parse that runs too long
 * is cut off. The agent's main thread never loads Binaryen (issue 18 D10).
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

export class ModuleChecker {
  readonly #o: Required<CheckerOptions>;
  #worker: Promise<Worker> | undefined;
  #checks = 0;
  #idle: ReturnType<typeof setTimeout> | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #next = 0;
  /** Workers started so far (tests and the bench read it). */
  spawned = 0;

  constructor(options: CheckerOptions = {}) {
    this.#o = { timeoutMs: options.timeoutMs ?? 30_000, maxChecks: options.maxChecks ?? 32, idleMs: options.idleMs ?? 2000 };
  }

  /**
   * Validates and meters `bytes` in the checker worker (one check at a time).
   * @throws SandboxError ERR_INVALID_MODULE (refused, with the reason), ERR_TIMEOUT (took longer
   *   than timeoutMs), ERR_SANDBOX (the worker failed)
   */
  check(bytes: Uint8Array, limits: Limits): Promise<Checked> {
    const run = this.#queue.then(() => this.#run(bytes, limits));
    this.#queue = run.catch(() => {});
    return run;
  }

  /** Terminates the worker now (the next check starts another). */
  async close(): Promise<void> {
    clearTimeout(this.#idle);
    const w = this.#worker;
    this.#worker = undefined;
    this.#checks = 0;
    await (await w?.catch(() => undefined))?.terminate();
  }

  #spawn(): Promise<Worker> {
    this.spawned++;
    const w = new Worker(new URL(import.meta.url.endsWith('.ts') ? './checkWorker.ts' : './checkWorker.js', import.meta.url), {
      resourceLimits: { maxOldGenerationSizeMb: 128, maxYoungGenerationSizeMb: 16, stackSizeMb: 4 },
    });
    w.unref();
    const ready = new Promise<Worker>((resolve, reject) => {
      w.once('message', () => resolve(w));
      w.once('error', (e) => reject(new SandboxError('ERR_SANDBOX', `module checker failed to start: ${e.message}`, { cause: e })));
      w.once('exit', (code) => reject(new SandboxError('ERR_SANDBOX', `module checker exited while starting (code ${code})`)));
    });
    ready.catch(() => { if (this.#worker === ready) this.#worker = undefined; });
    return ready;
  }

  async #run(bytes: Uint8Array, limits: Limits): Promise<Checked> {
    clearTimeout(this.#idle);
    const pending = (this.#worker ??= this.#spawn());
    const worker = await pending;
    const id = ++this.#next;
    try {
      return await new Promise<Checked>((resolve, reject) => {
        const done = () => {
          clearTimeout(timer);
          worker.off('message', onMessage);
          worker.off('error', onError);
          worker.off('exit', onExit);
        };
        const onMessage = (m: { id: number; report?: ModuleReport; metered?: Uint8Array; error?: { name: string; code: string; message: string } }) => {
          if (m.id !== id) return;
          done();
          if (m.error) reject(m.error.name === 'SandboxError' ? new SandboxError(m.error.code as SandboxErrorCode, m.error.message) : new SandboxError('ERR_INVALID_MODULE', `logic module: refused while checking it (${m.error.message.split('\n')[0]!.slice(0, 160)})`));
          else resolve({ report: m.report!, metered: m.metered! });
        };
        const onError = (e: Error) => { done(); reject(new SandboxError('ERR_SANDBOX', `module checker failed: ${e.message}`, { cause: e })); };
        const onExit = (code: number) => { done(); reject(new SandboxError('ERR_SANDBOX', `module checker exited (code ${code})`)); };
        worker.on('message', onMessage);
        worker.on('error', onError);
        worker.on('exit', onExit);
        const timer = setTimeout(() => { done(); reject(new SandboxError('ERR_TIMEOUT', `logic module: checking it took longer than ${this.#o.timeoutMs} ms; the checker was terminated`)); }, this.#o.timeoutMs);
        // A copy is sent: the caller keeps its bytes.
        worker.postMessage({ id, bytes: Uint8Array.from(bytes), limits });
      });
    } catch (e) {
      // Any failure retires the worker: a refusal may have left Binaryen's heap grown or corrupt.
      if (this.#worker === pending) await this.close();
      throw e;
    } finally {
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
