/**
 * Runs hostile-corpus cases through a real agent over HTTP (push, then a release of a capsule
 * sealed to the module) and classifies each answer: contained (the typed outcome the case
 * prescribes), wrongly allowed (200 where the logic must not allow), or anything else; and whether
 * the agent process is still alive. Shared by test/sandbox-abuse.test.ts and the fuzz campaign
 * (fuzz/targets/hostileWasm.ts).
 *
 * Deliberately not here: starting the agent (agentRig.ts) and the cases (hostileCorpus.ts).
 */
import type { Rig } from './agentRig.ts';
import type { HostileCase } from './hostileCorpus.ts';

export interface CaseOutcome {
  c: HostileCase;
  /** 'allow', 'deny', an error code, or a description of an unexpected answer. */
  got: string;
  contained: boolean;
  wronglyAllowed: boolean;
}

/** Pushes and (if stored) releases `c` on the rig's agent. */
export async function runOverHttp(rig: Rig, c: HostileCase): Promise<CaseOutcome> {
  const bytes = c.bytes();
  const pushed = await rig.push(bytes);
  let got: string;
  let allowed = false;
  if (pushed.status !== 201) {
    // A module over maxModuleBytes is refused by the body limit (413 ERR_TOO_LARGE) before the checker.
    got =
      pushed.status === 413 && c.expect === 'ERR_INVALID_MODULE'
        ? 'ERR_INVALID_MODULE'
        : pushed.status === 422
          ? pushed.json.error?.code
          : `push: HTTP ${pushed.status} ${JSON.stringify(pushed.json).slice(0, 200)}`;
  } else {
    const r = await rig.release(await rig.seal(bytes));
    allowed = r.status === 200;
    // A state change without requester authentication is refused by the agent (401) after the logic allowed.
    const unauthenticated = r.status === 401 && r.json.error?.code === 'ERR_UNAUTHENTICATED';
    got =
      allowed || (unauthenticated && c.expect === 'allow')
        ? 'allow'
        : r.status === 403 && r.json.error?.code === 'ERR_DENIED'
          ? 'deny'
          : r.status === 422
            ? r.json.error?.code
            : `release: HTTP ${r.status} ${JSON.stringify(r.json).slice(0, 200)}`;
  }
  return { c, got, contained: got === c.expect, wronglyAllowed: allowed && c.expect !== 'allow' };
}

/** Whether process `pid` is alive. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
