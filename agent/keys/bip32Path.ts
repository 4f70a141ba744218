/**
 * BIP32 derivation paths as a wallet accepts them: "m/44'/60'/0'/0/0" (hardened steps marked with
 * an apostrophe, or h/H, normalised to the apostrophe Zymbit's node addresses use), 1 to
 * MAX_WALLET_DEPTH steps below the master, every index a plain decimal below 2^31.
 *
 * Parsing only: the derivation itself is @scure/bip32 (soft) or the module (zymbit). Deliberately
 * not here: public-derivation notation ("M/…"), relative paths, BIP44 policy (which coin types or
 * accounts a guardian serves is configuration, checked by the caller).
 */
import { WalletError } from '../errors.ts';

/** The deepest path served: BIP44/84/86 accounts are 5 steps; each step costs a module key slot. */
export const MAX_WALLET_DEPTH = 10;

const HARDENED = 2 ** 31;
const MAX_PATH_CHARS = 256;

export interface PathStep {
  /** The child number without the hardened bit (0..2^31-1). */
  index: number;
  hardened: boolean;
}

export interface WalletPath {
  /** Canonical text: "m/44'/60'/0'/0/0". */
  text: string;
  steps: PathStep[];
  /** The canonical text of every ancestor and the path itself, shortest first ("m/44'", …). */
  prefixes: string[];
}

/**
 * Parses and checks a wallet path.
 * @throws WalletError ERR_BAD_WALLET_PATH (not a BIP32 path), ERR_PATH_OUTSIDE_WALLET ("m" itself,
 *   or deeper than MAX_WALLET_DEPTH)
 */
export function parseWalletPath(path: unknown): WalletPath {
  if (typeof path !== 'string') {
    throw new WalletError('ERR_BAD_WALLET_PATH', `path: expected a BIP32 path string like "m/44'/60'/0'/0/0", got ${path === null ? 'null' : typeof path}`);
  }
  if (path.length > MAX_PATH_CHARS) {
    throw new WalletError('ERR_BAD_WALLET_PATH', `path: expected at most ${MAX_PATH_CHARS} characters, got ${path.length}`);
  }
  const parts = path.split('/');
  if (parts[0] !== 'm') {
    throw new WalletError('ERR_BAD_WALLET_PATH', `path: expected a path starting at the master key "m/", got ${JSON.stringify(path)}`, {
      hint: "write accounts as m/44'/60'/0'/0/0 (Ethereum), m/84'/0'/0'/0/0 or m/86'/0'/0'/0/0 (Bitcoin)",
    });
  }
  const steps: PathStep[] = [];
  for (let i = 1; i < parts.length; i++) {
    const m = /^(0|[1-9][0-9]{0,9})(['hH]?)$/.exec(parts[i]!);
    const index = m ? Number(m[1]) : NaN;
    if (!m || index >= HARDENED) {
      throw new WalletError(
        'ERR_BAD_WALLET_PATH',
        `path: step ${i} of ${JSON.stringify(path)} is not a child number 0..2147483647 with an optional ' (hardened)`,
      );
    }
    steps.push({ index, hardened: m[2] !== '' });
  }
  if (steps.length === 0) {
    throw new WalletError('ERR_PATH_OUTSIDE_WALLET', "path: \"m\" is the wallet's master key itself; accounts are below it, e.g. m/44'/60'/0'/0/0");
  }
  if (steps.length > MAX_WALLET_DEPTH) {
    throw new WalletError('ERR_PATH_OUTSIDE_WALLET', `path: expected at most ${MAX_WALLET_DEPTH} steps below "m", got ${steps.length}`);
  }
  const prefixes: string[] = [];
  let text = 'm';
  for (const s of steps) {
    text += `/${s.index}${s.hardened ? "'" : ''}`;
    prefixes.push(text);
  }
  return { text, steps, prefixes };
}
