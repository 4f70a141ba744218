/**
 * The fuzz campaign's case loop (issue 18 Build 6): draws inputs from a fast-check arbitrary in
 * seeded batches, runs one case at a time under a time bound, and tallies the outcome —
 * ok, a typed DceError (by code), an untyped error, a hang, or output for a modified input.
 *
 * Batches of `fc.sample` rather than `fc.assert`: the campaign reports how many of each outcome a
 * run saw, so it must not stop (and shrink) at the first failure; a failing input is kept (as
 * text) with the seed and case index that reproduce it. Deliberately not here: the targets.
 */
import fc from 'fast-check';
import { DceError } from '../agent/errors.ts';

/** Options every target's `run` takes. */
export interface FuzzOptions {
  /** Cases to run (the run may stop earlier at `deadlineMs`). */
  cases: number;
  /** fast-check seed: the same seed draws the same inputs. */
  seed: number;
  /** Wall-clock bound for the whole target (ms); default: none. */
  deadlineMs?: number;
  /** Bound per case (ms); a case over it is a hang. Default 5000. */
  hangMs?: number;
  /** Cases in flight at once (async targets, e.g. HTTP); default 1. */
  concurrency?: number;
}

/** A target's tally. `untyped`, `crashes`, `hangs` and `wrongOutput` must all be 0. */
export interface FuzzResult {
  target: string;
  cases: number;
  ok: number;
  typed: number;
  untyped: number;
  crashes: number;
  hangs: number;
  /** Output for a modified input (plaintext from a mutated capsule, a mutated announcement accepted). */
  wrongOutput: number;
  /** Typed errors by code. */
  codes: Record<string, number>;
  /** Up to 5 failing cases, each with what reproduces it. */
  failures: string[];
  seed: number;
  ms: number;
}

/** A case's verdict when it did not throw: `ok`, or a string naming the wrong output. */
export type Verdict = 'ok' | { wrong: string };

export class Hang extends Error {
  override readonly name = 'Hang';
}

export function emptyResult(target: string, seed: number): FuzzResult {
  return { target, cases: 0, ok: 0, typed: 0, untyped: 0, crashes: 0, hangs: 0, wrongOutput: 0, codes: {}, failures: [], seed, ms: 0 };
}

/** Adds the outcome of one case (a verdict or what it threw) to `r`. */
export function tally(r: FuzzResult, outcome: Verdict | { threw: unknown }, describe: () => string): void {
  r.cases++;
  const note = (what: string) => {
    if (r.failures.length < 5) r.failures.push(`${what} — seed ${r.seed} case ${r.cases - 1}: ${describe().slice(0, 400)}`);
  };
  if (typeof outcome === 'object' && 'threw' in outcome) {
    const e = outcome.threw;
    if (e instanceof Hang) {
      r.hangs++;
      note(`hang: ${e.message}`);
      return;
    }
    if ((e as { crash?: unknown })?.crash === true) {
      r.crashes++;
      note(`crash: ${(e as Error).message}`);
      return;
    }
    if ((e as { wrong?: unknown })?.wrong === true) {
      r.wrongOutput++;
      note(`wrong output: ${(e as Error).message}`);
      return;
    }
    if (e instanceof DceError) {
      r.typed++;
      r.codes[e.code] = (r.codes[e.code] ?? 0) + 1;
      return;
    }
    r.untyped++;
    note(`untyped ${(e as Error)?.name ?? typeof e}: ${(e as Error)?.message ?? String(e)}`);
    return;
  }
  if (outcome === 'ok') {
    r.ok++;
    return;
  }
  r.wrongOutput++;
  if (!('wrong' in outcome)) return;
  note(`wrong output: ${outcome.wrong}`);
}

/** Rejects with Hang after `ms`. */
export function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Hang(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/**
 * Runs `evaluate` on `opts.cases` values of `arb` (fewer if the deadline comes first). Sync
 * evaluations cannot be interrupted: one that took longer than hangMs still counts as a hang.
 */
export async function drive<T>(
  target: string,
  arb: fc.Arbitrary<T>,
  evaluate: (v: T) => Verdict | Promise<Verdict>,
  opts: FuzzOptions,
  show: (v: T) => string,
): Promise<FuzzResult> {
  const r = emptyResult(target, opts.seed);
  const hangMs = opts.hangMs ?? 5000;
  const start = Date.now();
  const batch = 500;
  for (let b = 0; r.cases < opts.cases; b++) {
    if (opts.deadlineMs !== undefined && Date.now() - start > opts.deadlineMs) break;
    const values = fc.sample(arb, { numRuns: Math.min(batch, opts.cases - r.cases), seed: opts.seed + b });
    const one = async (v: T) => {
      const t0 = performance.now();
      let outcome: Verdict | { threw: unknown };
      try {
        const res = evaluate(v);
        outcome = res instanceof Promise ? await bounded(res, hangMs, target) : res;
      } catch (e) {
        outcome = { threw: e };
      }
      const took = performance.now() - t0;
      if (took > hangMs && !(typeof outcome === 'object' && 'threw' in outcome && outcome.threw instanceof Hang))
        outcome = { threw: new Hang(`${target}: a case took ${Math.round(took)} ms`) };
      tally(r, outcome, () => show(v));
    };
    const k = Math.max(1, opts.concurrency ?? 1);
    for (let i = 0; i < values.length; i += k) await Promise.all(values.slice(i, i + k).map(one));
  }
  r.ms = Date.now() - start;
  return r;
}

/** Byte-level mutations of a valid input: each is applied in order to a copy. */
export type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'set'; at: number; value: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; count: number }
  | { kind: 'append'; bytes: Uint8Array };

/** Mutations; positions are fractions of the length (so one arbitrary fits inputs of any size). */
export function mutationArb(): fc.Arbitrary<Mutation> {
  const at = fc.nat({ max: 1_000_000 });
  return fc.oneof(
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('flip' as const), at, bit: fc.nat({ max: 7 }) }) },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('set' as const),
        at,
        value: fc.oneof(fc.constantFrom(0, 0xff, 0x80, 0x7f, 0x1f, 0xa0, 0xbf, 0xf6, 0xf7, 0x5b, 0x7b), fc.nat({ max: 255 })),
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate' as const), at }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('insert' as const), at, bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), at, count: fc.integer({ min: 1, max: 32 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('append' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }) }) },
  );
}

/** Applies `muts` to a copy of `base`; positions wrap modulo the current length. */
export function mutate(base: Uint8Array, muts: Mutation[]): Uint8Array {
  let b: Uint8Array = Uint8Array.from(base);
  for (const m of muts) {
    const pos = b.length === 0 ? 0 : m.kind === 'append' ? b.length : m.at % b.length;
    switch (m.kind) {
      case 'flip':
        if (b.length) b[pos]! ^= 1 << m.bit;
        break;
      case 'set':
        if (b.length) b[pos] = m.value;
        break;
      case 'truncate':
        b = b.slice(0, pos);
        break;
      case 'insert':
        b = concat(b.subarray(0, pos), m.bytes, b.subarray(pos));
        break;
      case 'delete':
        b = concat(b.subarray(0, pos), b.subarray(pos + m.count));
        break;
      case 'append':
        b = concat(b, m.bytes);
        break;
    }
  }
  return b;
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));
}

export const hexOf = (b: Uint8Array, max = 160): string => `${b.length} bytes ${Buffer.from(b.subarray(0, max)).toString('hex')}${b.length > max ? '…' : ''}`;
