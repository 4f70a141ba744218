/**
 * A fresh software TPM 2.0 (swtpm) per suite: state manufactured by `swtpm_setup` (EK created, PCR
 * bank sha256) in a temporary directory, the TPM served on 127.0.0.1 at a free port (its control
 * channel on another), and stopped with its directory removed by `stop()`. `tcti` is the tpm2-tss
 * configuration string for it; `tools` runs a tpm2-tools command against it (the independent peer).
 *
 * Ports are picked by binding port 0 and releasing it (the control port is the next one: tpm2-tss's
 * swtpm TCTI assumes so); if swtpm loses the race for one, the start is
 * retried with new ports. Deliberately not here: installing swtpm (pretest does, via need-debian.sh).
 */
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Swtpm {
  tcti: string;
  port: number;
  dir: string;
  /** Runs a tpm2-tools command (`tpm2_…`) against this TPM; throws with its stderr when it fails. */
  tools(cmd: string, args: string[], input?: Uint8Array): Buffer;
  /** Same, without throwing. */
  toolsRaw(cmd: string, args: string[], input?: Uint8Array): SpawnSyncReturns<Buffer>;
  /** Stops the TPM and removes its state (its data is gone: a new start is a new TPM). */
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function freePortPair(): Promise<number> {
  for (;;) {
    const p = await freePort();
    if (p < 65535 && (await bindable(p + 1))) return p;
  }
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.on('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect(port, '127.0.0.1');
    c.on('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.on('error', () => resolve(false));
  });
}

/** Manufactures and starts a new TPM; `stop()` it in `after`. */
export async function startSwtpm(): Promise<Swtpm> {
  const dir = mkdtempSync(join(tmpdir(), 'capsule-swtpm-'));
  try {
    const setup = spawnSync('swtpm_setup', ['--tpm2', '--tpmstate', dir, '--createek', '--pcr-banks', 'sha256', '--overwrite'], { encoding: 'utf8' });
    if (setup.status !== 0) throw new Error(`swtpm_setup failed (${setup.status ?? setup.error?.message}): ${setup.stderr || setup.stdout}`);
    for (let attempt = 0; ; attempt++) {
      // tpm2-tss's swtpm TCTI finds the control channel at port + 1.
      const port = await freePortPair();
      const ctrl = port + 1;
      const child = spawn(
        'swtpm',
        [
          'socket',
          '--tpm2',
          '--tpmstate',
          `dir=${dir}`,
          '--server',
          `type=tcp,port=${port},bindaddr=127.0.0.1`,
          '--ctrl',
          `type=tcp,port=${ctrl},bindaddr=127.0.0.1`,
          '--flags',
          'not-need-init,startup-clear',
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      let stderr = '';
      child.stderr!.on('data', (c: Buffer) => {
        stderr += c.toString();
      });
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      if (await ready(child, port)) return handle(child, exited, port, dir);
      child.kill('SIGKILL');
      await exited;
      if (attempt >= 3) throw new Error(`swtpm did not start on 127.0.0.1:${port}: ${stderr.trim()}`);
    }
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

async function ready(child: ChildProcess, port: number): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) return false;
    if (await answers(port)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

function handle(child: ChildProcess, exited: Promise<void>, port: number, dir: string): Swtpm {
  const tcti = `swtpm:host=127.0.0.1,port=${port}`;
  const toolsRaw = (cmd: string, args: string[], input?: Uint8Array) =>
    spawnSync(cmd, args, { env: { ...process.env, TPM2TOOLS_TCTI: tcti }, input, maxBuffer: 1 << 24 });
  return {
    tcti,
    port,
    dir,
    toolsRaw,
    tools(cmd, args, input) {
      const r = toolsRaw(cmd, args, input);
      if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.error?.message}): ${r.stderr?.toString().trim()}`);
      return r.stdout;
    },
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
