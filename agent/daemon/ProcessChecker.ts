/**
 * The agent's module checker: validation and metering of a module entering the store, with
 * Binaryen in a short-lived child process (checkProcess.ts) rather than a worker thread. Same
 * contract as ModuleChecker (sandbox/ModuleChecker.ts: one check at a time, typed errors, the
 * process retired after any failure, after `maxChecks` checks and when idle), but when it ends, all
 * it allocated leaves the agent: a worker's Binaryen heap and compiled code left 60–100 MiB in the
 * agent's RSS after the worker ended (glibc arenas and V8's process-wide code space; issue 15,
 * bench/agent.ts "after 10 module pushes"). DESIGN.md "Footprint": Binaryen runs only in a short-lived process.
 * Costs ~100 ms more than a worker for the first check of a burst (a Node start).
 *
 * The child gets no V8 flags but a 128 MiB old-space cap (the worker's resourceLimits), no
 * stdin/stdout, and its stderr is discarded (the agent's stderr carries only `capsule:` lines).
 *
 * Deliberately not here: what is valid (validate.ts) and storing the module (ModuleStore.ts).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { SandboxError, type SandboxErrorCode } from '../errors.ts';
import type { Limits } from '../sandbox/limits.ts';
import type { Checked } from '../sandbox/MeteredCache.ts';
import type { CheckerOptions } from '../sandbox/ModuleChecker.ts';
import type { ModuleReport } from '../sandbox/validate.ts';

const SCRIPT = new URL('./checkProcess.ts', import.meta.url);

type Reply = { id: number; report?: ModuleReport; metered?: Uint8Array; error?: { name: string; code: string; message: string } };

export class ProcessChecker {
  readonly #o: Required<CheckerOptions>;
  #child: Promise<ChildProcess> | undefined;
  #checks = 0;
  #idle: ReturnType<typeof setTimeout> | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #next = 0;
  /** Processes started so far (tests and the bench read it). */
  spawned = 0;

  constructor(options: CheckerOptions = {}) {
    this.#o = { timeoutMs: options.timeoutMs ?? 30_000, maxChecks: options.maxChecks ?? 32, idleMs: options.idleMs ?? 2000 };
  }

  /**
   * Validates and meters `bytes` in the checker process (one check at a time).
   * @throws SandboxError ERR_INVALID_MODULE (refused, with the reason), ERR_TIMEOUT (took longer
   *   than timeoutMs), ERR_SANDBOX (the process failed)
   */
  check(bytes: Uint8Array, limits: Limits): Promise<Checked> {
    const run = this.#queue.then(() => this.#run(bytes, limits));
    this.#queue = run.catch(() => {});
    return run;
  }

  /** Ends the process now (the next check starts another): its channel is closed and it exits. */
  async close(): Promise<void> {
    clearTimeout(this.#idle);
    const pending = this.#child;
    this.#child = undefined;
    this.#checks = 0;
    const child = await pending?.catch(() => undefined);
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    if (child.connected) child.disconnect();
    // One that does not leave by itself within a second (stuck in a parse) is killed.
    const kill = setTimeout(() => child.kill('SIGKILL'), 1000);
    await exited;
    clearTimeout(kill);
  }

  #spawn(): Promise<ChildProcess> {
    this.spawned++;
    let child: ChildProcess;
    try {
      child = fork(SCRIPT, [], { serialization: 'advanced', execArgv: ['--max-old-space-size=128'], stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
    } catch (e) {
      return Promise.reject(new SandboxError('ERR_SANDBOX', `module checker failed to start: ${(e as Error).message}`, { cause: e }));
    }
    const ready = new Promise<ChildProcess>((resolve, reject) => {
      child.once('message', () => resolve(child));
      child.once('error', (e) => reject(new SandboxError('ERR_SANDBOX', `module checker failed to start: ${e.message}`, { cause: e })));
      child.once('exit', (code, signal) => reject(new SandboxError('ERR_SANDBOX', `module checker exited while starting (code ${code ?? signal})`)));
    });
    ready.catch(() => { if (this.#child === ready) this.#child = undefined; });
    return ready;
  }

  async #run(bytes: Uint8Array, limits: Limits): Promise<Checked> {
    clearTimeout(this.#idle);
    const pending = (this.#child ??= this.#spawn());
    const child = await pending;
    hold(child, true);
    const id = ++this.#next;
    try {
      return await new Promise<Checked>((resolve, reject) => {
        const done = () => {
          clearTimeout(timer);
          child.off('message', onMessage);
          child.off('error', onError);
          child.off('exit', onExit);
        };
        const onMessage = (m: Reply) => {
          if (m.id !== id) return;
          done();
          if (m.error) reject(m.error.name === 'SandboxError' ? new SandboxError(m.error.code as SandboxErrorCode, m.error.message) : new SandboxError('ERR_INVALID_MODULE', `logic module: refused while checking it (${m.error.message.split('\n')[0]!.slice(0, 160)})`));
          else resolve({ report: m.report!, metered: m.metered! });
        };
        const onError = (e: Error) => { done(); reject(new SandboxError('ERR_SANDBOX', `module checker failed: ${e.message}`, { cause: e })); };
        const onExit = (code: number | null, signal: string | null) => { done(); reject(new SandboxError('ERR_SANDBOX', `module checker exited (code ${code ?? signal})`)); };
        child.on('message', onMessage);
        child.on('error', onError);
        child.on('exit', onExit);
        const timer = setTimeout(() => { done(); reject(new SandboxError('ERR_TIMEOUT', `logic module: checking it took longer than ${this.#o.timeoutMs} ms; the checker was terminated`)); }, this.#o.timeoutMs);
        child.send({ id, bytes, limits }, (e) => { if (e) onError(e); });
      });
    } catch (e) {
      // Any failure retires the process: a refusal may have left Binaryen's heap grown or corrupt.
      if (this.#child === pending) await this.close();
      throw e;
    } finally {
      hold(child, false);
      if (this.#child === pending) {
        if (++this.#checks >= this.#o.maxChecks) await this.close();
        else this.#idle = setTimeout(() => void this.close(), this.#o.idleMs).unref();
      }
    }
  }
}

/** While it checks, the process (and its channel) keeps the event loop alive; idle, it does not. */
function hold(child: ChildProcess, on: boolean): void {
  const channel = child.channel as { ref?: () => void; unref?: () => void } | null | undefined;
  if (on) {
    child.ref();
    channel?.ref?.();
  } else {
    child.unref();
    channel?.unref?.();
  }
}
