/**
 * The one-shot seed process of `capsule guardian init` (spawned by provision.ts with a minimal
 * environment, confined by seedSandbox.ts: bubblewrap namespaces, a read-only filesystem, seccomp;
 * the soft passphrase, if any, arrives on fd 5, never in the environment). The master entropy
 * exists only here:
 *
 *   init:    entropy = HKDF(module random(32) ‖ OS random(32), "", "capsule/v1 guardian seed", 32)
 *            → the 24 words shown once → the operator re-types 3 of them → its BIP39 seed locked
 *   restore: the 24 words read (checksum enforced) → its BIP39 seed locked by the module
 *
 * It answers on fd 3 with public facts and the locked blob only, or a typed error; the parent
 * writes guardian.json. The words never reach a log: the terminal, or stdout when the operator
 * asked for it (--mnemonic-to-stdout, for scripted provisioning). Deliberately not here: file
 * writes (the parent's, atomically) and the data directory's checks.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { readSync, writeSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { DceError, GuardianError, UsageError } from '../errors.ts';
import { hkdf } from '../crypto/kdf.ts';
import { encodeP256Key, GUARDIAN_KEY_HRP } from '../crypto/p256.ts';
import { constantTimeEqual, wipe } from '../crypto/secrets.ts';
import { LABEL_GUARDIAN_SEED_MIX } from '../format/constants.ts';
import { bip39Seed, guardianRecipients } from '../keys/hierarchy.ts';
import type { KeyStore } from '../keys/KeyStore.ts';
import { fromMnemonic, normaliseMnemonic, toMnemonic } from '../keys/mnemonic.ts';
import { slotSigningKey } from './Guardian.ts';
import { openKeyStore, type Backend } from './keyStoreFor.ts';

export interface SeedRequest {
  mode: 'init' | 'restore';
  backend: Backend;
  dataDir: string;
  library?: string;
  /** tpm2: the TCTI and the auth file (the child's environment carries neither). */
  tcti?: string;
  tpmAuthFile?: string;
  signingSlot: number;
  confirmFromStdin: boolean;
  mnemonicFromStdin: boolean;
  mnemonicToStdout: boolean;
}

export interface SeedResult {
  model: string;
  serial: string;
  ecdh: boolean;
  x25519: string;
  p256: string;
  signingKey: string;
  lockedSeed: string;
}

const CONFIRM_WORDS = 3;

/** The secret the parent sends on fd 5 (the soft passphrase; empty for zymbit), read to its end. */
function secretFromParent(): string {
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(4096);
  for (;;) {
    let n: number;
    try {
      n = readSync(5, buf, 0, buf.length, null);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN') {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
        continue;
      }
      if ((e as NodeJS.ErrnoException).code === 'EBADF') break; // no fd 5: nothing was sent
      throw e;
    }
    if (n === 0) break;
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
  buf.fill(0);
  const all = Buffer.concat(chunks);
  const text = all.toString('utf8');
  all.fill(0);
  for (const c of chunks) c.fill(0);
  return text;
}

async function run(req: SeedRequest): Promise<SeedResult> {
  const lines = new Lines();
  const secret = secretFromParent();
  const ks = await openKeyStore(
    req.backend,
    req.dataDir,
    process.env,
    req.library,
    req.backend === 'soft' ? { passphrase: secret } : { tcti: req.tcti, tpmAuthFile: req.tpmAuthFile },
  );
  let entropy: Uint8Array | undefined;
  let seed: Uint8Array | undefined;
  try {
    entropy = req.mode === 'init' ? await fresh(ks) : fromMnemonic(await readMnemonic(req, lines));
    if (req.mode === 'init') {
      const words = toMnemonic(entropy);
      await show(words, req);
      await confirm(words, req, lines);
    }
    // The guardian keeps the BIP39 seed (what every key derives from), not the entropy: the words
    // are only for paper, and deriving from the seed skips PBKDF2 on every operation.
    seed = bip39Seed(entropy);
    const locked = await ks.lock(seed);
    // Prove the blob opens before anyone relies on the paper: a faulty module fails here, not later.
    const back = await ks.unlock(locked);
    const same = constantTimeEqual(back, seed);
    wipe(back);
    if (!same) throw new GuardianError('ERR_PROVISIONING', 'the module unlocked the new seed to different bytes; nothing was stored');
    const r = guardianRecipients(entropy);
    return {
      model: ks.capabilities.model,
      serial: ks.capabilities.serial,
      ecdh: ks.capabilities.ecdh,
      x25519: r.x25519,
      p256: r.p256,
      signingKey: encodeP256Key(GUARDIAN_KEY_HRP, await slotSigningKey(ks, req.signingSlot)),
      lockedSeed: Buffer.from(locked).toString('base64'),
    };
  } finally {
    wipe(entropy, seed);
    lines.close();
    await ks.close();
  }
}

async function fresh(ks: KeyStore): Promise<Uint8Array> {
  const fromModule = await ks.randomBytes(32);
  const fromOs = randomBytes(32);
  const both = new Uint8Array(Buffer.concat([fromModule, fromOs]));
  try {
    // Either source alone is enough: a weak module RNG or a weak OS RNG does not weaken the seed.
    return hkdf(both, new Uint8Array(0), LABEL_GUARDIAN_SEED_MIX, 32);
  } finally {
    wipe(fromModule, fromOs, both);
  }
}

async function show(mnemonic: string, req: SeedRequest): Promise<void> {
  const words = mnemonic.split(' ');
  if (!process.stdout.isTTY) {
    if (!req.mnemonicToStdout) throw new UsageError('ERR_USAGE', 'refusing to write the recovery words to a stdout that is not a terminal');
    writeSync(1, `${mnemonic}\n`);
    return;
  }
  const grid = Array.from({ length: 8 }, (_, row) =>
    [0, 8, 16].map((c) => `${String(row + c + 1).padStart(2)}. ${words[row + c]!.padEnd(10)}`).join('   '),
  ).join('\n');
  writeSync(1, `\nRecovery words — write them on paper, in order. They are shown once and never stored.\n\n${grid}\n\n`);
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  await new Promise<void>((resolve) => rl.question('capsule: press Enter once they are written down ', () => resolve()));
  rl.close();
  writeSync(1, '\x1b[2J\x1b[3J\x1b[H'); // clear the screen and its scrollback
}

async function confirm(mnemonic: string, req: SeedRequest, lines: Lines): Promise<void> {
  const words = mnemonic.split(' ');
  const picks = new Set<number>();
  while (picks.size < CONFIRM_WORDS) picks.add(randomInt(words.length));
  const order = [...picks].sort((a, b) => a - b);
  if (req.confirmFromStdin) {
    writeSync(2, `capsule: confirm words ${order.map((i) => `#${i + 1}`).join(', ')} (one per line on stdin)\n`);
  }
  for (const i of order) {
    const tries = req.confirmFromStdin ? 1 : 3;
    for (let t = 1; ; t++) {
      const got = normaliseMnemonic(await lines.next(req.confirmFromStdin ? undefined : `capsule: type word #${i + 1}: `, false));
      if (got === words[i]) break;
      if (t >= tries) {
        throw new GuardianError('ERR_NOT_CONFIRMED', `word #${i + 1} does not match the recovery words; nothing was stored`, {
          hint: 'run `capsule guardian init` again: it makes a new seed, so write down the new words',
        });
      }
      writeSync(2, `capsule: word #${i + 1} does not match; try again\n`);
    }
  }
}

async function readMnemonic(req: SeedRequest, lines: Lines): Promise<string> {
  if (!req.mnemonicFromStdin && !process.stdin.isTTY) {
    throw new UsageError('ERR_USAGE', 'restoring needs the 24 words from a terminal, or --mnemonic-from-stdin');
  }
  return lines.next(req.mnemonicFromStdin ? undefined : 'capsule: type the 24 recovery words (not shown): ', true);
}

/** Lines from stdin: a terminal (prompted, optionally not echoed) or a pipe. */
class Lines {
  #iter: AsyncIterator<string> | undefined;
  #rl: ReturnType<typeof createInterface> | undefined;
  #muted = false;

  async next(prompt: string | undefined, hidden: boolean): Promise<string> {
    if (!this.#rl) {
      const tty = process.stdin.isTTY === true;
      const out = new Writable({
        write: (c, _e, cb) => {
          if (!this.#muted) process.stderr.write(c);
          cb();
        },
      });
      this.#rl = createInterface({ input: process.stdin, output: tty ? out : undefined, terminal: tty });
      this.#iter = this.#rl[Symbol.asyncIterator]();
    }
    if (prompt) process.stderr.write(prompt);
    this.#muted = hidden;
    const n = await this.#iter!.next();
    this.#muted = false;
    if (hidden && prompt) process.stderr.write('\n');
    if (n.done) throw new GuardianError('ERR_NOT_CONFIRMED', 'stdin ended before every word was given; nothing was stored');
    return n.value;
  }

  close(): void {
    this.#rl?.close();
  }
}

function answer(value: unknown): void {
  writeSync(3, JSON.stringify(value));
}

// Entry point: the request comes as argv[2] (no secrets in it).
const req = JSON.parse(process.argv[2] ?? '{}') as SeedRequest;
// If `capsule guardian init` is killed (kill -9 included), do not linger at a prompt holding the seed.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) process.exit(1);
}, 100).unref();
try {
  answer({ ok: true, result: await run(req) });
  process.exitCode = 0;
} catch (e) {
  const err =
    e instanceof DceError
      ? { name: e.name, code: e.code, message: e.message, hint: e.hint }
      : { name: e instanceof Error ? e.name : 'Error', message: e instanceof Error ? e.message : String(e) };
  answer({ ok: false, error: err });
  process.exitCode = 1;
}
