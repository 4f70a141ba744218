/**
 * `capsule checkin CAPSULE --guardian URL [--guardian URL]… --key OWNER.key`: the owner's signed "still here" for a
 * dead-man capsule, sent to every guardian given (each of a set keeps its own state). The message is "capsule-checkin:v1:<capsule id hex>:<ms now>", signed with the
 * owner's Ed25519 key (derived from the age identity, as for --sign-with). The guardian refuses a
 * stale or replayed one. Deliberately not here: what the logic does with it (the dead-man rule).
 */
import { resolve } from 'node:path';
import { ed25519 } from '@noble/curves/ed25519.js';
import { capsulePrefix } from '../../client/capsulePrefix.ts';
import type { GuardianClient } from '../../client/GuardianClient.ts';
import { toEveryGuardian } from '../../client/toEveryGuardian.ts';
import { failUnlessAll } from '../failUnlessAll.ts';
import { ownerSeed, type Identity } from '../../crypto/identity.ts';
import { wipe } from '../../crypto/secrets.ts';
import { AgentError } from '../../errors.ts';
import { checkinMessage } from '../../format/evidence.ts';
import type { EvidenceItem } from '../../sandbox/inputs.ts';
import { CHECKIN as SPEC } from '../specs/client.ts';
import { list, need, parse, positiveInt } from '../args.ts';
import { loadIdentities } from '../files.ts';
import { say, type Terminal } from '../Terminal.ts';

const SYNOPSIS = SPEC.synopsis;

/** Runs `capsule checkin` with the arguments after its name (interface: specs/, via parse); resolves to the exit code. */
export async function checkinCommand(argv: string[], t: Terminal): Promise<number> {
  const p = parse(argv, SPEC);
  const urls = list(p, 'guardian');
  if (urls.length === 0) need(p, 'guardian', SYNOPSIS); // throws: missing --guardian
  const timeoutMs = positiveInt(p, 'timeout', 30, SYNOPSIS) * 1000;
  const ids = await loadIdentities(t, need(p, 'key', SYNOPSIS));
  try {
    const file = p.positionals[0]!;
    const { prefix, id } = await capsulePrefix({ path: resolve(t.cwd, file), name: file });
    // Every guardian of a set keeps its own state: each gets its own check-in, signed at its time.
    const results = await toEveryGuardian(urls, (c) => checkinOne(c, ids[0]!, id, prefix, t), timeoutMs);
    for (const r of results) if (r.ok) say(t, `check-in recorded by ${r.url}: ${r.value.reason} (audit entry #${r.value.audit})`);
    failUnlessAll(t, results, { what: 'the check-in', done: 'recorded', command: 'checkin', denialCounts: true });
    return 0;
  } finally {
    for (const i of ids) i.dispose();
  }
}

/** One guardian's check-in: signed at its time, sent, and refused unless the logic recorded it. */
async function checkinOne(client: GuardianClient, owner: Identity, id: string, prefix: Uint8Array, t: Terminal): Promise<{ reason: string; audit: number }> {
  // Signed at the guardian's time: the logic ignores check-ins from its future, so clock skew
  // between this machine and the guardian must not make a check-in count for nothing.
  const status = await client.status(t.signal);
  const at = Number.isSafeInteger(status.now) ? Number(status.now) : Date.now();
  const item = signEd25519(owner, 'checkin', checkinMessage(id, at));
  const r = await client.checkin(prefix, item, t.signal);
  if (!r.recorded) {
    throw new AgentError('ERR_DENIED', `guardian ${client.url}: the check-in was not recorded: ${r.reason}`, {
      hint: `the capsule's logic did not count it (is this the owner key its dead-man rule names?); audit entry #${r.audit}`,
    });
  }
  return r;
}

/** Evidence signed with the Ed25519 key derived from an age identity (SPEC.md §7.1's derivation). */
export function signEd25519(id: Identity, kind: 'checkin' | 'approval', message: string): EvidenceItem {
  const seed = ownerSeed(id);
  try {
    const m = new TextEncoder().encode(message);
    return { kind, scheme: 'ed25519', signer: ed25519.getPublicKey(seed), message: m, signature: ed25519.sign(m, seed) };
  } finally {
    wipe(seed);
  }
}
