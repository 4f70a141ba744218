/**
 * `capsule publish CAPSULE [--logic MODULE.wasm] [--sign-with IDENTITY [--guardian-key capsule-guardian1…]]
 * [--ipfs helia|kubo:URL] [--data-dir D] [--peer MULTIADDR]…`: adds and pins the capsule (and its
 * logic module) and prints the capsule's CID on stdout; with --sign-with, also sends a signed
 * announcement (docs/ANNOUNCEMENTS.md). The header is parsed first, so a file that is not a
 * capsule is refused before anything is added. Deliberately not here: the store (agent/store/).
 */
import { resolve } from 'node:path';
import { PUBLISH as SPEC } from '../specs/ipfs.ts';
import { parse, str } from '../args.ts';
import { loadIdentities, loadModule } from '../files.ts';
import { publishFile } from '../ipfs.ts';
import type { Terminal } from '../Terminal.ts';

/** Runs `capsule publish` with the arguments after its name (interface: specs/, via parse); resolves to the exit code. */
export async function publishCommand(argv: string[], t: Terminal): Promise<number> {
  const p = parse(argv, SPEC);
  const file = p.positionals[0]!;
  const module = str(p, 'logic') !== undefined ? await loadModule(t, str(p, 'logic')!) : undefined;
  const signWith = str(p, 'sign-with') !== undefined ? (await loadIdentities(t, str(p, 'sign-with')!))[0] : undefined;
  try {
    await publishFile(t, p, { path: resolve(t.cwd, file), name: file }, { module, signWith, guardianKey: str(p, 'guardian-key') });
  } finally {
    signWith?.dispose();
  }
  return 0;
}
