/**
 * Worker-thread side of WorkerSandbox: one Sandbox per worker, evaluating requests one at a time.
 * Errors cross back as {name, code, message}; nothing else of the worker is reachable.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { DceError } from '../errors.ts';
import { Sandbox } from './Sandbox.ts';

const sandbox = new Sandbox(workerData?.limits ?? {});
parentPort!.postMessage({ ready: true }); // modules loaded: the parent starts its timers from here

parentPort!.on('message', (m: { id: number; module: Uint8Array; input: Parameters<Sandbox['evaluate']>[1] }) => {
  try {
    parentPort!.postMessage({ id: m.id, record: sandbox.evaluate(m.module, m.input) });
  } catch (e) {
    const err = e as DceError;
    parentPort!.postMessage({ id: m.id, error: { name: err?.name, code: err?.code ?? 'ERR_SANDBOX', message: err?.message ?? String(e) } });
  }
});
