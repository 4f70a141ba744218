/**
 * `capsule logic init DIR`: writes a ready unlock-logic project — policy.ts (importing
 * `@capsule-engine/sdk` by name), params.json, scenarios.json and README.md (agent/logic/
 * initTemplates.ts) — into DIR, created if missing. `capsule logic build` and `capsule logic test`
 * pass in it as written. A DIR that exists and is not empty is refused before anything is written,
 * so an author's work is never overwritten; each file is created exclusively (O_EXCL) too.
 *
 * Deliberately not here: the templates' content (agent/logic/initTemplates.ts), installing the SDK
 * into the folder (the build finds the engine's copy), and the command's interface (specs/logic.ts
 * LOGIC_INIT).
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { UsageError } from '../../errors.ts';
import { ioError } from '../../io/sources.ts';
import { INIT_FILES } from '../../logic/initTemplates.ts';
import { parse } from '../args.ts';
import { LOGIC_INIT } from '../specs/logic.ts';
import { say, writeOut, type Terminal } from '../Terminal.ts';

/**
 * Runs `capsule logic init` with the arguments after `init`; prints the files it wrote (stdout) and
 * the next steps (stderr).
 * @throws UsageError ERR_OUTPUT_EXISTS (DIR is a file or not empty), ERR_USAGE; IoError ERR_IO (DIR cannot be read or written)
 */
export async function logicInit(argv: string[], t: Terminal): Promise<number> {
  const p = parse(argv, LOGIC_INIT);
  const arg = p.positionals[0]!;
  const dir = resolve(t.cwd, arg);
  const existing = entries(dir, arg);
  if (existing.length > 0) {
    const shown = existing.slice(0, 3).join(', ') + (existing.length > 3 ? ', …' : '');
    throw new UsageError('ERR_OUTPUT_EXISTS', `${arg}: the folder is not empty (${existing.length} entr${existing.length === 1 ? 'y' : 'ies'}: ${shown})`, {
      hint: `pass a new or empty folder, e.g. capsule logic init my-policy; nothing was written to ${arg}`,
    });
  }
  const written: string[] = [];
  try {
    mkdirSync(dir, { recursive: true });
    for (const [name, content] of INIT_FILES) {
      const file = join(dir, name);
      writeFileSync(file, content, { flag: 'wx', mode: 0o644 });
      written.push(file);
    }
  } catch (cause) {
    throw ioError(join(arg, INIT_FILES[written.length]?.[0] ?? ''), 'write', cause);
  }
  const rel = relative(t.cwd, dir) || '.';
  await writeOut(t, written.map((f) => `${relative(t.cwd, f) || f}\n`).join(''));
  say(t, `created a policy project in ${rel}: ${INIT_FILES.map(([n]) => n).join(', ')}`);
  say(t, `next: cd ${rel} && capsule logic build policy.ts -o policy.wasm && capsule logic test`);
  return 0;
}

/** DIR's entries, [] if it does not exist. @throws UsageError ERR_OUTPUT_EXISTS if it is a file; IoError ERR_IO if it cannot be read */
function entries(dir: string, arg: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return [];
    if (code === 'ENOTDIR') {
      throw new UsageError('ERR_OUTPUT_EXISTS', `${arg}: is a file, expected a new or empty folder`, {
        hint: 'pass a folder name, e.g. capsule logic init my-policy',
      });
    }
    throw ioError(arg, 'read', cause);
  }
}
