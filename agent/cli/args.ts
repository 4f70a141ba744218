/**
 * Command-line argument parsing on node:util's parseArgs, configured from the command's spec
 * (spec.ts), turning its errors into UsageError with the command's synopsis as the hint (and, for
 * an unknown option, the option that was probably meant). Also: whether help was asked for.
 *
 * node:util's parseArgs rather than a CLI library: it is strict (unknown options, missing values
 * and values given to flags are errors), ships with Node (no dependency to audit on a device that
 * holds keys), and what a library would add — help, suggestions — comes from the spec table here.
 *
 * Deliberately not here: what the options mean (commands/*), the help text (help.ts).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../errors.ts';
import { optionsOf, type CommandSpec } from './spec.ts';
import { didYouMean, suggest } from './suggest.ts';

/** parseArgs' options configuration. */
export type Options = NonNullable<ParseArgsConfig['options']>;

/** The parsed command line: option values by long name, and the positional arguments. */
export interface Parsed {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

/**
 * True when `argv` asks for help: `--help` or `-h` before any `--` (after it, they are file names).
 * A value is never taken for it: parseArgs refuses a value starting with `-` for a string option.
 */
export function wantsHelp(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).some((a) => a === '--help' || a === '-h');
}

/**
 * Parses `argv` as `spec` says: its options, and between positionals.min and .max positionals.
 * @throws UsageError ERR_USAGE (unknown option, missing or empty value, too few or many arguments)
 */
export function parse(argv: string[], spec: CommandSpec): Parsed {
  const synopsis = spec.synopsis;
  let parsed: Parsed;
  try {
    parsed = parseArgs({ args: argv, options: optionsOf(spec), allowPositionals: true, strict: true }) as Parsed;
  } catch (cause) {
    const first = cause instanceof Error ? cause.message.split('\n')[0]! : 'bad arguments';
    const msg = first.charAt(0).toLowerCase() + first.slice(1);
    const hint = `${meant(cause, spec)}usage: ${synopsis}`;
    throw new UsageError('ERR_USAGE', msg.replace(/\. To specify a positional argument.*$/, ''), { cause, hint });
  }
  // An empty value is never meant (`--sign-with "$UNSET"`): refuse it rather than silently
  // dropping a signature or a check.
  for (const [name, v] of Object.entries(parsed.values)) {
    for (const item of Array.isArray(v) ? v : [v]) {
      if (item === '') {
        throw new UsageError('ERR_USAGE', `--${name}: expected a value, got an empty string`, { hint: `usage: ${synopsis}` });
      }
    }
  }
  const n = parsed.positionals.length;
  if (n < spec.positionals.min) {
    throw new UsageError('ERR_USAGE', `missing argument (expected ${spec.positionals.min}, got ${n})`, { hint: `usage: ${synopsis}` });
  }
  if (n > spec.positionals.max) {
    const extra = JSON.stringify(parsed.positionals[spec.positionals.max]);
    throw new UsageError('ERR_USAGE', `unexpected argument ${extra}`, { hint: `usage: ${synopsis}` });
  }
  return parsed;
}

/** `did you mean --x? ` for an unknown long option close to one of the spec's; '' otherwise. */
function meant(cause: unknown, spec: CommandSpec): string {
  if ((cause as { code?: string })?.code !== 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return '';
  const given = /'--([^'=]+)/.exec((cause as Error).message)?.[1];
  if (given === undefined) return '';
  const text = didYouMean(suggest(given, [...Object.keys(spec.options), 'help']), (s) => `--${s}`);
  return text ? `${text} ` : '';
}

/** The value of string option `name`, or undefined. */
export function str(p: Parsed, name: string): string | undefined {
  const v = p.values[name];
  return typeof v === 'string' ? v : undefined;
}

/** The value of string option `name`. @throws UsageError ERR_USAGE when it was not given */
export function need(p: Parsed, name: string, synopsis: string): string {
  const v = str(p, name);
  if (v === undefined || v === '') throw new UsageError('ERR_USAGE', `missing required option --${name}`, { hint: `usage: ${synopsis}` });
  return v;
}

/** Every value of option `name` (repeatable or not), in order. */
export function list(p: Parsed, name: string): string[] {
  const v = p.values[name];
  return Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
}

/**
 * The value of option `name` as a positive integer, or `fallback` when it was not given.
 * @throws UsageError ERR_USAGE for anything but 1..2^53−1 written in decimal digits
 */
export function positiveInt(p: Parsed, name: string, fallback: number, synopsis: string): number {
  const v = str(p, name);
  if (v === undefined) return fallback;
  if (!/^[1-9][0-9]{0,15}$/.test(v) || !Number.isSafeInteger(Number(v)))
    throw new UsageError('ERR_USAGE', `--${name}: expected a positive integer, got ${JSON.stringify(v)}`, { hint: `usage: ${synopsis}` });
  return Number(v);
}
