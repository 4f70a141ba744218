/**
 * `capsule decrypt CAPSULE|- --identity FILE [-o OUT]`: opens a capsule with a local guardian key;
 * `--on-guardian` opens it with this guardian's own keys (derived from its locked seed, or its
 * module for zymbit-lock) — an operator's tool: the agent releases keys only if the logic allows.
 *
 * With -o, the output appears only when every chunk and the payload digest verified (temp file +
 * rename); on failure nothing is left (a temporary file of a killed run is swept by the next one:
 * io/partials.ts). To stdout, nothing is written until the whole capsule verified (openVerified:
 * an encrypted spool in the temporary directory), so a pipe never receives plaintext of a capsule
 * that then fails. Deliberately not here:
 * release by a remote guardian (`capsule open`, with the release protocol).
 */
import { resolve } from 'node:path';
import { decryptToFile, openVerified, type KeySource } from '../../capsule/open.ts';
import type { Identity } from '../../crypto/identity.ts';
import { GuardianSetError, UsageError } from '../../errors.ts';
import type { ByteSource } from '../../io/sources.ts';
import { dataDirOf } from '../dataDir.ts';
import { DECRYPT as SPEC } from '../specs/capsule.ts';
import { need, parse, str } from '../args.ts';
import { inputOf, loadIdentities } from '../files.ts';
import { Progress } from '../Progress.ts';
import { refuseBinaryToTty, writeOut, type Terminal } from '../Terminal.ts';

const SYNOPSIS = SPEC.synopsis;

/** Runs `capsule decrypt` with the arguments after its name (interface: specs/, via parse); resolves to the exit code. */
export async function decryptCommand(argv: string[], t: Terminal): Promise<number> {
  const p = parse(argv, SPEC);
  const onGuardian = p.values['on-guardian'] === true;
  if (onGuardian && str(p, 'identity') !== undefined)
    throw new UsageError('ERR_USAGE', 'give --identity or --on-guardian, not both', { hint: `usage: ${SYNOPSIS}` });
  if (!onGuardian && str(p, 'data-dir') !== undefined) throw new UsageError('ERR_USAGE', '--data-dir goes with --on-guardian', { hint: `usage: ${SYNOPSIS}` });
  const out = str(p, 'output');
  if (out === undefined || out === '-') refuseBinaryToTty(t, 'decrypted data');
  let identities: Identity[] = [];
  let key: KeySource;
  let guardian: { close(): Promise<void> } | undefined;
  const input: ByteSource = inputOf(t, p.positionals[0]!);
  if (onGuardian) {
    const { Guardian } = await import('../../guardian/Guardian.ts'); // key stores and FFI only when asked for
    const g = await Guardian.open(dataDirOf(t, str(p, 'data-dir')), { env: t.env ?? process.env });
    guardian = g;
    key = (header) => {
      // A guardian of a set holds one share, not the key: only m of them together open it.
      if (header.guardianSet) {
        throw new GuardianSetError(
          'ERR_NOT_ENOUGH_SHARES',
          `this capsule has a ${header.guardianSet.threshold}-of-${header.guardianSet.guardians.length} guardian set: this guardian holds one share, not the key`,
          {
            hint: 'open it with capsule open FILE --guardian URL for each guardian of the set',
          },
        );
      }
      return g.unwrapFileKey(header); // asynchronous (the module): the opener waits for it once
    };
  } else {
    identities = await loadIdentities(t, need(p, 'identity', SYNOPSIS));
    key = identities;
  }
  const progress = new Progress(t, 'decrypting');
  const options = { onProgress: (d: number, n: number) => progress.update(d, n), signal: t.signal };
  try {
    if (out === undefined || out === '-') {
      for await (const piece of openVerified(input, key, options)) await writeOut(t, piece);
    } else {
      await decryptToFile(input, key, resolve(t.cwd, out), { ...options, outName: out });
    }
  } finally {
    progress.end();
    await guardian?.close();
    for (const id of identities) id.dispose();
  }
  return 0;
}
