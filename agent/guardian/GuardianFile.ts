/**
 * `guardian.json` in the data directory: the one file that makes a data directory a guardian.
 * It holds public facts (backend, model, serial, recipients, signing key) and the BIP39 seed
 * *locked by the module* (this-device-only key): nothing in it is secret on its own.
 *
 * Written whole or not at all (temp file, fsync, rename, then fsync of the directory), mode 0600,
 * so that a kill -9 at any moment leaves either no guardian or a complete one. Deliberately not
 * here: opening the key store (Guardian.ts) and making the seed (provision.ts, seedChild.ts).
 */
import { access, mkdir, open, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { GuardianError } from '../errors.ts';
import { AtomicFile } from '../io/AtomicFile.ts';

export const GUARDIAN_FILE = 'guardian.json';
export const SOFT_KEYSTORE_FILE = 'soft-keystore.json';
const FORMAT = 'capsule-guardian/v1';

export interface GuardianRecord {
  format: typeof FORMAT;
  created: string;
  /** Provisioned from the paper backup (`init --restore`) rather than a fresh seed. */
  restored: boolean;
  backend: 'zymbit' | 'soft' | 'tpm2';
  /** The library the zymbit backend was provisioned with (CAPSULE_ZYMBIT_LIB overrides it). */
  library?: string;
  /** The TCTI the tpm2 backend was provisioned with (CAPSULE_TPM_TCTI overrides it). */
  tcti?: string;
  /** The auth file the tpm2 backend was provisioned with, when not the default (CAPSULE_TPM_AUTH_FILE overrides it). */
  tpmAuthFile?: string;
  model: string;
  serial: string;
  ecdh: boolean;
  signingSlot: number;
  /** tpm2: the TPM's RSA key as a `capsule-tpm1…` recipient (absent in files from other backends). */
  recipients: { x25519: string; p256: string | null; tpm2?: string | null };
  signingKey: string;
  /** The 64-byte BIP39 seed locked by the module (this-device-only key), base64. */
  lockedSeed: string;
  /** How the seed process was isolated, for the operator's record. */
  isolation: string;
}

/** `--data-dir`, else CAPSULE_DATA_DIR, else /var/lib/capsule for root and ~/.local/share/capsule otherwise. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.CAPSULE_DATA_DIR) return env.CAPSULE_DATA_DIR;
  if (process.getuid?.() === 0) return '/var/lib/capsule';
  return join(env.XDG_DATA_HOME || join(homedir(), '.local', 'share'), 'capsule');
}

export async function readGuardianFile(dataDir: string): Promise<GuardianRecord> {
  const path = join(dataDir, GUARDIAN_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new GuardianError('ERR_NO_GUARDIAN', `no guardian in ${dataDir} (${GUARDIAN_FILE} is absent)`, {
        cause,
        hint: 'provision one with `capsule guardian init`, or point --data-dir / CAPSULE_DATA_DIR at it',
      });
    }
    throw new GuardianError('ERR_NO_GUARDIAN', `cannot read ${path} (${(cause as NodeJS.ErrnoException).code})`, { cause });
  }
  let r: Partial<GuardianRecord>;
  try {
    r = JSON.parse(text);
  } catch (cause) {
    throw new GuardianError('ERR_NO_GUARDIAN', `${path}: not valid JSON`, {
      cause,
      hint: 'restore the file from a backup, or re-provision with `capsule guardian init --restore`',
    });
  }
  const bad = (field: string, want: string) =>
    new GuardianError('ERR_NO_GUARDIAN', `${path}: ${field}: expected ${want}`, {
      hint: 'the file was edited or damaged; re-provision with `capsule guardian init --restore --force`',
    });
  if (r.format !== FORMAT) throw bad('format', `"${FORMAT}", got ${JSON.stringify(r.format)}`);
  if (r.backend !== 'zymbit' && r.backend !== 'soft' && r.backend !== 'tpm2') throw bad('backend', '"zymbit", "tpm2" or "soft"');
  for (const k of ['created', 'model', 'serial', 'signingKey', 'lockedSeed', 'isolation'] as const) {
    if (typeof r[k] !== 'string' || r[k] === '') throw bad(k, 'a non-empty string');
  }
  if (!Number.isInteger(r.signingSlot)) throw bad('signingSlot', 'an integer');
  if (typeof r.recipients?.x25519 !== 'string' || !(r.recipients.p256 === null || typeof r.recipients.p256 === 'string')) {
    throw bad('recipients', '{ x25519: string, p256: string | null }');
  }
  return r as GuardianRecord;
}

/** Writes guardian.json atomically (0600). Refuses to replace one unless `replace`. */
export async function writeGuardianFile(dataDir: string, record: GuardianRecord, replace: boolean): Promise<void> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const path = join(dataDir, GUARDIAN_FILE);
  if (!replace && (await exists(path))) {
    throw new GuardianError('ERR_GUARDIAN_EXISTS', `${path} already exists: refusing to replace a guardian`, {
      hint: 'pass --force to replace it (capsules sealed to the old guardian then need its paper backup)',
    });
  }
  const f = await AtomicFile.create(path, 0o600, path);
  try {
    await f.write(new TextEncoder().encode(JSON.stringify(record, null, 2) + '\n'));
    await f.commit();
  } catch (e) {
    await f.abort();
    throw e;
  }
  // The rename is durable only once the directory entry is on disk.
  const dir = await open(dataDir, 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

export async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
