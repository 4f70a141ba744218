/**
 * Compiling unlock logic: runs the AssemblyScript compiler (`asc`, in-process) with the project's
 * settings, then validates the result against the capsule_v1 ABI. Settings: stub runtime (no GC:
 * a policy runs once and is discarded), -O3, memory capped at the sandbox's page limit, and
 * `abort` compiled to a trap so the module imports nothing outside capsule_v1.
 *
 * Deliberately not here: the SDK itself (contracts-as/sdk) and running modules (agent/sandbox).
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { DceError, SandboxError } from '../errors.ts';
import { ioError } from '../io/sources.ts';
import { resolveLimits, type Limits } from '../sandbox/limits.ts';
import { validateModule, type ModuleReport } from '../sandbox/validate.ts';

export class BuildError extends DceError {
  override readonly name = 'BuildError';
  readonly diagnostics: string;
  constructor(message: string, diagnostics: string) {
    super('ERR_BUILD', message, { hint: 'fix the policy source; the SDK is contracts-as/sdk, the ABI contracts-as/ABI.md' });
    this.diagnostics = diagnostics;
  }
}

export interface BuildResult {
  wasm: Uint8Array;
  report: ModuleReport;
  diagnostics: string;
}

/** asc arguments besides the entry file: the "project settings". */
export function ascFlags(limits: Limits): string[] {
  // Bulk memory is outside the ABI (static fuel cannot price memory.fill/copy): asc then emits loops.
  return ['--runtime', 'stub', '-O3', '--maximumMemory', String(limits.maxMemoryPages), '--use', 'abort=', '--disable', 'bulk-memory'];
}

export async function buildPolicy(entry: string, options: { cwd?: string; limits?: Partial<Limits> } = {}): Promise<BuildResult> {
  const limits = resolveLimits(options.limits);
  const path = resolve(options.cwd ?? process.cwd(), entry);
  try {
    await readFile(path);
  } catch (cause) {
    throw ioError(entry, 'read', cause);
  }
  const { default: asc } = await import('assemblyscript/asc');
  let wasm: Uint8Array | undefined;
  let diagnostics = '';
  const sink = { write: (c: string | Uint8Array) => { diagnostics += typeof c === 'string' ? c : Buffer.from(c).toString(); return true; } };
  const result = await asc.main([path, '--outFile', 'policy.wasm', '--noColors', ...ascFlags(limits)], {
    stdout: sink as never,
    stderr: sink as never,
    writeFile: (name: string, contents: Uint8Array | string) => {
      if (name.endsWith('.wasm')) wasm = typeof contents === 'string' ? new TextEncoder().encode(contents) : contents;
    },
  });
  if (result.error || !wasm) {
    throw new BuildError(`${entry}: compilation failed: ${firstDiagnostic(diagnostics) ?? result.error?.message ?? 'no output'}`, diagnostics);
  }
  try {
    return { wasm, report: validateModule(wasm, limits), diagnostics };
  } catch (e) {
    if (e instanceof SandboxError) throw new BuildError(`${entry}: compiled, but ${e.message}`, diagnostics);
    throw e;
  }
}

/** "TS1109: Expression expected. (at broken.ts:1:43)" from asc's first ERROR block. */
export function firstDiagnostic(text: string): string | undefined {
  const lines = text.replace(/\x1b\[[0-9;]*m/g, '').split('\n'); // asc colours its output when CI is set
  const i = lines.findIndex((l) => /^ERROR /.test(l));
  if (i < 0) return undefined;
  const what = lines[i]!.replace(/^ERROR\s+/, '').trim();
  const where = lines.slice(i + 1, i + 8).map((l) => /in (.+)\((\d+),(\d+)\)\s*$/.exec(l)).find(Boolean);
  return where ? `${what} (at ${where[1]}:${where[2]}:${where[3]})` : what;
}
