/**
 * The request/response channel between WorkerSandbox (main end) and its worker (worker end), on a
 * MessagePort of their own and a small SharedArrayBuffer. Requests: posted, then the worker is
 * woken with Atomics.notify; it sleeps in Atomics.wait (not in its event loop) and reads them
 * synchronously (receiveMessageOnPort). Replies: posted and counted in the shared buffer; the
 * port's 'message' event wakes the main thread (one wake-up: an Atomics.waitAsync on top of the port
 * doubled the cost of a reply, ~20 µs a wake-up on the 2-core VM). A caller that expects its reply
 * within microseconds (a warm evaluation) may first poll the count for a bounded time (receive's
 * `spinMs`) and take the reply synchronously, saving the event loop's wake-up (30-60 µs on the
 * 2-core VM, more than the evaluation itself). When the worker began running a request is written
 * to the shared buffer, not sent: it costs the main thread no wake-up unless it asked for one
 * (watch(): a request still preparing when its first deadline came).
 *
 * The worker end blocks its thread while idle: the worker runs nothing else, and terminate()
 * interrupts Atomics.wait. Messages are structured clones (an unsendable input throws in send(),
 * before anything reaches the worker).
 *
 * Deliberately not here: what the messages mean, deadlines and worker replacement (WorkerSandbox.ts,
 * worker.ts).
 */
import { MessageChannel, type MessagePort, receiveMessageOnPort } from 'node:worker_threads';

/** Int32 slots of the control buffer. */
const REQ = 0; // bumped by the main end after each request it posted
const RUNNING = 1; // id of the request the worker has begun running (prepared)
const WATCH = 2; // id of the request whose `running` the main end wants to be woken for
const POSTED = 3; // bumped by the worker end after each message it posted to the main end
/** Float64 slot (index in a Float64Array over the same buffer): when RUNNING's request began running. */
const RUN_START = 2;
const CONTROL_BYTES = 24;
/**
 * How long the worker polls for the next request before it sleeps, in ms: at most this much CPU
 * per request. Covers the main thread's turn-around between two back-to-back requests (~30 µs
 * measured on the idle 2-core VM, where a futex wake-up of the sleeping worker cost 30-40 µs and
 * its first evaluation on a cold core ~20 µs more); on a busy machine it makes no difference.
 */
const SPIN_MS = 0.05;

/** Milliseconds on the process-wide monotonic clock (the same in every thread, unlike performance.now()). */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** What the worker is given (through workerData, with `port` in the transfer list). */
export interface WorkerEnd {
  control: SharedArrayBuffer;
  port: MessagePort;
}

/** The main thread's end. */
export class MainChannel {
  readonly #control = new SharedArrayBuffer(CONTROL_BYTES);
  readonly #i32 = new Int32Array(this.#control);
  readonly #f64 = new Float64Array(this.#control);
  readonly #port: MessagePort;
  /** Replies not taken yet (null: a wake-up without a reply). */
  readonly #replies: unknown[] = [];
  /** Messages taken from the port, by the listener or by a spin (compared with POSTED). */
  #taken = 0;
  #waiting: ((m: unknown) => void) | undefined;
  #closed = false;
  /** Hand this to the worker (transfer `port`). */
  readonly workerEnd: WorkerEnd;

  constructor() {
    const { port1, port2 } = new MessageChannel();
    this.#port = port1;
    this.#port.on('message', (m: unknown) => {
      this.#taken++;
      const w = this.#waiting;
      this.#waiting = undefined;
      if (w) w(m);
      else this.#replies.push(m);
    });
    this.#port.unref(); // a request in flight keeps the process alive with its timer (WorkerSandbox)
    this.workerEnd = { control: this.#control, port: port2 };
  }

  /** Posts a request and wakes the worker. @throws DataCloneError (nothing was sent) */
  send(message: unknown): void {
    this.#port.postMessage(message);
    Atomics.add(this.#i32, REQ, 1);
    Atomics.notify(this.#i32, REQ);
  }

  /**
   * The worker's next reply; undefined when woken without one (the watched request began running;
   * or the channel was closed): the caller then checks runningSince() or its own state. One
   * receive() at a time.
   * @param spinMs how long this thread may poll for a message before it waits for the event loop:
   *   time it cannot spend on anything else, so only for a reply expected within about that long.
   */
  receive(spinMs = 0): Promise<unknown> {
    if (this.#replies.length > 0) return Promise.resolve(this.#replies.shift() ?? undefined);
    if (this.#closed) return Promise.resolve(undefined);
    if (spinMs > 0) {
      const until = performance.now() + spinMs;
      while (Atomics.load(this.#i32, POSTED) === this.#taken && performance.now() < until);
      // Posted before it was counted: the message is on the port now (unless the listener took it).
      const m = Atomics.load(this.#i32, POSTED) !== this.#taken ? receiveMessageOnPort(this.#port) : undefined;
      if (m) {
        this.#taken++;
        return Promise.resolve(m.message ?? undefined);
      }
    }
    return new Promise((resolve) => (this.#waiting = (m) => resolve(m ?? undefined)));
  }

  /** When request `id` began running (monotonicMs), or undefined if it is still preparing or not received. */
  runningSince(id: number): number | undefined {
    return Atomics.load(this.#i32, RUNNING) === id ? this.#f64[RUN_START] : undefined;
  }

  /** Asks to be woken (receive() resolves) when request `id` begins running. */
  watch(id: number): void {
    Atomics.store(this.#i32, WATCH, id);
  }

  /** Ends a pending receive() (with undefined) and closes the port. */
  close(): void {
    this.#closed = true;
    this.#port.close();
    const w = this.#waiting;
    this.#waiting = undefined;
    w?.(undefined);
  }
}

/** The worker's end. */
export class WorkerChannel {
  readonly #i32: Int32Array;
  readonly #f64: Float64Array;
  readonly #port: MessagePort;
  #seen: number;

  constructor(end: WorkerEnd) {
    this.#i32 = new Int32Array(end.control);
    this.#f64 = new Float64Array(end.control);
    this.#port = end.port;
    this.#seen = Atomics.load(this.#i32, REQ);
  }

  /** The next request, blocking this thread until one comes. */
  next(): unknown {
    for (;;) {
      const m = receiveMessageOnPort(this.#port);
      if (m) {
        this.#seen = Atomics.load(this.#i32, REQ);
        return m.message;
      }
      // A short spin first: back-to-back requests (a queue of decisions) then find this thread
      // running, instead of paying a futex wake-up and a cold core (tens of µs on an idle VM).
      const until = performance.now() + SPIN_MS;
      while (Atomics.load(this.#i32, REQ) === this.#seen && performance.now() < until);
      Atomics.wait(this.#i32, REQ, this.#seen);
      this.#seen = Atomics.load(this.#i32, REQ);
    }
  }

  /** Whether a request is waiting (the main end posted after the last one this end read; rarely, false just before one arrives). */
  get pending(): boolean {
    return Atomics.load(this.#i32, REQ) !== this.#seen;
  }

  /** Records that request `id` is prepared and begins running now; wakes the main end if it asked to. */
  running(id: number): void {
    this.#f64[RUN_START] = monotonicMs();
    Atomics.store(this.#i32, RUNNING, id);
    if (Atomics.load(this.#i32, WATCH) === id) this.#post(null);
  }

  /** Posts a reply (which wakes the main end). */
  reply(message: unknown): void {
    this.#post(message);
  }

  #post(message: unknown): void {
    this.#port.postMessage(message);
    Atomics.add(this.#i32, POSTED, 1);
  }
}
