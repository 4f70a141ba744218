/**
 * `capsule guardian init [--restore]`, the parent side: checks, the one-shot seed process
 * (seedChild.ts) started with a minimal environment inside the sandbox of seedSandbox.ts
 * (bubblewrap: namespaces, a read-only filesystem of what it needs, seccomp) — or, where that is
 * unavailable, refused unless --allow-unisolated — then guardian.json written atomically (with
 * how the seed process was isolated). The soft passphrase reaches the child on a pipe (fd 5).
 *
 * Order matters for kill -9: nothing is written before the operator has confirmed the words and
 * the module has locked the seed, and guardian.json appears by one rename. So an interruption at
 * any point leaves no guardian or a complete one. Deliberately not here: the seed itself (it never
 * enters this process) and the CLI's output.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Writable } from 'node:stream';
import { mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GuardianError, hasCode, KeyError, KeyStoreError, UsageError } from '../errors.ts';
import { sweepPartials } from '../io/partials.ts';
import { encodeTpmRecipient } from '../crypto/tpmRecipient.ts';
import { SoftKeyStore } from '../keys/SoftKeyStore.ts';
import { TPM2_KEYSTORE_FILE, Tpm2KeyStore } from '../keys/Tpm2KeyStore.ts';
import { exists, GUARDIAN_FILE, SOFT_KEYSTORE_FILE, writeGuardianFile, type GuardianRecord } from './GuardianFile.ts';
import { softPassphrase, tpmTcti, zymbitLibrary, type Backend } from './keyStoreFor.ts';
import type { SeedRequest, SeedResult } from './seedChild.ts';
import { seedSandbox, seedTpmFor, type SeedSandbox } from './seedSandbox.ts';

const CHILD = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? './seedChild.ts' : './seedChild.js', import.meta.url));
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
  /** tpm2: the PCRs the seed is sealed to, besides the authValue (used when the TPM keys are made). */
  pcrs?: number[];
  /** Run the seed process even where it cannot be confined (recorded in guardian.json). */
  allowUnisolated?: boolean;
  /** Told what the operator should know (e.g. another TPM's keys kept aside); the CLI prints it. */
  onNotice?: (text: string) => void;
  /** Told when the seed process runs unconfined (the CLI prints it as a warning). */
  onUnisolated?: (isolation: string) => void;
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
    if (!o.stdinIsTTY && !o.mnemonicFromStdin)
      throw new UsageError('ERR_USAGE', 'restoring reads the 24 words from a terminal; stdin is not one', { hint: 'for scripts, pass --mnemonic-from-stdin' });
  } else {
    if (!o.stdoutIsTTY && !o.mnemonicToStdout) {
      throw new UsageError('ERR_USAGE', 'refusing to write the recovery words to a stdout that is not a terminal', {
        hint: 'run it on a terminal; for scripted provisioning pass --mnemonic-to-stdout (the words then go wherever stdout goes)',
      });
    }
    if (!o.stdinIsTTY && !o.confirmFromStdin)
      throw new UsageError('ERR_USAGE', 'confirming the words needs a terminal; stdin is not one', { hint: 'for scripts, pass --confirm-words-from-stdin' });
  }
  await mkdir(o.dataDir, { recursive: true, mode: 0o700 });
  await removeStaleTemps(o.dataDir);
  const library = o.backend === 'zymbit' ? zymbitLibrary(o.env) : undefined;
  const tcti = o.backend === 'tpm2' ? tpmTcti(o.env) : undefined;
  const tpmAuthFile = o.backend === 'tpm2' && o.env.CAPSULE_TPM_AUTH_FILE ? resolve(o.env.CAPSULE_TPM_AUTH_FILE) : undefined;
  // Decided before anything is created: a guardian that cannot confine its seed process refuses
  // (fail closed) unless the operator accepted that explicitly.
  const sandboxFor = () =>
    seedSandbox(o.env, { library, dataDir: o.dataDir, allowUnisolated: o.allowUnisolated === true, tpm: tcti ? seedTpmFor(tcti, tpmAuthFile) : undefined });
  let box = sandboxFor();
  if (!box.isolated) o.onUnisolated?.(box.isolation);
  // Read once (from a file, a systemd credential, or the environment, which is then cleared) and
  // handed to the seed process through a pipe.
  const passphrase = o.backend === 'soft' ? softPassphrase(o.env) : undefined;
  if (passphrase !== undefined) await prepareSoftStore(o.dataDir, passphrase, present);
  const tpm2Recipient = tcti ? await prepareTpm2Store(o.dataDir, tcti, tpmAuthFile, o.pcrs, o.onNotice) : undefined;
  // The auth file may have been made just now: decided again, so that it is bound into the sandbox.
  if (tcti) box = sandboxFor();

  const req: SeedRequest = {
    mode: o.restore ? 'restore' : 'init',
    backend: o.backend,
    dataDir: o.dataDir,
    library,
    tcti,
    tpmAuthFile,
    signingSlot: SIGNING_SLOT,
    confirmFromStdin: o.confirmFromStdin,
    mnemonicFromStdin: o.mnemonicFromStdin,
    mnemonicToStdout: o.mnemonicToStdout,
  };
  const result = await runSeedProcess(req, box, o.env, passphrase, o.signal);
  const isolation = box.isolation;
  const record: GuardianRecord = {
    format: 'capsule-guardian/v1',
    created: new Date().toISOString(),
    restored: o.restore,
    backend: o.backend,
    library,
    ...(tcti ? { tcti, tpmAuthFile } : {}),
    model: result.model,
    serial: result.serial,
    ecdh: result.ecdh,
    signingSlot: SIGNING_SLOT,
    // p256-ecdh is for modules that run ECDH themselves: a guardian whose module cannot, does not
    // offer it, so that moving the unwrap into the module later never strands a capsule.
    recipients: { x25519: result.x25519, p256: result.ecdh ? result.p256 : null, ...(tpm2Recipient ? { tpm2: tpm2Recipient } : {}) },
    signingKey: result.signingKey,
    lockedSeed: result.lockedSeed,
    isolation,
  };
  await writeGuardianFile(o.dataDir, record, o.force);
  return record;
}

/** A kill -9 during the final write can leave AtomicFile's temporary file: never a guardian, only litter. */
async function removeStaleTemps(dataDir: string): Promise<void> {
  await sweepPartials(dataDir); // any AtomicFile temporary whose writer is dead (partials.ts)
  for (const f of await readdir(dataDir)) {
    // the older name, without the writer recorded
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

/**
 * The tpm2 key store, made in this process before the seed process runs (that one only reads the
 * data directory): kept when it opens on this TPM, made anew when it holds another TPM's keys (a
 * restore onto a new TPM) or is absent. Returns the `capsule-tpm1…` recipient.
 * @throws KeyStoreError ERR_MODULE_ABSENT (no TPM, or a key file without its auth file).
 */
async function prepareTpm2Store(
  dataDir: string,
  tcti: string,
  authFile: string | undefined,
  pcrs: number[] | undefined,
  notice?: (text: string) => void,
): Promise<string> {
  const file = join(dataDir, TPM2_KEYSTORE_FILE);
  let ks: Tpm2KeyStore;
  try {
    ks = await Tpm2KeyStore.open(dataDir, { tcti, authFile });
  } catch (e) {
    const absent = hasCode(e, 'ERR_KEYSTORE_FILE') && !(await exists(file));
    if (!absent && !hasCode(e, 'ERR_LOCK_INTEGRITY')) throw e;
    if (!absent) {
      // Another TPM's keys (a restore onto a new TPM — or a wrong TCTI): never destroyed, kept
      // beside under the old TPM's fingerprint, so that pointing back at that TPM can still use them.
      const old = JSON.parse(await readFile(file, 'utf8')) as { srk?: string };
      const kept = join(dataDir, `tpm2-keystore.${/^tpm2-[0-9a-f]{16}$/.test(old.srk ?? '') ? old.srk : Date.now()}.json`);
      await rename(file, kept);
      notice?.(`${file} held the keys of another TPM (${old.srk}); kept as ${kept}, and new keys made on this TPM`);
    }
    ks = await Tpm2KeyStore.create(dataDir, { tcti, authFile, pcrs, replace: true });
  }
  try {
    if (pcrs && ks.pcrs.join() !== pcrs.join()) {
      throw new UsageError('ERR_USAGE', `--pcrs ${pcrs.join(',')}: the TPM keys in ${dataDir} were made with PCRs [${ks.pcrs.join(',')}]`, {
        hint: 'the PCR set is chosen when the TPM keys are made; move tpm2-keystore.json away to make new ones (capsules sealed to the old tpm2-rsa key then open no more)',
      });
    }
    return encodeTpmRecipient(ks.tpm2Rsa.modulus);
  } finally {
    await ks.close();
  }
}

/** Only what the seed process needs: the simulator's settings (the soft passphrase goes by pipe). */
function childEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { LANG: 'C' };
  for (const [k, v] of Object.entries(env)) {
    if (v !== undefined && k.startsWith('ZK_SIM_')) out[k] = v;
  }
  return out;
}

/**
 * Starts `script` (seedChild.ts, or a test's probe) confined as `box` says: fd 3 is the answer
 * pipe, fd 4 the seccomp program (read by bwrap), fd 5 the secret (the soft passphrase), never the
 * environment. Exported for the confinement tests, which run a probe through this same door.
 */
export function spawnSeedProcess(box: SeedSandbox, script: string, args: string[], env: NodeJS.ProcessEnv, secret?: string): ChildProcess {
  const argv = [...box.prefix, process.execPath, script, ...args];
  const child = spawn(argv[0]!, argv.slice(1), {
    env: childEnv(env),
    stdio: ['inherit', 'inherit', 'inherit', 'pipe', box.seccomp ? 'pipe' : 'ignore', 'pipe'],
  });
  const stdio = child.stdio as unknown as Array<Writable | null>;
  for (const [fd, bytes] of [
    [4, box.seccomp],
    [5, secret ?? ''],
  ] as const) {
    const w = stdio[fd];
    if (!w || bytes === undefined) continue;
    w.on('error', () => {}); // a child that died early closes its end: its exit says why
    w.end(bytes);
  }
  return child;
}

async function runSeedProcess(
  req: SeedRequest,
  box: SeedSandbox,
  env: NodeJS.ProcessEnv,
  secret: string | undefined,
  signal?: AbortSignal,
): Promise<SeedResult> {
  const child = spawnSeedProcess(box, CHILD, [JSON.stringify(req)], env, secret);
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
  if (answer?.ok && answer.result) return answer.result;
  if (answer?.error) throw rebuild(answer.error);
  throw new GuardianError('ERR_PROVISIONING', `the seed process ended without an answer (${sig ? `signal ${sig}` : `exit code ${code}`}); nothing was stored`, {
    hint: 'run `capsule guardian init` again',
  });
}

/** The child's typed error, as the same class and code in this process. */
function rebuild(e: { name: string; code?: string; message: string; hint?: string }): Error {
  const o = { hint: e.hint };
  switch (e.name) {
    case 'GuardianError':
      return new GuardianError(e.code as never, e.message, o);
    case 'KeyError':
      return new KeyError(e.code as never, e.message, o);
    case 'KeyStoreError':
      return new KeyStoreError(e.code as never, e.message, o);
    case 'UsageError':
      return new UsageError(e.code as never, e.message, o);
    default:
      return new GuardianError('ERR_PROVISIONING', `the seed process failed (${e.name}): ${e.message}`, { hint: 'this is a bug; please report it' });
  }
}
