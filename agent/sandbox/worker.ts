/**
 * Worker-thread side of WorkerSandbox: one MeteredSandbox per worker, evaluating requests one at a
 * time; each is announced `prepared` (with the time it took) before it runs.
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

interface Request {
  id: number;
  module: Uint8Array;
  metered?: Uint8Array;
  /** The parent sent this module's metered bytes to this worker before (so it can send them again). */
  sentBefore?: boolean;
  input: Parameters<MeteredSandbox['evaluate']>[1];
}

const alwaysMetered = workerData?.alwaysMetered === true;
const sandbox = new MeteredSandbox(workerData?.limits ?? {});
if (!alwaysMetered) {
  // One tiny module through validate, meter and compile before ready: Binaryen's loading and first
  // use (lazy initialisation, baseline code) are paid at start, not charged to a client's decision.
  await sandbox.loadMeter();
  await new MeteredSandbox().prepareAsync(Uint8Array.of(0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 5, 1, 0x60, 0, 1, 0x7f, 3, 2, 1, 0, 5, 4, 1, 1, 1, 1,
    7, 19, 2, 6, ...Buffer.from('decide'), 0, 0, 6, ...Buffer.from('memory'), 2, 0, 10, 6, 1, 4, 0, 0x41, 1, 0x0b));
}
// Ready is announced from a later macrotask, once this module's (asynchronous: top-level await)
// evaluation has completed: a terminate() that lands between the message and the module's
// completion aborts the whole process in V8 (AsyncModuleExecutionFulfilled, Node 24).
setImmediate(() => parentPort!.postMessage({ ready: true }));

function fail(id: number, e: unknown): void {
  const err = e as DceError;
  parentPort!.postMessage({ id, error: { name: err?.name, code: err?.code ?? 'ERR_SANDBOX', message: err?.message ?? String(e) } });
}

function run(m: Request, t: number): void {
  try {
    sandbox.prepare(m.module, m.metered);
    parentPort!.postMessage({ id: m.id, prepared: true, prepareMs: performance.now() - t });
    parentPort!.postMessage({ id: m.id, record: sandbox.evaluate(m.module, m.input, m.metered) });
  } catch (e) {
    fail(m.id, e);
  }
}

parentPort!.on('message', (m: Request) => {
  // Preparing (compile, and validate and meter when no metered bytes came: once per module and
  // worker) is timed apart from running, so a large module is not cut off by the decision's
  // timeoutMs while it compiles.
  const t = performance.now();
  if (m.metered || sandbox.canMeter || sandbox.has(m.module)) {
    run(m, t); // synchronous: no Binaryen needed, or already loaded
  } else if (alwaysMetered && m.sentBefore) {
    parentPort!.postMessage({ id: m.id, need: 'metered' });
  } else {
    // A module nobody metered: Binaryen is loaded now (once per worker), and the request waits for it.
    sandbox.loadMeter().then(() => run(m, t), (e) => fail(m.id, e));
  }
});
