/**
 * tpm2-tools as the independent peer of the `tpm2` KeyStore: recreating the storage root key from
 * the TCG-shaped template on the command line, loading the guardian's RSA key from its stored
 * TPM2B blobs under it, and decrypting a `tpm2-rsa` stanza body with `tpm2_rsadecrypt`.
 *
 * swtpm has no resource manager and only three transient object slots, and every tool leaves what
 * it loaded in the TPM (it saves a context file, but does not flush), so each step is followed by
 * `tpm2_flushcontext -t`. That flushes every transient object in the TPM, including one another
 * process holds: call these only while no key store has the TPM open.
 * Deliberately not here: assertions (the tests say what must hold).
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Swtpm } from './swtpm.ts';

/** The SRK as `tpm2_createprimary` makes it: ECC P-256, AES-128-CFB, the TCG SRK attributes. */
export const SRK_ARGS = [
  '-C',
  'o',
  '-g',
  'sha256',
  '-G',
  'ecc256:aes128cfb',
  '-a',
  'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda|restricted|decrypt',
];

/** Runs one tool, then flushes every transient object it left loaded. */
function step(tpm: Swtpm, cmd: string, args: string[]): void {
  try {
    tpm.tools(cmd, args);
  } finally {
    tpm.toolsRaw('tpm2_flushcontext', ['-t']);
  }
}

/**
 * Recreates the SRK with tpm2-tools into `work/srk.ctx` and returns its public area as
 * `tpm2_readpublic` writes it (TPM2B_PUBLIC wire bytes, the form the key store fingerprints).
 */
export function toolsSrk(tpm: Swtpm, work: string): Uint8Array {
  step(tpm, 'tpm2_createprimary', [...SRK_ARGS, '-c', join(work, 'srk.ctx')]);
  step(tpm, 'tpm2_readpublic', ['-c', join(work, 'srk.ctx'), '-o', join(work, 'srk.pub')]);
  return new Uint8Array(readFileSync(join(work, 'srk.pub')));
}

/**
 * Loads the guardian's RSA key (`rsa.public`/`rsa.private` of tpm2-keystore.json in `dataDir`)
 * under the SRK `toolsSrk` made, into `work/rsa.ctx`.
 */
export function toolsLoadRsa(tpm: Swtpm, work: string, dataDir: string): void {
  const keys = JSON.parse(readFileSync(join(dataDir, 'tpm2-keystore.json'), 'utf8'));
  writeFileSync(join(work, 'rsa.pub'), Buffer.from(keys.rsa.public, 'base64'));
  writeFileSync(join(work, 'rsa.priv'), Buffer.from(keys.rsa.private, 'base64'));
  step(tpm, 'tpm2_load', ['-C', join(work, 'srk.ctx'), '-u', join(work, 'rsa.pub'), '-r', join(work, 'rsa.priv'), '-c', join(work, 'rsa.ctx')]);
}

/**
 * `tpm2_rsadecrypt -c rsa.ctx -p hex:<authValue> -s oaep -l <label> -o out ct` with the key
 * `toolsLoadRsa` loaded and the authValue file of `dataDir`. Resolves to the plaintext, or to the
 * tool's stderr when it fails.
 */
export function toolsRsaDecrypt(
  tpm: Swtpm,
  work: string,
  dataDir: string,
  label: string,
  ciphertext: Uint8Array,
): { plain?: Buffer; status: number | null; stderr: string } {
  const ct = join(work, 'ct');
  const out = join(work, 'out');
  writeFileSync(ct, ciphertext);
  rmSync(out, { force: true });
  const auth = readFileSync(join(dataDir, 'tpm2-auth')).toString('hex');
  const r = tpm.toolsRaw('tpm2_rsadecrypt', ['-c', join(work, 'rsa.ctx'), '-p', `hex:${auth}`, '-s', 'oaep', '-l', label, '-o', out, ct]);
  tpm.toolsRaw('tpm2_flushcontext', ['-t']);
  const plain = r.status === 0 && existsSync(out) ? readFileSync(out) : undefined;
  return { plain, status: r.status, stderr: r.stderr?.toString() ?? '' };
}

/** The handles `tpm2_getcap <what>` lists (handles-transient, handles-loaded-session, …). */
export function toolsHandles(tpm: Swtpm, what: string): number[] {
  return [
    ...tpm
      .tools('tpm2_getcap', [what])
      .toString()
      .matchAll(/0x[0-9a-f]+/gi),
  ].map((m) => Number(m[0]));
}

/** A TPM property as `tpm2_getcap properties-fixed|properties-variable` prints its raw value. */
export function toolsProperty(tpm: Swtpm, group: 'properties-fixed' | 'properties-variable', name: string): number {
  const text = tpm.tools('tpm2_getcap', [group]).toString();
  const m = new RegExp(`^${name}:\\s*\\n\\s*raw: (0x[0-9a-f]+)`, 'mi').exec(text) ?? new RegExp(`^${name}: (0x[0-9a-f]+)`, 'mi').exec(text);
  if (!m) throw new Error(`tpm2_getcap ${group}: no ${name} in ${text.slice(0, 400)}`);
  return Number(m[1]);
}
