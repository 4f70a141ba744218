/**
 * `capsule device luks-enroll|luks-key`: the root disk bound to the security module or the TPM
 * (issue #12, and the TPM guardian's binding).
 *
 * luks-enroll (operator, once, at provisioning) adds a LUKS2 keyslot whose key the module locks or
 * the TPM seals (the guardian's backend decides; --backend confirms it, --pcrs picks the TPM policy);
 * luks-key (the boot path: boot/initramfs/capsule-luks-keyscript) prints that key to stdout for
 * cryptsetup — never to a terminal. stdout carries only the key; notes go to stderr. It exits 3
 * (LUKS_KEY_NO_RETRY) for a failure a retry cannot change (luksKey.ts retryCannotHelp: a refused
 * TPM authValue, a TPM lockout, changed PCRs, another module or TPM), 1 for any other: the
 * keyscript asks for the passphrase at once on 3, and never runs luks-key again that boot.
 *
 * Deliberately not here: the binding itself (agent/device/luks*.ts) and mapping the disk
 * (cryptsetup/cryptroot do that with the key this prints).
 */
import { resolve } from 'node:path';
import { wipe } from '../../crypto/secrets.ts';
import { UsageError } from '../../errors.ts';
import type { BindingBackend } from '../../device/luksToken.ts';
import { defaultDataDir } from '../../guardian/GuardianFile.ts';
import type { SlotPbkdf } from '../../device/Cryptsetup.ts';
import { DEVICE, DEVICE_LUKS_ENROLL, DEVICE_LUKS_KEY } from '../specs/device.ts';
import { parse, str } from '../args.ts';
import { refuseBinaryToTty, say, type Terminal } from '../Terminal.ts';
import { runSubcommand } from '../subcommands.ts';
import { withExitCode } from '../main.ts';

/** `luks-key`'s exit code for a failure a retry cannot change (boot/README.md; the keyscript relies on it). */
export const LUKS_KEY_NO_RETRY = 3;

/** `capsule device SUB …`. @throws UsageError ERR_USAGE; and what the subcommand throws */
export async function deviceCommand(argv: string[], t: Terminal): Promise<number> {
  return runSubcommand(DEVICE, { 'luks-enroll': luksEnroll, 'luks-key': luksKey }, argv, t);
}

function dataDir(t: Terminal, flag: string | undefined): string {
  return flag !== undefined ? resolve(t.cwd, flag) : defaultDataDir(t.env ?? process.env);
}

async function luksEnroll(argv: string[], t: Terminal): Promise<number> {
  const p = parse(argv, DEVICE_LUKS_ENROLL);
  const slotText = str(p, 'slot');
  const slot = slotText === undefined ? undefined : integer('--slot', slotText, 0, 31);
  const pbkdf = parsePbkdf(str(p, 'pbkdf'), str(p, 'pbkdf-iterations'));
  const backend = parseBackend(str(p, 'backend'), DEVICE_LUKS_ENROLL.synopsis);
  const pcrs = await parsePcrs(str(p, 'pcrs'));
  const keyFile = str(p, 'key-file');
  const { describePcrs, enrollLuks } = await import('../../device/luksEnroll.ts');
  const e = await enrollLuks({
    device: resolve(t.cwd, p.positionals[0]!),
    dataDir: dataDir(t, str(p, 'data-dir')),
    slot,
    pbkdf,
    backend,
    pcrs,
    keyFile: keyFile === undefined ? undefined : resolve(t.cwd, keyFile),
    env: t.env ?? process.env,
    notice: (line) => say(t, `note: ${line}`),
  });
  if (e.backend === 'tpm2') {
    say(
      t,
      `keyslot ${e.slot} of ${p.positionals[0]} (UUID ${e.uuid}) is bound to TPM ${e.serial} (${e.model}), sealed to ${describePcrs(e.pcrs ?? [])}: token ${e.tokenId}, sealed blob ${e.lockFile}`,
    );
    say(
      t,
      `next: add the keyscript to /etc/crypttab, set CAPSULE_TPM_TCTI in /etc/capsule/luks-keyscript.conf unless the TPM is device:/dev/tpmrm0 (here: ${e.tcti}), and run update-initramfs -u (boot/README.md, "TPM 2.0 guardians"); keep the passphrase as the fallback`,
    );
    return 0;
  }
  say(t, `keyslot ${e.slot} of ${p.positionals[0]} (UUID ${e.uuid}) is bound to module ${e.serial} (${e.model}): token ${e.tokenId}, lock blob ${e.lockFile}`);
  say(t, 'next: add the keyscript to /etc/crypttab and run update-initramfs -u (boot/README.md); keep the passphrase as the fallback');
  return 0;
}

async function luksKey(argv: string[], t: Terminal): Promise<number> {
  const p = parse(argv, DEVICE_LUKS_KEY);
  const backend = parseBackend(str(p, 'backend'), DEVICE_LUKS_KEY.synopsis);
  // Before anything is unlocked: the key must never reach a screen (or a terminal's scrollback).
  refuseBinaryToTty(t, 'the LUKS key');
  const { retryCannotHelp, unlockLuksKey } = await import('../../device/luksKey.ts');
  const u = await unlockLuksKey({
    device: resolve(t.cwd, p.positionals[0]!),
    dataDir: dataDir(t, str(p, 'data-dir')),
    backend,
    env: t.env ?? process.env,
  }).catch((e: unknown) => {
    throw retryCannotHelp(e) ? withExitCode(e as Error, LUKS_KEY_NO_RETRY) : e;
  });
  try {
    await new Promise<void>((ok, fail) => t.stdout.write(u.key, (err) => (err ? fail(err) : ok())));
  } finally {
    wipe(u.key); // written (the callback ran) or failed: either way no longer needed
  }
  return 0;
}

function parseBackend(text: string | undefined, synopsis: string): BindingBackend | undefined {
  if (text === undefined || text === 'zymbit' || text === 'tpm2') return text;
  throw new UsageError('ERR_USAGE', `--backend: expected zymbit or tpm2, got ${JSON.stringify(text)}`, { hint: `usage: ${synopsis}` });
}

async function parsePcrs(text: string | undefined): Promise<number[] | undefined> {
  if (text === undefined) return undefined;
  // Loaded only when asked for: the key store module pulls in the tpm2-tss binding.
  const { parsePcrList } = await import('../../keys/Tpm2KeyStore.ts');
  try {
    return parsePcrList(text);
  } catch (cause) {
    throw new UsageError('ERR_USAGE', `--pcrs: ${(cause as Error).message}`, {
      cause,
      hint: 'e.g. --pcrs 7 or --pcrs 0,2,7 (PCRs of the SHA-256 bank); omit it to seal with the authValue only',
    });
  }
}

function integer(flag: string, text: string, min: number, max: number): number {
  if (!/^[0-9]+$/.test(text) || Number(text) < min || Number(text) > max) {
    throw new UsageError('ERR_USAGE', `${flag}: expected an integer ${min}..${max}, got ${JSON.stringify(text)}`, {
      hint: `usage: ${DEVICE_LUKS_ENROLL.synopsis}`,
    });
  }
  return Number(text);
}

function parsePbkdf(kind: string | undefined, iterations: string | undefined): SlotPbkdf {
  if (kind !== undefined && kind !== 'pbkdf2' && kind !== 'argon2id') {
    throw new UsageError('ERR_USAGE', `--pbkdf: expected pbkdf2 or argon2id, got ${JSON.stringify(kind)}`, {
      hint: 'pbkdf2 (default) is right for a random 64-byte key; see capsule device luks-enroll --help',
    });
  }
  const k = kind ?? 'pbkdf2';
  const n = iterations === undefined ? (k === 'pbkdf2' ? 1000 : 4) : integer('--pbkdf-iterations', iterations, k === 'pbkdf2' ? 1000 : 1, 100_000_000);
  return { kind: k, iterations: n };
}
