/**
 * The `cryptsetup` command, driven for the LUKS2 binding (luksEnroll.ts, luksKey.ts): read a
 * device's UUID and JSON metadata, add a keyslot, remove one by its key, import and export tokens.
 *
 * Keys reach cryptsetup only through pipes: never argv, never the environment, never a file. Where
 * stdin is free the key is written to it (`--key-file -`). luksAddKey keeps stdin for cryptsetup's
 * own passphrase prompt (when the operator names no existing key file), so the new key goes to
 * `/dev/fd/3`; Node's stdio "pipes" are socketpairs, which open(2) on /dev/fd/N refuses, so a
 * `sh` + `cat` stage turns fd 3 into a kernel pipe first (the key passes through cat's memory only).
 *
 * Deliberately not here: mapping devices (`cryptsetup open` without --test-passphrase: no
 * device-mapper in CI, and the boot path leaves it to cryptroot), LUKS1, and parsing luksDump's
 * human output (the JSON metadata is the stable interface).
 */
import { spawn } from 'node:child_process';
import type { Writable } from 'node:stream';
import { DeviceError } from '../errors.ts';

/** The PBKDF of a keyslot cryptsetup adds: see luksEnroll.ts for why a fast one is right for a random key. */
export interface SlotPbkdf {
  kind: 'pbkdf2' | 'argon2id';
  /** pbkdf2: forced iterations (cryptsetup's minimum is 1000); argon2id: forced time cost. */
  iterations: number;
}

/** The parts of `luksDump --dump-json-metadata` this module reads. */
export interface LuksMetadata {
  keyslots: Record<string, unknown>;
  tokens: Record<string, { type?: unknown; keyslots?: unknown } & Record<string, unknown>>;
}

const EXIT_MEANING: Record<number, string> = {
  1: 'wrong parameters',
  2: 'no keyslot opens with the given passphrase or key file',
  3: 'out of memory',
  4: 'wrong device specified',
  5: 'device already exists or is busy',
};

interface Ran {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

export class Cryptsetup {
  readonly binary: string;
  readonly env: NodeJS.ProcessEnv;

  /** `binary`: CAPSULE_CRYPTSETUP, else `cryptsetup` on PATH. */
  constructor(env: NodeJS.ProcessEnv = process.env) {
    this.env = env;
    this.binary = env.CAPSULE_CRYPTSETUP || 'cryptsetup';
  }

  /**
   * The device's LUKS UUID (lower case).
   * @throws DeviceError ERR_LUKS when it is not a LUKS device or cryptsetup cannot run.
   */
  async uuid(device: string): Promise<string> {
    const r = await this.#run(['luksUUID', device], 'read the UUID of');
    this.#ok(r, device, 'is not a LUKS device');
    const uuid = r.stdout.toString('utf8').trim().toLowerCase();
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(uuid)) {
      throw new DeviceError('ERR_LUKS', `${device}: cryptsetup luksUUID printed ${JSON.stringify(uuid.slice(0, 60))}, not a UUID`);
    }
    return uuid;
  }

  /**
   * The LUKS2 JSON metadata (keyslots, tokens).
   * @throws DeviceError ERR_LUKS when the device is not LUKS2 or the metadata is not what cryptsetup documents.
   */
  async metadata(device: string): Promise<LuksMetadata> {
    const r = await this.#run(['luksDump', '--dump-json-metadata', device], 'read the LUKS2 metadata of');
    this.#ok(r, device, 'is not a LUKS2 device (LUKS1 has no tokens: convert it with `cryptsetup convert --type luks2`)');
    let m: Partial<LuksMetadata>;
    try {
      m = JSON.parse(r.stdout.toString('utf8'));
    } catch (cause) {
      throw new DeviceError('ERR_LUKS', `${device}: cryptsetup luksDump --dump-json-metadata printed something that is not JSON`, { cause });
    }
    if (typeof m.keyslots !== 'object' || m.keyslots === null || typeof m.tokens !== 'object' || m.tokens === null) {
      throw new DeviceError('ERR_LUKS', `${device}: LUKS2 metadata without keyslots/tokens objects`);
    }
    return m as LuksMetadata;
  }

  /**
   * Adds `key` into keyslot `slot`, authorised by `existingKeyFile` (or cryptsetup's prompt on the
   * inherited terminal when undefined).
   * @throws DeviceError ERR_LUKS when cryptsetup refuses (wrong existing passphrase, slot taken, …).
   */
  async addKey(device: string, key: Uint8Array, slot: number, pbkdf: SlotPbkdf, existingKeyFile: string | undefined): Promise<void> {
    const args = ['luksAddKey', '--batch-mode', '--new-key-slot', String(slot), '--new-keyfile', '/dev/fd/3', '--pbkdf', pbkdf.kind];
    args.push('--pbkdf-force-iterations', String(pbkdf.iterations)); // argon2id: its time cost
    if (existingKeyFile !== undefined) args.push('--key-file', existingKeyFile);
    args.push(device);
    const r = await this.#run(args, 'add a keyslot to', { key, interactive: existingKeyFile === undefined });
    this.#ok(r, device, `refused the new keyslot ${slot}`, 'check the existing passphrase or --key-file opens a keyslot, and that the slot is free');
  }

  /**
   * Removes the keyslot that `key` opens (rolls back an enrolment whose token could not be written).
   * @throws DeviceError ERR_LUKS when cryptsetup refuses.
   */
  async removeKey(device: string, key: Uint8Array): Promise<void> {
    const r = await this.#run(['luksRemoveKey', '--batch-mode', '--key-file', '-', device], 'remove a keyslot from', { stdin: key });
    this.#ok(r, device, 'refused to remove the new keyslot');
  }

  /**
   * Imports `json` as token `tokenId` (read from stdin: `--json-file -`).
   * @throws DeviceError ERR_LUKS when cryptsetup refuses the token.
   */
  async importToken(device: string, tokenId: number, json: string): Promise<void> {
    const r = await this.#run(['token', 'import', '--json-file', '-', '--token-id', String(tokenId), device], 'import a token into', { stdin: json });
    this.#ok(r, device, `refused token ${tokenId}`);
  }

  /**
   * Whether `key` opens a keyslot (`open --test-passphrase`; no mapping is made).
   * @throws DeviceError ERR_LUKS when cryptsetup fails for another reason than a wrong key.
   */
  async testKey(device: string, key: Uint8Array, slot?: number): Promise<boolean> {
    const args = ['open', '--test-passphrase', '--key-file', '-', ...(slot === undefined ? [] : ['--key-slot', String(slot)]), device];
    const r = await this.#run(args, 'test a key on', { stdin: key });
    if (r.code === 0) return true;
    if (r.code === 2) return false; // cryptsetup's "no key available with this passphrase"
    this.#ok(r, device, 'could not test the key');
    return false;
  }

  async #run(args: string[], what: string, io: { key?: Uint8Array; stdin?: string | Uint8Array; interactive?: boolean } = {}): Promise<Ran> {
    // With a key on fd 3: sh keeps the original stdin on fd 4, cat copies the socket into a pipe,
    // and cryptsetup gets that pipe as fd 3 and its stdin back.
    const [cmd, argv] = io.key
      ? ['/bin/sh', ['-c', 'exec 4<&0; cat <&3 | { exec 3<&0 0<&4 4<&-; exec "$0" "$@"; }', this.binary, ...args]]
      : [this.binary, args];
    const child = spawn(cmd, argv, {
      env: { ...this.env, LC_ALL: 'C' },
      stdio: [io.interactive ? 'inherit' : 'pipe', 'pipe', 'pipe', io.key ? 'pipe' : 'ignore'],
    });
    const out: Buffer[] = [];
    let err = '';
    child.stdout!.on('data', (c: Buffer) => out.push(c));
    child.stderr!.on('data', (c: Buffer) => {
      if (err.length < 4096) err += c.toString('utf8');
    });
    const stdio = child.stdio as unknown as Array<Writable | null>;
    for (const [fd, data] of [
      [0, io.stdin ?? ''],
      [3, io.key],
    ] as const) {
      const w = stdio[fd];
      if (!w || data === undefined || (fd === 0 && io.interactive)) continue;
      w.on('error', () => {}); // cryptsetup may exit before reading: its exit code says why
      // The key is written from our buffer (the caller wipes it) through the kernel pipe only.
      w.end(data);
    }
    const code = await new Promise<number | null>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (c) => resolve(c));
    }).catch((cause: NodeJS.ErrnoException) => {
      throw new DeviceError('ERR_LUKS', `cannot run ${this.binary} to ${what} a device (${cause.code ?? cause.message})`, {
        cause,
        hint: 'install cryptsetup (Debian: apt-get install cryptsetup), or set CAPSULE_CRYPTSETUP to its path',
      });
    });
    return { code, stdout: Buffer.concat(out), stderr: err };
  }

  #ok(r: Ran, device: string, what: string, hint?: string): void {
    if (r.code === 0) return;
    // cryptsetup(8) exit codes, for when it says nothing (a wrong passphrase in batch mode).
    const said = r.stderr.trim().split('\n').filter(Boolean).pop() ?? EXIT_MEANING[r.code ?? -1] ?? '';
    throw new DeviceError('ERR_LUKS', `${device}: cryptsetup ${what} (exit ${r.code}${said ? `: ${said}` : ''})`, {
      hint: hint ?? 'check the path names a LUKS2 device or image and that you may open it (root)',
    });
  }
}
