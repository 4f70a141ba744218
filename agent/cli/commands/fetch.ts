/**
 * `capsule fetch CID -o OUT [--max-size BYTES] [--timeout SECONDS] [--ipfs …] [--data-dir D] [--peer MULTIADDR]…`:
 * fetches a capsule (or any file) by CID, hashing every block against the CID, refusing content
 * over the cap before its data, and writes OUT only when all of it arrived and verified (a
 * temporary name, renamed at the end). `-o -` writes to stdout, never to a terminal.
 * Deliberately not here: checking it is a capsule (`capsule verify` does, offline).
 */
import { resolve } from 'node:path';
import { UsageError } from '../../errors.ts';
import { AtomicFile } from '../../io/AtomicFile.ts';
import { parseCid } from '../../store/ContentStore.ts';
import { FETCH as SPEC } from '../specs/ipfs.ts';
import { need, parse, positiveInt } from '../args.ts';
import { openCliStore } from '../ipfs.ts';
import { refuseBinaryToTty, say, writeOut, type Terminal } from '../Terminal.ts';

const SYNOPSIS = SPEC.synopsis;

export const DEFAULT_MAX_BYTES = 4 * 2 ** 30;
/** Node's timers hold at most 2^31 − 1 ms; a longer timeout would fire at once. */
const MAX_TIMEOUT_S = Math.floor((2 ** 31 - 1) / 1000);

/** Runs `capsule fetch` with the arguments after its name (interface: specs/, via parse); resolves to the exit code. */
export async function fetchCommand(argv: string[], t: Terminal): Promise<number> {
  const p = parse(argv, SPEC);
  const cid = parseCid(p.positionals[0]!, 'CID');
  const out = need(p, 'output', SYNOPSIS);
  const maxBytes = positiveInt(p, 'max-size', DEFAULT_MAX_BYTES, SYNOPSIS);
  const timeoutS = positiveInt(p, 'timeout', 120, SYNOPSIS);
  if (timeoutS > MAX_TIMEOUT_S)
    throw new UsageError('ERR_USAGE', `--timeout: at most ${MAX_TIMEOUT_S} seconds (about 24 days), got ${timeoutS}`, { hint: `usage: ${SYNOPSIS}` });
  if (out === '-') refuseBinaryToTty(t, 'fetched content');
  const signal = AbortSignal.any([AbortSignal.timeout(timeoutS * 1000), ...(t.signal ? [t.signal] : [])]);
  const store = await openCliStore(t, p);
  let file: AtomicFile | undefined;
  let n = 0;
  try {
    if (out !== '-') file = await AtomicFile.create(resolve(t.cwd, out), 0o644, out);
    for await (const chunk of store.get(cid, { maxBytes, signal })) {
      n += chunk.length;
      if (file) await file.write(chunk);
      else await writeOut(t, chunk);
    }
    await file?.commit();
    file = undefined;
    say(t, `fetched ${cid}: ${n} bytes, every block verified${out === '-' ? '' : ` -> ${out}`}`);
  } catch (e) {
    if ((e as Error)?.name === 'TimeoutError' && !t.signal?.aborted) {
      const { ContentError } = await import('../../errors.ts');
      throw new ContentError('ERR_CONTENT_UNAVAILABLE', `${cid}: not fetched within ${timeoutS} s`, {
        cause: e,
        hint: 'connect to a node that has it (--peer MULTIADDR of a running capsule agent or watch)',
      });
    }
    throw e;
  } finally {
    await file?.abort();
    await store.stop();
  }
  return 0;
}
