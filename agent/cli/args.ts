/**
 * Command-line argument parsing on node:util's parseArgs, turning its errors into UsageError with
 * the command's synopsis as the hint. Deliberately not here: what the options mean.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../errors.ts';

export type Options = NonNullable<ParseArgsConfig['options']>;

export interface Parsed {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

export function parse(argv: string[], options: Options, synopsis: string, positionals: { min: number; max: number }): Parsed {
  let parsed: Parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true }) as Parsed;
  } catch (cause) {
    const first = cause instanceof Error ? cause.message.split('\n')[0]! : 'bad arguments';
    const msg = first.charAt(0).toLowerCase() + first.slice(1);
    throw new UsageError('ERR_USAGE', msg.replace(/\. To specify a positional argument.*$/, ''), { cause, hint: `usage: ${synopsis}` });
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
  if (n < positionals.min) {
    throw new UsageError('ERR_USAGE', `missing argument (expected ${positionals.min}, got ${n})`, { hint: `usage: ${synopsis}` });
  }
  if (n > positionals.max) {
    throw new UsageError('ERR_USAGE', `unexpected argument ${JSON.stringify(parsed.positionals[positionals.max])}`, { hint: `usage: ${synopsis}` });
  }
  return parsed;
}

export function str(p: Parsed, name: string): string | undefined {
  const v = p.values[name];
  return typeof v === 'string' ? v : undefined;
}

export function need(p: Parsed, name: string, synopsis: string): string {
  const v = str(p, name);
  if (v === undefined || v === '') throw new UsageError('ERR_USAGE', `missing required option --${name}`, { hint: `usage: ${synopsis}` });
  return v;
}

export function list(p: Parsed, name: string): string[] {
  const v = p.values[name];
  return Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
}
