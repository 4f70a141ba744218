/**
 * The capsule_v1 imports for one evaluation (contracts-as/ABI.md §4): bounds-checked (ptr, len)
 * access to the guest memory, inputs, reason, logs, per-capsule state (a working copy applied only
 * if the evaluation ends normally) and signature verification. Every limit violation and bad
 * pointer ends the evaluation with a SandboxError naming the call, the limit and the numbers.
 *
 * Deliberately not here: module validation, metering and instantiation (Sandbox.ts).
 */
import { verifyEd25519 } from '../crypto/verifyEd25519.ts';
import { SandboxError } from '../errors.ts';
import { verifyPersonalSign } from './ethereum.ts';
import { DRAND_BAD_LENGTH, DRAND_BAD_RANGE, DRAND_PUBLIC_KEY_BYTES, DRAND_SIGNATURE_BYTES, drandRoundTime, verifyDrandBeacon } from './drand.ts';
import type { Limits } from './limits.ts';

const decoder = new TextDecoder();

/**
 * Fuel charged by host calls (contracts-as/ABI.md §6), on top of the guest's own instructions: a
 * base per call, a per-byte cost for data crossing the boundary, and the price of signature checks
 * (calibrated on this machine's noble timings so that fuel tracks CPU time: ~1 unit ≈ 1 ns).
 */
export const HOST_FUEL = Object.freeze({ call: 20, perByte: 1, ed25519: 120_000, eip191: 1_600_000, drand: 25_000_000 });

export class Host {
  readonly #limits: Limits;
  readonly #now: bigint;
  readonly #inputs: (Uint8Array | undefined)[];
  #memory: WebAssembly.Memory | undefined;
  #charge: ((units: number) => void) | undefined;
  readonly state: Map<string, Uint8Array>;
  reason = '';
  readonly logs: string[] = [];
  #logBytes = 0;

  constructor(limits: Limits, now: number, inputs: (Uint8Array | undefined)[], state: Map<string, Uint8Array>) {
    this.#limits = limits;
    this.#now = BigInt(now);
    this.#inputs = inputs;
    this.state = new Map(state);
  }

  /** Called once the instance exists: its memory, and how to charge fuel to it. */
  attach(memory: WebAssembly.Memory, charge: (units: number) => void): void {
    this.#memory = memory;
    this.#charge = charge;
  }

  /** The import object: `capsule_v1` functions. */
  imports(): Record<string, (...args: number[]) => number | bigint | void> {
    return {
      now_ms: () => this.#now,
      input_size: (which) => this.#input(which)?.length ?? -1,
      input_read: (which, ptr, len) => {
        const blob = this.#input(which);
        if (!blob) return -1;
        return this.#copyOut('input_read', blob, ptr, len);
      },
      set_reason: (ptr, len) => {
        if (len >>> 0 > this.#limits.maxReasonBytes) this.#limit('set_reason', 'maxReasonBytes', this.#limits.maxReasonBytes, len >>> 0);
        this.reason = decoder.decode(this.#view('set_reason', ptr, len));
      },
      log: (ptr, len) => {
        const bytes = this.#view('log', ptr, len);
        if (this.logs.length + 1 > this.#limits.maxLogLines) this.#limit('log', 'maxLogLines', this.#limits.maxLogLines, this.logs.length + 1);
        if (this.#logBytes + bytes.length > this.#limits.maxLogBytes)
          this.#limit('log', 'maxLogBytes', this.#limits.maxLogBytes, this.#logBytes + bytes.length);
        this.#logBytes += bytes.length;
        this.logs.push(decoder.decode(bytes));
      },
      state_get: (kp, kl, ptr, len) => {
        const value = this.state.get(this.#key('state_get', kp, kl));
        return value ? this.#copyOut('state_get', value, ptr, len) : -1;
      },
      state_set: (kp, kl, ptr, len) => {
        const key = this.#key('state_set', kp, kl);
        const value = this.#view('state_set', ptr, len);
        if (value.length > this.#limits.maxStateValueBytes) this.#limit('state_set', 'maxStateValueBytes', this.#limits.maxStateValueBytes, value.length);
        this.state.set(key, Uint8Array.from(value)); // totals are checked when the logic returns
      },
      state_delete: (kp, kl) => {
        this.state.delete(this.#key('state_delete', kp, kl));
      },
      verify_ed25519: (mp, ml, sp, sl, kp, kl) => {
        const msg = this.#view('verify_ed25519', mp, ml);
        const sig = this.#view('verify_ed25519', sp, sl);
        const key = this.#view('verify_ed25519', kp, kl);
        if (sig.length !== 64 || key.length !== 32) return -2;
        this.#charge!(HOST_FUEL.ed25519);
        return verifyEd25519(msg, sig, key) ? 1 : 0;
      },
      verify_eip191: (mp, ml, sp, sl, ap, al) => {
        const msg = this.#view('verify_eip191', mp, ml);
        const sig = this.#view('verify_eip191', sp, sl);
        const addr = this.#view('verify_eip191', ap, al);
        if (sig.length !== 65 || addr.length !== 20) return -2;
        this.#charge!(HOST_FUEL.eip191);
        return verifyPersonalSign(msg, sig, addr) ? 1 : 0;
      },
      // i64 parameters arrive as bigint (JS BigInt integration); ABI.md §4.3.
      verify_drand_beacon: ((kp: number, kl: number, genesis: bigint, period: bigint, round: bigint, sp: number, sl: number): bigint => {
        const key = this.#view('verify_drand_beacon', kp, kl);
        const sig = this.#view('verify_drand_beacon', sp, sl);
        if (key.length !== DRAND_PUBLIC_KEY_BYTES || sig.length !== DRAND_SIGNATURE_BYTES) return DRAND_BAD_LENGTH;
        if (drandRoundTime(round, genesis, period) === undefined) return DRAND_BAD_RANGE;
        this.#charge!(HOST_FUEL.drand);
        return verifyDrandBeacon(key, genesis, period, round, sig);
      }) as unknown as (...args: number[]) => bigint,
    };
  }

  #input(which: number): Uint8Array | undefined {
    return which >= 0 && which < this.#inputs.length ? this.#inputs[which] : undefined;
  }

  /** A view of guest memory; ends the evaluation if (ptr, len) is outside it. */
  #view(call: string, ptr: number, len: number): Uint8Array {
    if (!this.#memory) throw new SandboxError('ERR_TRAP', `host call ${call}: not available in the start function`);
    const p = ptr >>> 0;
    const l = len >>> 0;
    const size = this.#memory.buffer.byteLength;
    if (p + l > size) {
      throw new SandboxError('ERR_GUEST_MEMORY', `host call ${call}: (ptr ${p}, len ${l}) is outside guest memory of ${size} bytes`);
    }
    this.#charge!(HOST_FUEL.call + HOST_FUEL.perByte * l);
    return new Uint8Array(this.#memory.buffer, p, l);
  }

  #copyOut(call: string, data: Uint8Array, ptr: number, len: number): number {
    const n = Math.min(len >>> 0, data.length);
    this.#view(call, ptr, n).set(data.subarray(0, n));
    return data.length;
  }

  #key(call: string, ptr: number, len: number): string {
    if (len >>> 0 > this.#limits.maxStateKeyBytes) this.#limit(call, 'maxStateKeyBytes', this.#limits.maxStateKeyBytes, len >>> 0);
    return Buffer.from(this.#view(call, ptr, len)).toString('hex');
  }

  #limit(call: string, name: string, limit: number, got: number): never {
    throw new SandboxError('ERR_LIMIT', `host call ${call}: ${name} is ${limit}, the logic needed ${got}`);
  }
}

export function stateBytes(state: Map<string, Uint8Array>): number {
  let n = 0;
  for (const [k, v] of state) n += k.length / 2 + v.length;
  return n;
}
