/**
 * `capsule logic test [DIR | SCENARIOS.json] [--json]`: runs a scenario file's cases against unlock
 * logic in the real sandbox, as the guardian would (agent/logic/scenarios.ts, the format in
 * agent/logic/SCENARIOS.md), and reports like a test runner: a line per case, a diff under each
 * failure, `N passed, M failed`; exit 1 when any case fails. DIR (default: the current folder)
 * means DIR/scenarios.json, whose policy and params default to policy.ts and params.json beside it.
 *
 * Deliberately not here: the runner and the report's wording (agent/logic), the command's interface
 * (specs/logic.ts LOGIC_TEST).
 */
import { statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { IoError } from '../../errors.ts';
import { jsonReport, textReport } from '../../logic/scenarioReport.ts';
import { runScenarioFile } from '../../logic/scenarios.ts';
import { parse } from '../args.ts';
import { LOGIC_TEST } from '../specs/logic.ts';
import { writeOut, type Terminal } from '../Terminal.ts';

/**
 * Runs `capsule logic test` with the arguments after `test`; resolves to 0 when every case passed, 1 otherwise.
 * @throws ScenarioError ERR_BAD_SCENARIO; IoError ERR_NOT_FOUND, ERR_IO; BuildError ERR_BUILD;
 *   SandboxError ERR_INVALID_MODULE; UsageError ERR_USAGE
 */
export async function logicTest(argv: string[], t: Terminal): Promise<number> {
  const p = parse(argv, LOGIC_TEST);
  const file = scenarioFileOf(p.positionals[0] ?? '.', t.cwd);
  const r = await runScenarioFile(file, t.cwd);
  await writeOut(t, p.values.json ? jsonReport([r]) : textReport([r]));
  if (r.failed === 0) return 0;
  t.stderr.write(`capsule: error: ${r.failed} of ${r.cases.length} case${r.cases.length === 1 ? '' : 's'} failed (${file})\n`);
  return 1;
}

/** The scenario file an argument names: a file as given, or DIR/scenarios.json. */
function scenarioFileOf(arg: string, cwd: string): string {
  let isDir = false;
  try {
    isDir = statSync(resolve(cwd, arg)).isDirectory();
  } catch {
    return arg; // not there: reading it reports ERR_NOT_FOUND with the name as given
  }
  if (!isDir) return arg;
  const file = arg === '.' ? 'scenarios.json' : join(arg, 'scenarios.json');
  try {
    statSync(resolve(cwd, file));
  } catch (cause) {
    throw new IoError('ERR_NOT_FOUND', `${arg}: a folder without scenarios.json`, {
      cause,
      hint: 'name a scenario file, or create scenarios.json there (capsule logic init writes one; the format: agent/logic/SCENARIOS.md)',
    });
  }
  return file;
}
