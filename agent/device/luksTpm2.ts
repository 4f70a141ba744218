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
 * authenticated, and a TCTI string can name a program to run (tpm2-tss's `cmd` TCTI) or a library
 * to load (a path as the TCTI's name). The record is trusted only for the kinds that open a device
 * or a socket (device, swtpm, mssim): `luks-enroll` and `luks-key` run as root, while guardian.json
 * is written by the agent's user, so a record naming anything else would let that user run code as
 * root. CAPSULE_TPM_TCTI is the operator's own word and is taken as it is.
 *
 * Deliberately not here: the blob format and the TPM calls (Tpm2KeyStore: authValue + PCR policy),
 * the token (luksToken.ts), enrolment order (luksEnroll.ts).
 */
import { access, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DeviceError, hasCode, type KeyStoreError } from '../errors.ts';
import { GUARDIAN_FILE, readGuardianFile } from '../guardian/GuardianFile.ts';
import type { KeyStore } from '../keys/KeyStore.ts';
import { TPM2_AUTH_FILE, TPM2_KEYSTORE_FILE, Tpm2KeyStore } from '../keys/Tpm2KeyStore.ts';
import { DEFAULT_TCTI } from '../keys/tpm2/Tpm2.ts';
import type { Tpm2SealBinding } from './luksToken.ts';

/** The LUKS seal store's directory and files, for data directory `dataDir`. */
export function luksTpmFiles(dataDir: string): { dir: string; keys: string; auth: string } {
  const dir = join(dataDir, 'luks');
  return { dir, keys: join(dir, TPM2_KEYSTORE_FILE), auth: join(dir, TPM2_AUTH_FILE) };
}

/** The TCTI kinds (tpm2-tss: the name before the first ':') taken from guardian.json: a device or a socket. */
export const RECORD_TCTI_KINDS: readonly string[] = ['device', 'swtpm', 'mssim'];

/**
 * The TCTI for the LUKS binding (see the header): CAPSULE_TPM_TCTI, else guardian.json's `tcti`
 * (`recorded` when the caller already read it), else device:/dev/tpmrm0.
 * @throws DeviceError ERR_UNSAFE_TCTI when the recorded TCTI is not of a kind in RECORD_TCTI_KINDS.
 */
export async function luksTcti(env: NodeJS.ProcessEnv, dataDir: string, recorded?: string): Promise<string> {
  if (env.CAPSULE_TPM_TCTI) return env.CAPSULE_TPM_TCTI;
  let tcti = recorded;
  if (!tcti) {
    try {
      const r = await readGuardianFile(dataDir);
      if (r.backend === 'tpm2') tcti = r.tcti;
    } catch {
      // No guardian.json here (the initramfs carries only luks/): the default.
    }
  }
  if (!tcti) return DEFAULT_TCTI;
  // tpm2-tss's loader: "name:conf", or a bare name; the name picks the library (or is a path to one).
  const kind = tcti.includes(':') ? tcti.slice(0, tcti.indexOf(':')) : tcti;
  if (!RECORD_TCTI_KINDS.includes(kind)) {
    throw new DeviceError(
      'ERR_UNSAFE_TCTI',
      `${join(dataDir, GUARDIAN_FILE)} tcti: expected a TCTI of kind ${RECORD_TCTI_KINDS.join(', ')} (a device or a socket), got ${JSON.stringify(tcti.slice(0, 120))}: root does not take a TCTI that can load or run code from a file the agent's user writes`,
      {
        hint: 'set CAPSULE_TPM_TCTI explicitly (for the boot path in /etc/capsule/luks-keyscript.conf) if that TCTI is really meant, or correct the record',
      },
    );
  }
  return tcti;
}

const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );

/**
 * Opens the LUKS seal store on the TPM behind `tcti`; with `create`, makes it when absent.
 * `sealedBy` (the binding's TPM) makes the wrong-TPM message name it; `where` prefixes messages.
 * `expect` (enrolment: the guardian's TPM, already proven to answer at `tcti`) is checked again on
 * the store's own connection; a store made by this call for another TPM is removed again.
 * @throws DeviceError ERR_NO_MODULE (no TPM answered, tpm2-tss missing), ERR_WRONG_MODULE (the store
 *   was made by another TPM, or the TPM is not `expect`), ERR_LUKS_TOKEN (its key file is missing
 *   and not `create`, its auth file is missing, or either is unreadable or malformed); KeyStoreError
 *   ERR_MODULE_CALL.
 */
export async function openLuksTpm(
  dataDir: string,
  tcti: string,
  o: { create?: boolean; sealedBy?: string; where?: string; expect?: string } = {},
): Promise<Tpm2KeyStore> {
  const f = luksTpmFiles(dataDir);
  const at = o.where ? `${o.where}: ` : '';
  const have = await exists(f.keys);
  const hadAuth = await exists(f.auth);
  if (!have && !o.create) {
    throw new DeviceError('ERR_LUKS_TOKEN', `${at}the TPM seal store ${f.keys} is missing: the LUKS key cannot be unsealed without it and ${f.auth}`, {
      hint: "pass the guardian's --data-dir (at boot: the initramfs must carry its luks/ directory: update-initramfs -u)",
    });
  }
  if (have && !hadAuth) {
    throw new DeviceError(
      'ERR_LUKS_TOKEN',
      `${at}the TPM seal store's auth file ${f.auth} is missing: no LUKS key sealed by ${f.keys} can be unsealed without it`,
      {
        hint: 'restore it from the backup of the data directory (at boot: update-initramfs -u copies it); meanwhile unlock with the passphrase. If it is lost, move the seal store away and re-enrol',
      },
    );
  }
  let ks: Tpm2KeyStore;
  try {
    if (have) {
      ks = await Tpm2KeyStore.open(f.dir, { tcti, authFile: f.auth });
    } else {
      await mkdir(f.dir, { recursive: true, mode: 0o700 });
      // No default PCRs: every seal names its own (luksEnroll.ts).
      ks = await Tpm2KeyStore.create(f.dir, { tcti, authFile: f.auth, pcrs: [] });
    }
  } catch (cause) {
    // Nothing half-made stays behind (create may have written the auth file before failing).
    if (!have && !hadAuth) await rm(f.auth, { force: true }).catch(() => {});
    // ERR_MODULE_ABSENT: tpm2-tss cannot be loaded or nothing answers; a store file that cannot be
    // used is ERR_KEYSTORE_FILE (the TPM may be fine).
    if (hasCode(cause, 'ERR_MODULE_ABSENT')) {
      throw new DeviceError('ERR_NO_MODULE', `${at}no TPM answered through ${tcti}: the LUKS key cannot be ${o.create ? 'sealed' : 'unsealed'}`, {
        cause,
        hint: (cause as KeyStoreError).hint ?? 'check the TPM is enabled; meanwhile unlock with the passphrase',
      });
    }
    if (hasCode(cause, 'ERR_KEYSTORE_FILE')) {
      throw new DeviceError('ERR_LUKS_TOKEN', `${at}the TPM seal store in ${f.dir} cannot be used: ${(cause as Error).message.replace(/^tpm2: /, '')}`, {
        cause,
        hint: `restore ${f.keys} and ${f.auth} from the backup of the data directory (at boot: update-initramfs -u copies them); meanwhile unlock with the passphrase. If they are lost, move them away and re-enrol`,
      });
    }
    if (hasCode(cause, 'ERR_LOCK_INTEGRITY')) {
      throw o.sealedBy
        ? new DeviceError('ERR_WRONG_MODULE', `${at}the LUKS key was sealed by TPM ${o.sealedBy}; the TPM at ${tcti} is another TPM (or was cleared)`, {
            cause,
            hint: 'a sealed key opens only on the TPM that sealed it: unlock with the passphrase, then re-enrol on this TPM (capsule device luks-enroll --backend tpm2)',
          })
        : new DeviceError('ERR_WRONG_MODULE', `the TPM seal store ${f.keys} was made by another TPM than the one at ${tcti} (it was replaced or cleared)`, {
            cause,
            hint: `its seals can no longer be opened: move ${f.keys} and ${f.auth} away (after removing the bindings that use them), then enrol again`,
          });
    }
    throw cause;
  }
  const serial = ks.capabilities.serial;
  if (o.expect !== undefined && serial !== o.expect) {
    await ks.close();
    if (!have) await rm(f.keys, { force: true });
    if (!have && !hadAuth) await rm(f.auth, { force: true });
    throw new DeviceError('ERR_WRONG_MODULE', `the TPM at ${tcti} is ${serial}, not the guardian's TPM ${o.expect}`, {
      hint: "set CAPSULE_TPM_TCTI to the guardian's TPM",
    });
  }
  return ks;
}

/** "PCR 7" / "PCRs 0, 2, 7". */
export function pcrWords(pcrs: readonly number[]): string {
  return pcrs.length === 1 ? `PCR ${pcrs[0]}` : `PCRs ${pcrs.join(', ')}`;
}

/** Where the binding is, for the re-enrolment hint. */
export interface SealContext {
  device: string;
  tokenId: number;
  slot: number;
  where: string;
}

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
      const which = b.pcrs.length === 0 ? 'the PCRs of its policy (the token lists none: it was edited)' : `${pcrWords(b.pcrs)} (${b.pcrBank} bank)`;
      const holds = b.pcrs.length === 1 ? 'no longer holds the value it had' : 'no longer hold the values they had';
      throw new DeviceError('ERR_PCR_MISMATCH', `${c.where}: the TPM refused to unseal the LUKS key: ${which} ${holds} at enrolment`, {
        cause,
        hint:
          `something measured into ${b.pcrs.length ? pcrWords(b.pcrs) : 'them'} changed (firmware, boot loader, kernel or their configuration): unlock with the passphrase; ` +
          `if the change was deliberate, re-enrol: cryptsetup token remove --token-id ${c.tokenId} ${c.device}; cryptsetup luksKillSlot ${c.device} ${c.slot}; ` +
          `capsule device luks-enroll ${c.device} --backend tpm2${b.pcrs.length ? ` --pcrs ${b.pcrs.join(',')}` : ''}`,
      });
    }
    if (!hasCode(cause, 'ERR_LOCK_INTEGRITY')) throw cause;
    const serial = ks.capabilities.serial;
    if (serial !== b.serial) {
      throw new DeviceError('ERR_WRONG_MODULE', `${c.where}: the TPM refused the sealed LUKS key: it was sealed by TPM ${b.serial}, this is TPM ${serial}`, {
        cause,
        hint: 'a sealed key opens only on the TPM that sealed it: unlock with the passphrase and re-enrol on this TPM',
      });
    }
    throw new DeviceError(
      'ERR_LOCK_INTEGRITY',
      `${c.where}: the TPM refused the sealed LUKS key (it was altered, or sealed by another seal store of this TPM)`,
      {
        cause,
        hint: 'the blob and the token were altered together: unlock with the passphrase and re-enrol',
      },
    );
  }
}
