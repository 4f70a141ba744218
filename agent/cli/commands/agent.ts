/**
 * `capsule agent [--config FILE] [--data-dir D] [--listen HOST:PORT] [--lan] [--clock SPEC]`:
 * runs the guardian service until SIGTERM or SIGINT, then stops gracefully (in-flight requests
 * finish). Logs go to stderr as `capsule: {json}` lines. Deliberately not here: the service
 * (agent/daemon/Agent.ts).
 */
import { resolve } from 'node:path';
import { Agent } from '../../daemon/Agent.ts';
import { loadConfig } from '../../daemon/config.ts';
import { UsageError } from '../../errors.ts';
import { AGENT as SPEC } from '../specs/guardian.ts';
import { list, parse, str } from '../args.ts';
import type { Terminal } from '../Terminal.ts';

const SYNOPSIS = SPEC.synopsis;

/** Runs `capsule agent` with the arguments after its name (interface: specs/, via parse); resolves to the exit code. */
export async function agentCommand(argv: string[], t: Terminal): Promise<number> {
  const p = parse(argv, SPEC);
  let host: string | undefined;
  let port: string | undefined;
  const listen = str(p, 'listen');
  if (listen !== undefined) {
    const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(listen);
    if (!m)
      throw new UsageError('ERR_USAGE', `--listen: expected HOST:PORT (e.g. 127.0.0.1:7373), got ${JSON.stringify(listen)}`, { hint: `usage: ${SYNOPSIS}` });
    host = m[1] ?? m[2];
    port = m[3];
  }
  const dataDir = str(p, 'data-dir');
  const config = await loadConfig({
    file: str(p, 'config') && resolve(t.cwd, str(p, 'config')!),
    env: t.env ?? process.env,
    flags: {
      dataDir: dataDir && resolve(t.cwd, dataDir),
      host,
      port,
      lan: p.values.lan === true ? true : undefined,
      clock: str(p, 'clock'),
      acceptRollback: p.values['accept-rollback'] === true ? true : undefined,
      ipfs: str(p, 'ipfs'),
      ipfsListen: list(p, 'ipfs-listen').length ? list(p, 'ipfs-listen') : undefined,
      ipfsPeers: list(p, 'peer').length ? list(p, 'peer') : undefined,
    },
  });
  const agent = new Agent(config, { env: t.env ?? process.env, log: (l) => t.stderr.write(l + '\n') });
  await agent.start();
  if (t.signal && !t.signal.aborted) await new Promise((r) => t.signal!.addEventListener('abort', r, { once: true }));
  await agent.stop();
  return 0;
}
