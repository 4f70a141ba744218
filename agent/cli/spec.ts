/**
 * The declarative description of a command, the one home of its interface: name, one-line summary,
 * synopsis, description, arguments, options (type, short name, placeholder, default, meaning), the
 * environment variables that affect it, and examples. parseArgs' option configuration (optionsOf)
 * and every help text (help.ts) are generated from it, so what a command accepts and what its help
 * says cannot drift apart; test/cli-help.test.ts checks the synopsis against the options as well.
 *
 * Deliberately not here: the tables themselves (specs/*, listed in synopsis.ts), rendering
 * (help.ts) and parsing (args.ts). Defaults are documentation: the command applies them, because
 * several commands must tell "not given" from "given the default" (e.g. `--ipfs` without `--publish`).
 */
import type { ParseArgsConfig } from 'node:util';
import type { EnvName } from './specs/environment.ts';

/** One option of a command, named by its key in CommandSpec.options (the long name, without `--`). */
export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  /** A one-letter alias, e.g. `o` for `-o`. */
  readonly short?: string;
  /** May be given more than once (help says "repeatable"); the command gets every value. */
  readonly multiple?: boolean;
  /** The value's placeholder in help, e.g. `FILE` (string options only; default `VALUE`). */
  readonly value?: string;
  /** The default, as help shows it. */
  readonly default?: string;
  /** What it means, one or two sentences, no final period. */
  readonly description: string;
}

/** An example in help: what it does (shown as a `#` comment) and the command line. */
export type Example = readonly [what: string, command: string];

/** A command, or a subcommand of a group (then `name` is both words, e.g. "guardian init"). */
export interface CommandSpec {
  readonly name: string;
  /** One line, lower case, no final period: `capsule --help` and the group's help list it. */
  readonly summary: string;
  /** The usage line: the first line of the help, and the hint on a usage error. */
  readonly synopsis: string;
  /** What it does: paragraphs separated by a blank line (help reflows them). */
  readonly description: string;
  /** Positional arguments as the synopsis writes them → what they are. */
  readonly arguments?: Readonly<Record<string, string>>;
  /** How many positional arguments it takes. */
  readonly positionals: { readonly min: number; readonly max: number };
  readonly options: Readonly<Record<string, OptionSpec>>;
  /** Environment variables that change what it does (described once, in specs/environment.ts). */
  readonly environment?: readonly EnvName[];
  /** At least two. */
  readonly examples: readonly Example[];
}

/** A command with subcommands (`capsule wallet create|…`): its help lists them. */
export interface GroupSpec<K extends string = string> {
  readonly name: string;
  readonly summary: string;
  readonly description: string;
  /** Subcommand name → its spec, in the order help lists them. */
  readonly subs: Readonly<Record<K, CommandSpec>>;
}

/** `spec` as given, with its name kept as a literal type (main.ts's dispatch table is checked against it). */
export function command<N extends string>(spec: CommandSpec & { readonly name: N }): CommandSpec & { readonly name: N } {
  return spec;
}

/** `g` as given, with its name and subcommand names kept as literal types (runSubcommand checks the implementations). */
export function group<N extends string, K extends string>(g: GroupSpec<K> & { readonly name: N }): GroupSpec<K> & { readonly name: N } {
  return g;
}

/** True for a group (a command with subcommands). */
export function isGroup(e: CommandSpec | GroupSpec): e is GroupSpec {
  return 'subs' in e;
}

/** The options configuration node:util's parseArgs takes, generated from the spec. */
export function optionsOf(spec: CommandSpec): NonNullable<ParseArgsConfig['options']> {
  const out: NonNullable<ParseArgsConfig['options']> = {};
  for (const [name, o] of Object.entries(spec.options)) {
    out[name] = { type: o.type, ...(o.short !== undefined ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) };
  }
  return out;
}
