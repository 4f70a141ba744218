/**
 * Where a client keeps the receipts its guardian's answers carry (docs/AUDIT.md "Receipts"): one
 * JSON file per receipt, `<guardian key's last 12 chars>-<seq>.json`, mode 0600, in `--receipts DIR`
 * or by default `$XDG_DATA_HOME/capsule/receipts` (~/.local/share/capsule/receipts). Later,
 * `capsule audit verify LOG --receipt FILE…` proves the guardian's log still holds each entry.
 * Deliberately not here: checking receipts (agent/daemon/Receipt.ts).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { defaultDataDir } from '../guardian/GuardianFile.ts';
import type { Receipt } from '../daemon/Receipt.ts';

/**
 * The default receipts directory for this environment: `$XDG_DATA_HOME/capsule/receipts`
 * (~/.local/share/capsule/receipts), as the CLI uses it.
 * @param env - The environment to read (usually process.env).
 * @returns The directory's path (not created).
 * @example
 * ```js
 * const dir = defaultReceiptsDir(process.env);
 * ```
 */
export function defaultReceiptsDir(env: NodeJS.ProcessEnv): string {
  return join(defaultDataDir(env), 'receipts');
}

/**
 * True if `v` has a receipt's shape (as an answer carries it); its signature is not checked here.
 * @param v - Anything, e.g. a parsed JSON answer's `receipt`.
 * @returns Whether it is { seq, digest, sig, guardian } of the right forms.
 * @example
 * ```js
 * if (isReceipt(json.receipt)) await saveReceipt(dir, json.receipt);
 * ```
 */
export function isReceipt(v: unknown): v is Receipt {
  const r = v as Partial<Receipt> | null;
  return (
    typeof r === 'object' &&
    r !== null &&
    Number.isSafeInteger(r.seq) &&
    typeof r.digest === 'string' &&
    /^[0-9a-f]{64}$/.test(r.digest) &&
    typeof r.sig === 'string' &&
    /^[0-9a-f]{128}$/.test(r.sig) &&
    typeof r.guardian === 'string' &&
    /^capsule-guardian1[0-9a-z]+$/.test(r.guardian)
  );
}

/**
 * Writes `r` into `dir` (created 0700 if missing) as `<guardian key's last 12 chars>-<seq>.json`,
 * mode 0600; `capsule audit verify LOG --receipt FILE` later proves the guardian's log holds it.
 * @param dir - The receipts directory.
 * @param r - The receipt.
 * @returns The file's path.
 * @throws the file system's error (the caller reports it as a warning: the decision stands)
 * @example
 * ```js
 * const client = new GuardianClient(url, 30_000, { onReceipt: (r) => saveReceipt(defaultReceiptsDir(process.env), r).then(() => {}) });
 * ```
 */
export async function saveReceipt(dir: string, r: Receipt): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, `${r.guardian.slice(-12)}-${r.seq}.json`);
  await writeFile(path, JSON.stringify({ seq: r.seq, digest: r.digest, sig: r.sig, guardian: r.guardian }) + '\n', { mode: 0o600 });
  return path;
}
