/**
 * Worker thread of BulkPool: takes part in one pass per message (bulkRange.ts), straight through,
 * and answers `done` or the error as { name, code, message, chunk } (a structured clone drops an
 * error's class and code). Deliberately not here: anything but the message loop.
 */
import { parentPort } from 'node:worker_threads';
import { wipe } from '../crypto/secrets.ts';
import { runBlocks, type BlockFailure } from './bulkRange.ts';
import type { BulkReply, BulkTask } from './BulkPool.ts';

parentPort!.on('message', (task: BulkTask) => {
  const post = (r: BulkReply) => parentPort!.postMessage(r);
  try {
    const it = runBlocks(task, (bytes) => post({ progress: bytes }));
    while (!it.next().done);
    post({ done: true });
  } catch (e) {
    const f = e as BlockFailure;
    const err = (f.cause ?? f) as Error & { code?: string };
    post({ error: { name: err.name, code: err.code ?? 'ERR_IO', message: err.message, chunk: f.chunk ?? Number.MAX_SAFE_INTEGER } });
  } finally {
    if (task.op !== 'hash') wipe(task.key); // this thread's copy (structured clone)
  }
});
