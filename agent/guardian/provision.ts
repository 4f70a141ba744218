/**
 * `capsule guardian init [--restore]`, the parent side: checks, the one-shot seed process
 * (seedChild.ts) started with a minimal environment and — where the OS allows an unprivileged
 * user namespace — no network (`unshare -rn`), then guardian.json written atomically.
 *
 * Order matters for kill -9: nothing is written before the operator has confirmed the words and
 * the module has locked the seed, and guardian.json appears by one rename. So an interruption at
 * any point leaves no guardian or a complete one. Deliberately not here: the seed itself (it never
 * enters this process) and the CLI's output.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GuardianError, KeyError, KeyStoreError, UsageError } from '../errors.ts';
import { SoftKeyStore } from '../keys/SoftKeyStore.ts';
import { exists, GUARDIAN_FILE, SOFT_KEYSTORE_FILE, writeGuardianFile, type GuardianRecord } from './GuardianFile.ts';
import { softPassphrase, zymbitLibrary, type Backend } from './keyStoreFor.ts';
import type { SeedRequest, SeedResult } from './seedChild.ts';

const CHILD = fileURLToPath(new URL('./seedChild.ts', import.meta.url));
const SIGNING_SLOT = 0;

export interface ProvisionOptions {
  dataDir: string;
  backend: Backend;
  restore: boolean;
  force: boolean;
  confirmFromStdin: boolean;
  mnemonicFromStdin: boolean;
  mnemonicToStdout: boolean;
  env: NodeJS.ProcessEnv;
  stdinIsTTY: boolean;
  stdoutIsTTY: boolean;
  signal?: AbortSignal;
}

export async function provision(o: ProvisionOptions): Promise<GuardianRecord> {
  const file = join(o.dataDir, GUARDIAN_FILE);
  const present = await exists(file);
  if (present && !o.force) {
    throw new GuardianError('ERR_GUARDIAN_EXISTS', `${file} already exists: refusing to replace a guardian`, {
      hint: 'pass --force to replace it (capsules sealed to the old guardian then need its paper backup or its module)',
    });
  }
  if (o.restore) {
    if (!o.stdinIsTTY && !o.mnemonicFromStdin) throw new UsageError('ERR_USAGE', 'restoring reads the 24 words from a terminal; stdin is not one', { hint: 'for scripts, pass --mnemonic-from-stdin' });
  } else {
    if (!o.stdoutIsTTY && !o.mnemonicToStdout) {
      throw new UsageError('ERR_USAGE', 'refusing to write the recovery words to a stdout that is not a terminal', {
        hint: 'run it on a terminal; for scripted provisioning pass --mnemonic-to-stdout (the words then go wherever stdout goes)',
      });
    }
    if (!o.stdinIsTTY && !o.confirmFromStdin) throw new UsageError('ERR_USAGE', 'confirming the words needs a terminal; stdin is not one', { hint: 'for scripts, pass --confirm-words-from-stdin' });
  }
  await mkdir(o.dataDir, { recursive: true, mode: 0o700 });
  await removeStaleTemps(o.dataDir);
  if (o.backend === 'soft') await prepareSoftStore(o.dataDir, softPassphrase(o.env), present);

  const library = o.backend === 'zymbit' ? zymbitLibrary(o.env) : undefined;
  const req: SeedRequest = {
    mode: o.restore ? 'restore' : 'init', backend: o.backend, dataDir: o.dataDir, library, signingSlot: SIGNING_SLOT,
    confirmFromStdin: o.confirmFromStdin, mnemonicFromStdin: o.mnemonicFromStdin, mnemonicToStdout: o.mnemonicToStdout,
  };
  const { result, isolation } = await runSeedProcess(req, o.env, o.signal);
  const record: GuardianRecord = {
    format: 'capsule-guardian/v1',
    created: new Date().toISOString(),
    restored: o.restore,
    backend: o.backend,
    library,
    model: result.model,
    serial: result.serial,
    ecdh: result.ecdh,
    signingSlot: SIGNING_SLOT,
    // p256-ecdh is for modules that run ECDH themselves: a guardian whose module cannot, does not
    // offer it, so that moving the unwrap into the module later never strands a capsule.
    recipients: { x25519: result.x25519, p256: result.ecdh ? result.p256 : null },
    signingKey: result.signingKey,
    lockedSeed: result.lockedSeed,
    isolation,
  };
  await writeGuardianFile(o.dataDir, record, o.force);
  return record;
}

/** A kill -9 during the final write can leave AtomicFile's temporary file: never a guardian, only litter. */
async function removeStaleTemps(dataDir: string): Promise<void> {
  for (const f of await readdir(dataDir)) {
    if (/^\.guardian\.json\.[0-9a-f]+\.partial$/.test(f)) await rm(join(dataDir, f), { force: true });
  }
}

/** A soft store left by an interrupted init (no guardian.json) is an orphan: replace it. */
async function prepareSoftStore(dataDir: string, passphrase: string, guardianPresent: boolean): Promise<void> {
  const path = join(dataDir, SOFT_KEYSTORE_FILE);
  if (await exists(path)) {
    if (guardianPresent) {
      await (await SoftKeyStore.open(path, passphrase)).close(); // must open: it holds the guardian's device key
      return;
    }
    await rm(path, { force: true });
  }
  await (await SoftKeyStore.create(path, passphrase)).close();
}

/** Only what the seed process needs: the soft passphrase and the simulator's settings. */
function childEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { LANG: 'C' };
  for (const [k, v] of Object.entries(env)) {
    if (v !== undefined && (k === 'CAPSULE_SOFT_PASSPHRASE' || k.startsWith('ZK_SIM_'))) out[k] = v;
  }
  return out;
}

let netnsProbe: string | undefined;
/** `unshare -rn` works for unprivileged users where user namespaces are enabled; else say why not. */
function isolationCommand(env: NodeJS.ProcessEnv): { prefix: string[]; isolation: string } {
  const own = 'own process, minimal environment';
  if (env.CAPSULE_SEED_NETNS === '0') return { prefix: [], isolation: `${own}; network namespace disabled by CAPSULE_SEED_NETNS=0` };
  netnsProbe ??= (() => {
    const r = spawnSync('unshare', ['-rn', 'true'], { timeout: 5000, stdio: 'ignore' });
    return r.error ? `unshare unavailable (${(r.error as NodeJS.ErrnoException).code})` : r.status === 0 ? 'ok' : `unshare -rn refused (exit ${r.status})`;
  })();
  return netnsProbe === 'ok'
    ? { prefix: ['unshare', '-rn', '--'], isolation: `${own}, no network (user + network namespace)` }
    : { prefix: [], isolation: `${own}; no network namespace: ${netnsProbe}` };
}

async function runSeedProcess(req: SeedRequest, env: NodeJS.ProcessEnv, signal?: AbortSignal): Promise<{ result: SeedResult; isolation: string }> {
  const { prefix, isolation } = isolationCommand(env);
  const argv = [...prefix, process.execPath, CHILD, JSON.stringify(req)];
  const child = spawn(argv[0]!, argv.slice(1), { env: childEnv(env), stdio: ['inherit', 'inherit', 'inherit', 'pipe'] });
  const onAbort = () => child.kill('SIGKILL');
  signal?.addEventListener('abort', onAbort, { once: true });
  const chunks: Buffer[] = [];
  child.stdio[3]!.on('data', (c: Buffer) => chunks.push(c));
  const [code, sig] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (c, s) => resolve([c, s]));
  }).finally(() => signal?.removeEventListener('abort', onAbort));
  let answer: { ok: boolean; result?: SeedResult; error?: { name: string; code?: string; message: string; hint?: string } } | undefined;
  try {
    answer = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    answer = undefined;
  }
  if (answer?.ok && answer.result) return { result: answer.result, isolation };
  if (answer?.error) throw rebuild(answer.error);
  throw new GuardianError('ERR_PROVISIONING', `the seed process ended without an answer (${sig ? `signal ${sig}` : `exit code ${code}`}); nothing was stored`, {
    hint: 'run `capsule guardian init` again',
  });
}

/** The child's typed error, as the same class and code in this process. */
function rebuild(e: { name: string; code?: string; message: string; hint?: string }): Error {
  const o = { hint: e.hint };
  switch (e.name) {
    case 'GuardianError': return new GuardianError(e.code as never, e.message, o);
    case 'KeyError': return new KeyError(e.code as never, e.message, o);
    case 'KeyStoreError': return new KeyStoreError(e.code as never, e.message, o);
    case 'UsageError': return new UsageError(e.code as never, e.message, o);
    default: return new GuardianError('ERR_PROVISIONING', `the seed process failed (${e.name}): ${e.message}`, { hint: 'this is a bug; please report it' });
  }
}

