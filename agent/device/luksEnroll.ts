/**
 * `capsule device luks-enroll`: binds a LUKS2 keyslot of the root disk (or an image file) to the
 * guardian's security module. Run once, on the device, at provisioning.
 *
 * Order (so that an interruption never strands the disk): the key is made and locked by the
 * module; the lock blob is written atomically (0600) to <data dir>/luks/<uuid>.lock; cryptsetup
 * adds the keyslot (the key on a pipe, fd 3); the token is imported. A failure after the keyslot
 * was added removes it again (luksRemoveKey with the same key) and the blob; a kill -9 between the
 * two steps leaves a keyslot without a token (visible in luksDump; remove it with luksKillSlot) and
 * an orphan blob that the next enrolment replaces. The operator's passphrase slot is never touched.
 *
 * The new keyslot's PBKDF defaults to PBKDF2 with 1000 iterations (cryptsetup's minimum): a PBKDF
 * exists to slow the guessing of a low-entropy passphrase, and this key is 64 uniformly random bytes
 * (2^512 guesses) — no cost factor changes that, while argon2id's default costs seconds and up to
 * 1 GiB at every boot (more than a 512 MiB guardian has). `pbkdf` may ask for argon2id anyway.
 *
 * Deliberately not here: formatting or re-encrypting disks, removing an enrolment (cryptsetup
 * token remove + luksKillSlot), and the TPM binding (the TPM issue adds a binding to the same token).
 */
import { mkdir, open, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { wipe } from '../crypto/secrets.ts';
import { DeviceError, UsageError } from '../errors.ts';
import { Guardian } from '../guardian/Guardian.ts';
import { AtomicFile } from '../io/AtomicFile.ts';
import { Cryptsetup, type SlotPbkdf } from './Cryptsetup.ts';
import { frameLuksKey, makeLuksKey, sha256Hex } from './luksKey.ts';
import { findCapsuleToken, lockPathFor, makeToken, ZYMBIT_LOCK } from './luksToken.ts';

/** LUKS2 has keyslots and tokens 0..31. */
const LUKS2_MAX = 32;
export const DEFAULT_PBKDF: SlotPbkdf = { kind: 'pbkdf2', iterations: 1000 };

export interface EnrollOptions {
  device: string;
  dataDir: string;
  /** The keyslot to use (default: the lowest free one). */
  slot?: number;
  /** A key file that opens an existing keyslot; undefined: cryptsetup prompts on the terminal. */
  keyFile?: string;
  pbkdf?: SlotPbkdf;
  env?: NodeJS.ProcessEnv;
}

export interface Enrolment {
  uuid: string;
  slot: number;
  tokenId: number;
  /** Absolute path of the lock blob. */
  lockFile: string;
  model: string;
  serial: string;
}

/**
 * Enrols a new keyslot bound to the guardian's module (see the header).
 * @throws DeviceError ERR_LUKS (not LUKS2, slot taken, cryptsetup refused), ERR_LUKS_ENROLLED (a capsule
 *   token exists), ERR_NO_MODULE (soft backend or no module); GuardianError ERR_NO_GUARDIAN /
 *   ERR_GUARDIAN_MISMATCH; KeyStoreError ERR_MODULE_ABSENT wrapped as ERR_NO_MODULE; UsageError ERR_USAGE.
 */
export async function enrollLuks(o: EnrollOptions): Promise<Enrolment> {
  const env = o.env ?? process.env;
  const pbkdf = o.pbkdf ?? DEFAULT_PBKDF;
  const cs = new Cryptsetup(env);
  const uuid = await cs.uuid(o.device);
  const meta = await cs.metadata(o.device);
  const existing = findCapsuleToken(meta.tokens);
  if (existing) {
    throw new DeviceError('ERR_LUKS_ENROLLED', `${o.device} is already bound to a module (token ${existing.id})`, {
      hint: `to re-enrol, remove the old binding first: cryptsetup token remove --token-id ${existing.id} ${o.device}, then cryptsetup luksKillSlot on its keyslot`,
    });
  }
  const slot = pickSlot(Object.keys(meta.keyslots), o.slot, o.device);
  const tokenId = firstFree(Object.keys(meta.tokens));
  if (tokenId === undefined) throw new DeviceError('ERR_LUKS', `${o.device}: all ${LUKS2_MAX} LUKS2 token ids are taken`, { hint: 'remove an unused token with cryptsetup token remove' });

  const guardian = await openGuardian(o.dataDir, env);
  const relPath = lockPathFor(uuid);
  const lockFile = join(o.dataDir, relPath);
  let key: Uint8Array | undefined;
  let plaintext: Uint8Array | undefined;
  let wroteBlob = false;
  let addedSlot = false;
  try {
    const ks = guardian.keyStore;
    key = await makeLuksKey(ks);
    plaintext = frameLuksKey(uuid, key);
    const blob = await ks.lock(plaintext);
    const binding = { kind: ZYMBIT_LOCK, path: relPath, sha256: sha256Hex(blob), model: ks.capabilities.model, serial: ks.capabilities.serial, created: new Date().toISOString() } as const;
    await writeBlob(lockFile, blob);
    wroteBlob = true;
    await cs.addKey(o.device, key, slot, pbkdf, o.keyFile);
    addedSlot = true;
    await cs.importToken(o.device, tokenId, JSON.stringify(makeToken(slot, binding)));
    return { uuid, slot, tokenId, lockFile, model: binding.model, serial: binding.serial };
  } catch (e) {
    // Undo in reverse, best effort: the first error is the one the operator needs to see.
    if (addedSlot && key) await cs.removeKey(o.device, key).catch(() => {});
    if (wroteBlob) await rm(lockFile, { force: true }).catch(() => {});
    throw e;
  } finally {
    wipe(key, plaintext);
    await guardian.close();
  }
}

async function openGuardian(dataDir: string, env: NodeJS.ProcessEnv): Promise<Guardian> {
  let g: Guardian;
  try {
    g = await Guardian.open(dataDir, { env });
  } catch (cause) {
    if ((cause as { code?: string }).code !== 'ERR_MODULE_ABSENT') throw cause;
    throw new DeviceError('ERR_NO_MODULE', 'no security module answered: the LUKS key must be made and locked by the module', {
      cause, hint: (cause as DeviceError).hint ?? 'check the module is seated and zkifc is running',
    });
  }
  if (g.record.backend !== 'zymbit') {
    await g.close();
    throw new DeviceError('ERR_NO_MODULE', `the guardian in ${dataDir} uses the ${g.record.backend} backend: the root disk binds only to a security module`, {
      hint: 'provision the guardian with --backend zymbit (the default) on the device',
    });
  }
  return g;
}

function firstFree(used: string[]): number | undefined {
  for (let i = 0; i < LUKS2_MAX; i++) if (!used.includes(String(i))) return i;
  return undefined;
}

function pickSlot(used: string[], wanted: number | undefined, device: string): number {
  if (wanted === undefined) {
    const s = firstFree(used);
    if (s === undefined) throw new DeviceError('ERR_LUKS', `${device}: all ${LUKS2_MAX} LUKS2 keyslots are in use`, { hint: 'remove an unused keyslot with cryptsetup luksKillSlot' });
    return s;
  }
  if (!Number.isInteger(wanted) || wanted < 0 || wanted >= LUKS2_MAX) {
    throw new UsageError('ERR_USAGE', `--slot: expected a keyslot number 0..${LUKS2_MAX - 1}, got ${wanted}`, { hint: 'omit --slot to use the lowest free keyslot' });
  }
  if (used.includes(String(wanted))) {
    throw new DeviceError('ERR_LUKS', `${device}: keyslot ${wanted} is in use`, { hint: `free keyslots are the numbers 0..${LUKS2_MAX - 1} not listed by cryptsetup luksDump; omit --slot to take the lowest` });
  }
  return wanted;
}

/** The blob appears whole (AtomicFile: temp, fsync, rename) and the rename is made durable. */
async function writeBlob(path: string, blob: Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const f = await AtomicFile.create(path, 0o600);
  try {
    await f.write(blob);
    await f.commit();
  } catch (e) {
    await f.abort();
    throw e;
  }
  const dir = await open(dirname(path), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
