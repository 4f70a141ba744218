/**
 * `capsule sign-request --guardian URL --slot N --digest HEX --identity FILE [--approval FILE]…`:
 * asks the guardian to sign a 32-byte digest with a module slot key, which it does only if the
 * slot's signing policy allows. Prints `{"signature": r‖s hex (low S), "recoveryId": 0|1}` on
 * stdout. The request is authenticated with the identity (docs/API.md "Requester authentication"),
 * which a policy that spends a limit requires.
 */
import { GuardianClient } from '../../client/GuardianClient.ts';
import { UsageError } from '../../errors.ts';
import { parseEvidence } from '../../sandbox/evidence.ts';
import type { EvidenceItem } from '../../sandbox/inputs.ts';
import { SIGN_REQUEST as SPEC } from '../specs/client.ts';
import { list, need, parse } from '../args.ts';
import { loadIdentities, readJsonFile } from '../files.ts';
import { say, writeOut, type Terminal } from '../Terminal.ts';

const SYNOPSIS = SPEC.synopsis;

/** Runs `capsule sign-request` with the arguments after its name (interface: specs/, via parse); resolves to the exit code. */
export async function signRequestCommand(argv: string[], t: Terminal): Promise<number> {
  const p = parse(argv, SPEC);
  const guardianUrl = need(p, 'guardian', SYNOPSIS);
  const slotText = need(p, 'slot', SYNOPSIS);
  if (!/^\d{1,5}$/.test(slotText))
    throw new UsageError('ERR_USAGE', `--slot: expected a slot number, got ${JSON.stringify(slotText)}`, { hint: `usage: ${SYNOPSIS}` });
  const digest = need(p, 'digest', SYNOPSIS).replace(/^0x/i, '').toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(digest))
    throw new UsageError('ERR_USAGE', `--digest: expected 32 bytes as 64 hex digits, got ${digest.length} characters`, {
      hint: 'the digest is signed as given (hash the message yourself)',
    });
  const ids = await loadIdentities(t, need(p, 'identity', SYNOPSIS));
  const requester = ids[0]!.recipient;
  const client = new GuardianClient(guardianUrl, undefined, { identity: ids[0] });
  let r;
  try {
    const evidence: EvidenceItem[] = [];
    for (const f of list(p, 'approval')) evidence.push(...parseEvidence(await readJsonFile(t, f), f));
    r = await client.sign(Number(slotText), Uint8Array.from(Buffer.from(digest, 'hex')), requester, evidence, t.signal);
  } finally {
    for (const i of ids) i.dispose();
  }
  await writeOut(t, JSON.stringify({ signature: r.signature, recoveryId: r.recoveryId }) + '\n');
  say(t, `signed by slot ${slotText} of ${client.url}: ${r.reason} (audit entry #${r.audit})`);
  return 0;
}
