/**
 * The report of `capsule logic test` (agent/logic/SCENARIOS.md "Output"): as text, one line per case
 * (`✓ name` / `✗ name`), under a failing case a diff of what it expected (`-`) and what came (`+`)
 * for verdict, error, reason, state, changed keys and fuel, then `N passed, M failed`; as JSON for
 * tools. State keys are shown as text when they are printable UTF-8, else as 0x and hex.
 *
 * Deliberately not here: running cases (scenarios.ts); the exit code (the command's).
 */
import type { CaseResult, Mismatch, SuiteResult } from './scenarios.ts';

/** The text report; `files` > 1 adds each file's name above its cases. */
export function textReport(results: SuiteResult[]): string {
  const lines: string[] = [];
  for (const r of results) {
    if (results.length > 1) lines.push(`${r.file}`);
    for (const c of r.cases) {
      lines.push(`${c.ok ? '✓' : '✗'} ${printable(c.name)}${c.ok && c.outcome.fuel !== undefined ? `  (${c.outcome.verdict}, fuel ${c.outcome.fuel})` : ''}`);
      if (!c.ok) lines.push(...diff(c));
    }
  }
  const passed = results.reduce((n, r) => n + r.passed, 0);
  const failed = results.reduce((n, r) => n + r.failed, 0);
  lines.push(`${passed} passed, ${failed} failed`);
  return lines.join('\n') + '\n';
}

/** The diff under a failing case: mismatches as -/+ pairs, then what matched for context. */
function diff(c: CaseResult): string[] {
  const o = c.outcome;
  const out = ['    (- expected, + actual)'];
  const seenStateFrom = c.mismatches.some((m) => m.field === 'stateFrom');
  if (o.error && !seenStateFrom) out.push(`      error: ${o.error.code}: ${printable(o.error.message)}`);
  for (const m of c.mismatches)
    out.push(
      `    - ${label(m)}: ${printable(m.field === 'changed' ? keyList(m.expected) : shownValue(m, m.expected))}`,
      `    + ${label(m)}: ${printable(m.field === 'changed' ? keyList(m.actual) : shownValue(m, m.actual))}`,
    );
  const seen = new Set(c.mismatches.map((m) => m.field));
  if (!seen.has('verdict')) out.push(`      verdict: ${o.verdict}`);
  if (!seen.has('reason')) out.push(`      reason: ${printable(JSON.stringify(o.reason))}`);
  if (o.changed.length && !seen.has('changed')) out.push(`      changed: ${o.changed.map(showKey).join(', ')}`);
  if (!seen.has('fuel') && o.fuel !== undefined) out.push(`      fuel: ${o.fuel}`);
  return out;
}

function label(m: Mismatch): string {
  return m.field === 'state' ? `state[${JSON.stringify(showKey(m.key!))}]` : m.field;
}

function shownValue(m: Mismatch, v: string): string {
  if (m.field !== 'state' || v === 'absent') return v;
  return v.length === 16 ? `${v} (u64 ${BigInt(`0x${v}`)})` : v === '' ? '(empty)' : v;
}

function keyList(csv: string): string {
  return csv === '' ? '(none)' : csv.split(',').map(showKey).join(', ');
}

/** A state key (hex) as the file writes it: printable UTF-8 text, else 0x and hex. */
export function showKey(hexKey: string): string {
  const text = Buffer.from(hexKey, 'hex').toString('utf8');
  const printableText = text.length > 0 && !text.startsWith('0x') && !/[\u0000-\u001f\u007f-\u009f\ufffd]/.test(text);
  return printableText ? text : `0x${hexKey}`;
}

/** The JSON report: one object for tools (stable field names; state as key → hex value). */
export function jsonReport(results: SuiteResult[]): string {
  const passed = results.reduce((n, r) => n + r.passed, 0);
  const failed = results.reduce((n, r) => n + r.failed, 0);
  return (
    JSON.stringify(
      {
        passed,
        failed,
        files: results.map((r) => ({
          file: r.file,
          policy: r.policy,
          module: r.moduleSha256,
          fuelLimit: r.fuelLimit,
          capsule: r.capsule,
          keys: r.keys,
          passed: r.passed,
          failed: r.failed,
          cases: r.cases.map((c) => ({
            name: c.name,
            ok: c.ok,
            actual: {
              verdict: c.outcome.verdict,
              reason: c.outcome.reason,
              ...(c.outcome.error ? { error: c.outcome.error } : {}),
              ...(c.outcome.fuel !== undefined ? { fuel: c.outcome.fuel } : {}),
              state: Object.fromEntries(
                [...c.outcome.state].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [showKey(k), Buffer.from(v).toString('hex')]),
              ),
              changed: c.outcome.changed.map(showKey),
            },
            mismatches: c.mismatches.map((m) => ({ ...m, ...(m.key !== undefined ? { key: showKey(m.key) } : {}) })),
          })),
        })),
      },
      null,
      2,
    ) + '\n'
  );
}

/** The logic's words with control characters escaped, so a reason cannot move the cursor (as logic run). */
function printable(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
