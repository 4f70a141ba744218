/**
 * `capsule logic build|check|run`: compile unlock logic with the project's settings, validate a
 * module against capsule_v1, and dry-run a decision offline for a capsule (same sandbox, same fuel
 * as the guardian). Deliberately not here: the guardian's release path (the agent, a later issue).
 */
import { resolve } from 'node:path';
import { readHeader } from '../../capsule/inspect.ts';
import { sha256 } from '../../crypto/kdf.ts';
import { AtomicFile } from '../../io/AtomicFile.ts';
import { BuildError, buildErrorLines, buildPolicy } from '../../logic/build.ts';
import { BuildCache } from '../../logic/BuildCache.ts';
import { checkLogicHash, decisionInput, parseTimeArg } from '../../logic/evaluate.ts';
import { parseEvidence, parseState, stateToJson } from '../../sandbox/evidence.ts';
import { drandBeacons } from './open.ts';
import type { EvidenceItem } from '../../sandbox/inputs.ts';
import { Sandbox } from '../../sandbox/Sandbox.ts';
import { checkAndMeter } from '../../sandbox/validate.ts';
import { DEFAULT_LIMITS } from '../../sandbox/limits.ts';
import { list, need, parse, str } from '../args.ts';
import { inputOf, loadModule, readJsonFile } from '../files.ts';
import { LOGIC, LOGIC_BUILD, LOGIC_CHECK, LOGIC_PUSH, LOGIC_RUN } from '../specs/logic.ts';
import { explain } from './logicExplain.ts';
import { logicTest } from './logicTest.ts';
import { logicInit } from './logicInit.ts';
import { runSubcommand } from '../subcommands.ts';
import { GuardianClient } from '../../client/GuardianClient.ts';
import { say, writeOut, type Terminal } from '../Terminal.ts';

/** `capsule logic build|check|run|push …`. @throws UsageError ERR_USAGE; and what the subcommand throws */
export async function logicCommand(argv: string[], t: Terminal): Promise<number> {
  return runSubcommand(LOGIC, { build, check, run, push, explain, test: logicTest, init: logicInit }, argv, t);
}

async function build(argv: string[], t: Terminal): Promise<number> {
  const p = parse(argv, LOGIC_BUILD);
  const out = need(p, 'output', LOGIC_BUILD.synopsis);
  const src = p.positionals[0]!;
  let r;
  try {
    r = await buildPolicy(src, { cwd: t.cwd, cache: BuildCache.forUser(t.env ?? process.env) });
  } catch (e) {
    if (!(e instanceof BuildError) || e.errors.length === 0) throw e;
    for (const line of buildErrorLines(e)) say(t, line); // each error with its source line and caret
    return 1;
  }
  const file = await AtomicFile.create(resolve(t.cwd, out), 0o644, out);
  try {
    await file.write(r.wasm);
    await file.commit();
  } catch (e) {
    await file.abort();
    throw e;
  }
  say(t, `built ${out}: ${r.wasm.length} bytes, sha256 ${Buffer.from(sha256(r.wasm)).toString('hex')}, imports ${r.report.imports.join(', ') || '(none)'}`);
  return 0;
}

async function check(argv: string[], t: Terminal): Promise<number> {
  const p = parse(argv, LOGIC_CHECK);
  const bytes = await loadModule(t, p.positionals[0]!);
  // One parse serves validation and metering; a Binaryen failure is a typed ERR_INVALID_MODULE.
  const { report, metered } = checkAndMeter(bytes, DEFAULT_LIMITS);
  const result = { ok: true, abi: 'capsule_v1', sha256: Buffer.from(sha256(bytes)).toString('hex'), ...report, meteredBytes: metered.length };
  if (p.values.json) {
    await writeOut(t, JSON.stringify(result, null, 2) + '\n');
  } else {
    await writeOut(
      t,
      [
        `ok ${p.positionals[0]} (capsule_v1)`,
        `  sha256:    ${result.sha256}`,
        `  size:      ${report.bytes} bytes (${metered.length} metered)`,
        `  imports:   ${report.imports.join(', ') || '(none)'}`,
        `  memory:    ${report.memory.initialPages}..${report.memory.maxPages} pages (cap ${DEFAULT_LIMITS.maxMemoryPages})`,
        `  functions: ${report.functions}${report.hasStart ? ', has a start function' : ''}`,
      ].join('\n') + '\n',
    );
  }
  return 0;
}

async function run(argv: string[], t: Terminal): Promise<number> {
  const p = parse(argv, LOGIC_RUN);
  const module = await loadModule(t, p.positionals[0]!);
  const parsed = await readHeader(inputOf(t, need(p, 'capsule', LOGIC_RUN.synopsis)));
  const h = parsed.header;
  checkLogicHash(module, h, p.positionals[0]!);
  const requester = need(p, 'requester', LOGIC_RUN.synopsis);
  const now = parseTimeArg(need(p, 'at', LOGIC_RUN.synopsis), '--at');
  const evidence: EvidenceItem[] = [];
  for (const f of list(p, 'approval')) evidence.push(...parseEvidence(await readJsonFile(t, f), f));
  evidence.push(...(await drandBeacons(t, list(p, 'drand-beacon'))));
  const stateFile = str(p, 'state');
  const state = stateFile ? parseState(await readJsonFile(t, stateFile), stateFile) : new Map<string, Uint8Array>();
  const fuel = str(p, 'fuel');
  const sandbox = new Sandbox(fuel ? { fuel: Number(fuel) } : {});
  const r = sandbox.evaluate(module, decisionInput(h, { now, requester, evidence, state }));
  if (p.values.json) {
    await writeOut(
      t,
      JSON.stringify(
        {
          verdict: r.verdict,
          reason: r.reason,
          fuel: r.fuel,
          fuelLimit: r.fuelLimit,
          fuelTable: r.fuelTable,
          logs: r.logs,
          state: stateToJson(r.state),
          changed: r.changed,
          module: r.moduleSha256,
          inputs: r.inputsSha256,
          at: new Date(now).toISOString(),
        },
        null,
        2,
      ) + '\n',
    );
  } else {
    // Reason and logs are the logic's words: control characters are shown escaped, so a policy
    // cannot move the cursor and print "allow" over its own "deny".
    await writeOut(
      t,
      `${r.verdict}${r.reason ? `: ${printable(r.reason)}` : ''}\n  fuel: ${r.fuel} of ${r.fuelLimit}\n${r.logs.map((l) => `  log: ${printable(l)}\n`).join('')}${r.changed.length ? `  state changed: ${r.changed.join(', ')}\n` : ''}`,
    );
  }
  return 0;
}

/** Uploads a module to a guardian's module store (content-addressed: the agent checks it). */
async function push(argv: string[], t: Terminal): Promise<number> {
  const p = parse(argv, LOGIC_PUSH);
  const client = new GuardianClient(need(p, 'guardian', LOGIC_PUSH.synopsis));
  const module = await loadModule(t, p.positionals[0]!);
  const hash = await client.pushModule(module, t.signal);
  await writeOut(t, `${hash}\n`);
  say(t, `logic module ${p.positionals[0]} stored by ${client.url}`);
  return 0;
}

function printable(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
