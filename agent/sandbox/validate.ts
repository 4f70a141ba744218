/**
 * Module validation before anything runs (contracts-as/ABI.md §2): well-formed, allowed features
 * only, imports only from capsule_v1 with the right signatures, `decide` and `memory` exported,
 * memory declared with a maximum under the cap and not shared, tables bounded.
 *
 * Deliberately not here: running anything (the start function included) or fuel (meter.ts).
 */
import { SandboxError } from '../errors.ts';
import { ALLOWED_FEATURES, binaryen, quietly, readModule } from './binaryen.ts';
import type { Limits } from './limits.ts';
import { meter } from './meter.ts';

export const ABI_MODULE = 'capsule_v1';

/** Import name → [params, results] as Wasm value types. */
export const ABI_IMPORTS: Readonly<Record<string, readonly [readonly string[], readonly string[]]>> = Object.freeze({
  now_ms: [[], ['i64']],
  input_size: [['i32'], ['i32']],
  input_read: [['i32', 'i32', 'i32'], ['i32']],
  set_reason: [['i32', 'i32'], []],
  log: [['i32', 'i32'], []],
  state_get: [['i32', 'i32', 'i32', 'i32'], ['i32']],
  state_set: [['i32', 'i32', 'i32', 'i32'], []],
  state_delete: [['i32', 'i32'], []],
  verify_ed25519: [['i32', 'i32', 'i32', 'i32', 'i32', 'i32'], ['i32']],
  verify_eip191: [['i32', 'i32', 'i32', 'i32', 'i32', 'i32'], ['i32']],
  verify_drand_beacon: [['i32', 'i32', 'i64', 'i64', 'i64', 'i32', 'i32'], ['i64']],
});

export interface ModuleReport {
  bytes: number;
  imports: string[];
  memory: { initialPages: number; maxPages: number };
  functions: number;
  hasStart: boolean;
}

const TYPE_NAMES = new Map<number, string>([
  [binaryen.i32, 'i32'],
  [binaryen.i64, 'i64'],
  [binaryen.f32, 'f32'],
  [binaryen.f64, 'f64'],
  [binaryen.none, ''],
]);

/**
 * Validates `bytes` (its metering included: the meter's own checks, nesting depth, are part of
 * validity) and returns the report. Runs Binaryen in this thread: the agent calls it only through
 * checkIsolated (ModuleChecker.ts).
 * @throws SandboxError ERR_INVALID_MODULE naming what is wrong (never an untyped error)
 */
export function validateModule(bytes: Uint8Array, limits: Limits): ModuleReport {
  return checkAndMeter(bytes, limits).report;
}

/**
 * Validates and meters with one Binaryen parse: the report and the metered binary.
 * @throws SandboxError ERR_INVALID_MODULE naming what is wrong (never an untyped error)
 */
export function checkAndMeter(bytes: Uint8Array, limits: Limits): { report: ModuleReport; metered: Uint8Array } {
  try {
    const { report, module } = checkModule(bytes, limits);
    try {
      return { report, metered: meter(module) };
    } finally {
      module.dispose();
    }
  } catch (e) {
    // Binaryen can throw non-Error objects; nothing untyped leaves the sandbox.
    if (e instanceof SandboxError || e instanceof TypeError) throw e;
    throw new SandboxError(
      'ERR_INVALID_MODULE',
      `logic module: refused while preparing it (${e instanceof Error ? e.message.split('\n')[0]!.slice(0, 160) : 'the Wasm toolchain aborted'})`,
      { cause: e },
    );
  }
}

/**
 * Validates and returns the report with the Binaryen module it read (features narrowed to the
 * allowed set), so that metering can reuse it instead of parsing the binary again. The caller
 * disposes the module.
 */
export function checkModule(bytes: Uint8Array, limits: Limits): { report: ModuleReport; module: binaryen.Module } {
  const bad = (why: string, cause?: unknown) => new SandboxError('ERR_INVALID_MODULE', `logic module: ${why}`, { cause });
  if (!(bytes instanceof Uint8Array)) throw new TypeError('module: expected a Uint8Array');
  if (bytes.length > limits.maxModuleBytes) throw bad(`${bytes.length} bytes, above maxModuleBytes ${limits.maxModuleBytes}`);
  let compiled: WebAssembly.Module;
  try {
    compiled = new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>);
  } catch (cause) {
    throw bad(`not a valid WebAssembly binary (${(cause as Error).message.replace(/^WebAssembly\.Module\(\): /, '')})`, cause);
  }
  for (const imp of WebAssembly.Module.imports(compiled)) {
    if (imp.module !== ABI_MODULE) throw bad(`imports "${imp.module}"."${imp.name}"; only "${ABI_MODULE}" is offered`);
    if (imp.kind !== 'function') throw bad(`imports a ${imp.kind} ("${imp.name}"); only functions are offered`);
    if (!Object.hasOwn(ABI_IMPORTS, imp.name)) throw bad(`imports "${ABI_MODULE}"."${imp.name}", which ${ABI_MODULE} does not define`);
  }
  const exports = new Map(WebAssembly.Module.exports(compiled).map((e) => [e.name, e.kind]));
  for (const name of exports.keys()) {
    if (name.startsWith('__capsule')) throw bad(`exports "${name}"; names starting with "__capsule" are reserved for the host`);
  }
  if (exports.get('decide') !== 'function') throw bad('does not export a function "decide"');
  if (exports.get('memory') !== 'memory') throw bad('does not export its memory as "memory"');

  let m: binaryen.Module;
  try {
    m = readModule(bytes);
  } catch (cause) {
    // Binaryen aborts with a non-Error (or an Error whose message is its abort text) on input V8
    // accepted; that is a refusal of the module, never an internal error.
    throw bad(
      `the Wasm toolchain (Binaryen) cannot read it although V8 can (${cause instanceof Error ? cause.message.split('\n')[0]!.slice(0, 160) : 'parse aborted'})`,
      cause,
    );
  }
  let ok = false;
  try {
    m.setFeatures(ALLOWED_FEATURES);
    const { value: valid, printed } = quietly(() => m.validate());
    if (!valid) throw bad(`uses a WebAssembly feature outside the ABI (threads, SIMD, reference types, exceptions, …): ${firstLine(printed)}`);
    for (let i = 0; i < m.getNumFunctions(); i++) {
      const f = binaryen.getFunctionInfo(m.getFunctionByIndex(i));
      if (!f.module) continue;
      const want = ABI_IMPORTS[f.base ?? '']!;
      const got = [binaryen.expandType(f.params).map((t) => TYPE_NAMES.get(t) ?? '?'), binaryen.expandType(f.results).map((t) => TYPE_NAMES.get(t) ?? '?')];
      if (got[0]!.join() !== want[0].join() || got[1]!.join() !== want[1].join()) {
        throw bad(
          `imports "${f.base}" as (${got[0]!.join(', ')}) -> (${got[1]!.join(', ')}); ${ABI_MODULE} defines (${want[0].join(', ')}) -> (${want[1].join(', ')})`,
        );
      }
    }
    const decide = binaryen.getFunctionInfo(m.getFunction(binaryen.getExportInfo(m.getExport('decide')).value));
    if (binaryen.expandType(decide.params).length !== 0 || decide.results !== binaryen.i32) throw bad('"decide" must have type () -> i32');
    if (!m.hasMemory()) throw bad('declares no memory');
    const mem = m.getMemoryInfo();
    if (mem.module) throw bad('imports its memory; it must define it');
    if (mem.shared) throw bad('declares a shared memory (threads are not offered)');
    if (mem.max === undefined || mem.max === null) throw bad(`declares its memory without a maximum (build with --maximumMemory ${limits.maxMemoryPages})`);
    if (mem.max > limits.maxMemoryPages) throw bad(`declares a memory maximum of ${mem.max} pages, above maxMemoryPages ${limits.maxMemoryPages}`);
    for (let i = 0; i < m.getNumTables(); i++) {
      const t = binaryen.getTableInfo(m.getTableByIndex(i));
      if (t.module) throw bad('imports a table');
      if (t.max === undefined || t.max > limits.maxTableElements)
        throw bad(`declares a table of up to ${t.max ?? 'unbounded'} elements, above ${limits.maxTableElements}`);
    }
    const report = {
      bytes: bytes.length,
      imports: WebAssembly.Module.imports(compiled).map((i) => i.name),
      memory: { initialPages: mem.initial, maxPages: mem.max },
      functions: m.getNumFunctions(),
      hasStart: m.getStart() !== 0,
    };
    ok = true;
    return { report, module: m };
  } finally {
    if (!ok) m.dispose();
  }
}

function firstLine(s: string): string {
  return (
    s
      .split('\n')
      .find((l) => l.trim() !== '')
      ?.replace(/^\[wasm-validator error[^\]]*\]\s*/, '')
      .slice(0, 160) ?? 'validator refused it'
  );
}
