/**
 * `capsule device luks-enroll|luks-key`: the root disk bound to the security module (issue #12).
 *
 * luks-enroll (operator, once, at provisioning) adds a LUKS2 keyslot whose key the module locks;
 * luks-key (the boot path: boot/initramfs/capsule-luks-keyscript) prints that key to stdout for
 * cryptsetup — never to a terminal. stdout carries only the key; notes go to stderr.
 *
 * Deliberately not here: the binding itself (agent/device/luks*.ts) and mapping the disk
 * (cryptsetup/cryptroot do that with the key this prints).
 */
import { resolve } from 'node:path';
import { wipe } from '../../crypto/secrets.ts';
import { UsageError } from '../../errors.ts';
import { defaultDataDir } from '../../guardian/GuardianFile.ts';
import type { SlotPbkdf } from '../../device/Cryptsetup.ts';
import { DEVICE_LUKS_ENROLL, DEVICE_LUKS_KEY } from '../synopsis.ts';
import { parse, str } from '../args.ts';
import { refuseBinaryToTty, say, writeOut, type Terminal } from '../Terminal.ts';
import { runSubcommand, type Sub } from '../subcommands.ts';

const SUBCOMMANDS: Record<string, [string, (argv: string[], t: Terminal) => Promise<number>]> = {
  'luks-enroll': [DEVICE_LUKS_ENROLL, luksEnroll], 'luks-key': [DEVICE_LUKS_KEY, luksKey],
};

const DETAILS: Record<string, string> = {
  'luks-enroll': `Adds a LUKS2 keyslot to DEVICE (a block device or an image file) whose 64-byte key comes from the
module's RNG mixed with the OS's, and is kept only locked by the module (this device only) in
D/luks/<uuid>.lock. A LUKS2 token "capsule-device" records the binding (cryptsetup luksDump lists it;
cryptsetup token export shows it). The existing passphrase is not touched: keep it as the fallback.
  --data-dir D            the guardian's data directory (default: $CAPSULE_DATA_DIR, /var/lib/capsule)
  --slot N                the keyslot to fill (default: the lowest free one)
  --key-file FILE         a key file opening an existing keyslot (default: cryptsetup asks for the passphrase)
  --pbkdf pbkdf2|argon2id the new keyslot's PBKDF (default pbkdf2: the key is random, a slow PBKDF adds nothing)
  --pbkdf-iterations N    pbkdf2 iterations (default and minimum 1000), or argon2id time cost
Run as root on the device, with the agent stopped. Then: update-initramfs -u.`,
  'luks-key': `Prints the LUKS key of DEVICE to stdout, unlocked by the module: for the boot path
(boot/initramfs/capsule-luks-keyscript) only. Refuses a terminal. Exit 1 and no output when the module
is absent, the lock blob was tampered with or belongs to another module, or the token is unknown.
  --data-dir D            the guardian's data directory holding luks/<uuid>.lock`,
};

/** `capsule device SUB …`. @throws UsageError ERR_USAGE */
export async function deviceCommand(argv: string[], t: Terminal): Promise<number> {
  return runSubcommand({ name: 'device', intro: 'The trusted device: the root disk bound to the security module.', subs: SUBCOMMANDS, details: DETAILS }, argv, t);
}

function dataDir(t: Terminal, flag: string | undefined): string {
  return flag !== undefined ? resolve(t.cwd, flag) : defaultDataDir(t.env ?? process.env);
}

async function luksEnroll(argv: string[], t: Terminal): Promise<number> {
  const p = parse(argv, {
    'data-dir': { type: 'string' }, slot: { type: 'string' }, 'key-file': { type: 'string' },
    pbkdf: { type: 'string' }, 'pbkdf-iterations': { type: 'string' },
  }, DEVICE_LUKS_ENROLL, { min: 1, max: 1 });
  const slotText = str(p, 'slot');
  const slot = slotText === undefined ? undefined : integer('--slot', slotText, 0, 31);
  const pbkdf = parsePbkdf(str(p, 'pbkdf'), str(p, 'pbkdf-iterations'));
  const keyFile = str(p, 'key-file');
  const { enrollLuks } = await import('../../device/luksEnroll.ts');
  const e = await enrollLuks({
    device: resolve(t.cwd, p.positionals[0]!), dataDir: dataDir(t, str(p, 'data-dir')), slot, pbkdf,
    keyFile: keyFile === undefined ? undefined : resolve(t.cwd, keyFile), env: t.env ?? process.env,
  });
  say(t, `keyslot ${e.slot} of ${p.positionals[0]} (UUID ${e.uuid}) is bound to module ${e.serial} (${e.model}): token ${e.tokenId}, lock blob ${e.lockFile}`);
  say(t, 'next: add the keyscript to /etc/crypttab and run update-initramfs -u (boot/README.md); keep the passphrase as the fallback');
  return 0;
}

async function luksKey(argv: string[], t: Terminal): Promise<number> {
  const p = parse(argv, { 'data-dir': { type: 'string' } }, DEVICE_LUKS_KEY, { min: 1, max: 1 });
  // Before anything is unlocked: the key must never reach a screen (or a terminal's scrollback).
  refuseBinaryToTty(t, 'the LUKS key');
  const { unlockLuksKey } = await import('../../device/luksKey.ts');
  const u = await unlockLuksKey({ device: resolve(t.cwd, p.positionals[0]!), dataDir: dataDir(t, str(p, 'data-dir')), env: t.env ?? process.env });
  try {
    await new Promise<void>((ok, fail) => t.stdout.write(u.key, (err) => (err ? fail(err) : ok())));
  } finally {
    wipe(u.key); // written (the callback ran) or failed: either way no longer needed
  }
  return 0;
}

function integer(flag: string, text: string, min: number, max: number): number {
  if (!/^[0-9]+$/.test(text) || Number(text) < min || Number(text) > max) {
    throw new UsageError('ERR_USAGE', `${flag}: expected an integer ${min}..${max}, got ${JSON.stringify(text)}`, { hint: `usage: ${DEVICE_LUKS_ENROLL}` });
  }
  return Number(text);
}

function parsePbkdf(kind: string | undefined, iterations: string | undefined): SlotPbkdf {
  if (kind !== undefined && kind !== 'pbkdf2' && kind !== 'argon2id') {
    throw new UsageError('ERR_USAGE', `--pbkdf: expected pbkdf2 or argon2id, got ${JSON.stringify(kind)}`, { hint: 'pbkdf2 (default) is right for a random 64-byte key; see capsule device luks-enroll --help' });
  }
  const k = kind ?? 'pbkdf2';
  const n = iterations === undefined ? (k === 'pbkdf2' ? 1000 : 4) : integer('--pbkdf-iterations', iterations, k === 'pbkdf2' ? 1000 : 1, 100_000_000);
  return { kind: k, iterations: n };
}
