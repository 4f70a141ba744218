/**
 * `capsule checkin CAPSULE --guardian URL --key OWNER.key`: the owner's signed "still here" for a
 * dead-man capsule. The message is "capsule-checkin:v1:<capsule id hex>:<ms now>", signed with the
 * owner's Ed25519 key (derived from the age identity, as for --sign-with). The guardian refuses a
 * stale or replayed one. Deliberately not here: what the logic does with it (the dead-man rule).
 */
import { resolve } from 'node:path';
import { ed25519 } from '@noble/curves/ed25519.js';
import { capsulePrefix } from '../../client/capsulePrefix.ts';
import { GuardianClient } from '../../client/GuardianClient.ts';
import { ownerSeed, type Identity } from '../../crypto/identity.ts';
import { wipe } from '../../crypto/secrets.ts';
import { AgentError } from '../../errors.ts';
import type { EvidenceItem } from '../../sandbox/inputs.ts';
import { CHECKIN as SPEC } from '../specs/client.ts';
import { need, parse } from '../args.ts';
import { loadIdentities } from '../files.ts';
import { say, type Terminal } from '../Terminal.ts';

const SYNOPSIS = SPEC.synopsis;

/** Runs `capsule checkin` with the arguments after its name (interface: specs/, via parse); resolves to the exit code. */
export async function checkinCommand(argv: string[], t: Terminal): Promise<number> {
  const p = parse(argv, SPEC);
  const client = new GuardianClient(need(p, 'guardian', SYNOPSIS));
  const ids = await loadIdentities(t, need(p, 'key', SYNOPSIS));
  try {
    const file = p.positionals[0]!;
    const { prefix, id } = await capsulePrefix({ path: resolve(t.cwd, file), name: file });
    // Signed at the guardian's time: the logic ignores check-ins from its future, so clock skew
    // between this machine and the guardian must not make a check-in count for nothing.
    const status = await client.status(t.signal);
    const at = Number.isSafeInteger(status.now) ? Number(status.now) : Date.now();
    const item = signEd25519(ids[0]!, 'checkin', `capsule-checkin:v1:${id}:${at}`);
    const r = await client.checkin(prefix, item, t.signal);
    if (!r.recorded) {
      throw new AgentError('ERR_DENIED', `guardian ${client.url}: the check-in was not recorded: ${r.reason}`, {
        hint: `the capsule's logic did not count it (is this the owner key its dead-man rule names?); audit entry #${r.audit}`,
      });
    }
    say(t, `check-in recorded by ${client.url}: ${r.reason} (audit entry #${r.audit})`);
  } finally {
    for (const i of ids) i.dispose();
  }
  return 0;
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
