/**
 * Opening the guardian's KeyStore from a backend name: `zymbit` (the library at CAPSULE_ZYMBIT_LIB,
 * else the one recorded at provisioning, else Zymbit's installed path), `tpm2` (the TPM behind the
 * TCTI in CAPSULE_TPM_TCTI, else the one recorded at provisioning, else device:/dev/tpmrm0; its
 * key file and auth file in the data directory, the auth file moved by CAPSULE_TPM_AUTH_FILE) or
 * `soft` (the passphrase-locked file in the data directory).
 *
 * The soft passphrase comes from, in order: the file named by CAPSULE_SOFT_PASSPHRASE_FILE; the
 * systemd credential `soft-passphrase` ($CREDENTIALS_DIRECTORY/soft-passphrase, from
 * LoadCredential=); CAPSULE_SOFT_PASSPHRASE. Whichever way, CAPSULE_SOFT_PASSPHRASE is deleted
 * from the environment once read, so no child process (workers, helpers) inherits it. Deleting
 * does not erase the copy the kernel shows in /proc/PID/environ (the process's initial
 * environment, readable by the same user and root): prefer the file or the credential.
 *
 * Deliberately not here: prompting for the soft passphrase (a headless agent has no one to ask).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../errors.ts';
import type { KeyStore } from '../keys/KeyStore.ts';
import { SoftKeyStore } from '../keys/SoftKeyStore.ts';
import { Tpm2KeyStore } from '../keys/Tpm2KeyStore.ts';
import { DEFAULT_TCTI } from '../keys/tpm2/Tpm2.ts';
import { ZymbitKeyStore } from '../keys/ZymbitKeyStore.ts';
import { SOFT_KEYSTORE_FILE } from './GuardianFile.ts';

export const DEFAULT_ZYMBIT_LIB = '/usr/lib/libzk_app_utils.so';
export type Backend = 'zymbit' | 'soft' | 'tpm2';

/** The TCTI the tpm2 backend uses: CAPSULE_TPM_TCTI, else the recorded one, else the kernel's resource manager. */
export function tpmTcti(env: NodeJS.ProcessEnv, recorded?: string): string {
  return env.CAPSULE_TPM_TCTI || recorded || DEFAULT_TCTI;
}

export function zymbitLibrary(env: NodeJS.ProcessEnv, recorded?: string): string {
  return env.CAPSULE_ZYMBIT_LIB || recorded || DEFAULT_ZYMBIT_LIB;
}

/**
 * The soft backend's passphrase (see the header for where it comes from); removes
 * CAPSULE_SOFT_PASSPHRASE from `env`.
 * @throws UsageError ERR_USAGE when none is given, or the file named cannot be read or is empty.
 */
export function softPassphrase(env: NodeJS.ProcessEnv): string {
  const fromEnv = env.CAPSULE_SOFT_PASSPHRASE;
  delete env.CAPSULE_SOFT_PASSPHRASE;
  const credential = env.CREDENTIALS_DIRECTORY ? join(env.CREDENTIALS_DIRECTORY, 'soft-passphrase') : undefined;
  const file = env.CAPSULE_SOFT_PASSPHRASE_FILE || (credential && existsSync(credential) ? credential : undefined);
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (cause) {
      throw new UsageError('ERR_USAGE', `the soft passphrase file ${file} cannot be read (${(cause as NodeJS.ErrnoException).code})`, {
        cause,
        hint: 'CAPSULE_SOFT_PASSPHRASE_FILE (or the systemd credential soft-passphrase) must name a readable file holding the passphrase',
      });
    }
    const p = text.replace(/\r?\n$/, ''); // one trailing newline, as editors and echo leave it
    if (!p) throw new UsageError('ERR_USAGE', `the soft passphrase file ${file} is empty`, { hint: 'write the passphrase (at least 8 characters) into it' });
    return p;
  }
  if (!fromEnv) {
    throw new UsageError(
      'ERR_USAGE',
      'the soft backend needs a passphrase: CAPSULE_SOFT_PASSPHRASE_FILE (a file holding it), the systemd credential soft-passphrase, or CAPSULE_SOFT_PASSPHRASE (at least 8 characters)',
      {
        hint: 'the soft backend is for development only; on a device use --backend zymbit',
      },
    );
  }
  return fromEnv;
}

/**
 * Opens the recorded backend; `moduleTimeoutMs` bounds each module or TPM call; `tcti` is the
 * recorded TCTI and `tpmAuthFile` the auth file (tpm2; env CAPSULE_TPM_TCTI / CAPSULE_TPM_AUTH_FILE win).
 * @throws KeyStoreError ERR_MODULE_ABSENT (no module or TPM), ERR_LOCK_INTEGRITY (tpm2 keys of
 *   another TPM), UsageError ERR_USAGE (no soft passphrase).
 */
export async function openKeyStore(
  backend: Backend,
  dataDir: string,
  env: NodeJS.ProcessEnv,
  recordedLibrary?: string,
  options: { moduleTimeoutMs?: number; passphrase?: string; tcti?: string; tpmAuthFile?: string } = {},
): Promise<KeyStore> {
  if (backend === 'zymbit') return ZymbitKeyStore.open(zymbitLibrary(env, recordedLibrary), { timeoutMs: options.moduleTimeoutMs });
  if (backend === 'tpm2')
    return Tpm2KeyStore.open(dataDir, {
      tcti: tpmTcti(env, options.tcti),
      authFile: env.CAPSULE_TPM_AUTH_FILE || options.tpmAuthFile,
      timeoutMs: options.moduleTimeoutMs,
    });
  return SoftKeyStore.open(join(dataDir, SOFT_KEYSTORE_FILE), options.passphrase ?? softPassphrase(env));
}

export function parseBackend(text: string | undefined): Backend {
  if (text === undefined || text === 'zymbit') return 'zymbit';
  if (text === 'soft') return 'soft';
  if (text === 'tpm2') return 'tpm2';
  throw new UsageError('ERR_USAGE', `--backend: expected zymbit, tpm2 or soft, got ${JSON.stringify(text)}`, {
    hint: 'zymbit: the security module (or its simulator via CAPSULE_ZYMBIT_LIB); tpm2: a TPM 2.0 (CAPSULE_TPM_TCTI, default device:/dev/tpmrm0); soft: development only',
  });
}
