/**
 * The in-process sandbox: validate → meter → compile (cached by module SHA-256 and fuel table
 * version) → instantiate with a fresh Host → `decide()` → a decision record. Synchronous, so a
 * warm evaluation costs microseconds; fuel bounds running time, the declared memory maximum bounds
 * memory, and the metered depth counter (maxCallDepth) bounds the stack, the same on every host and
 * thread (never V8's stack size). WorkerSandbox.ts wraps this in a worker with a wall-clock kill.
 *
 * Deliberately not here: where modules and inputs come from, and persistence of state.
 */
import { createHash } from 'node:crypto';
import { DceError, SandboxError } from '../errors.ts';
import { Host, stateBytes } from './Host.ts';
import { encodeInputs, type EvaluationInput } from './inputs.ts';
import { resolveLimits, type Limits } from './limits.ts';
import { DEPTH_IMPORT_NAME, FUEL_IMPORT_MODULE, FUEL_IMPORT_NAME, FUEL_TABLE_VERSION } from './meter.ts';
import { checkAndMeter, type ModuleReport } from './validate.ts';

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

interface Prepared {
  compiled: WebAssembly.Module;
  /** Absent when the module came already metered (the report was made where it was metered). */
  report?: ModuleReport;
}

const CACHE_SIZE = 64;

export class Sandbox {
  readonly limits: Limits;
  readonly #cache = new Map<string, Prepared>();

  constructor(limits: Partial<Limits> = {}) {
    this.limits = resolveLimits(limits);
  }

  /**
   * Validates, meters and compiles `module` (or returns the cached result). `metered`: the module
   * already validated and metered under these limits and FUEL_TABLE_VERSION (by checkAndMeter, e.g.
   * in the agent's module checker): then only V8 compiles it here, and Binaryen is not used.
   * @throws SandboxError ERR_INVALID_MODULE, ERR_SANDBOX
   */
  prepare(module: Uint8Array, given?: Uint8Array): Prepared & { sha256: string } {
    const sha256 = createHash('sha256').update(module).digest('hex');
    const key = `${sha256}/${FUEL_TABLE_VERSION}/${this.limits.maxMemoryPages}/${this.limits.maxModuleBytes}/${this.limits.maxTableElements}`;
    let p = this.#cache.get(key);
    if (!p) {
      const { report, metered } = given ? { report: undefined, metered: given } : checkAndMeter(module, this.limits); // one Binaryen parse for both
      let compiled: WebAssembly.Module;
      try {
        compiled = new WebAssembly.Module(metered as Uint8Array<ArrayBuffer>);
      } catch (cause) {
        throw new SandboxError('ERR_SANDBOX', `fuel metering produced a module V8 refuses: ${(cause as Error).message}`, { cause });
      }
      p = { compiled, report };
      if (this.#cache.size >= CACHE_SIZE) this.#cache.delete(this.#cache.keys().next().value!);
      this.#cache.set(key, p);
    }
    return { ...p, sha256 };
  }

  /** Evaluates `module` (`metered`: as for prepare()) and returns the decision record. */
  evaluate(module: Uint8Array, input: EvaluationInput, metered?: Uint8Array): DecisionRecord {
    const { compiled, sha256 } = this.prepare(module, metered);
    const { blobs, digest } = encodeInputs(input);
    blobs.forEach((b, i) => {
      if (b && b.length > this.limits.maxInputBytes) {
        throw new SandboxError('ERR_LIMIT', `input ${['context', 'params', 'evidence'][i]}: ${b.length} bytes, above maxInputBytes ${this.limits.maxInputBytes}`);
      }
    });
    const before = input.state ?? new Map<string, Uint8Array>();
    const host = new Host(this.limits, input.now, blobs, before);
    // The fuel counter: created here, imported by the metered module, charged by host calls too.
    const fuel = new WebAssembly.Global({ value: 'i64', mutable: true }, BigInt(this.limits.fuel));
    // The call-depth counter: each running guest function holds its frame weight of it.
    const depth = new WebAssembly.Global({ value: 'i32', mutable: true }, this.limits.maxCallDepth);
    let result: unknown;
    try {
      const meters = { [FUEL_IMPORT_NAME]: fuel, [DEPTH_IMPORT_NAME]: depth };
      const instance = new WebAssembly.Instance(compiled, { capsule_v1: host.imports(), [FUEL_IMPORT_MODULE]: meters } as WebAssembly.Imports);
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
    const used = this.limits.fuel - Number(fuel.value);
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
    const changed = [...new Set([...before.keys(), ...host.state.keys()])]
      .filter((k) => !equalBytes(before.get(k), host.state.get(k))).sort();
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
        return new SandboxError('ERR_LIMIT', `call depth: maxCallDepth is ${this.limits.maxCallDepth} frame units, the logic's calls nested deeper (recursion too deep)${why}`, { cause: e });
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
