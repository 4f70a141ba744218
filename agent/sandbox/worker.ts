/**
 * Worker-thread side of WorkerSandbox: one Sandbox per worker, evaluating requests one at a time;
 * each is announced `prepared` (with the time it took) before it runs.
 * Errors cross back as {name, code, message}; nothing else of the worker is reachable.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { DceError } from '../errors.ts';
import { Sandbox } from './Sandbox.ts';

const sandbox = new Sandbox(workerData?.limits ?? {});
// One tiny module through validate, meter and compile before ready: Binaryen's first use (lazy
// initialisation, baseline code) is paid at start, not charged to the first client's decision.
new Sandbox().prepare(Uint8Array.of(0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 5, 1, 0x60, 0, 1, 0x7f, 3, 2, 1, 0, 5, 4, 1, 1, 1, 1,
  7, 19, 2, 6, ...Buffer.from('decide'), 0, 0, 6, ...Buffer.from('memory'), 2, 0, 10, 6, 1, 4, 0, 0x41, 1, 0x0b));
// Ready is announced from a later macrotask, once this module's (asynchronous: Binaryen loads with
// top-level await) evaluation has completed: a terminate() that lands between the message and the
// module's completion aborts the whole process in V8 (AsyncModuleExecutionFulfilled, Node 24).
setImmediate(() => parentPort!.postMessage({ ready: true }));

parentPort!.on('message', (m: { id: number; module: Uint8Array; metered?: Uint8Array; input: Parameters<Sandbox['evaluate']>[1] }) => {
  try {
    // Preparing (validate, meter, compile: once per module and worker) is timed apart from running,
    // so a large module is not cut off by the decision's timeoutMs while it compiles.
    const t = performance.now();
    sandbox.prepare(m.module, m.metered);
    parentPort!.postMessage({ id: m.id, prepared: true, prepareMs: performance.now() - t });
    parentPort!.postMessage({ id: m.id, record: sandbox.evaluate(m.module, m.input, m.metered) });
  } catch (e) {
    const err = e as DceError;
    parentPort!.postMessage({ id: m.id, error: { name: err?.name, code: err?.code ?? 'ERR_SANDBOX', message: err?.message ?? String(e) } });
  }
});
