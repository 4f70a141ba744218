/**
 * The TPM 2.0 side of the LUKS binding (`tpm2-seal`, luksToken.ts): the key store that seals LUKS
 * keys, which TCTI reaches the TPM, and the TPM's refusals turned into the binding's typed errors.
 *
 * LUKS keys are sealed by a key store of their own, `<data dir>/luks/tpm2-keystore.json` with its
 * authValue in `<data dir>/luks/tpm2-auth` (a Tpm2KeyStore made at the first tpm2 enrolment, under
 * the same TPM's storage key as the guardian's), not by the guardian's store. Why: the boot path
 * needs the seal's authValue inside the initramfs, which lies unencrypted on /boot (on a Pi a FAT
 * partition, readable by every local user). The guardian's `tpm2-auth` also authorises its RSA
 * decryption key (tpm2-rsa capsules) and its signing key; copied there it would hand both to anyone
 * holding the SD card, whatever PCR policy the disk key has. The LUKS store's authValue opens only
 * LUKS seals — what the initramfs exists to open anyway. (Tpm2KeyStore.create also makes an RSA and
 * a P-256 key in that store; they are never used.)
 *
 * The TCTI comes from CAPSULE_TPM_TCTI, else the guardian's record (guardian.json `tcti`, absent in
 * the initramfs), else device:/dev/tpmrm0 — never from the LUKS token: the header is not
 * authenticated, and a TCTI string can name a program to run (tpm2-tss's `cmd` TCTI).
 *
 * Deliberately not here: the blob format and the TPM calls (Tpm2KeyStore: authValue + PCR policy),
 * the token (luksToken.ts), enrolment order (luksEnroll.ts).
 */
import { access, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DeviceError, hasCode, type KeyStoreError } from '../errors.ts';
import { readGuardianFile } from '../guardian/GuardianFile.ts';
import type { KeyStore } from '../keys/KeyStore.ts';
import { TPM2_AUTH_FILE, TPM2_KEYSTORE_FILE, Tpm2KeyStore } from '../keys/Tpm2KeyStore.ts';
import { DEFAULT_TCTI } from '../keys/tpm2/Tpm2.ts';
import type { Tpm2SealBinding } from './luksToken.ts';

/** The LUKS seal store's directory and files, for data directory `dataDir`. */
export function luksTpmFiles(dataDir: string): { dir: string; keys: string; auth: string } {
  const dir = join(dataDir, 'luks');
  return { dir, keys: join(dir, TPM2_KEYSTORE_FILE), auth: join(dir, TPM2_AUTH_FILE) };
}

/** The TCTI for the LUKS binding (see the header); `recorded` is guardian.json's when already read. */
export async function luksTcti(env: NodeJS.ProcessEnv, dataDir: string, recorded?: string): Promise<string> {
  if (env.CAPSULE_TPM_TCTI) return env.CAPSULE_TPM_TCTI;
  if (recorded) return recorded;
  try {
    const r = await readGuardianFile(dataDir);
    if (r.backend === 'tpm2' && r.tcti) return r.tcti;
  } catch {
    // No guardian.json here (the initramfs carries only luks/): the default.
  }
  return DEFAULT_TCTI;
}

const exists = (p: string) => access(p).then(() => true, () => false);

/**
 * Opens the LUKS seal store on the TPM behind `tcti`; with `create`, makes it when absent.
 * `sealedBy` (the binding's TPM) makes the wrong-TPM message name it; `where` prefixes messages.
 * @throws DeviceError ERR_NO_MODULE (no TPM answered, tpm2-tss missing), ERR_WRONG_MODULE (the store
 *   was made by another TPM), ERR_LUKS_TOKEN (its key file is missing and not `create`, or its auth
 *   file is missing); KeyStoreError
 *   ERR_MODULE_ABSENT (a store file unreadable or malformed), ERR_MODULE_CALL.
 */
export async function openLuksTpm(dataDir: string, tcti: string, o: { create?: boolean; sealedBy?: string; where?: string } = {}): Promise<Tpm2KeyStore> {
  const f = luksTpmFiles(dataDir);
  const at = o.where ? `${o.where}: ` : '';
  const have = await exists(f.keys);
  if (!have && !o.create) {
    throw new DeviceError('ERR_LUKS_TOKEN', `${at}the TPM seal store ${f.keys} is missing: the LUKS key cannot be unsealed without it and ${f.auth}`, {
      hint: 'pass the guardian\'s --data-dir (at boot: the initramfs must carry its luks/ directory: update-initramfs -u)',
    });
  }
  if (have && !(await exists(f.auth))) {
    throw new DeviceError('ERR_LUKS_TOKEN', `${at}the TPM seal store's auth file ${f.auth} is missing: no LUKS key sealed by ${f.keys} can be unsealed without it`, {
      hint: 'restore it from the backup of the data directory (at boot: update-initramfs -u copies it); meanwhile unlock with the passphrase. If it is lost, move the seal store away and re-enrol',
    });
  }
  try {
    if (have) return await Tpm2KeyStore.open(f.dir, { tcti, authFile: f.auth });
    await mkdir(f.dir, { recursive: true, mode: 0o700 });
    // No default PCRs: every seal names its own (luksEnroll.ts).
    return await Tpm2KeyStore.create(f.dir, { tcti, authFile: f.auth, pcrs: [] });
  } catch (cause) {
    // ERR_MODULE_ABSENT also covers a malformed store file: only Tpm2.open's "nothing answers"
    // failures mean no TPM; the others pass through with their own message and hint.
    if (hasCode(cause, 'ERR_MODULE_ABSENT') && /no TPM answers|cannot load tpm2-tss|Esys_Initialize/.test((cause as Error).message)) {
      throw new DeviceError('ERR_NO_MODULE', `${at}no TPM answered through ${tcti}: the LUKS key cannot be ${o.create ? 'sealed' : 'unsealed'}`, {
        cause, hint: (cause as KeyStoreError).hint ?? 'check the TPM is enabled; meanwhile unlock with the passphrase',
      });
    }
    if (hasCode(cause, 'ERR_LOCK_INTEGRITY')) {
      throw o.sealedBy
        ? new DeviceError('ERR_WRONG_MODULE', `${at}the LUKS key was sealed by TPM ${o.sealedBy}; the TPM at ${tcti} is another TPM (or was cleared)`, {
          cause, hint: 'a sealed key opens only on the TPM that sealed it: unlock with the passphrase, then re-enrol on this TPM (capsule device luks-enroll --backend tpm2)',
        })
        : new DeviceError('ERR_WRONG_MODULE', `the TPM seal store ${f.keys} was made by another TPM than the one at ${tcti} (it was replaced or cleared)`, {
          cause, hint: `its seals can no longer be opened: move ${f.keys} and ${f.auth} away (after removing the bindings that use them), then enrol again`,
        });
    }
    throw cause;
  }
}

/** "PCR 7" / "PCRs 0, 2, 7". */
export function pcrWords(pcrs: readonly number[]): string {
  return pcrs.length === 1 ? `PCR ${pcrs[0]}` : `PCRs ${pcrs.join(', ')}`;
}

/** Where the binding is, for the re-enrolment hint. */
export interface SealContext { device: string; tokenId: number; slot: number; where: string }

/**
 * Unseals a tpm2-seal blob, the TPM's refusals as the binding's errors.
 * @throws DeviceError ERR_PCR_MISMATCH (the PCRs changed since sealing), ERR_WRONG_MODULE (sealed by
 *   another TPM), ERR_LOCK_INTEGRITY (altered); KeyStoreError ERR_TPM_AUTH, ERR_TPM_LOCKOUT, ERR_MODULE_CALL.
 */
export async function unsealLuksBlob(ks: KeyStore, blob: Uint8Array, b: Tpm2SealBinding, c: SealContext): Promise<Uint8Array> {
  try {
    return await ks.unlock(blob);
  } catch (cause) {
    if (hasCode(cause, 'ERR_TPM_POLICY')) {
      const which = b.pcrs.length === 0
        ? 'the PCRs of its policy (the token lists none: it was edited)'
        : `${pcrWords(b.pcrs)} (${b.pcrBank} bank)`;
      const holds = b.pcrs.length === 1 ? 'no longer holds the value it had' : 'no longer hold the values they had';
      throw new DeviceError('ERR_PCR_MISMATCH', `${c.where}: the TPM refused to unseal the LUKS key: ${which} ${holds} at enrolment`, {
        cause,
        hint: `something measured into ${b.pcrs.length ? pcrWords(b.pcrs) : 'them'} changed (firmware, boot loader, kernel or their configuration): unlock with the passphrase; `
          + `if the change was deliberate, re-enrol: cryptsetup token remove --token-id ${c.tokenId} ${c.device}; cryptsetup luksKillSlot ${c.device} ${c.slot}; `
          + `capsule device luks-enroll ${c.device} --backend tpm2${b.pcrs.length ? ` --pcrs ${b.pcrs.join(',')}` : ''}`,
      });
    }
    if (!hasCode(cause, 'ERR_LOCK_INTEGRITY')) throw cause;
    const serial = ks.capabilities.serial;
    if (serial !== b.serial) {
      throw new DeviceError('ERR_WRONG_MODULE', `${c.where}: the TPM refused the sealed LUKS key: it was sealed by TPM ${b.serial}, this is TPM ${serial}`, {
        cause, hint: 'a sealed key opens only on the TPM that sealed it: unlock with the passphrase and re-enrol on this TPM',
      });
    }
    throw new DeviceError('ERR_LOCK_INTEGRITY', `${c.where}: the TPM refused the sealed LUKS key (it was altered, or sealed by another seal store of this TPM)`, {
      cause, hint: 'the blob and the token were altered together: unlock with the passphrase and re-enrol',
    });
  }
}
