/**
 * `capsule logic explain`'s output: the human text (one block per requester: when it opens, the
 * dead man's "owner silent since … opens at …", the missing approvals, the deny reasons met, and a
 * closing note that the answer rests on sampling) and the same as JSON data. Times are RFC 3339
 * with a relative form ("in 3 years 26 days"); the logic's own words (reasons) are shown with
 * control characters escaped, so a policy cannot rewrite the terminal.
 *
 * Deliberately not here: finding the answers (explain.ts).
 */
import type { ApprovalAnswer, Explanation, RequesterAnswer } from './explain.ts';
import type { TimeAnswer } from './explainTimes.ts';

const DAY = 86_400_000;
const SAMPLING =
  'the logic is arbitrary code: these times were found by evaluating it at {N} points (the times and durations in ' +
  'its params and state ±1 ms, the times its own reasons named, a doubling ladder from the start, then a binary search for the ' +
  'exact millisecond), not proved; a verdict that changes between two of these points and back would be missed';
const APPROVALS =
  'who approved is read from the params (maps with "threshold" and "approvers") and the approval files given, ' +
  'signatures checked here; "with them" is the same search with the missing approvals simulated by stand-in approver keys put ' +
  'in the params in place of the listed ones (nobody can sign for the real approvers)';

/** RFC 3339 UTC, without milliseconds when they are zero. */
export function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.000Z$/, 'Z');
}

/**
 * How far `to` is from `from`, in calendar years and days (or smaller units below a day), the two
 * largest that are not zero: "in 3 years 26 days", "in 1 hour 30 minutes", "2 days ago", "now".
 */
export function relative(from: number, to: number): string {
  if (to === from) return 'now';
  const [a, b] = to > from ? [from, to] : [to, from];
  let years = 0;
  while (addYears(a, years + 1) <= b) years++;
  let rest = b - addYears(a, years);
  const units: [string, number][] = [['year', years]];
  for (const [name, size] of [
    ['day', DAY],
    ['hour', 3_600_000],
    ['minute', 60_000],
    ['second', 1000],
    ['ms', 1],
  ] as const) {
    units.push([name, Math.floor(rest / size)]);
    rest %= size;
  }
  const shown = units
    .filter(([, n]) => n > 0)
    .slice(0, 2)
    .map(([u, n]) => (u === 'ms' ? `${n} ms` : `${n} ${u}${n === 1 ? '' : 's'}`))
    .join(' ');
  return to > from ? `in ${shown}` : `${shown} ago`;
}

function addYears(ms: number, years: number): number {
  const d = new Date(ms);
  d.setUTCFullYear(d.getUTCFullYear() + years);
  return d.getTime();
}

/** The logic's words, control characters escaped. */
export function printable(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A key as listed, shortened: "8a88e3dd…", "0x5aAeb6…". */
function shortKey(shown: string): string {
  return shown.length > 10 ? `${shown.slice(0, 8)}…` : shown;
}

function when(e: Explanation, at: number): string {
  return `${iso(at)} (${relative(e.from, at)})`;
}

function opening(e: Explanation, t: TimeAnswer, now: boolean): string {
  if (t.opensAt === undefined) return `never within the horizon (until ${iso(e.end)})`;
  const open = now ? `open now (at ${iso(e.from)})` : `opens at ${when(e, t.opensAt)}`;
  return open + (t.closesAt !== undefined ? `; closes again at ${when(e, t.closesAt)}` : '');
}

function approvalLine(a: ApprovalAnswer): string {
  const could = a.approvers.filter((x) => !x.given).map((x) => shortKey(x.shown));
  const given = a.approvers.filter((x) => x.given).map((x) => shortKey(x.shown));
  const head = `needs ${a.threshold} approval${a.threshold === 1 ? '' : 's'} of ${a.approvers.length} (${a.path})`;
  const status = a.missing > 0 ? `missing — ${a.missing} of {${could.join(', ')}}` : 'none missing';
  const logic = a.logicCount !== undefined && a.logicCount !== a.given ? `; the logic counted ${a.logicCount}` : '';
  return `${head}: ${status}${given.length ? `; given by ${given.join(', ')}` : ''}${logic}`;
}

function block(e: Explanation, r: RequesterAnswer): string[] {
  const source =
    r.source === 'anyone'
      ? 'anyone: no requester is named'
      : r.source === 'approval'
        ? 'named by an approval given'
        : r.source === '--requester'
          ? 'given with --requester'
          : `named in ${r.source}`;
  const lines = [`${r.requester} (${source}):`];
  const openNow = r.now.verdict === 'allow';
  lines.push(`  ${opening(e, r, openNow)}${r.allowReason ? ` — the logic: "${printable(r.allowReason)}"` : ''}`);
  for (const d of r.deadMen) {
    if (!d.beneficiary) continue;
    const opens =
      r.opensAt === undefined
        ? `does not open within the horizon (the params say ${iso(d.byParams)})`
        : r.now.verdict === 'allow'
          ? `open now (since ${iso(d.byParams)} by its silenceMs)`
          : `opens at ${iso(r.opensAt)}`;
    lines.push(`  owner silent since ${iso(d.silentSince)} (${d.since}, ${relative(e.from, d.silentSince)}) — ${opens} for ${r.requester}`);
  }
  for (const a of r.approvals) lines.push(`  ${approvalLine(a)}`);
  if (r.ifApproved) lines.push(`  with the missing approvals: ${opening(e, r.ifApproved, r.ifApproved.opensAt === e.from)} (simulated)`);
  const denials = r.denials.filter((d) => r.opensAt === undefined || d.first < r.opensAt || (r.closesAt !== undefined && d.first >= r.closesAt));
  for (const d of denials) lines.push(`  ${d.verdict === 'error' ? 'error' : 'denied'} ${span(e, d.first, d.last)}: "${printable(d.reason)}"`);
  return lines;
}

function span(e: Explanation, first: number, last: number): string {
  return first === last ? `at ${iso(first)}` : `${iso(first)} … ${iso(last)}`;
}

/** The human report: a summary line, one block per requester, the notes. */
export function formatExplanation(e: Explanation): string {
  const out = [`capsule ${e.capsule.id} (logic ${e.capsule.logic.slice(0, 16)}…), created ${iso(e.capsule.created)}; from ${iso(e.from)} to ${iso(e.end)}`];
  for (const r of e.requesters) out.push(...block(e, r));
  out.push(`note: ${SAMPLING.replace('{N}', String(e.probes))}.`);
  if (e.requesters.some((r) => r.approvals.length)) out.push(`note: ${APPROVALS}.`);
  return out.join('\n') + '\n';
}

function timeJson(e: Explanation, t: TimeAnswer): Record<string, unknown> {
  return {
    opensAt: t.opensAt === undefined ? null : iso(t.opensAt),
    opensAtMs: t.opensAt ?? null,
    opensIn: t.opensAt === undefined ? null : relative(e.from, t.opensAt),
    closesAt: t.closesAt === undefined ? null : iso(t.closesAt),
    allowReason: t.allowReason ?? null,
    atBoundary: t.atBoundary,
    denials: t.denials.map((d) => ({ reason: d.reason, verdict: d.verdict, first: iso(d.first), last: iso(d.last) })),
    probes: t.probes,
  };
}

/** The same as data (see logicExplain.ts --help for the shape). */
export function explanationJson(e: Explanation): Record<string, unknown> {
  return {
    capsule: { id: e.capsule.id, created: iso(e.capsule.created), logic: e.capsule.logic },
    from: iso(e.from),
    until: iso(e.end),
    horizonMs: e.horizonMs,
    sampled: true,
    probes: e.probes,
    method: SAMPLING.replace('{N}', String(e.probes)),
    requesters: e.requesters.map((r) => ({
      requester: r.requester,
      source: r.source,
      openNow: r.now.verdict === 'allow',
      ...timeJson(e, r),
      deadMan: r.deadMen.map((d) => ({
        path: d.path,
        silentSince: iso(d.silentSince),
        since: d.since,
        silenceMs: d.silenceMs,
        byParams: iso(d.byParams),
        beneficiary: d.beneficiary,
      })),
      approvals: r.approvals.map((a) => ({
        path: a.path,
        threshold: a.threshold,
        given: a.given,
        missing: a.missing,
        logicCount: a.logicCount ?? null,
        approvers: a.approvers.map((x) => ({ scheme: x.scheme, key: x.key, given: x.given })),
      })),
      ifApproved: r.ifApproved ? { ...timeJson(e, r.ifApproved), simulated: 'stand-in approver keys in place of the listed ones' } : null,
    })),
  };
}
