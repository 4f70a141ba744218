/**
 * The `capsule` command: dispatch, `--version`, help, and the error contract — every failure is
 * `capsule: error: …` plus `capsule: hint: …` on stderr and exit code 1; stdout carries data only.
 * A command may document another exit code for one class of its failures and mark those errors
 * with `withExitCode` (only `device luks-key` does: 3, a retry cannot help); 130 is an interrupt.
 *
 * Deliberately not here: the commands' logic (commands/*) and process bootstrapping (bin/capsule.js).
 */
import { readFileSync } from 'node:fs';
import { DceError, UsageError } from '../errors.ts';
import { WALLET_ADDRESS, WALLET_CREATE, WALLET_RESTORE, WALLET_SHOW, WALLET_SIGN } from './synopsis.ts';
import { AGENT, APPROVE, AUDIT_VERIFY, CHECKIN, SIGN_REQUEST, DECRYPT, PUBLISH, FETCH, WATCH, GUARDIAN_INIT, GUARDIAN_SHOW, LOGIC_PUSH, OPEN, INSPECT, KEYGEN, LOGIC_BUILD, LOGIC_CHECK, LOGIC_RUN, SEAL, VERIFY } from './synopsis.ts';
import { IMAGE_FETCH, IMAGE_LOAD, IMAGE_PIN, IMAGE_PUBLISH, IMAGE_SHOW, IMAGE_SIGN, IMAGE_VERIFY } from './synopsis.ts';
import { DEVICE_LUKS_ENROLL, DEVICE_LUKS_KEY } from './synopsis.ts';
import { processTerminal, type Terminal } from './Terminal.ts';

type Command = (argv: string[], t: Terminal) => Promise<number>;

// Loaded on demand: `capsule --version` should not pay for every command's crypto imports.
const COMMANDS: Record<string, () => Promise<Command>> = {
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


export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

const HELP = `capsule — digital capsules: encrypted payloads released by unlock logic

usage:
  ${KEYGEN}
  ${SEAL}
  ${INSPECT}
  ${VERIFY}
  ${DECRYPT}
  ${LOGIC_BUILD}
  ${LOGIC_CHECK}
  ${LOGIC_RUN}
  ${GUARDIAN_INIT}
  ${GUARDIAN_SHOW}
  ${AGENT}
  ${LOGIC_PUSH}
  ${OPEN}
  ${CHECKIN}
  ${APPROVE}
  ${SIGN_REQUEST}
  ${WALLET_CREATE}
  ${WALLET_RESTORE}
  ${WALLET_SHOW}
  ${WALLET_ADDRESS}
  ${WALLET_SIGN}
  ${AUDIT_VERIFY}
  ${PUBLISH}
  ${FETCH}
  ${WATCH}
  ${IMAGE_SIGN}
  ${IMAGE_SHOW}
  ${IMAGE_PIN}
  ${IMAGE_VERIFY}
  ${IMAGE_LOAD}
  ${IMAGE_FETCH}
  ${IMAGE_PUBLISH}
  ${DEVICE_LUKS_ENROLL}
  ${DEVICE_LUKS_KEY}
  capsule --version

Capsule format: agent/format/SPEC.md. Unlock logic ABI: contracts-as/ABI.md. Errors go to stderr as "capsule: error: …".
`;

export async function main(argv: string[], t: Terminal = processTerminal()): Promise<number> {
  const [name, ...rest] = argv;
  try {
    if (name === '--version' || name === '-V' || name === 'version') {
      t.stdout.write(`capsule ${version()}\n`);
      return 0;
    }
    if (name === '--help' || name === '-h' || name === 'help') {
      t.stdout.write(HELP);
      return 0;
    }
    if (name === undefined) {
      throw new UsageError('ERR_USAGE', 'no command given', { hint: `commands: ${Object.keys(COMMANDS).join(', ')}; see capsule --help` });
    }
    const load = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
    if (!load) {
      throw new UsageError('ERR_USAGE', `unknown command ${JSON.stringify(name)}`, { hint: `commands: ${Object.keys(COMMANDS).join(', ')}; see capsule --help` });
    }
    return await (await load())(rest, t);
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
