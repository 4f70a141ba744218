/**
 * `capsule audit verify [AUDIT.log | --data-dir D] [--guardian-key K] [--replay [--modules DIR]]`:
 * checks the guardian's audit log offline — every entry's chain link and signature — and with
 * --replay re-runs each logged decision in the sandbox from its recorded inputs, requiring the same
 * verdict, fuel and inputs digest. Exit 1 names the first entry that fails.
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { AuditError, UsageError } from '../../errors.ts';
import { verifyAuditLog, type Json } from '../../daemon/AuditLog.ts';
import { inputFromJson } from '../../daemon/evaluationJson.ts';
import { ModuleStore } from '../../daemon/ModuleStore.ts';
import { ioError } from '../../io/sources.ts';
import { Sandbox } from '../../sandbox/Sandbox.ts';
import { DEFAULT_LIMITS } from '../../sandbox/limits.ts';
import { AUDIT_VERIFY as SYNOPSIS } from '../synopsis.ts';
import { parse, str } from '../args.ts';
import { writeOut, type Terminal } from '../Terminal.ts';
import { dataDirOf } from './guardian.ts';
import { readGuardianFile } from '../../guardian/GuardianFile.ts';

export async function auditCommand(argv: string[], t: Terminal): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'verify') throw new UsageError('ERR_USAGE', sub === undefined ? 'audit: missing subcommand' : `audit: unknown subcommand ${JSON.stringify(sub)}`, { hint: `usage: ${SYNOPSIS}` });
  const p = parse(rest, { 'data-dir': { type: 'string' }, 'guardian-key': { type: 'string' }, replay: { type: 'boolean' }, modules: { type: 'string' } }, SYNOPSIS, { min: 0, max: 1 });
  const dataDir = dataDirOf(t, str(p, 'data-dir'));
  const file = p.positionals[0] !== undefined ? resolve(t.cwd, p.positionals[0]) : join(dataDir, 'audit.log');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    throw ioError(p.positionals[0] ?? file, 'read', cause);
  }
  // Pinned to the guardian's key: the one given, else the data directory's guardian.json (a log
  // that names its own key proves only that it is self-consistent).
  let pinned = str(p, 'guardian-key');
  if (pinned === undefined && p.positionals[0] === undefined) {
    try {
      pinned = (await readGuardianFile(dataDir)).signingKey;
    } catch {
      pinned = undefined;
    }
  }
  const entries = verifyAuditLog(text, pinned);
  let replayed = 0;
  if (p.values.replay) {
    const modules = new ModuleStore(str(p, 'modules') !== undefined ? resolve(t.cwd, str(p, 'modules')!) : join(dataDir, 'modules'));
    // Each decision is replayed with the fuel limit it was made under (recorded in its entry).
    const sandboxes = new Map<number, Sandbox>();
    const sandboxFor = (fuel: unknown) => {
      const f = Number.isSafeInteger(fuel) && (fuel as number) > 0 ? (fuel as number) : DEFAULT_LIMITS.fuel;
      if (!sandboxes.has(f)) sandboxes.set(f, new Sandbox({ fuel: f }));
      return sandboxes.get(f)!;
    };
    for (const e of entries) {
      if (!e.input || typeof e.logic !== 'string') continue;
      // An entry whose decision failed after the logic ran (e.g. authentication) replays to the logic's verdict.
      const expectVerdict = e.verdict === 'error' && typeof e.logicVerdict === 'string' ? e.logicVerdict : e.verdict;
      const at = `audit log line ${e.seq + 1}`;
      const module = await modules.get(e.logic);
      if (!module) throw new AuditError('ERR_AUDIT_REPLAY', `${at}: logic module ${e.logic} is not in ${modules.dir}`, { hint: 'pass --modules DIR holding <sha256>.wasm files' });
      let verdict: string;
      let fuel: number | undefined;
      let inputs: string | undefined;
      try {
        const r = sandboxFor(e.fuelLimit).evaluate(module, inputFromJson(e.input as Json, `${at} input`));
        verdict = r.verdict;
        fuel = r.fuel;
        inputs = r.inputsSha256;
      } catch (err) {
        verdict = 'error';
        if (expectVerdict === 'error' && (err as { code?: string }).code !== e.error) throw new AuditError('ERR_AUDIT_REPLAY', `${at}: replay failed with ${(err as { code?: string }).code}, the log says ${e.error}`);
      }
      if (verdict !== expectVerdict || (e.verdict !== 'error' && (fuel !== e.fuel || inputs !== e.inputs))) {
        throw new AuditError('ERR_AUDIT_REPLAY', `${at}: replay gives ${verdict} with ${fuel} fuel, the log says ${e.verdict} with ${e.fuel}`, {
          hint: 'the entry, its module or the sandbox differ from the ones that decided',
        });
      }
      replayed++;
    }
  }
  await writeOut(t, `ok ${file}: ${entries.length} entries, chain and signatures valid (guardian ${entries[0]!.guardian}${pinned ? ', pinned' : ', NOT pinned: pass --guardian-key'})${p.values.replay ? `; ${replayed} decisions replayed with the same verdict and fuel` : ''}\n`);
  return 0;
}
