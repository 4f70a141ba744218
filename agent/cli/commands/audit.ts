/**
 * `capsule audit verify [AUDIT.log | --data-dir D] [--guardian-key K | --unpinned] [--receipt FILE]…
 * [--replay [--modules DIR]]`: checks the guardian's audit log offline — every entry's chain link
 * and signature, under a pinned guardian key (given, else the data directory's guardian record;
 * with neither it fails closed unless --unpinned, D9) — then each receipt a client kept (the log
 * must hold that entry with that digest: a truncated or older log fails, docs/AUDIT.md "Receipts"),
 * and with --replay re-runs each logged decision in the sandbox from its recorded inputs, requiring
 * the same verdict, fuel and inputs digest. Exit 1 names the first entry or receipt that fails.
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
import { AUDIT, AUDIT_VERIFY as SPEC } from '../specs/guardian.ts';
import { list, parse, str } from '../args.ts';
import { writeOut, type Terminal } from '../Terminal.ts';
import { dataDirOf } from '../dataDir.ts';
import { readGuardianFile } from '../../guardian/GuardianFile.ts';
import { checkReceipt, parseReceipt } from '../../daemon/Receipt.ts';
import { runSubcommand } from '../subcommands.ts';

const SYNOPSIS = SPEC.synopsis;

/** `capsule audit verify …`. @throws UsageError ERR_USAGE, AuditError, IoError */
export async function auditCommand(argv: string[], t: Terminal): Promise<number> {
  return runSubcommand(AUDIT, { verify: verifyLog }, argv, t);
}

async function verifyLog(argv: string[], t: Terminal): Promise<number> {
  const p = parse(argv, SPEC);
  if (p.values.unpinned && str(p, 'guardian-key') !== undefined)
    throw new UsageError('ERR_USAGE', 'audit verify: --unpinned and --guardian-key exclude each other', { hint: `usage: ${SYNOPSIS}` });
  const dataDir = dataDirOf(t, str(p, 'data-dir'));
  const file = p.positionals[0] !== undefined ? resolve(t.cwd, p.positionals[0]) : join(dataDir, 'audit.log');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    throw ioError(p.positionals[0] ?? file, 'read', cause);
  }
  // Pinned to the guardian's key: the one given, else the data directory's guardian.json (a log
  // that names its own key proves only that it is self-consistent: D9, fail closed).
  let pinned = str(p, 'guardian-key');
  if (pinned === undefined && !p.values.unpinned) {
    try {
      pinned = (await readGuardianFile(dataDir)).signingKey;
    } catch {
      pinned = undefined;
    }
    if (pinned === undefined) {
      throw new AuditError(
        'ERR_AUDIT_UNPINNED',
        `audit verify: no guardian key to check ${p.positionals[0] ?? file} against (no --guardian-key, and no guardian record in ${dataDir})`,
        {
          hint: 'pass --guardian-key capsule-guardian1… (capsule guardian show prints it), or --data-dir of the guardian; --unpinned checks only that the log is self-consistent',
        },
      );
    }
  }
  if (pinned === undefined)
    t.stderr.write('capsule: warning: --unpinned: the log is checked against the key it names itself, which proves only that it is self-consistent\n');
  const entries = verifyAuditLog(text, pinned);
  const receipts = list(p, 'receipt');
  for (const name of receipts) {
    let rt: string;
    try {
      rt = await readFile(resolve(t.cwd, name), 'utf8');
    } catch (cause) {
      throw ioError(name, 'read', cause);
    }
    checkReceipt(parseReceipt(rt, name), entries, name);
  }
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
      if (!module)
        throw new AuditError('ERR_AUDIT_REPLAY', `${at}: logic module ${e.logic} is not in ${modules.dir}`, {
          hint: 'pass --modules DIR holding <sha256>.wasm files',
        });
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
        if (expectVerdict === 'error' && (err as { code?: string }).code !== e.error)
          throw new AuditError('ERR_AUDIT_REPLAY', `${at}: replay failed with ${(err as { code?: string }).code}, the log says ${e.error}`);
      }
      if (verdict !== expectVerdict || (e.verdict !== 'error' && (fuel !== e.fuel || inputs !== e.inputs))) {
        throw new AuditError('ERR_AUDIT_REPLAY', `${at}: replay gives ${verdict} with ${fuel} fuel, the log says ${e.verdict} with ${e.fuel}`, {
          hint: 'the entry, its module or the sandbox differ from the ones that decided',
        });
      }
      replayed++;
    }
  }
  await writeOut(
    t,
    `ok ${file}: ${entries.length} entries, chain and signatures valid (guardian ${entries[0]!.guardian}${pinned ? ', pinned' : ', NOT pinned: pass --guardian-key'})${receipts.length ? `; ${receipts.length} receipt(s) found in the log` : ''}${p.values.replay ? `; ${replayed} decisions replayed with the same verdict and fuel` : ''}\n`,
  );
  return 0;
}
