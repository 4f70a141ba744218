/**
 * The search behind `capsule logic explain`: the earliest time at which a decision function allows,
 * found by evaluating it at chosen points. A policy is arbitrary code, so this is sampling, never
 * proof; the points are chosen where standard policies change their verdict:
 *   1. every boundary the caller found (times in the params, durations added to the capsule's
 *      created time or a stored check-in), each at −1 ms, itself and +1 ms;
 *   2. an exponential ladder from the start (1 ms, 2 ms, 4 ms, … up to the horizon), so a change
 *      nobody announced is still bracketed;
 *   3. times the logic writes in its own deny reasons ("opens at 1893456000000 (…)"), added as
 *      they are met;
 * then a binary search between the last denying and the first allowing point for the exact
 * millisecond, and the same after it for where it closes again (expiry), if a later point denies.
 *
 * Deliberately not here: what is evaluated (explain.ts builds the decision function), reading the
 * params (explainParams.ts), formatting (explainFormat.ts).
 */
import { timesIn } from './explainParams.ts';

/** One evaluation: its verdict ("error" when the logic failed: never an allow) and reason. */
export interface Probe {
  at: number;
  verdict: 'allow' | 'deny' | 'error';
  reason: string;
}

/** What the search found. */
export interface TimeAnswer {
  /** The earliest allowing time found; undefined: none within the horizon. */
  opensAt?: number;
  /** The first denying time after it, if one was found (an expiry). */
  closesAt?: number;
  /** The reason the logic gave at opensAt. */
  allowReason?: string;
  /** Distinct deny (and error) reasons met, in time order of their first appearance, with when. */
  denials: { reason: string; verdict: 'deny' | 'error'; first: number; last: number }[];
  /** How many evaluations the answer rests on. */
  probes: number;
  /** Whether opensAt is exactly one of the boundaries given or announced (not only a search result). */
  atBoundary: boolean;
}

/** Stops a search that a policy keeps feeding with new times in its reasons. */
const MAX_PROBES = 4000;
/** Distinct reasons kept; more are counted only. */
const MAX_REASONS = 8;

/**
 * Searches [from, end] for the earliest time `decide` allows (see the header for how).
 * @param decide - Evaluates the policy at a time (ms); deterministic, so each time is asked once.
 * @param from - The first time considered (ms).
 * @param end - The last (ms), ≥ from.
 * @param boundaries - Times where the verdict may change.
 * @returns The answer and the number of evaluations it took.
 */
export function searchEarliest(decide: (at: number) => Probe, from: number, end: number, boundaries: number[]): TimeAnswer {
  const seen = new Map<number, Probe>();
  const exact = new Set<number>();
  const denials = new Map<string, TimeAnswer['denials'][number]>();
  const ask = (at: number): Probe => {
    let p = seen.get(at);
    if (!p) {
      p = decide(at);
      seen.set(at, p);
      if (p.verdict !== 'allow') {
        const d = denials.get(p.reason);
        if (d) {
          d.first = Math.min(d.first, at);
          d.last = Math.max(d.last, at);
        } else if (denials.size < MAX_REASONS) denials.set(p.reason, { reason: p.reason, verdict: p.verdict, first: at, last: at });
      }
    }
    return p;
  };
  const inRange = (t: number) => Number.isSafeInteger(t) && t >= from && t <= end;
  const pending = new Set<number>([from, end]);
  const announce = (t: number) => {
    if (!inRange(t)) return;
    exact.add(t);
    for (const x of [t - 1, t, t + 1]) if (inRange(x) && !seen.has(x)) pending.add(x);
  };
  for (const b of boundaries) announce(b);
  for (let step = 1; from + step < end; step *= 2) pending.add(from + step);

  // Evaluate every pending point; the reasons may announce more (each once).
  while (pending.size > 0 && seen.size < MAX_PROBES) {
    const batch = [...pending].sort((a, b) => a - b);
    pending.clear();
    for (const at of batch) {
      if (seen.size >= MAX_PROBES) break;
      const p = ask(at);
      for (const t of timesIn(p.reason)) if (t !== at && !exact.has(t)) announce(t); // not its own time: that would walk 1 ms at a time
    }
  }

  const points = [...seen.values()].sort((a, b) => a.at - b.at);
  const firstAllow = points.findIndex((p) => p.verdict === 'allow');
  const answer: TimeAnswer = { denials: [], probes: 0, atBoundary: false };
  if (firstAllow >= 0) {
    // Binary search between the last denial before it and it: the earliest allowing millisecond,
    // assuming the verdict changes once in between (sampling).
    let hi = points[firstAllow]!.at;
    if (firstAllow > 0) {
      let lo = points[firstAllow - 1]!.at;
      while (hi - lo > 1) {
        const mid: number = lo + Math.floor((hi - lo) / 2);
        if (ask(mid).verdict === 'allow') hi = mid;
        else lo = mid;
      }
    }
    answer.opensAt = hi;
    answer.allowReason = ask(hi).reason;
    answer.atBoundary = exact.has(hi);
    // Where it closes again: the first denial after the opening, narrowed down the same way.
    const after = [...seen.values()].filter((p) => p.at > hi).sort((a, b) => a.at - b.at);
    const firstDeny = after.findIndex((p) => p.verdict !== 'allow');
    if (firstDeny >= 0) {
      let closed = after[firstDeny]!.at;
      let open = firstDeny > 0 ? after[firstDeny - 1]!.at : hi;
      while (closed - open > 1) {
        const mid: number = open + Math.floor((closed - open) / 2);
        if (ask(mid).verdict === 'allow') open = mid;
        else closed = mid;
      }
      answer.closesAt = closed;
    }
  }
  answer.denials = [...denials.values()].sort((a, b) => a.first - b.first);
  answer.probes = seen.size;
  return answer;
}
