/**
 * The data directory a command works on: `--data-dir` (relative to the caller's working
 * directory), else the default (CAPSULE_DATA_DIR, /var/lib/capsule for root, ~/.local/share/capsule).
 * Its own small module so that commands needing only this (seal, decrypt, audit, …) do not load
 * the guardian's provisioning code with it.
 */
import { resolve } from 'node:path';
import { defaultDataDir } from '../guardian/GuardianFile.ts';
import type { Terminal } from './Terminal.ts';

/** `flag` resolved against the terminal's working directory, else the default data directory. */
export function dataDirOf(t: Terminal, flag: string | undefined): string {
  return flag !== undefined ? resolve(t.cwd, flag) : defaultDataDir(t.env ?? process.env);
}
