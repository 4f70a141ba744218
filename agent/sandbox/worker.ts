/**
 * Worker-thread side of WorkerSandbox: one MeteredSandbox per worker, evaluating requests one at a
 * time, read from and answered through the channel (workerChannel.ts); the start of each one's
 * running is recorded there (its preparing time comes back with the record).
 * Errors cross back as {name, code, message}; nothing else of the worker is reachable.
 *
 * With `alwaysMetered` (the agent: every module is metered once, when it enters the module store)
 * the worker never loads Binaryen: no warm-up, and a request whose metered bytes were sent before
 * but whose compiled module was evicted here is answered `{need: 'metered'}` so that the parent
 * sends them again. Otherwise (the default: tests, benches) Binaryen is loaded and warmed up at
 * start, and a module that comes without metered bytes is validated and metered here.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { DceError } from '../errors.ts';
import { MeteredSandbox } from './MeteredSandbox.ts';
import { type ModuleRef, resolveModule } from './moduleSlots.ts';
import { WorkerChannel } from './workerChannel.ts';

type Request = ModuleRef & {
  id: number;
  metered?: Uint8Array;
  /** The parent sent this module's metered bytes to this worker before (so it can send them again). */
  sentBefore?: boolean;
  input: Parameters<MeteredSandbox['evaluate']>[1];
};

const alwaysMetered = workerData?.alwaysMetered === true;
const channel = new WorkerChannel(workerData.channel);
const sandbox = new MeteredSandbox(workerData?.limits ?? {});
/** Module bytes kept by slot, as the parent says (moduleSlots.ts). */
const slots: Uint8Array[] = [];
if (!alwaysMetered) {
  // One tiny module through validate, meter and compile before ready: Binaryen's loading and first
  // use (lazy initialisation, baseline code) are paid at start, not charged to a client's decision.
  await sandbox.loadMeter();
  await new MeteredSandbox().prepareAsync(
    Uint8Array.of(
      0,
      0x61,
      0x73,
      0x6d,
      1,
      0,
      0,
      0,
      1,
      5,
      1,
      0x60,
      0,
      1,
      0x7f,
      3,
      2,
      1,
      0,
      5,
      4,
      1,
      1,
      1,
      1,
      7,
      19,
      2,
      6,
      ...Buffer.from('decide'),
      0,
      0,
      6,
      ...Buffer.from('memory'),
      2,
      0,
      10,
      6,
      1,
      4,
      0,
      0x41,
      1,
      0x0b,
    ),
  );
}
// Ready is announced from a later macrotask, once this module's (asynchronous: top-level await)
// evaluation has completed: a terminate() that lands between the message and the module's
// completion aborts the whole process in V8 (AsyncModuleExecutionFulfilled, Node 24). Serving
// starts in the same macrotask and never returns (it blocks this thread between requests).
setImmediate(() => {
  parentPort!.postMessage({ ready: true });
  void serve();
});

function fail(id: number, e: unknown): void {
  const err = e as DceError;
  channel.reply({ id, error: { name: err?.name, code: err?.code ?? 'ERR_SANDBOX', message: err?.message ?? String(e) } });
}

function run(m: Request, module: Uint8Array, t: number): void {
  try {
    sandbox.prepare(module, m.metered);
    const prepareMs = performance.now() - t;
    channel.running(m.id); // from now on the logic runs, under timeoutMs
    channel.reply({ id: m.id, record: sandbox.evaluate(module, m.input, m.metered), prepareMs });
  } catch (e) {
    fail(m.id, e);
  }
}

async function serve(): Promise<never> {
  for (;;) {
    const m = channel.next() as Request;
    // Preparing (compile, and validate and meter when no metered bytes came: once per module and
    // worker) is timed apart from running, so a large module is not cut off by the decision's
    // timeoutMs while it compiles.
    const t = performance.now();
    let module: Uint8Array;
    try {
      module = resolveModule(slots, m);
    } catch (e) {
      fail(m.id, e);
      continue;
    }
    if (!m.metered && !sandbox.canMeter && !sandbox.has(module)) {
      if (alwaysMetered && m.sentBefore) {
        channel.reply({ id: m.id, need: 'metered' });
        continue;
      }
      // A module nobody metered: Binaryen is loaded now (once per worker), and the request waits for it.
      try {
        await sandbox.loadMeter();
      } catch (e) {
        fail(m.id, e);
        continue;
      }
    }
    run(m, module, t);
    // Zeroing the memories just used, unless the next request is already waiting (then its
    // evaluation zeroes the one it takes).
    if (!channel.pending) sandbox.tidy();
  }
}
