/**
 * The dispatch every command with subcommands shares (`capsule wallet|image|device|… SUB …`), from
 * the group's spec: a missing or unknown subcommand is a usage error naming them all (with the one
 * probably meant); otherwise the subcommand's implementation runs with the rest of the arguments.
 *
 * Deliberately not here: help (main.ts prints it from the spec before a command is loaded),
 * parsing a subcommand's options (args.ts) or what it does.
 */
import { UsageError } from '../errors.ts';
import type { CommandSpec, GroupSpec } from './spec.ts';
import { didYouMean, suggest } from './suggest.ts';
import type { Terminal } from './Terminal.ts';

/** A subcommand's implementation: its arguments after the name; resolves to the exit code. */
export type Sub = (argv: string[], t: Terminal) => Promise<number>;

/**
 * The spec of subcommand `sub` of `g`.
 * @throws UsageError ERR_USAGE when `sub` is missing or not one of g's subcommands
 */
export function subcommandOf(g: GroupSpec, sub: string | undefined): CommandSpec {
  if (sub !== undefined && Object.hasOwn(g.subs, sub)) return (g.subs as Record<string, CommandSpec>)[sub]!;
  const usage = `usage: ${Object.values<CommandSpec>(g.subs)
    .map((s) => s.synopsis)
    .join(' | ')}`;
  if (sub === undefined) throw new UsageError('ERR_USAGE', `${g.name}: missing subcommand`, { hint: usage });
  const meant = didYouMean(suggest(sub, Object.keys(g.subs)));
  throw new UsageError('ERR_USAGE', `${g.name}: unknown subcommand ${JSON.stringify(sub)}`, { hint: meant ? `${meant} ${usage}` : usage });
}

/**
 * Runs the subcommand `argv[0]` of `g` with the rest of `argv`; `impls` has one implementation per
 * subcommand of the spec (the type checker holds them to the same names).
 * @throws UsageError ERR_USAGE (missing or unknown subcommand); and what the subcommand throws
 */
export async function runSubcommand<G extends GroupSpec>(g: G, impls: Record<keyof G['subs'] & string, Sub>, argv: string[], t: Terminal): Promise<number> {
  const [sub, ...rest] = argv;
  subcommandOf(g, sub);
  return (impls as Record<string, Sub>)[sub!]!(rest, t);
}
