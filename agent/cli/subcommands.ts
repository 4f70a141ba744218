/**
 * The dispatch every command with subcommands shares (`capsule wallet|image|device SUB …`):
 * `--help` lists the synopses and a line on what the command is for; `SUB --help` prints the
 * synopsis and its details; a missing or unknown subcommand is a usage error naming them all.
 *
 * Deliberately not here: parsing a subcommand's options (args.ts) or what it does.
 */
import { UsageError } from '../errors.ts';
import { writeOut, type Terminal } from './Terminal.ts';

/** A subcommand's implementation: its arguments after the name; resolves to the exit code. */
export type Sub = (argv: string[], t: Terminal) => Promise<number>;

/** A command's subcommands: name → [synopsis, implementation], and the help text below each synopsis. */
export interface Subcommands {
  /** The command's name, e.g. "wallet". */
  name: string;
  /** What `capsule NAME --help` says below the synopses. */
  intro: string;
  subs: Record<string, [string, Sub]>;
  details: Record<string, string>;
}

/**
 * Runs the subcommand `argv[0]` of `c` with the rest of `argv`, or prints help.
 * @throws UsageError ERR_USAGE (missing or unknown subcommand); and what the subcommand throws
 */
export async function runSubcommand(c: Subcommands, argv: string[], t: Terminal): Promise<number> {
  const [sub, ...rest] = argv;
  const synopses = Object.values(c.subs).map(([s]) => s);
  if (sub === '--help' || sub === '-h') {
    await writeOut(t, `usage:\n  ${synopses.join('\n  ')}\n\n${c.intro} \`capsule ${c.name} SUB --help\` for each command's options.\n`);
    return 0;
  }
  const entry = sub !== undefined && Object.hasOwn(c.subs, sub) ? c.subs[sub] : undefined;
  if (!entry) throw new UsageError('ERR_USAGE', sub === undefined ? `${c.name}: missing subcommand` : `${c.name}: unknown subcommand ${JSON.stringify(sub)}`, { hint: `usage: ${synopses.join(' | ')}` });
  if (rest.includes('--help') || rest.includes('-h')) {
    await writeOut(t, `usage: ${entry[0]}\n\n${c.details[sub!]}\n`);
    return 0;
  }
  return entry[1](rest, t);
}
