/**
 * `capsule watch [--ipfs …] [--data-dir D] [--ipfs-listen MULTIADDR]… [--peer MULTIADDR]… [--count N]`:
 * runs a node and prints each valid announcement as one JSON line on stdout, as it arrives.
 * Malformed, unsigned or forged announcements are dropped (on the embedded node, also not
 * forwarded, and their sender's score drops), each reported on stderr. The node also serves the blocks in its data directory, so
 * it is the always-on home of what `capsule publish` adds there. Stops on Ctrl-C (or after N
 * announcements) and prints the counts. Deliberately not here: indexing (the agent does that).
 */
import { UsageError } from '../../errors.ts';
import { ANNOUNCE_TOPIC, announcementJson, decodeAnnouncement } from '../../store/Announcement.ts';
import { WATCH as SPEC } from '../specs/ipfs.ts';
import { list, parse, str } from '../args.ts';
import { openCliStore } from '../ipfs.ts';
import { say, writeOut, type Terminal } from '../Terminal.ts';

const SYNOPSIS = SPEC.synopsis;

/** Runs `capsule watch` with the arguments after its name (interface: specs/, via parse); resolves to the exit code. */
export async function watchCommand(argv: string[], t: Terminal): Promise<number> {
  const p = parse(argv, SPEC);
  const countText = str(p, 'count');
  if (countText !== undefined && !/^[1-9][0-9]{0,8}$/.test(countText))
    throw new UsageError('ERR_USAGE', `--count: expected a positive integer, got ${JSON.stringify(countText)}`, { hint: `usage: ${SYNOPSIS}` });
  const limit = countText === undefined ? Infinity : Number(countText);
  const listen = list(p, 'ipfs-listen').length ? list(p, 'ipfs-listen') : ['/ip4/127.0.0.1/tcp/0'];
  // A fresh identity: the agent may run on the same data directory with the one kept there.
  const store = await openCliStore(t, p, { listen, ephemeral: true });
  let shown = 0;
  let dropped = 0;
  const done = new AbortController();
  const lines: string[] = [];
  let writing = Promise.resolve();
  try {
    for (const a of await store.addresses()) say(t, `listening on ${a}`);
    const unsubscribe = await store.subscribe(
      ANNOUNCE_TOPIC,
      (m) => {
        if (shown >= limit) return;
        const a = decodeAnnouncement(m.data); // validated already: cannot throw here
        shown++;
        lines.push(JSON.stringify(announcementJson(a, m.from)) + '\n');
        writing = writing.then(() => writeOut(t, lines.shift()!));
        if (shown >= limit) done.abort();
      },
      {
        validate: (data, from) => {
          try {
            decodeAnnouncement(data);
            return true;
          } catch (e) {
            dropped++;
            say(t, `dropped an announcement from ${from || 'an unknown peer'}: ${(e as Error).message}`);
            return false;
          }
        },
      },
    );
    say(t, `watching ${ANNOUNCE_TOPIC}`);
    const stop = AbortSignal.any([done.signal, ...(t.signal ? [t.signal] : [])]);
    if (!stop.aborted) await new Promise((r) => stop.addEventListener('abort', r, { once: true }));
    unsubscribe();
    await writing;
    say(t, `${shown} announcement(s) shown, ${dropped} dropped`);
  } finally {
    await store.stop();
  }
  return 0;
}
