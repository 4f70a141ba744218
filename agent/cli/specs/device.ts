/**
 * The command table's entries for the trusted device: `capsule device luks-enroll|luks-key`
 * (their interface: spec.ts; boot/README.md). Deliberately not here: what they do
 * (commands/device.ts, agent/device/luks*.ts).
 */
import { command, group } from '../spec.ts';
import { DATA_DIR } from './options.ts';

/** `capsule device luks-enroll`. */
export const DEVICE_LUKS_ENROLL = command({
  name: 'device luks-enroll',
  summary: 'add a LUKS2 keyslot whose key only the security module or the TPM can unlock',
  synopsis:
    'capsule device luks-enroll DEVICE|IMAGE [--data-dir D] [--backend zymbit|tpm2] [--pcrs LIST] [--slot N] [--key-file EXISTING] ' +
    '[--pbkdf pbkdf2|argon2id] [--pbkdf-iterations N]',
  description: `Adds a LUKS2 keyslot to DEVICE (a block device or an image file) whose 64-byte key comes from the module's (or TPM's)
    generator mixed with the OS's, and is kept only locked by the module, this device only, in D/luks/<uuid>.lock, or for a tpm2 guardian
    sealed by the TPM in D/luks/<uuid>.tpm2.lock (with the seal store D/luks/tpm2-keystore.json and its auth file D/luks/tpm2-auth). A
    LUKS2 token "capsule-device" records the binding (cryptsetup luksDump lists it). The existing passphrase is not touched: keep it as
    the fallback. A systemd-tpm2 or clevis token already on DEVICE is reported and left alone.

    Run it as root on the device, with the agent stopped; then add the keyscript to /etc/crypttab and run update-initramfs -u
    (boot/README.md).`,
  arguments: { 'DEVICE|IMAGE': 'the LUKS2 block device or image file' },
  positionals: { min: 1, max: 1 },
  options: {
    'data-dir': DATA_DIR,
    backend: {
      type: 'string',
      value: 'zymbit|tpm2',
      default: "the guardian's, from guardian.json",
      description: "must be the guardian's backend",
    },
    pcrs: {
      type: 'string',
      value: 'LIST',
      default: 'none: the authValue only',
      description: 'tpm2: seal to these PCRs of the SHA-256 bank, e.g. 7 or 0,2,7 (on a Pi nothing measures the boot unless you arrange ' + 'it)',
    },
    slot: { type: 'string', value: 'N', default: 'the lowest free one', description: 'the keyslot to fill, 0..31' },
    'key-file': {
      type: 'string',
      value: 'EXISTING',
      default: 'cryptsetup asks for the passphrase',
      description: 'a key file that opens an existing keyslot',
    },
    pbkdf: {
      type: 'string',
      value: 'pbkdf2|argon2id',
      default: 'pbkdf2',
      description: "the new keyslot's PBKDF (the key is random: a slow PBKDF adds nothing)",
    },
    'pbkdf-iterations': {
      type: 'string',
      value: 'N',
      default: '1000 for pbkdf2 (also the minimum), 4 for argon2id',
      description: "pbkdf2 iterations, or argon2id's time cost",
    },
  },
  environment: ['CAPSULE_DATA_DIR', 'CAPSULE_ZYMBIT_LIB', 'CAPSULE_TPM_TCTI', 'CAPSULE_CRYPTSETUP'],
  examples: [
    ['bind the root disk to the Zymbit module', 'capsule device luks-enroll /dev/mmcblk0p2 --data-dir /var/lib/capsule'],
    [
      'to the TPM, sealed to PCR 7, opening the old slot with a key file',
      'capsule device luks-enroll /dev/mmcblk0p2 --backend tpm2 --pcrs 7 --key-file /root/old.key',
    ],
  ],
});

/** `capsule device luks-key`. */
export const DEVICE_LUKS_KEY = command({
  name: 'device luks-key',
  summary: "print the LUKS key for the boot path's keyscript (never to a terminal)",
  synopsis: 'capsule device luks-key DEVICE|IMAGE [--data-dir D] [--backend zymbit|tpm2]',
  description: `Prints the LUKS key of DEVICE to stdout, unlocked by the module or unsealed by the TPM: for the boot path
    (boot/initramfs/capsule-luks-keyscript) only; it refuses a terminal. On failure nothing is printed, and the exit code is 3 when a
    retry cannot change the outcome and must not be made: the TPM refused the seal's authValue (each refusal counts toward its
    dictionary-attack lockout) or is locked out, the sealed PCRs changed, or the blob belongs to another module or TPM; 1 for anything
    else (the module or TPM absent, a file missing, the blob tampered with, the token unknown).`,
  arguments: { 'DEVICE|IMAGE': 'the LUKS2 block device or image file' },
  positionals: { min: 1, max: 1 },
  options: {
    'data-dir': { ...DATA_DIR, description: "the guardian's data directory holding luks/ (the blobs, the TPM seal store)" },
    backend: {
      type: 'string',
      value: 'zymbit|tpm2',
      default: 'the first binding of the token this build knows',
      description: 'use that binding of the token',
    },
  },
  environment: ['CAPSULE_DATA_DIR', 'CAPSULE_ZYMBIT_LIB', 'CAPSULE_TPM_TCTI'],
  examples: [
    ['what the keyscript runs', 'capsule device luks-key /dev/mmcblk0p2 --data-dir /var/lib/capsule | cryptsetup open /dev/mmcblk0p2 root --key-file -'],
    [
      'check the binding of an image file',
      'capsule device luks-key disk.img --data-dir /tmp/guardian | cryptsetup open --test-passphrase disk.img --key-file -',
    ],
  ],
});

/** `capsule device` (a group: its subcommands). */
export const DEVICE = group({
  name: 'device',
  summary: 'the trusted device: the root disk bound to the security module or the TPM',
  description: `The trusted device: the root disk's LUKS2 key bound to the guardian's security module or TPM, so the disk opens at boot
    on this device only, with the passphrase kept as the fallback.`,
  subs: { 'luks-enroll': DEVICE_LUKS_ENROLL, 'luks-key': DEVICE_LUKS_KEY },
});
