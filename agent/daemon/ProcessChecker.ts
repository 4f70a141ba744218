/**
 * The agent's module checker: validation and metering of a module entering the store, with
 * Binaryen in a short-lived child process (checkProcess.ts) rather than a worker thread. Same
 * contract as ModuleChecker (sandbox/ModuleChecker.ts: one check at a time, typed errors, the
 * process retired after any failure, after `maxChecks` checks and when idle), but when it ends, all
 * it allocated leaves the agent: a worker's Binaryen heap and compiled code left 60–100 MiB in the
 * agent's RSS after the worker ended (glibc arenas and V8's process-wide code space; issue 15,
 * bench/agent.ts "after 10 module pushes"). DESIGN.md "Footprint": Binaryen runs only in a short-lived process.
 * Costs ~100 ms more than a worker for the first check of a burst (a Node start).
 *
 * The child gets no V8 flags but a 128 MiB old-space cap (the worker's resourceLimits), no
 * stdin/stdout, and its stderr is discarded (the agent's stderr carries only `capsule:` lines).
 *
 * The checking protocol (queue, ids, timeouts, retiring) is ModuleChecker's; this file is only how the
 * checker is started and ended (its spawn strategy).
 *
 * Deliberately not here: what is valid (validate.ts) and storing the module (ModuleStore.ts).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { SandboxError } from '../errors.ts';
import { ModuleChecker, readyOnFirstMessage, type CheckerEndpoint, type CheckerOptions } from '../sandbox/ModuleChecker.ts';

const SCRIPT = new URL('./checkProcess.ts', import.meta.url);

/**
 * The spawn strategy: a child process on checkProcess.ts (IPC only, a 128 MiB old space). A spawn
 * that fails at once is a SandboxError ERR_SANDBOX.
 */
export function spawnProcess(): Promise<CheckerEndpoint> {
  let child: ChildProcess;
  try {
    child = fork(SCRIPT, [], { serialization: 'advanced', execArgv: ['--max-old-space-size=128'], stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
  } catch (e) {
    return Promise.reject(new SandboxError('ERR_SANDBOX', `module checker failed to start: ${(e as Error).message}`, { cause: e }));
  }
  return readyOnFirstMessage({
    on: (e, l) => child.on(e, l),
    off: (e, l) => child.off(e, l),
    send: (m, onError) => {
      child.send(m, (e) => {
        if (e) onError(e);
      });
    },
    hold: (on) => hold(child, on),
    close: () => end(child),
  });
}

/** The agent's module checker: ModuleChecker with the process strategy (same options, same errors). */
export class ProcessChecker extends ModuleChecker {
  /** @param options - As ModuleChecker's. */
  constructor(options: CheckerOptions = {}) {
    super(options, spawnProcess);
  }
}

/** Its channel is closed and it exits; one that does not leave by itself within a second (stuck in a parse) is killed. */
async function end(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  if (child.connected) child.disconnect();
  const kill = setTimeout(() => child.kill('SIGKILL'), 1000);
  await exited;
  clearTimeout(kill);
}

/** While it checks, the process (and its channel) keeps the event loop alive; idle, it does not. */
function hold(child: ChildProcess, on: boolean): void {
  const channel = child.channel as { ref?: () => void; unref?: () => void } | null | undefined;
  if (on) {
    child.ref();
    channel?.ref?.();
  } else {
    child.unref();
    channel?.unref?.();
  }
}
