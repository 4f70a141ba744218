/**
 * Worker-thread side of ModuleChecker: validates and meters modules with Binaryen, one message at
 * a time, and answers {report, metered} or {error: {name, code, message}}. Lives only as long as
 * ModuleChecker keeps it: its Binaryen heap dies with it.
 */
import { parentPort } from 'node:worker_threads';
import type { Limits } from './limits.ts';
import { checkAndMeter } from './validate.ts';

parentPort!.on('message', (m: { id: number; bytes: Uint8Array; limits: Limits }) => {
  try {
    const { report, metered } = checkAndMeter(m.bytes, m.limits);
    parentPort!.postMessage({ id: m.id, report, metered }, [metered.buffer as ArrayBuffer]);
  } catch (e) {
    const err = e as { name?: string; code?: string; message?: string };
    parentPort!.postMessage({ id: m.id, error: { name: err?.name ?? 'Error', code: err?.code ?? 'ERR_INVALID_MODULE', message: err?.message ?? String(e) } });
  }
});
// Ready is announced from a later macrotask, once this module's (asynchronous: Binaryen loads with
// top-level await) evaluation has completed: a terminate() that lands between the message and the
// module's completion aborts the whole process in V8 (AsyncModuleExecutionFulfilled, Node 24).
setImmediate(() => parentPort!.postMessage({ ready: true }));
