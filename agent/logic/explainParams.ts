/**
 * What `capsule logic explain` reads from a capsule's logic params before it evaluates anything:
 * the times and durations they hold (where the verdict may change), the requesters they name
 * (beneficiaries, allowlist entries: any age recipient), and the shapes of the standard rules whose
 * answer needs more than a time: m-of-n approvals ({threshold, approvers}) and the dead man's switch
 * ({beneficiaries, silenceMs}). Params of any policy are walked generically (any depth, any key
 * names), so a user policy that follows the same conventions is read the same way.
 *
 * These are hints for where to look, never the answer: the answer is what the logic says when it
 * is evaluated (explainTimes.ts). Deliberately not here: evaluating, searching, formatting.
 */
import { decodeCanonical, MAX_DEPTH } from '../format/cbor.ts';

/** Where a value sits in the params, e.g. `params.all[1].mOfN.threshold`. */
export type ParamPath = string;

/** One approver of an m-of-n rule as the params list it. */
export interface ListedApprover {
  scheme: string;
  /** The key (Ed25519) or address (EIP-191), lowercase hex without 0x. */
  key: string;
  /** As the params give it (hex text keeps its case and 0x), for display. */
  shown: string;
}

/** A map shaped like the standard m-of-n rule. */
export interface ApprovalRule {
  path: ParamPath;
  threshold: number;
  approvers: ListedApprover[];
  /** The map itself, inside ParamFacts.value (explain.ts swaps its approvers for stand-ins). */
  node?: Map<unknown, unknown>;
}

/** A map shaped like the standard dead man's switch. */
export interface DeadManRule {
  path: ParamPath;
  /** The rule's state key ("lastCheckin", or "<index path>:lastCheckin" inside a combinator's lists). */
  stateKey: string;
  silenceMs: number;
  beneficiaries: string[];
}

/** Everything the params hint at. */
export interface ParamFacts {
  /** The params decoded (Maps, arrays, text, numbers, bytes); undefined when there are none. */
  value: unknown;
  /** Absolute times (ms since the epoch) with where they were found. */
  times: { at: number; path: ParamPath }[];
  /** Durations (ms): `*Ms` integers and ISO 8601 duration text. */
  durations: { ms: number; path: ParamPath }[];
  /** Age recipients named anywhere, first occurrence first. */
  requesters: { recipient: string; path: ParamPath }[];
  approvals: ApprovalRule[];
  deadMen: DeadManRule[];
}

/** Times a policy could mean: 1973-03-03 (1e11 ms) … 9999-12-31T23:59:59.999Z, as the SDK's time params. */
export const MIN_TIME = 100_000_000_000;
export const MAX_TIME = 253_402_300_799_999;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?Z$/;
/** bech32 age recipients: "age1" and 58 data characters (case-insensitive). */
const RECIPIENT = /^age1[02-9ac-hj-np-z]{58}$/i;
const ISO_DURATION = /^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;
const DAY = 86_400_000;

/**
 * Reads the facts above from a header's logic params (deterministic CBOR).
 * @param params - The header's logic.params, or undefined when the capsule has none.
 * @returns The facts; params that do not decode yield none (the logic reports them when it runs).
 */
export function readParams(params: Uint8Array | undefined): ParamFacts {
  const facts: ParamFacts = { value: undefined, times: [], durations: [], requesters: [], approvals: [], deadMen: [] };
  if (!params) return facts;
  try {
    facts.value = decodeCanonical(params, 'logic params');
  } catch {
    return facts;
  }
  walk(facts.value, 'params', [], 0, undefined, facts);
  return facts;
}

function walk(v: unknown, path: string, indices: number[], depth: number, key: string | undefined, f: ParamFacts): void {
  if (depth > MAX_DEPTH) return;
  if (v instanceof Map) {
    const m = v as Map<unknown, unknown>;
    const approval = approvalRule(m, path);
    if (approval) f.approvals.push(approval);
    const deadMan = deadManRule(m, path, indices);
    if (deadMan) f.deadMen.push(deadMan);
    for (const [k, x] of m) {
      if (typeof k === 'string') walk(x, `${path}.${k}`, indices, depth + 1, k, f);
    }
  } else if (Array.isArray(v)) {
    // A combinator prefixes state keys by the index path of list positions (contracts/README.md).
    v.forEach((x, i) => walk(x, `${path}[${i}]`, [...indices, i], depth + 1, undefined, f));
  } else if (typeof v === 'number' || typeof v === 'bigint') {
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < 0) return;
    if (key !== undefined && /Ms$/.test(key)) f.durations.push({ ms: n, path });
    else if (n >= MIN_TIME && n <= MAX_TIME) f.times.push({ at: n, path });
  } else if (typeof v === 'string') {
    if (RFC3339.test(v)) {
      const at = Date.parse(v);
      if (Number.isSafeInteger(at) && at >= 0) f.times.push({ at, path });
    } else if (RECIPIENT.test(v)) {
      if (!f.requesters.some((r) => r.recipient.toLowerCase() === v.toLowerCase())) f.requesters.push({ recipient: v, path });
    } else {
      const ms = isoDuration(v);
      if (ms !== undefined) f.durations.push({ ms, path });
    }
  }
}

/** An ISO 8601 duration in ms; years and months as their average lengths (it only places probes). */
export function isoDuration(text: string): number | undefined {
  const m = ISO_DURATION.exec(text);
  if (!m || text === 'P' || text.endsWith('T')) return undefined;
  const [y, mo, w, d, h, mi, s] = m.slice(1).map((x) => (x === undefined ? 0 : Number(x)));
  const ms = y! * 365.2425 * DAY + mo! * 30.436875 * DAY + w! * 7 * DAY + d! * DAY + h! * 3_600_000 + mi! * 60_000 + s! * 1000;
  return Number.isFinite(ms) ? Math.round(ms) : undefined;
}

function approvalRule(m: Map<unknown, unknown>, path: string): ApprovalRule | undefined {
  const threshold = m.get('threshold');
  const list = m.get('approvers');
  if ((typeof threshold !== 'number' && typeof threshold !== 'bigint') || !Array.isArray(list)) return undefined;
  const approvers: ListedApprover[] = [];
  for (const a of list) {
    if (!(a instanceof Map)) continue;
    const scheme = a.get('scheme');
    const key = a.get('key');
    const bytes = keyHex(key);
    if (typeof scheme === 'string' && bytes) approvers.push({ scheme, key: bytes, shown: typeof key === 'string' ? key : bytes });
  }
  return { path, threshold: Number(threshold), approvers, node: m };
}

function deadManRule(m: Map<unknown, unknown>, path: string, indices: number[]): DeadManRule | undefined {
  const silence = m.get('silenceMs');
  const list = m.get('beneficiaries');
  if ((typeof silence !== 'number' && typeof silence !== 'bigint') || !Array.isArray(list)) return undefined;
  const beneficiaries = list.filter((b): b is string => typeof b === 'string');
  const prefix = indices.length ? `${indices.join('.')}:` : '';
  return { path, stateKey: `${prefix}lastCheckin`, silenceMs: Number(silence), beneficiaries };
}

/** A key as lowercase hex: a byte string, or hex text (optional 0x, either case). */
function keyHex(v: unknown): string | undefined {
  if (v instanceof Uint8Array) return Buffer.from(v).toString('hex');
  if (typeof v !== 'string') return undefined;
  const t = /^0x/i.test(v) ? v.slice(2) : v;
  return /^(?:[0-9a-fA-F]{2})+$/.test(t) ? t.toLowerCase() : undefined;
}

/**
 * The time a state value holds, if it is one: 8 bytes big-endian (the SDK's i64 state values)
 * within the plausible range.
 */
export function stateTime(value: Uint8Array): number | undefined {
  if (value.length !== 8) return undefined;
  const n = Number(Buffer.from(value).readBigInt64BE(0));
  return n >= MIN_TIME && n <= MAX_TIME ? n : undefined;
}

/** Every time written in a text (a reason): 13-digit ms numbers and RFC 3339 UTC times. */
export function timesIn(text: string): number[] {
  const out: number[] = [];
  for (const m of text.matchAll(/\b\d{12,15}\b/g)) {
    const n = Number(m[0]);
    if (n >= MIN_TIME && n <= MAX_TIME) out.push(n);
  }
  for (const m of text.matchAll(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?Z/g)) {
    const n = Date.parse(m[0]);
    if (Number.isSafeInteger(n) && n >= 0) out.push(n);
  }
  return out;
}
