/**
 * `capsule decrypt CAPSULE|- --identity FILE [-o OUT]`: opens a capsule with a local guardian key.
 *
 * With -o, the output appears only when every chunk and the payload digest verified (temp file +
 * rename); on failure nothing is left. To stdout, chunks flow as they verify and a failure at the
 * end is reported with exit 1: consumers must discard the output then. Deliberately not here:
 * release by a remote guardian (`capsule open`, with the release protocol).
 */
import { resolve } from 'node:path';
import { decryptToFile, openWithKey } from '../../capsule/open.ts';
import { DECRYPT as SYNOPSIS } from '../synopsis.ts';
import { need, parse, str } from '../args.ts';
import { inputOf, loadIdentities } from '../files.ts';
import { Progress } from '../Progress.ts';
import { refuseBinaryToTty, writeOut, type Terminal } from '../Terminal.ts';


export async function decryptCommand(argv: string[], t: Terminal): Promise<number> {
  const p = parse(argv, { identity: { type: 'string', short: 'i' }, output: { type: 'string', short: 'o' } }, SYNOPSIS, { min: 1, max: 1 });
  const identities = await loadIdentities(t, need(p, 'identity', SYNOPSIS));
  const out = str(p, 'output');
  if (out === undefined || out === '-') refuseBinaryToTty(t, 'decrypted data');
  const progress = new Progress(t, 'decrypting');
  const options = { onProgress: (d: number, n: number) => progress.update(d, n), signal: t.signal };
  const input = inputOf(t, p.positionals[0]!);
  try {
    if (out === undefined || out === '-') {
      for await (const piece of openWithKey(input, identities, options)) await writeOut(t, piece as Uint8Array);
    } else {
      await decryptToFile(input, identities, resolve(t.cwd, out), { ...options, outName: out });
    }
  } finally {
    progress.end();
    for (const id of identities) id.dispose();
  }
  return 0;
}
