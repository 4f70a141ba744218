/**
 * `capsule logic explain`'s engine: "when does this capsule open, and what is missing?". For each
 * requester the params name (beneficiaries, allowlist entries; those approvals name; those the
 * caller adds; or, when nobody is named, a stand-in for anyone), the capsule's own logic is
 * evaluated across time in the real sandbox, exactly as `capsule logic run` evaluates one decision
 * (evaluate.ts: same inputs, same fuel), the module compiled once and instantiated per probe; the
 * earliest allowing time is searched as explainTimes.ts describes.
 *
 * What is missing is read beside it: for each map in the params shaped like m-of-n approvals, who
 * approved already (approval evidence given, signature checked here) and who could still approve,
 * then the same time search once more with the missing approvals simulated by stand-in approver
 * keys put in the params in place of the listed ones (the tool cannot sign for the real approvers;
 * the output says so). For a dead man's switch, since when the owner has been silent (the stored
 * check-in, or the capsule's creation).
 *
 * Deliberately not here: flags and output (cli/commands/logicExplain.ts, explainFormat.ts); any
 * claim of proof: a policy is arbitrary code and every answer here is a sampled one.
 */
import { randomBytes } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { encodeRecipient } from '../crypto/identity.ts';
import { verifyEvidence } from '../crypto/verifyEvidence.ts';
import { DceError, UsageError } from '../errors.ts';
import { encodeCanonical } from '../format/cbor.ts';
import { approvalMessage } from '../format/evidence.ts';
import type { CapsuleHeader } from '../format/header.ts';
import type { EvidenceItem } from '../sandbox/inputs.ts';
import { Sandbox } from '../sandbox/Sandbox.ts';
import { checkLogicHash, decisionInput } from './evaluate.ts';
import { readParams, stateTime, type ApprovalRule, type ParamFacts } from './explainParams.ts';
import { searchEarliest, type Probe, type TimeAnswer } from './explainTimes.ts';

/** 100 years of 365.25 days. */
export const DEFAULT_HORIZON_MS = 3_155_760_000_000;
/** The SDK's last representable time (9999-12-31T23:59:59.999Z). */
const LAST_TIME = 253_402_300_799_999;
/**
 * The requester used when the params, the approvals and the caller name none: the X25519 base
 * point (u = 9) as a recipient, a key nobody uses, fixed so that the output is reproducible.
 */
export const ANYONE = encodeRecipient(Uint8Array.from({ length: 32 }, (_, i) => (i === 0 ? 9 : 0)));
/** Sandbox failures that are the logic's (a misconfigured capsule traps): a probe's "error", never an allow. */
const LOGIC_FAILURES = new Set(['ERR_TRAP', 'ERR_OUT_OF_FUEL', 'ERR_LIMIT', 'ERR_GUEST_MEMORY', 'ERR_BAD_VERDICT']);

/** What explain() needs: the module and capsule, the logic's state and evidence, and where to look. */
export interface ExplainInput {
  /** The module: must be the one the header names. */
  module: Uint8Array;
  /** How the module is named in errors (its file name). */
  moduleName: string;
  header: CapsuleHeader;
  /** The logic's stored state (hex key → value), as the guardian holds it. */
  state?: Map<string, Uint8Array>;
  /** Evidence given with every probe: approvals, check-ins, drand beacons. */
  evidence?: EvidenceItem[];
  /** Requesters to explain besides those the params and approvals name. */
  requesters?: string[];
  /** The first time considered (ms). */
  from: number;
  /** How far to look (ms); DEFAULT_HORIZON_MS. */
  horizonMs?: number;
}

/** An m-of-n rule as it stands for one requester. */
export interface ApprovalAnswer {
  path: string;
  threshold: number;
  approvers: { scheme: string; key: string; shown: string; given: boolean }[];
  /** Distinct listed approvers whose approval for this requester was given and verifies. */
  given: number;
  /** max(0, threshold − given). */
  missing: number;
  /** The count the logic itself wrote in its reason ("approved by only 1 of 3 …"), when it did. */
  logicCount?: number;
}

/** A dead man's switch as it stands. */
export interface DeadManAnswer {
  path: string;
  /** When the owner was last heard of (ms): the stored check-in, or the capsule's creation. */
  silentSince: number;
  since: 'check-in in the state' | 'capsule created';
  silenceMs: number;
  /** silentSince + silenceMs: the params' arithmetic, beside the logic's own answer. */
  byParams: number;
  beneficiary: boolean;
}

/** The answer for one requester: when it opens (TimeAnswer), why not before, and what is missing. */
export interface RequesterAnswer extends TimeAnswer {
  requester: string;
  /** Where it came from: a params path, "--requester", "approval", or "anyone" (nobody named). */
  source: string;
  /** The verdict at `from` (open now?). */
  now: Probe;
  approvals: ApprovalAnswer[];
  deadMen: DeadManAnswer[];
  /** With the missing approvals simulated (stand-in approvers): when it would open then. */
  ifApproved?: TimeAnswer;
}

/** explain()'s result: the capsule, the window searched, one answer per requester. */
export interface Explanation {
  capsule: { id: string; created: number; logic: string };
  from: number;
  end: number;
  horizonMs: number;
  requesters: RequesterAnswer[];
  /** Evaluations in all. */
  probes: number;
}

/**
 * Explains when the capsule opens for whom, and what is missing (see the header).
 * @param x - The module, header, state, evidence, extra requesters and the time window.
 * @returns The answer per requester.
 * @throws CapsuleFormatError ERR_LOGIC_HASH_MISMATCH (the module is not the capsule's logic);
 *   UsageError ERR_USAGE (a horizon that is not a positive number of ms, a `from` outside 1970…9999); SandboxError
 *   ERR_INVALID_MODULE, ERR_SANDBOX (the module cannot be evaluated at all)
 */
export function explain(x: ExplainInput): Explanation {
  checkLogicHash(x.module, x.header, x.moduleName);
  const horizonMs = x.horizonMs ?? DEFAULT_HORIZON_MS;
  if (!Number.isSafeInteger(horizonMs) || horizonMs <= 0)
    throw new UsageError('ERR_USAGE', `horizon: expected a positive number of milliseconds, got ${horizonMs}`);
  if (!Number.isSafeInteger(x.from) || x.from < 0 || x.from > LAST_TIME) {
    throw new UsageError('ERR_USAGE', `from: expected a time from 1970 to 9999-12-31T23:59:59.999Z in ms, got ${x.from}`);
  }
  const h = x.header;
  const state = x.state ?? new Map<string, Uint8Array>();
  const evidence = x.evidence ?? [];
  const facts = readParams(h.logic.params);
  const from = x.from;
  const end = Math.min(from + horizonMs, LAST_TIME);
  const sandbox = new Sandbox();
  sandbox.prepare(x.module); // compiled (validated, metered) once; each probe instantiates it
  const idHex = Buffer.from(h.id).toString('hex');
  const boundaries = boundariesOf(facts, h.created * 1000, from, state);
  let probes = 0;

  const probeAt =
    (requester: string, ev: EvidenceItem[], params?: Uint8Array) =>
    (at: number): Probe => {
      probes++;
      const input = decisionInput(h, { now: at, requester, evidence: ev, state });
      if (params) input.params = params;
      try {
        const r = sandbox.evaluate(x.module, input);
        return { at, verdict: r.verdict, reason: r.reason };
      } catch (e) {
        if (e instanceof DceError && LOGIC_FAILURES.has(e.code)) return { at, verdict: 'error', reason: `${e.code}: ${e.message}` };
        throw e;
      }
    };

  const answers: RequesterAnswer[] = [];
  for (const { requester, source } of requestersOf(facts, evidence, x.requesters ?? [], idHex)) {
    const decide = probeAt(requester, evidence);
    const now = decide(from);
    const times = searchEarliest(decide, from, end, boundaries);
    const approvals = facts.approvals.map((rule) => approvalAnswer(rule, requester, idHex, evidence, facts, times, now));
    const deadMen = facts.deadMen.map((d) => {
      const stored = state.get(Buffer.from(d.stateKey, 'utf8').toString('hex'));
      const t = stored ? stateTime(stored) : undefined;
      const silentSince = t ?? h.created * 1000;
      return {
        path: d.path,
        silentSince,
        since: t !== undefined ? ('check-in in the state' as const) : ('capsule created' as const),
        silenceMs: d.silenceMs,
        byParams: silentSince + d.silenceMs,
        beneficiary: d.beneficiaries.some((b) => b.toLowerCase() === requester.toLowerCase()),
      };
    });
    const answer: RequesterAnswer = { requester, source, now, ...times, approvals, deadMen };
    if (approvals.some((a) => a.missing > 0))
      answer.ifApproved = withStandIns(facts, approvals, requester, idHex, evidence, (ev, params) =>
        searchEarliest(probeAt(requester, ev, params), from, end, boundaries),
      );
    answers.push(answer);
  }
  return {
    capsule: { id: idHex, created: h.created * 1000, logic: Buffer.from(h.logic.hash).toString('hex') },
    from,
    end,
    horizonMs,
    requesters: answers,
    probes,
  };
}

/** Where the verdict may change: params times, and every duration after every base time. */
function boundariesOf(facts: ParamFacts, created: number, from: number, state: Map<string, Uint8Array>): number[] {
  const bases = new Set<number>([created, from, ...facts.times.map((t) => t.at)]);
  for (const v of state.values()) {
    const t = stateTime(v);
    if (t !== undefined) bases.add(t);
  }
  const out = new Set<number>(facts.times.map((t) => t.at));
  for (const d of facts.durations) for (const b of bases) out.add(b + d.ms);
  for (const b of bases) out.add(b);
  return [...out];
}

/** The requesters to explain, each once (recipients compare ignoring case), in the order found. */
function requestersOf(facts: ParamFacts, evidence: EvidenceItem[], extra: string[], idHex: string): { requester: string; source: string }[] {
  const out: { requester: string; source: string }[] = [];
  const add = (requester: string, source: string) => {
    if (!out.some((r) => r.requester.toLowerCase() === requester.toLowerCase())) out.push({ requester, source });
  };
  for (const r of facts.requesters) add(r.recipient, r.path);
  const prefix = `capsule-approval:v1:${idHex}:`;
  for (const e of evidence) {
    const text = Buffer.from(e.message).toString('utf8');
    if (e.kind === 'approval' && text.startsWith(prefix)) add(text.slice(prefix.length), 'approval');
  }
  for (const r of extra) add(r, '--requester');
  if (out.length === 0) add(ANYONE, 'anyone');
  return out;
}

function approvalAnswer(
  rule: ApprovalRule,
  requester: string,
  idHex: string,
  evidence: EvidenceItem[],
  facts: ParamFacts,
  times: TimeAnswer,
  now: Probe,
): ApprovalAnswer {
  const message = approvalMessage(idHex, requester);
  const givenKeys = new Set<string>();
  for (const e of evidence) {
    if (e.kind !== 'approval' || Buffer.from(e.message).toString('utf8') !== message) continue;
    const signer = Buffer.from(e.signer).toString('hex');
    if (rule.approvers.some((a) => a.scheme === e.scheme && a.key === signer) && verifyEvidence(e)) givenKeys.add(`${e.scheme}:${signer}`);
  }
  const approvers = rule.approvers.map((a) => ({ scheme: a.scheme, key: a.key, shown: a.shown, given: givenKeys.has(`${a.scheme}:${a.key}`) }));
  const given = approvers.filter((a) => a.given).length;
  const answer: ApprovalAnswer = { path: rule.path, threshold: rule.threshold, approvers, given, missing: Math.max(0, rule.threshold - given) };
  // The logic's own count, when there is one rule to attribute it to.
  if (facts.approvals.length === 1) {
    for (const reason of [now.reason, ...times.denials.map((d) => d.reason), times.allowReason ?? '']) {
      const m = /approved by (?:only )?(\d+) of (\d+) \w+ \(threshold (\d+)\)/.exec(reason);
      if (m) {
        answer.logicCount = Number(m[1]);
        break;
      }
    }
  }
  return answer;
}

/**
 * The time search again, with every m-of-n rule that lacks approvals given stand-in approvers:
 * fresh Ed25519 keys in place of the listed ones (same number, same threshold), `threshold` of
 * them signing this requester's approval. The seeds are wiped once signed.
 */
function withStandIns(
  facts: ParamFacts,
  approvals: ApprovalAnswer[],
  requester: string,
  idHex: string,
  evidence: EvidenceItem[],
  search: (ev: EvidenceItem[], params: Uint8Array) => TimeAnswer,
): TimeAnswer | undefined {
  const message = new TextEncoder().encode(approvalMessage(idHex, requester));
  const extra: EvidenceItem[] = [];
  const restore: (() => void)[] = [];
  try {
    facts.approvals.forEach((rule, i) => {
      if (approvals[i]!.missing === 0 || !rule.node) return;
      const listed = rule.node.get('approvers');
      const standIns: Map<string, unknown>[] = [];
      for (let k = 0; k < Math.max(1, rule.approvers.length); k++) {
        const seed = randomBytes(32);
        try {
          const key = ed25519.getPublicKey(seed);
          standIns.push(
            new Map<string, unknown>([
              ['key', key],
              ['scheme', 'ed25519'],
            ]),
          );
          if (k < rule.threshold) extra.push({ kind: 'approval', scheme: 'ed25519', signer: key, message, signature: ed25519.sign(message, seed) });
        } finally {
          seed.fill(0);
        }
      }
      rule.node.set('approvers', standIns);
      restore.push(() => rule.node!.set('approvers', listed));
    });
    if (restore.length === 0) return undefined;
    let params: Uint8Array;
    try {
      params = encodeCanonical(facts.value);
    } catch {
      return undefined; // params that do not re-encode: the simulation is not possible, the rest stands
    }
    return search([...evidence, ...extra], params);
  } finally {
    for (const r of restore) r();
  }
}
