/**
 * `capsule verify CAPSULE|- [--logic MODULE.wasm] [--guardian-key capsule-guardian1…] [--json]`:
 * every offline check (SPEC.md §9) with no key; with --guardian-key, also that this guardian
 * signed the header. Prints what was checked; exits 1 on the first failure.
 */
import { GUARDIAN_KEY_HRP, parseP256Key } from '../../crypto/p256.ts';
import { describe } from '../../capsule/inspect.ts';
import { verify } from '../../capsule/verify.ts';
import { VERIFY as SPEC } from '../specs/capsule.ts';
import { parse, str } from '../args.ts';
import { inputOf, loadModule } from '../files.ts';
import { writeOut, type Terminal } from '../Terminal.ts';

/** Runs `capsule verify` with the arguments after its name (interface: specs/, via parse); resolves to the exit code. */
export async function verifyCommand(argv: string[], t: Terminal): Promise<number> {
  const p = parse(argv, SPEC);
  const logicPath = str(p, 'logic');
  const keyText = str(p, 'guardian-key');
  const guardianKey = keyText === undefined ? undefined : parseP256Key(GUARDIAN_KEY_HRP, keyText, '--guardian-key');
  const logic = logicPath ? await loadModule(t, logicPath) : undefined;
  const report = await verify(inputOf(t, p.positionals[0]!), { logic, guardianKey });
  const info = describe(report.parsed);
  if (p.values.json) {
    await writeOut(t, JSON.stringify({ ok: true, checks: report.checks, capsule: info }, null, 2) + '\n');
  } else {
    await writeOut(t, `ok ${info.id}\n` + report.checks.map((c) => `  ok: ${c}\n`).join(''));
  }
  return 0;
}
