/**
 * Opening the guardian's KeyStore from a backend name: `zymbit` (the library at CAPSULE_ZYMBIT_LIB,
 * else the one recorded at provisioning, else Zymbit's installed path) or `soft` (the
 * passphrase-locked file in the data directory, passphrase from CAPSULE_SOFT_PASSPHRASE).
 *
 * Deliberately not here: prompting for the soft passphrase (a headless agent has no one to ask).
 */
import { join } from 'node:path';
import { UsageError } from '../errors.ts';
import type { KeyStore } from '../keys/KeyStore.ts';
import { SoftKeyStore } from '../keys/SoftKeyStore.ts';
import { ZymbitKeyStore } from '../keys/ZymbitKeyStore.ts';
import { SOFT_KEYSTORE_FILE } from './GuardianFile.ts';

export const DEFAULT_ZYMBIT_LIB = '/usr/lib/libzk_app_utils.so';
export type Backend = 'zymbit' | 'soft';

export function zymbitLibrary(env: NodeJS.ProcessEnv, recorded?: string): string {
  return env.CAPSULE_ZYMBIT_LIB || recorded || DEFAULT_ZYMBIT_LIB;
}

export function softPassphrase(env: NodeJS.ProcessEnv): string {
  const p = env.CAPSULE_SOFT_PASSPHRASE;
  if (!p) {
    throw new UsageError('ERR_USAGE', 'the soft backend needs CAPSULE_SOFT_PASSPHRASE (at least 8 characters) in the environment', {
      hint: 'the soft backend is for development only; on a device use --backend zymbit',
    });
  }
  return p;
}

export async function openKeyStore(backend: Backend, dataDir: string, env: NodeJS.ProcessEnv, recordedLibrary?: string): Promise<KeyStore> {
  if (backend === 'zymbit') return ZymbitKeyStore.open(zymbitLibrary(env, recordedLibrary));
  return SoftKeyStore.open(join(dataDir, SOFT_KEYSTORE_FILE), softPassphrase(env));
}

export function parseBackend(text: string | undefined): Backend {
  if (text === undefined || text === 'zymbit') return 'zymbit';
  if (text === 'soft') return 'soft';
  throw new UsageError('ERR_USAGE', `--backend: expected zymbit or soft, got ${JSON.stringify(text)}`, { hint: 'zymbit: the security module (or its simulator via CAPSULE_ZYMBIT_LIB); soft: development only' });
}
