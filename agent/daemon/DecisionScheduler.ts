/**
 * Fair scheduling of decisions onto a pool of sandbox workers (issue 18 Build 3, D12): each client
 * (currentClient(): the requester's address, set by HttpServer) has its own queue, and a worker that
 * comes free takes the next job round-robin over the clients that are waiting, so a client flooding
 * slow logic delays its own requests, not another client's by more than the jobs already running.
 * Each client also has a fuel budget per minute (a token bucket refilled at that rate and holding
 * ten seconds' worth, so a client cannot save up a minute and spend it in one burst): a
 * decision is charged the fuel it used or the fuel-equivalent of its time on a worker (1 ms = 10⁶
 * units, ABI.md §6: about 1 unit per ns), whichever is larger — instantiating or compiling a huge
 * module costs little fuel but much worker time — and metering a module the first time; one that
 * ran out of fuel its whole limit, one cut off by the wall clock at least the equivalent of
 * timeoutMs; a client whose budget is spent, or whose share of the queue is full, is
 * refused at once with 503 ERR_UNAVAILABLE and `Retry-After`, before it occupies a worker.
 *
 * Workers start on demand (issue 15, memory budget): start() starts the first `warm` of them; the
 * others start when a decision could run and no started worker is free, and one started that way
 * is stopped again after `idleStopMs` without work, so an idle agent holds only its warm workers
 * (each is a V8 isolate: ~17 MiB of RSS at rest, more after a burst). A worker's start is not
 * charged to the client whose decision woke it, and a waiting decision takes whichever worker is
 * free first (a running one finishing, or the one starting).
 *
 * Deliberately not here: the sandbox itself (WorkerSandbox.ts: one worker, one evaluation at a
 * time, killed on timeout) and deriving client keys from connections (HttpServer.ts).
 */
import { AgentError, SandboxError } from '../errors.ts';
import type { EvaluationInput } from '../sandbox/inputs.ts';
import type { DecisionRecord } from '../sandbox/Sandbox.ts';
import { currentClient } from './requestContext.ts';

/** What the scheduler needs of one sandbox (a WorkerSandbox, or a fake in a unit test). */
export interface PoolSandbox {
  evaluate(module: Uint8Array, input: EvaluationInput): Promise<DecisionRecord>;
  /**
   * evaluate() with the time spent preparing (compiling) the module, charged to the client too;
   * `metered`: the module already validated and metered (the worker then only compiles it).
   */
  evaluateTimed?(module: Uint8Array, input: EvaluationInput, metered?: Uint8Array): Promise<{ record: DecisionRecord; prepareMs: number }>;
  start?(): Promise<void>;
  stop?(): Promise<void>;
}

export interface SchedulerOptions {
  /** Sandboxes to run decisions on, one decision each at a time (≥ 1). */
  workers: PoolSandbox[];
  /** Decisions waiting for a worker, all clients together; beyond this: 503. */
  maxQueued: number;
  /** Fuel units a client may spend per minute (0: no budget). */
  fuelPerMinute: number;
  /** The decisions' fuel limit (charged for ERR_OUT_OF_FUEL). */
  fuelLimit: number;
  /** The sandbox's wall-clock limit (ERR_TIMEOUT is charged timeoutMs × 10⁶ units). */
  timeoutMs: number;
  /** Milliseconds clock (tests may move it). */
  now?: () => number;
  /**
   * The module's metered binary (the agent: ModuleStore.metered, from memory or the module's
   * .metered file, else validated and metered off the event loop and then kept), so that workers
   * only compile; its time is charged to the client. Undefined: workers meter.
   */
  meter?: (module: Uint8Array) => Promise<{ metered: Uint8Array }>;
  /** Workers started by start(); the others start when decisions need them (default: all). */
  warm?: number;
  /** A worker started on demand is stopped after this long without a decision (default: never). */
  idleStopMs?: number;
}

interface Job {
  module: Uint8Array;
  metered?: Uint8Array;
  input: EvaluationInput;
  client: string;
  resolve(r: DecisionRecord): void;
  reject(e: unknown): void;
}

interface Budget {
  tokens: number;
  at: number;
}

/** Endpoints whose requests run unlock logic (gated by the budget before any other work). */
const DECIDING = new Set(['/v1/release', '/v1/sign', '/v1/checkin', '/v1/wallet/sign']);

/** Fuel-equivalent of one millisecond of sandbox time (ABI.md §6: about one unit per nanosecond). */
export const FUEL_PER_MS = 1_000_000;

export class DecisionScheduler {
  readonly #o: Required<SchedulerOptions>;
  /** Started workers with no decision running (the last one is taken first). */
  readonly #idle: PoolSandbox[];
  /** Workers not started (or stopped again after idleStopMs). */
  readonly #cold: PoolSandbox[];
  /** The workers start() starts (the others only on demand). */
  readonly #warm: PoolSandbox[];
  /** Workers starting on demand now. */
  #starting = 0;
  /** When each idle worker last finished a decision (for idleStopMs). */
  readonly #idleSince = new Map<PoolSandbox, number>();
  #sweeper: ReturnType<typeof setInterval> | undefined;
  #stopped = false;
  readonly #queues = new Map<string, Job[]>();
  /** Clients with waiting jobs, in round-robin order; the head is served next. */
  readonly #ring: string[] = [];
  readonly #budgets = new Map<string, Budget>();
  /** Decisions running now, per client (a client holds at most all workers but one: see #pump). */
  readonly #running = new Map<string, number>();
  #waiting = 0;
  #started: Promise<void> | undefined;
  /** The order clients were served in (the last 1024), for tests and the bench. */
  readonly served: string[] = [];
  /** Refusals so far, by reason. */
  readonly refused = { queue: 0, budget: 0 };

  constructor(options: SchedulerOptions) {
    if (options.workers.length < 1) throw new RangeError(`DecisionScheduler: workers: expected at least 1 sandbox, got ${options.workers.length}`);
    const n = options.workers.length;
    const warm = options.warm ?? n;
    if (!Number.isSafeInteger(warm) || warm < 0) throw new RangeError(`DecisionScheduler: warm: expected an integer ≥ 0, got ${warm}`);
    this.#o = {
      now: () => performance.now(),
      meter: undefined as unknown as Required<SchedulerOptions>['meter'],
      idleStopMs: 0,
      ...options,
      warm: Math.min(warm, n),
    };
    this.#warm = options.workers.slice(0, this.#o.warm);
    this.#idle = [...this.#warm];
    this.#cold = options.workers.slice(this.#o.warm).reverse(); // popped: the next in the given order first
  }

  /** Workers started (or starting) now: the warm ones, and those started on demand and not stopped since. */
  get workersStarted(): number {
    return this.#o.workers.length - this.#cold.length;
  }

  /** Decisions waiting for a worker (all clients). */
  get waiting(): number {
    return this.#waiting;
  }

  /** Starts the warm workers (in parallel; the others start on demand); decisions wait for it. */
  start(): Promise<void> {
    this.#started ??= Promise.all(this.#warm.map((w) => w.start?.())).then(() => {});
    if (this.#o.idleStopMs > 0 && this.#warm.length < this.#o.workers.length && !this.#sweeper) {
      this.#sweeper = setInterval(() => this.#sweep(), Math.max(250, Math.min(this.#o.idleStopMs / 4, 10_000)));
      this.#sweeper.unref();
    }
    return this.#started;
  }

  /**
   * Starts one worker now if none is started or starting (no-op otherwise): for a caller that knows
   * a decision is coming (the agent, while it loads its decision services for a first request), so
   * that the worker's start overlaps that work instead of following it.
   */
  prewarm(): void {
    if (this.#stopped || !this.#started || this.workersStarted > 0 || !this.#cold.length) return;
    this.#startCold(this.#cold.pop()!);
  }

  /** Stops every worker; waiting decisions fail with 503. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    for (const q of this.#queues.values()) for (const j of q) j.reject(new AgentError('ERR_UNAVAILABLE', 'the agent is stopping', { retryAfter: 5 }));
    this.#queues.clear();
    this.#ring.length = 0;
    this.#waiting = 0;
    await Promise.all(this.#o.workers.map((w) => w.stop?.()));
  }

  /**
   * Queues a decision for the current request's client and resolves with its record.
   * @throws AgentError ERR_UNAVAILABLE (503, with retryAfter) when the queue or this client's
   *   share of it is full, or its fuel budget is spent; SandboxError from the evaluation
   */
  async evaluate(module: Uint8Array, input: EvaluationInput): Promise<DecisionRecord> {
    const client = currentClient();
    this.#admit(client);
    let metered: Uint8Array | undefined;
    if (this.#o.meter) {
      const began = this.#o.now();
      try {
        metered = (await this.#o.meter(module)).metered;
      } finally {
        // Cached after the first time (then ~0); a module that takes long to meter costs its sender.
        this.#charge(client, Math.round((this.#o.now() - began) * FUEL_PER_MS));
      }
    }
    return this.#enqueue(client, module, input, metered);
  }

  #enqueue(client: string, module: Uint8Array, input: EvaluationInput, metered: Uint8Array | undefined): Promise<DecisionRecord> {
    const share = Math.max(1, Math.ceil(this.#o.maxQueued / 4));
    const q = this.#queues.get(client) ?? [];
    const own = q.length >= share;
    if (own || this.#waiting >= this.#o.maxQueued) {
      this.refused.queue++;
      throw new AgentError(
        'ERR_UNAVAILABLE',
        `busy: ${own ? q.length : this.#waiting} decisions are waiting for the sandbox (maxQueuedDecisions ${this.#o.maxQueued})${own ? ` from this client, whose share is ${share}` : ''}`,
        {
          retryAfter: 1,
          hint: 'retry shortly',
        },
      );
    }
    return new Promise<DecisionRecord>((resolve, reject) => {
      q.push({ module, metered, input, client, resolve, reject });
      if (q.length === 1) {
        this.#queues.set(client, q);
        this.#ring.push(client);
      }
      this.#waiting++;
      this.#pump();
    });
  }

  /**
   * Routes whose requests are refused at once, before any work (parsing, the module, the audit
   * log), while their client's budget is spent: a refused flood costs the agent next to nothing.
   * @throws AgentError ERR_UNAVAILABLE (503, with retryAfter) from the wrapped handlers
   */
  gate<R extends { method: string; path: string; handle(...a: never[]): Promise<unknown> }>(routes: R[]): R[] {
    return routes.map((r) => {
      if (r.method !== 'POST' || !DECIDING.has(r.path)) return r;
      const handle = r.handle.bind(r) as (...a: unknown[]) => Promise<unknown>;
      return {
        ...r,
        handle: (...a: unknown[]) => {
          this.#admit(currentClient());
          return handle(...a);
        },
      } as unknown as R;
    });
  }

  /** Refuses a client whose budget is spent (the bucket refills continuously). */
  #admit(client: string): void {
    const per = this.#o.fuelPerMinute;
    if (per <= 0) return;
    const b = this.#budget(client);
    if (b.tokens > 0) return;
    this.refused.budget++;
    const retryAfter = Math.max(1, Math.ceil(((1 - b.tokens) / per) * 60));
    throw new AgentError(
      'ERR_UNAVAILABLE',
      `busy: this client's fuel budget (clientFuelPerMinute ${per}) is spent by its recent decisions; it refills in ${retryAfter} s`,
      {
        retryAfter,
        hint: `retry after ${retryAfter} s`,
      },
    );
  }

  #budget(client: string): Budget {
    const now = this.#o.now();
    const per = this.#o.fuelPerMinute;
    let b = this.#budgets.get(client);
    if (!b) {
      b = { tokens: per / 6, at: now };
      this.#budgets.set(client, b);
      // Full buckets carry no information: forget them, so that a spray of addresses cannot grow the map.
      if (this.#budgets.size > 4096) for (const [k, v] of this.#budgets) if (v.tokens >= per / 6 && k !== client) this.#budgets.delete(k);
    }
    b.tokens = Math.min(per / 6, b.tokens + ((now - b.at) * per) / 60_000);
    b.at = now;
    return b;
  }

  #charge(client: string, units: number): void {
    if (this.#o.fuelPerMinute <= 0) return;
    this.#budget(client).tokens -= units;
  }

  /**
   * Hands waiting jobs to idle workers, one client at a time in turn. With more than one worker, a
   * client runs on at most all workers but one, so a client arriving while a flood holds the pool
   * finds a worker free rather than waiting for a slow decision to end (measured: round-robin alone
   * left the honest client's p50 at 2.35× under the 100 000-function flood).
   */
  #pump(): void {
    const cap = Math.max(1, this.#o.workers.length - 1);
    for (let passed = 0; this.#idle.length && this.#ring.length && passed < this.#ring.length; ) {
      const client = this.#ring.shift()!;
      if ((this.#running.get(client) ?? 0) >= cap) {
        this.#ring.push(client); // its turn comes again when one of its decisions ends
        passed++;
        continue;
      }
      passed = 0;
      const q = this.#queues.get(client)!;
      const job = q.shift()!;
      this.#waiting--;
      if (q.length) this.#ring.push(client);
      else this.#queues.delete(client);
      // A job queued before its client's budget ran out is refused now rather than run.
      try {
        this.#admit(client);
      } catch (e) {
        job.reject(e);
        continue;
      }
      this.served.push(client);
      if (this.served.length > 1024) this.served.splice(0, this.served.length - 1024);
      this.#running.set(client, (this.#running.get(client) ?? 0) + 1);
      const worker = this.#idle.pop()!;
      this.#idleSince.delete(worker);
      void this.#run(worker, job);
    }
    this.#wake(cap);
  }

  /**
   * With no started worker free: starts as many cold workers as there are decisions that could run
   * now (their client under its cap) beyond those already starting. A worker that fails to start is
   * handed out all the same: its evaluation starts it again, and fails with the reason.
   */
  #wake(cap: number): void {
    if (this.#idle.length || !this.#cold.length || this.#stopped) return;
    let runnable = 0;
    for (const client of this.#ring) runnable += Math.min(this.#queues.get(client)?.length ?? 0, Math.max(0, cap - (this.#running.get(client) ?? 0)));
    for (let n = runnable - this.#starting; n > 0 && this.#cold.length; n--) this.#startCold(this.#cold.pop()!);
  }

  /** Starts `w` (taken off #cold), then hands it out. */
  #startCold(w: PoolSandbox): void {
    this.#starting++;
    void Promise.resolve()
      .then(() => (this.#stopped ? undefined : w.start?.()))
      .catch(() => {})
      .then(() => {
        this.#starting--;
        if (this.#stopped) return;
        this.#idle.push(w);
        this.#idleSince.set(w, this.#o.now());
        this.#pump();
      });
  }

  /** Stops workers started on demand that have been idle for idleStopMs (never below the warm count). */
  #sweep(): void {
    const now = this.#o.now();
    for (let i = 0; i < this.#idle.length && this.workersStarted - this.#starting > this.#warm.length; ) {
      const w = this.#idle[i]!;
      if (now - (this.#idleSince.get(w) ?? now) < this.#o.idleStopMs) {
        i++;
        continue;
      }
      this.#idle.splice(i, 1);
      this.#idleSince.delete(w);
      this.#cold.push(w);
      void Promise.resolve()
        .then(() => w.stop?.())
        .catch(() => {});
    }
  }

  async #run(worker: PoolSandbox, job: Job): Promise<void> {
    const began = this.#o.now();
    try {
      const record = worker.evaluateTimed
        ? (await worker.evaluateTimed(job.module, job.input, job.metered)).record
        : await worker.evaluate(job.module, job.input);
      // Fuel prices the logic's instructions, not instantiating a module of 100 000 functions or
      // compiling it: the worker's time (1 ms = 10⁶ units) is charged when it is the larger.
      this.#charge(job.client, Math.max(record.fuel, Math.round((this.#o.now() - began) * FUEL_PER_MS)));
      job.resolve(record);
    } catch (e) {
      const code = (e as SandboxError)?.code;
      this.#charge(
        job.client,
        code === 'ERR_TIMEOUT'
          ? Math.max(this.#o.timeoutMs, this.#o.now() - began) * FUEL_PER_MS
          : code === 'ERR_OUT_OF_FUEL'
            ? this.#o.fuelLimit
            : Math.max(0, this.#o.now() - began) * FUEL_PER_MS,
      );
      job.reject(e);
    } finally {
      const n = (this.#running.get(job.client) ?? 1) - 1;
      if (n > 0) this.#running.set(job.client, n);
      else this.#running.delete(job.client);
      this.#idle.push(worker);
      this.#idleSince.set(worker, this.#o.now());
      this.#pump();
    }
  }
}
