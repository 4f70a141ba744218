/**
 * Child-process side of ProcessChecker: validates and meters modules with Binaryen (validate.ts),
 * one IPC message at a time, and answers {id, report, metered} or {id, error: {name, code, message}}.
 * It exits when the agent closes the channel (ProcessChecker.close, or the agent itself ending),
 * so everything Binaryen allocated goes back to the system with the process.
 *
 * Deliberately not here: timeouts, retiring the process, and what a refusal means (ProcessChecker.ts).
 */
import { flushCompileCache } from 'node:module';
import { checkAndMeter } from '../sandbox/validate.ts';
import type { Limits } from '../sandbox/limits.ts';

process.on('message', (m: { id: number; bytes: Uint8Array; limits: Limits }) => {
  try {
    const { report, metered } = checkAndMeter(m.bytes, m.limits);
    process.send!({ id: m.id, report, metered });
  } catch (e) {
    const err = e as { name?: string; code?: string; message?: string };
    process.send!({ id: m.id, error: { name: err?.name ?? 'Error', code: err?.code ?? 'ERR_INVALID_MODULE', message: err?.message ?? String(e) } });
  }
});
// The channel closed: the agent is done with this process (or gone). Exiting normally (not by a
// signal) also writes Node's compile cache, so the next checker starts from it.
process.on('disconnect', () => process.exit(0));
// Binaryen is loaded by the import above (top-level await): only then is the process ready.
flushCompileCache?.();
process.send!({ ready: true });
