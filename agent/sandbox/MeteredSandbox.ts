/**
 * The sandbox's evaluator without Binaryen: compile a metered module (cached by module SHA-256 and
 * the limits), instantiate it with a fresh Host → `decide()` → a decision record. Synchronous, so a
 * warm evaluation costs microseconds; fuel bounds running time, the declared memory maximum bounds
 * memory, and the metered depth counter (maxCallDepth) bounds the stack, the same on every host and
 * thread (never V8's stack size).
 *
 * A module arrives already validated and metered (the agent meters it once, when it enters the
 * module store: ModuleStore.ts); only when it does not is the validator and meter (validate.ts,
 * Binaryen: ~100 MB of RSS once loaded) imported, lazily, by prepareAsync() — or given by a
 * subclass that has it loaded already (Sandbox.ts, the synchronous in-process sandbox of the CLI and
 * the tests). So a sandbox worker that is always given metered bytes never loads Binaryen.
 *
 * Every evaluation gets a fresh instance; what it is made from is reused where that cannot be
 * observed (issue 15, warm evaluation): the module is compiled with its memory imported
 * (importedMemory.ts) and given a zeroed, never-grown memory from a pool (MemoryPool.ts) instead of
 * a newly reserved one, and the fuel and depth counters are reset rather than recreated.
 *
 * Deliberately not here: validation and metering (validate.ts, meter.ts), the worker and its
 * wall-clock kill (WorkerSandbox.ts), where modules and inputs come from, and persistence of state.
 */
import { createHash } from 'node:crypto';
import { DceError, SandboxError } from '../errors.ts';
import { Host, stateBytes } from './Host.ts';
import { importMemory, MEMORY_IMPORT_NAME, type MemoryShape } from './importedMemory.ts';
import { encodeInputs, type EvaluationInput } from './inputs.ts';
import { resolveLimits, type Limits } from './limits.ts';
import { DEPTH_IMPORT_NAME, FUEL_IMPORT_MODULE, FUEL_IMPORT_NAME, FUEL_TABLE_VERSION } from './meterAbi.ts';
import { MemoryPool } from './MemoryPool.ts';
import type { ModuleReport } from './validate.ts';

/** Validates and meters a module under `limits` (validate.ts checkAndMeter). */
export type MeterFn = (module: Uint8Array, limits: Limits) => { report: ModuleReport; metered: Uint8Array };

export interface DecisionRecord {
  verdict: 'allow' | 'deny';
  reason: string;
  fuel: number;
  fuelLimit: number;
  fuelTable: number;
  logs: string[];
  /** The state after the evaluation (hex key → value), and what changed. */
  state: Map<string, Uint8Array>;
  changed: string[];
  moduleSha256: string;
  inputsSha256: string;
}

export interface Prepared {
  compiled: WebAssembly.Module;
  /** Absent when the module came already metered (the report was made where it was metered). */
  report?: ModuleReport;
  /**
   * Present when `compiled` imports its memory (importedMemory.ts): each evaluation gives it a
   * zeroed one of this shape from the pool. Absent: the module defines its memory itself.
   */
  memory?: MemoryShape;
}

/** A fuel and a depth counter; reused across evaluations (a Global's only state is its value, reset before each). */
interface Meters {
  fuel: WebAssembly.Global;
  depth: WebAssembly.Global;
}

const CACHE_SIZE = 64;
/** Modules whose hash is remembered (by content: see #sha256), and the largest one remembered. */
const RECENT_MODULES = 8;
const RECENT_MODULE_BYTES = 256 * 1024;

export class MeteredSandbox {
  readonly limits: Limits;
  readonly #cache = new Map<string, Prepared>();
  /** The validator and meter, once loaded (prepareAsync) or given (Sandbox.ts); never loaded here otherwise. */
  protected meter: MeterFn | undefined;
  readonly #memories = new MemoryPool();
  /** Counters not in use by an evaluation. */
  readonly #meters: Meters[] = [];
  readonly #fuelLimit: bigint;
  /** Copies of recently evaluated modules with their SHA-256, most recent first. */
  readonly #recent: { bytes: Uint8Array; sha256: string }[] = [];

  constructor(limits: Partial<Limits> = {}) {
    this.limits = resolveLimits(limits);
    this.#fuelLimit = BigInt(this.limits.fuel);
  }

  /** Whether `module` is compiled here already (then neither metered bytes nor the meter are needed). */
  has(module: Uint8Array): boolean {
    return this.#cache.has(this.#key(this.#sha256(module)));
  }

  /**
   * Compiles `module` (or returns the cached result). `given`: the module already validated and
   * metered under these limits and FUEL_TABLE_VERSION (by checkAndMeter, e.g. in the agent's module
   * checker): then only V8 compiles it here. Without it, the module is validated and metered with
   * the meter this sandbox has (Sandbox.ts always has it; otherwise call prepareAsync()).
   * @throws SandboxError ERR_INVALID_MODULE, ERR_SANDBOX (also: neither metered bytes nor a meter)
   */
  prepare(module: Uint8Array, given?: Uint8Array): Prepared & { sha256: string } {
    const sha256 = this.#sha256(module);
    const key = this.#key(sha256);
    let p = this.#cache.get(key);
    if (!p) {
      let report: ModuleReport | undefined;
      let metered = given;
      if (!metered) {
        if (!this.meter)
          throw new SandboxError(
            'ERR_SANDBOX',
            `logic module ${sha256}: no metered binary was given and this sandbox has not loaded the meter (use prepareAsync)`,
          );
        ({ report, metered } = this.meter(module, this.limits)); // one Binaryen parse for both
      }
      // The memory imported, so that it comes from the pool; should V8 refuse the rewritten binary,
      // the metered bytes as they are (and V8's verdict on them).
      const imported = importMemory(metered);
      let compiled: WebAssembly.Module | undefined;
      let memory: MemoryShape | undefined;
      try {
        if (imported) [compiled, memory] = [new WebAssembly.Module(imported.bytes as Uint8Array<ArrayBuffer>), imported.shape];
      } catch {
        compiled = undefined;
      }
      try {
        compiled ??= new WebAssembly.Module(metered as Uint8Array<ArrayBuffer>);
      } catch (cause) {
        throw new SandboxError('ERR_SANDBOX', `fuel metering produced a module V8 refuses: ${(cause as Error).message}`, { cause });
      }
      p = { compiled, report, memory };
      if (this.#cache.size >= CACHE_SIZE) this.#cache.delete(this.#cache.keys().next().value!);
      this.#cache.set(key, p);
    }
    return { ...p, sha256 };
  }

  /**
   * prepare(), loading the validator and meter (Binaryen) first when they are needed: the module is
   * neither compiled here yet nor given metered.
   * @throws SandboxError ERR_INVALID_MODULE, ERR_SANDBOX
   */
  async prepareAsync(module: Uint8Array, given?: Uint8Array): Promise<Prepared & { sha256: string }> {
    if (!given && !this.meter && !this.has(module)) await this.loadMeter();
    return this.prepare(module, given);
  }

  /** Imports the validator and meter (Binaryen) if this sandbox has none yet. */
  async loadMeter(): Promise<void> {
    this.meter ??= (await import('./validate.ts')).checkAndMeter;
  }

  /**
   * Zeroes the guest memories earlier evaluations used, now rather than when the next evaluation
   * needs one (the sandbox worker calls it once it has answered).
   */
  tidy(): void {
    this.#memories.tidy();
  }

  /** Whether the validator and meter are loaded here (the sandbox worker reports it). */
  get canMeter(): boolean {
    return this.meter !== undefined;
  }

  /** evaluate(), loading the meter first when the module needs it (see prepareAsync). */
  async evaluateAsync(module: Uint8Array, input: EvaluationInput, metered?: Uint8Array): Promise<DecisionRecord> {
    await this.prepareAsync(module, metered);
    return this.evaluate(module, input, metered);
  }

  /**
   * The module's SHA-256 (hex). A module equal, byte for byte, to one of the last few is not hashed
   * again: comparing costs a fraction of hashing (and a warm evaluation prepares twice in the worker).
   */
  #sha256(module: Uint8Array): string {
    for (const r of this.#recent) {
      if (r.bytes.length === module.length && Buffer.compare(r.bytes, module) === 0) return r.sha256;
    }
    const sha256 = sha256Hex(module);
    if (module.length <= RECENT_MODULE_BYTES) {
      this.#recent.unshift({ bytes: module.slice(), sha256 }); // a copy: the caller may reuse its buffer
      if (this.#recent.length > RECENT_MODULES) this.#recent.pop();
    }
    return sha256;
  }

  /** The compile cache's key: what the compiled module depends on (what metering and validation read). */
  #key(sha256: string): string {
    return `${sha256}/${FUEL_TABLE_VERSION}/${this.limits.maxMemoryPages}/${this.limits.maxModuleBytes}/${this.limits.maxTableElements}`;
  }

  /**
   * Evaluates `module` (`metered`: as for prepare()) and returns the decision record.
   * @throws SandboxError ERR_INVALID_MODULE, ERR_OUT_OF_FUEL, ERR_LIMIT, ERR_GUEST_MEMORY, ERR_TRAP,
   *   ERR_BAD_VERDICT, ERR_SANDBOX
   */
  evaluate(module: Uint8Array, input: EvaluationInput, metered?: Uint8Array): DecisionRecord {
    const { compiled, sha256, memory: shape } = this.prepare(module, metered);
    const { blobs, digest } = encodeInputs(input);
    blobs.forEach((b, i) => {
      if (b && b.length > this.limits.maxInputBytes) {
        throw new SandboxError(
          'ERR_LIMIT',
          `input ${['context', 'params', 'evidence'][i]}: ${b.length} bytes, above maxInputBytes ${this.limits.maxInputBytes}`,
        );
      }
    });
    const before = input.state ?? new Map<string, Uint8Array>();
    const host = new Host(this.limits, input.now, blobs, before);
    // The fuel counter (imported by the metered module, charged by host calls too) and the
    // call-depth counter (each running guest function holds its frame weight of it), at their limits.
    const meters = this.#meters.pop() ?? {
      fuel: new WebAssembly.Global({ value: 'i64', mutable: true }, 0n),
      depth: new WebAssembly.Global({ value: 'i32', mutable: true }, 0),
    };
    const { fuel, depth } = meters;
    fuel.value = this.#fuelLimit;
    depth.value = this.limits.maxCallDepth;
    // The guest's memory when the module imports it: zeroed, of the declared size (MemoryPool.ts).
    const memory = shape ? this.#memories.acquire(shape) : undefined;
    let result: unknown;
    let used: number;
    try {
      try {
        const imports = { [FUEL_IMPORT_NAME]: fuel, [DEPTH_IMPORT_NAME]: depth, ...(memory ? { [MEMORY_IMPORT_NAME]: memory } : {}) };
        const instance = new WebAssembly.Instance(compiled, { capsule_v1: host.imports(), [FUEL_IMPORT_MODULE]: imports } as WebAssembly.Imports);
        host.attach(instance.exports.memory as WebAssembly.Memory, (units) => {
          fuel.value = (fuel.value as bigint) - BigInt(units);
          if ((fuel.value as bigint) < 0n) {
            throw new SandboxError('ERR_OUT_OF_FUEL', `logic ran out of fuel: limit ${this.limits.fuel} units`);
          }
        });
        result = (instance.exports.decide as () => unknown)();
      } catch (e) {
        throw this.#classify(e, fuel.value as bigint, depth.value as number, host.reason);
      }
      used = this.limits.fuel - Number(fuel.value);
    } finally {
      // The instance is dropped here and nothing runs on it again: its counters and memory may serve the next one.
      if (memory) this.#memories.release(memory, shape!);
      this.#meters.push(meters);
    }
    if (result !== 0 && result !== 1) {
      throw new SandboxError('ERR_BAD_VERDICT', `decide() returned ${String(result)}; expected 1 (allow) or 0 (deny)`);
    }
    // Totals are checked once the logic has finished (ABI.md §5), so it may pass through more.
    if (host.state.size > this.limits.maxStateKeys) {
      throw new SandboxError('ERR_LIMIT', `state after the evaluation: maxStateKeys is ${this.limits.maxStateKeys}, the logic left ${host.state.size}`);
    }
    const total = stateBytes(host.state);
    if (total > this.limits.maxStateBytes) {
      throw new SandboxError('ERR_LIMIT', `state after the evaluation: maxStateBytes is ${this.limits.maxStateBytes}, the logic left ${total}`);
    }
    const changed = [...new Set([...before.keys(), ...host.state.keys()])].filter((k) => !equalBytes(before.get(k), host.state.get(k))).sort();
    return {
      verdict: result === 1 ? 'allow' : 'deny',
      reason: host.reason,
      fuel: used,
      fuelLimit: this.limits.fuel,
      fuelTable: FUEL_TABLE_VERSION,
      logs: host.logs,
      state: host.state,
      changed,
      moduleSha256: sha256,
      inputsSha256: digest,
    };
  }

  /** Maps whatever ended the run to a typed error; the reason the guest set, if any, is kept. */
  #classify(e: unknown, fuelLeft: bigint, depthLeft: number, reason: string): SandboxError {
    const why = reason ? ` (reason set by the logic: ${JSON.stringify(reason)})` : '';
    if (e instanceof SandboxError) return e;
    if (e instanceof WebAssembly.RuntimeError) {
      // The meter traps with `unreachable` once the counter is negative; the counter tells the two apart.
      if (fuelLeft < 0n) {
        return new SandboxError('ERR_OUT_OF_FUEL', `logic ran out of fuel: limit ${this.limits.fuel} units`, { cause: e });
      }
      // The same trap from the depth check: the counter went below zero on a function's entry.
      if (depthLeft < 0) {
        return new SandboxError(
          'ERR_LIMIT',
          `call depth: maxCallDepth is ${this.limits.maxCallDepth} frame units, the logic's calls nested deeper (recursion too deep)${why}`,
          { cause: e },
        );
      }
      return new SandboxError('ERR_TRAP', `logic trapped: ${e.message}${why}`, { cause: e });
    }
    // Not reached with the default maxCallDepth (the depth counter traps first); kept for a host
    // configured with a budget its stack cannot hold.
    if (e instanceof RangeError && /call stack/i.test(e.message)) {
      return new SandboxError('ERR_TRAP', `logic trapped: call stack exhausted (recursion too deep)${why}`, { cause: e });
    }
    if (e instanceof WebAssembly.LinkError) return new SandboxError('ERR_INVALID_MODULE', `logic module: ${e.message}`, { cause: e });
    if (e instanceof DceError) return new SandboxError('ERR_SANDBOX', e.message, { cause: e });
    return new SandboxError('ERR_SANDBOX', `sandbox failure: ${(e as Error)?.message ?? String(e)}`, { cause: e });
  }
}

function equalBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (!a || !b) return a === b;
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
