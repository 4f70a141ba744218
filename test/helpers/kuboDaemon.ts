/**
 * A daemon speaking the Kubo RPC API, for the Kubo-backend tests: KUBO_RPC_URL when set (a running
 * daemon, left running), else js-ipfs 0.66.1 installed by `npm run setup` (scripts/need-kubo-rpc.sh;
 * the tests only look for it, with `--check`: `npm test` installs nothing) (Kubo itself
 * cannot be installed here — docs/ipfs-research.md), started offline on a fresh repo per run (a
 * repo lock survives SIGKILL) with every listener on 127.0.0.1 and port 0, so runs never collide.
 * `{ skipped }` when no daemon can be had; the caller makes that visible.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type KuboRpc = { url: string; stop(): Promise<void> } | { skipped: string };

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const READY_MS = 30_000;
const STOP_GRACE_MS = 5_000;

const CONFIG = {
  // RPC is js-ipfs's gRPC listener (fixed port 5003 by default): off.
  Addresses: { API: '/ip4/127.0.0.1/tcp/0', Gateway: '/ip4/127.0.0.1/tcp/0', RPC: '', Swarm: [], Announce: [], Delegates: [] },
  Bootstrap: [],
  Discovery: { MDNS: { Enabled: false }, webRTCStar: { Enabled: false } },
};

export async function startKuboRpc(): Promise<KuboRpc> {
  const given = process.env.KUBO_RPC_URL;
  if (given) return { url: given.replace(/\/+$/, ''), stop: async () => {} };

  const need = spawnSync('bash', ['scripts/need-kubo-rpc.sh', '--check'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const bin = need.stdout?.trim() ?? '';
  if (need.status !== 0 || !bin) {
    if (process.env.CAPSULE_KUBO_RPC === '0') return { skipped: 'CAPSULE_KUBO_RPC=0' };
    const said = need.stderr?.trim().split('\n').pop() || need.error?.message || `exit ${need.status}`;
    return { skipped: `no Kubo-RPC daemon (${said}); or set KUBO_RPC_URL to use a running daemon` };
  }
  const cli = realpathSync(bin); // the package's cli script, run with this Node, not its shebang
  const dir = mkdtempSync(join(tmpdir(), 'capsule-kubo-'));
  const env = { ...process.env, IPFS_PATH: join(dir, 'repo') };
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(CONFIG));

  const init = spawnSync(process.execPath, [cli, 'init', '--empty-repo', '--profile', 'test', join(dir, 'config.json')], {
    env,
    encoding: 'utf8',
    timeout: READY_MS,
  });
  if (init.status !== 0) {
    cleanup();
    throw new Error(`jsipfs init failed (${init.error?.message ?? `exit ${init.status}`}):\n${init.stdout}${init.stderr}`);
  }

  const started = Date.now();
  const child = spawn(process.execPath, [cli, 'daemon', '--offline'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const killOnExit = () => child.kill('SIGKILL'); // if the test process dies without stop()
  process.once('exit', killOnExit);
  let output = '';
  const keep = (b: Buffer) => {
    output = (output + b.toString()).slice(-20_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let gone = false;
  void exited.then(() => {
    gone = true;
  });

  async function stop(): Promise<void> {
    process.removeListener('exit', killOnExit);
    if (!gone) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(timer);
    }
    cleanup();
  }

  // Ready when the API line names its port and `id` answers there.
  while (true) {
    if (gone || Date.now() - started > READY_MS) {
      await stop();
      throw new Error(`the Kubo-RPC daemon (js-ipfs) ${gone ? 'exited' : `was not ready within ${READY_MS / 1000} s`}; its output:\n${output}`);
    }
    const m = /API listening on \/ip4\/([\d.]+)\/tcp\/(\d+)/.exec(output);
    if (m) {
      const url = `http://${m[1]}:${m[2]}`;
      const ok = await fetch(`${url}/api/v0/id`, { method: 'POST', signal: AbortSignal.timeout(2_000) }).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) return { url, stop };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
