/**
 * Worker thread of BulkPool: runs one range (bulkRange.ts) per message, straight through, and
 * answers with the digests or with the error as { name, code, message } (a structured clone drops
 * an error's class and code). Deliberately not here: anything but the message loop.
 */
import { parentPort } from 'node:worker_threads';
import { wipe } from '../crypto/secrets.ts';
import { runRange } from './bulkRange.ts';
import type { BulkReply, BulkTask } from './BulkPool.ts';

parentPort!.on('message', (task: BulkTask) => {
  const post = (r: BulkReply, transfer: ArrayBuffer[] = []) => parentPort!.postMessage(r, transfer);
  try {
    const it = runRange(task, (bytes) => post({ progress: bytes }));
    let step = it.next();
    while (!step.done) step = it.next();
    const digests = step.value;
    post({ done: true, digests }, digests ? [digests.buffer as ArrayBuffer] : []);
  } catch (e) {
    const err = e as Error & { code?: string };
    post({ error: { name: err.name, code: err.code ?? 'ERR_IO', message: err.message } });
  } finally {
    if (task.op !== 'hash') wipe(task.key); // this thread's copy (structured clone)
  }
});
