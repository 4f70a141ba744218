/**
 * The `capsule` command: dispatch, `--version`, help, and the error contract — every failure is
 * `capsule: error: …` plus `capsule: hint: …` on stderr and exit code 1; stdout carries data only.
 * Help is data the user asked for: `capsule --help`, `capsule help [COMMAND [SUB]]` and `--help`/`-h`
 * anywhere before `--` print it on stdout (exit 0) from the command table, before the command's
 * code is loaded, so every command has it and none can forget it.
 * A command may document another exit code for one class of its failures and mark those errors
 * with `withExitCode` (only `device luks-key` does: 3, a retry cannot help); 130 is an interrupt.
 *
 * Deliberately not here: the commands' logic (commands/*) and process bootstrapping (bin/capsule.js).
 */
import { readFileSync } from 'node:fs';
import { DceError, UsageError } from '../errors.ts';
import { wantsHelp } from './args.ts';
import type { CommandName } from './synopsis.ts';
import { processTerminal, type Terminal } from './Terminal.ts';

type Command = (argv: string[], t: Terminal) => Promise<number>;

// Loaded on demand: `capsule --version` and help should not pay for every command's crypto
// imports. Keyed by the command table's names: a command without a spec (or a spec without an
// implementation) does not type-check.
const COMMANDS: Record<CommandName, () => Promise<Command>> = {
  keygen: async () => (await import('./commands/keygen.ts')).keygen,
  seal: async () => (await import('./commands/seal.ts')).sealCommand,
  inspect: async () => (await import('./commands/inspect.ts')).inspectCommand,
  verify: async () => (await import('./commands/verify.ts')).verifyCommand,
  decrypt: async () => (await import('./commands/decrypt.ts')).decryptCommand,
  logic: async () => (await import('./commands/logic.ts')).logicCommand,
  guardian: async () => (await import('./commands/guardian.ts')).guardianCommand,
  agent: async () => (await import('./commands/agent.ts')).agentCommand,
  open: async () => (await import('./commands/open.ts')).openCommand,
  audit: async () => (await import('./commands/audit.ts')).auditCommand,
  checkin: async () => (await import('./commands/checkin.ts')).checkinCommand,
  approve: async () => (await import('./commands/approve.ts')).approveCommand,
  'sign-request': async () => (await import('./commands/signRequest.ts')).signRequestCommand,
  wallet: async () => (await import('./commands/wallet.ts')).walletCommand,
  publish: async () => (await import('./commands/publish.ts')).publishCommand,
  fetch: async () => (await import('./commands/fetch.ts')).fetchCommand,
  watch: async () => (await import('./commands/watch.ts')).watchCommand,
  image: async () => (await import('./commands/image.ts')).imageCommand,
  device: async () => (await import('./commands/device.ts')).deviceCommand,
};

/** This package's version (package.json). */
export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/**
 * Runs `capsule ARGV…` on terminal `t`; resolves to the exit code (0, 1 for any failure, or one a
 * command documents; 130 when interrupted). Never rejects: failures are reported on t.stderr.
 */
export async function main(argv: string[], t: Terminal = processTerminal()): Promise<number> {
  const [name, ...rest] = argv;
  try {
    if (name === '--version' || name === '-V' || name === 'version') {
      t.stdout.write(`capsule ${version()}\n`);
      return 0;
    }
    // The command table and the help texts load only when asked for (or to name an unknown command).
    if (name === '--help' || name === '-h' || name === 'help') {
      t.stdout.write((await import('./help.ts')).helpText(rest));
      return 0;
    }
    if (name === undefined) throw new UsageError('ERR_USAGE', 'no command given', { hint: (await import('./synopsis.ts')).COMMANDS_HINT });
    if (!Object.hasOwn(COMMANDS, name)) (await import('./synopsis.ts')).findCommand(name); // throws, naming the one meant
    if (wantsHelp(rest)) {
      t.stdout.write((await import('./help.ts')).helpText([name, ...rest]));
      return 0;
    }
    return await (await COMMANDS[name as CommandName]())(rest, t);
  } catch (e) {
    report(t, e);
    return t.signal?.aborted ? 130 : exitCodeOf(e);
  }
}

// A symbol, not a property name: only withExitCode sets it, so no other error changes its exit code.
const EXIT_CODE = Symbol('capsule exit code');

/**
 * Marks `e` to be reported as every failure is, but to end the command with `code` instead of 1:
 * for a command that documents a distinct code for a class of failures. Returns `e`.
 * @throws RangeError when `code` is not 2..125 (1 is the default; 126 and up are the shell's).
 */
export function withExitCode<E extends object>(e: E, code: number): E {
  if (!Number.isInteger(code) || code < 2 || code > 125) throw new RangeError(`code: expected an exit code 2..125, got ${code}`);
  Object.defineProperty(e, EXIT_CODE, { value: code, configurable: true });
  return e;
}

function exitCodeOf(e: unknown): number {
  const code = typeof e === 'object' && e !== null ? (e as { [EXIT_CODE]?: unknown })[EXIT_CODE] : undefined;
  return typeof code === 'number' ? code : 1;
}

/** Reports `e` on stderr as `capsule: error: …` and, when there is one, `capsule: hint: …`. */
export function report(t: Terminal, e: unknown): void {
  if (e instanceof DceError) {
    t.stderr.write(`capsule: error: ${oneLine(e.message)}\n`);
    if (e.hint) t.stderr.write(`capsule: hint: ${oneLine(e.hint)}\n`);
    return;
  }
  if (e instanceof Error && (e.name === 'AbortError' || (e as NodeJS.ErrnoException).code === 'ABORT_ERR')) {
    t.stderr.write('capsule: error: interrupted\n');
    return;
  }
  if (e instanceof TypeError || e instanceof RangeError) {
    t.stderr.write(`capsule: error: ${oneLine(e.message)}\n`);
    t.stderr.write('capsule: hint: check the arguments; see capsule --help\n');
    return;
  }
  const err = e as NodeJS.ErrnoException;
  if (err?.code === 'EPIPE') return; // reader went away: nothing to report
  t.stderr.write(`capsule: error: internal error: ${oneLine(String(err?.message ?? e))}\n`);
  t.stderr.write('capsule: hint: this is a bug; please report it with the command you ran\n');
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ');
}
