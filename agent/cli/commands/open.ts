/**
 * `capsule open CAPSULE --guardian URL --identity FILE [--approval FILE]… -o OUT`: asks the
 * guardian to release the capsule's key to this identity's recipient, opens the answer (age) with
 * the identity, and decrypts the capsule locally, streaming (OUT appears only if all verified).
 * A denial is exit 1 with the logic's reason. Deliberately not here: the protocol (GuardianClient).
 */
import { resolve } from 'node:path';
import { Decrypter } from 'age-encryption';
import { decryptToFile } from '../../capsule/open.ts';
import { capsulePrefix } from '../../client/capsulePrefix.ts';
import { GuardianClient } from '../../client/GuardianClient.ts';
import { encodeIdentity } from '../../crypto/identity.ts';
import { wipe } from '../../crypto/secrets.ts';
import { AgentError, UsageError } from '../../errors.ts';
import { parseEvidence } from '../../sandbox/evidence.ts';
import type { EvidenceItem } from '../../sandbox/inputs.ts';
import { OPEN as SYNOPSIS } from '../synopsis.ts';
import { list, need, parse } from '../args.ts';
import { loadIdentities, readJsonFile } from '../files.ts';
import { Progress } from '../Progress.ts';
import type { Terminal } from '../Terminal.ts';

export async function openCommand(argv: string[], t: Terminal): Promise<number> {
  const p = parse(argv, {
    guardian: { type: 'string' }, identity: { type: 'string', short: 'i' }, approval: { type: 'string', multiple: true }, output: { type: 'string', short: 'o' },
  }, SYNOPSIS, { min: 1, max: 1 });
  const file = p.positionals[0]!;
  if (file === '-') throw new UsageError('ERR_USAGE', 'open reads the capsule from a file (the guardian needs its header first, then it is decrypted)', { hint: `usage: ${SYNOPSIS}` });
  const out = need(p, 'output', SYNOPSIS);
  const client = new GuardianClient(need(p, 'guardian', SYNOPSIS));
  const identities = await loadIdentities(t, need(p, 'identity', SYNOPSIS));
  const evidence: EvidenceItem[] = [];
  for (const f of list(p, 'approval')) evidence.push(...parseEvidence(await readJsonFile(t, f), f));
  const src = { path: resolve(t.cwd, file), name: file };
  let fileKey: Uint8Array | undefined;
  const progress = new Progress(t, 'decrypting');
  try {
    const { prefix } = await capsulePrefix(src);
    const r = await client.release(prefix, identities[0]!.recipient, evidence, t.signal);
    const d = new Decrypter();
    d.addIdentity(encodeIdentity(identities[0]!.secretKey));
    try {
      fileKey = await d.decrypt(r.answer);
    } catch (cause) {
      throw new AgentError('ERR_PROTOCOL', `guardian ${client.url}: the release answer does not open with ${identities[0]!.recipient}'s identity`, { cause });
    }
    if (fileKey.length !== 32) throw new AgentError('ERR_PROTOCOL', `guardian ${client.url}: the release answer holds ${fileKey.length} bytes, not a 32-byte file key`);
    const k = fileKey;
    await decryptToFile(src, () => Uint8Array.from(k), resolve(t.cwd, out), { outName: out, signal: t.signal, onProgress: (a, b) => progress.update(a, b) });
  } finally {
    progress.end();
    wipe(fileKey);
    for (const id of identities) id.dispose();
  }
  return 0;
}
