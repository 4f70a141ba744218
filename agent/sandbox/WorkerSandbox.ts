/**
 * The isolated sandbox: evaluations run in a worker thread with V8 resource limits and wall-clock
 * timeouts that terminate the worker (the safety net behind fuel): prepareTimeoutMs for preparing a
 * module the worker has not compiled yet, then timeoutMs for running it. A killed or crashed worker is
 * replaced on the next request, so one hostile module never stops the service.
 * Requests are serialised per instance. `start()`/`stop()`/`status` follow the agent's convention.
 * With `alwaysMetered` (the agent, which meters every module once when it enters the store) the
 * worker never loads Binaryen (~100 MB of RSS): it only compiles the metered bytes it is given.
 *
 * A warm evaluation's reply is awaited by polling for up to `replySpinMs` before yielding to the
 * event loop (workerChannel.ts), but only while this instance's last round trip was that short and
 * no other evaluation is queued behind it: a module that runs longer, a worker slow to wake, or an
 * agent under load never costs the main thread a spin.
 *
 * Deliberately not here: pooling several workers (DecisionScheduler.ts runs several instances).
 */
import { Worker } from 'node:worker_threads';
import { DceError, SandboxError, type SandboxErrorCode } from '../errors.ts';
import type { EvaluationInput } from './inputs.ts';
import { resolveLimits, type Limits } from './limits.ts';
import type { DecisionRecord } from './Sandbox.ts';
import { ModuleSlots } from './moduleSlots.ts';
import { MainChannel, monotonicMs } from './workerChannel.ts';

export type SandboxStatus = 'stopped' | 'started';

/** WorkerSandboxOptions.replySpinMs's default: above a warm round trip on the 2-core VM (20-60 µs). */
const DEFAULT_REPLY_SPIN_MS = 0.1;

export interface WorkerSandboxOptions {
  /**
   * Every evaluation comes with the module's metered bytes (evaluate()'s `metered`): the worker
   * neither loads nor warms up Binaryen. An evaluation without them still works (the worker loads
   * Binaryen then, once), only slower and bigger.
   */
  alwaysMetered?: boolean;
  /**
   * How long the main thread may poll for a reply it expects soon, in ms (default 0.1; 0: never):
   * spent only while this instance's previous round trip took at most this long. Taking the reply
   * synchronously saves an event-loop wake-up (30-60 µs on the 2-core VM).
   */
  replySpinMs?: number;
}

export class WorkerSandbox {
  readonly limits: Limits;
  #worker: Promise<Worker> | undefined;
  /** Metered binaries the current worker has been sent. */
  #sent = new WeakSet<Uint8Array>();
  #status: SandboxStatus = 'stopped';
  #queue: Promise<unknown> = Promise.resolve();
  #next = 0;
  /** Each worker's channel (workerChannel.ts) and the module bytes it holds (moduleSlots.ts). */
  readonly #channels = new WeakMap<Worker, { channel: MainChannel; slots: ModuleSlots }>();
  /** The request in flight: its worker, and how to fail it (the worker failed or exited). */
  #inflight: { worker: Worker; kill: (err: SandboxError) => void } | undefined;
  /** Workers replaced after a timeout or crash (for health reporting). */
  restarts = 0;
  readonly #alwaysMetered: boolean;
  readonly #replySpinMs: number;
  /** The last evaluation's round trip (send to reply), ms; Infinity before the first. */
  #lastRoundTripMs = Number.POSITIVE_INFINITY;
  /** Evaluations queued behind the one in flight. */
  #waiting = 0;

  /**
   * @throws TypeError, RangeError for a limit that is unknown or out of range (limits.ts), and
   *   RangeError for a `replySpinMs` that is not a finite number from 0 to 1
   */
  constructor(limits: Partial<Limits> = {}, options: WorkerSandboxOptions = {}) {
    this.limits = resolveLimits(limits);
    this.#alwaysMetered = options.alwaysMetered === true;
    const spin = options.replySpinMs ?? DEFAULT_REPLY_SPIN_MS;
    if (typeof spin !== 'number' || !Number.isFinite(spin) || spin < 0 || spin > 1)
      throw new RangeError(`WorkerSandbox: replySpinMs must be a number of ms from 0 to 1, got ${String(spin)}`);
    this.#replySpinMs = spin;
  }

  get status(): SandboxStatus {
    return this.#status;
  }

  /** Spawns the worker and waits until it has loaded (so timeouts never count start-up). */
  async start(): Promise<void> {
    this.#status = 'started';
    await (this.#worker ??= this.#spawn());
  }

  /** Stops the worker; a request in flight and any queued behind it fail with "stopped". */
  async stop(): Promise<void> {
    this.#status = 'stopped';
    const w = this.#worker;
    this.#worker = undefined;
    await (await w?.catch(() => undefined))?.terminate();
  }

  /**
   * Evaluates `module` in the worker (after any evaluation before it).
   * @throws SandboxError: the evaluation's own errors; ERR_TIMEOUT (preparing took longer than
   *   prepareTimeoutMs, or running longer than timeoutMs: the worker is replaced); ERR_SANDBOX
   */
  evaluate(module: Uint8Array, input: EvaluationInput, metered?: Uint8Array): Promise<DecisionRecord> {
    return this.evaluateTimed(module, input, metered).then((r) => r.record);
  }

  /**
   * evaluate(), with the milliseconds the worker spent preparing the module (0 when it was cached).
   * `metered`: the module already validated and metered (Sandbox.prepare): the worker only compiles it.
   */
  evaluateTimed(module: Uint8Array, input: EvaluationInput, metered?: Uint8Array): Promise<{ record: DecisionRecord; prepareMs: number }> {
    if (this.#status !== 'started') return Promise.reject(new SandboxError('ERR_SANDBOX', 'sandbox is stopped; call start() first'));
    this.#waiting++;
    const run = this.#queue.then(() => {
      this.#waiting--;
      return this.#run(module, input, metered);
    });
    this.#queue = run.catch(() => {});
    return run;
  }

  #spawn(): Promise<Worker> {
    this.#sent = new WeakSet();
    const channel = new MainChannel();
    const w = new Worker(new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js', import.meta.url), {
      workerData: { limits: this.limits, alwaysMetered: this.#alwaysMetered, channel: channel.workerEnd },
      transferList: [channel.workerEnd.port],
      resourceLimits: { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 16, stackSizeMb: 4 },
    });
    w.unref();
    this.#channels.set(w, { channel, slots: new ModuleSlots() });
    const ready = new Promise<Worker>((resolve, reject) => {
      w.once('message', () => resolve(w));
      w.once('error', (e) => reject(new SandboxError('ERR_SANDBOX', `sandbox worker failed to start: ${e.message}`, { cause: e })));
    });
    // For the worker's whole life: a failure or exit fails the request in flight on it; a worker
    // that died idle is replaced by the next request.
    const lost = (err: SandboxError) => {
      if (this.#inflight?.worker === w) this.#inflight.kill(err);
      else if (this.#worker === ready) this.#worker = undefined;
      channel.close();
    };
    w.on('error', (e) => lost(new SandboxError('ERR_SANDBOX', `sandbox worker failed: ${e.message}`, { cause: e })));
    w.on('exit', (code) => lost(new SandboxError('ERR_SANDBOX', `sandbox worker exited (code ${code})`)));
    // A failed start is not cached: the next request spawns again.
    ready.catch(() => {
      if (this.#worker === ready) this.#worker = undefined;
    });
    return ready;
  }

  async #run(module: Uint8Array, input: EvaluationInput, metered?: Uint8Array): Promise<{ record: DecisionRecord; prepareMs: number }> {
    if (this.#status !== 'started') throw new SandboxError('ERR_SANDBOX', 'sandbox is stopped; call start() first');
    const pending = (this.#worker ??= this.#spawn());
    const worker = await pending;
    const { channel, slots } = this.#channels.get(worker)!;
    const id = ++this.#next;
    // The module's bytes, or the slot where the worker keeps them already.
    const post = (message: object) => {
      const ref = slots.pick(module);
      channel.send({ ...message, ...ref, id, input });
      slots.commit(ref);
    };
    // A metered binary (the same object from the agent's cache each time; megabytes for a large
    // module) is sent once per worker: the worker keeps the compiled module. Were it evicted
    // there, an alwaysMetered worker asks for the bytes again (`need`, below); another meters
    // the module itself (correct, only slower).
    const send = metered && !this.#sent.has(metered) ? metered : undefined;
    try {
      post({ metered: send, sentBefore: metered !== undefined && !send });
    } catch (cause) {
      // Nothing reached the worker: it stays healthy for the next request.
      throw new SandboxError('ERR_SANDBOX', `evaluation input cannot be sent to the sandbox worker: ${(cause as Error).message}`, { cause });
    }
    if (send) this.#sent.add(send);
    const sent = monotonicMs();
    return new Promise<{ record: DecisionRecord; prepareMs: number }>((resolve, reject) => {
      let settled = false;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = () => {
        settled = true;
        clearTimeout(timer);
        if (this.#inflight?.kill === kill) this.#inflight = undefined;
      };
      const kill = (err: SandboxError) => {
        if (settled) return;
        done();
        channel.close();
        if (this.#status !== 'started') {
          reject(new SandboxError('ERR_SANDBOX', 'sandbox was stopped during the evaluation'));
          return;
        }
        if (this.#worker === pending) this.#worker = undefined;
        this.restarts++;
        void worker.terminate();
        reject(err);
      };
      this.#inflight = { worker, kill };
      // The wall-clock limits: preparing, prepareTimeoutMs from sending; running, timeoutMs from
      // when the worker began running the logic. Checked when the first could end (a timer, which
      // also keeps the process alive meanwhile), and again while either may still end.
      const check = () => {
        if (settled) return;
        clearTimeout(timer);
        const since = channel.runningSince(id);
        if (since !== undefined) {
          const left = since + this.limits.timeoutMs - monotonicMs();
          if (left <= 0) return kill(new SandboxError('ERR_TIMEOUT', `logic ran longer than timeoutMs ${this.limits.timeoutMs} ms; its worker was terminated`));
          timer = setTimeout(check, Math.ceil(left));
          return;
        }
        const left = sent + this.limits.prepareTimeoutMs - monotonicMs();
        if (left <= 0)
          return kill(
            new SandboxError(
              'ERR_TIMEOUT',
              `logic module: preparing it (validate, meter, compile) took longer than prepareTimeoutMs ${this.limits.prepareTimeoutMs} ms; its worker was terminated`,
            ),
          );
        channel.watch(id); // still preparing: wake this thread when it begins running
        if (channel.runningSince(id) !== undefined) return check();
        timer = setTimeout(check, Math.ceil(left));
      };
      timer = setTimeout(check, Math.min(this.limits.timeoutMs, this.limits.prepareTimeoutMs));
      type Reply = { id: number; need?: 'metered'; prepareMs?: number; record?: DecisionRecord; error?: { name: string; code: string; message: string } };
      const onReply = (m: unknown) => {
        if (settled) return;
        const r = m as Reply | undefined;
        if (r === undefined || r.id !== id) {
          check(); // woken without a reply: the request began running (or the channel closed)
        } else if (r.need === 'metered') {
          // The worker evicted the compiled module whose metered bytes it was sent once: again.
          try {
            post({ metered });
          } catch (cause) {
            kill(new SandboxError('ERR_SANDBOX', `evaluation input cannot be sent to the sandbox worker: ${(cause as Error).message}`, { cause }));
          }
        } else {
          done();
          this.#lastRoundTripMs = monotonicMs() - sent;
          if (r.record) resolve({ record: r.record, prepareMs: r.prepareMs ?? 0 });
          else reject(revive(r.error!));
          return;
        }
        if (!settled) void channel.receive().then(onReply);
      };
      // Poll only for a reply expected within the bound, and only when no other evaluation waits
      // for this sandbox: under load the main thread has other work, and is awake anyway.
      const spin = this.#waiting === 0 && this.#lastRoundTripMs <= this.#replySpinMs ? this.#replySpinMs : 0;
      void channel.receive(spin).then(onReply);
    });
  }
}

function revive(e: { name: string; code: string; message: string }): DceError {
  if (e.name === 'SandboxError') return new SandboxError(e.code as SandboxErrorCode, e.message);
  return new SandboxError('ERR_SANDBOX', e.message);
}
