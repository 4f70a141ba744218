/**
 * The help texts, generated from the command table: `capsule --help` (every command and
 * subcommand with its one-line summary), a group's help (`capsule wallet --help`: its synopses,
 * description, subcommands and examples) and a command's help (`capsule seal --help`: synopsis,
 * description, arguments, options with their defaults, environment, examples). Help goes to stdout
 * (it is data the user asked for) with a fixed width, so that it is the same on every terminal and
 * in the scenario tests.
 *
 * Deliberately not here: the text itself (specs/*) and deciding when help was asked for (main.ts,
 * args.ts wantsHelp).
 */
import { ENVIRONMENT } from './specs/environment.ts';
import { isGroup, type CommandSpec, type GroupSpec, type OptionSpec } from './spec.ts';
import { subcommandOf } from './subcommands.ts';
import { COMMAND_TABLE, findCommand } from './synopsis.ts';

/** Help lines are wrapped at this many columns. */
export const WIDTH = 100;
/** The widest first column (option, argument, variable) before its text moves to the next line. */
const MAX_LABEL = 30;

/** `text` reflowed into lines of at most `width` columns (longer words stay whole), each paragraph prefixed by `indent`. */
export function wrap(text: string, indent = '', width = WIDTH): string[] {
  const out: string[] = [];
  for (const paragraph of text.split(/\n\s*\n/)) {
    if (out.length) out.push('');
    let line = '';
    for (const word of paragraph.split(/\s+/).filter(Boolean)) {
      if (line !== '' && indent.length + line.length + 1 + word.length > width) {
        out.push(indent + line);
        line = word;
      } else {
        line = line === '' ? word : `${line} ${word}`;
      }
    }
    if (line !== '') out.push(indent + line);
  }
  return out;
}

/** Two columns: each label, then its text wrapped beside it (or below it, when the label is too wide). */
function table(rows: Array<[string, string]>): string[] {
  const col = Math.min(MAX_LABEL, Math.max(...rows.map(([l]) => l.length))) + 4;
  const pad = ' '.repeat(col);
  const out: string[] = [];
  for (const [label, text] of rows) {
    const body = wrap(text, pad);
    const head = `  ${label}`;
    if (head.length + 2 <= col && body.length) {
      out.push(head.padEnd(col) + body[0]!.slice(col), ...body.slice(1));
    } else {
      out.push(head, ...body);
    }
  }
  return out;
}

/** An option as help shows it: `-o, --output OUT` or `    --json`. */
export function optionLabel(name: string, o: OptionSpec): string {
  return `${o.short ? `-${o.short}, ` : '    '}--${name}${o.type === 'string' ? ` ${o.value ?? 'VALUE'}` : ''}`;
}

function optionText(o: OptionSpec): string {
  const notes = [...(o.multiple ? ['repeatable'] : []), ...(o.default !== undefined ? [`default: ${o.default}`] : [])];
  return notes.length ? `${o.description} (${notes.join('; ')})` : o.description;
}

function examples(list: CommandSpec['examples']): string[] {
  return list.flatMap(([what, cmd]) => [`  # ${what}`, `  ${cmd}`]);
}

/** `capsule COMMAND --help`: synopsis, description, arguments, options, environment and examples. */
export function commandHelp(spec: CommandSpec): string {
  const sections: string[][] = [[`usage: ${spec.synopsis}`], wrap(spec.description)];
  if (spec.arguments && Object.keys(spec.arguments).length) sections.push(['arguments:', ...table(Object.entries(spec.arguments))]);
  const options: Array<[string, string]> = Object.entries(spec.options).map(([name, o]) => [optionLabel(name, o), optionText(o)]);
  options.push(['-h, --help', 'show this help']);
  sections.push(['options:', ...table(options)]);
  if (spec.environment?.length) sections.push(['environment:', ...table(spec.environment.map((n) => [n, ENVIRONMENT[n]]))]);
  sections.push(['examples:', ...examples(spec.examples)]);
  return sections.map((s) => s.join('\n')).join('\n\n') + '\n';
}

/** `capsule GROUP --help`: the subcommands' synopses, the description, the subcommands and an example of each. */
export function groupHelp(g: GroupSpec): string {
  const subs = Object.entries<CommandSpec>(g.subs);
  return (
    [
      ['usage:', ...subs.map(([, s]) => `  ${s.synopsis}`)],
      wrap(g.description),
      ['commands:', ...table(subs.map(([name, s]) => [name, s.summary]))],
      ['examples:', ...examples(subs.map(([, s]) => s.examples[0]!))],
      wrap(`Run \`capsule ${g.name} COMMAND --help\` for a command's options, environment and examples.`),
    ]
      .map((s) => s.join('\n'))
      .join('\n\n') + '\n'
  );
}

/** Every command and subcommand in `table`, as `capsule --help` lists them: [name, summary]. */
export function listing(table: ReadonlyArray<CommandSpec | GroupSpec>): Array<[string, string]> {
  const specs = table.flatMap((e) => (isGroup(e) ? Object.values<CommandSpec>(e.subs) : [e]));
  return specs.map((s) => [s.name, s.summary]);
}

/** `capsule --help`: what capsule is, how to call it, and every command with its summary. */
export function topHelp(commands: ReadonlyArray<CommandSpec | GroupSpec>): string {
  return (
    [
      ['capsule — digital capsules: encrypted payloads released by unlock logic'],
      ['usage: capsule COMMAND [ARGUMENTS] [OPTIONS]', '       capsule help [COMMAND [SUBCOMMAND]]', '       capsule --version'],
      ['commands:', ...table(listing(commands))],
      ['environment:', ...table((['CAPSULE_COMPILE_CACHE', 'CAPSULE_DATA_DIR'] as const).map((n) => [n, ENVIRONMENT[n]]))],
      wrap("Run `capsule COMMAND --help` (or `capsule help COMMAND`) for a command's description, options, environment and examples."),
      ['Capsule format: agent/format/SPEC.md. Unlock logic ABI: contracts-as/ABI.md. Errors go to stderr as "capsule: error: …".'],
    ]
      .map((s) => s.join('\n'))
      .join('\n\n') + '\n'
  );
}

/**
 * The help for `capsule help WORDS…` (= `capsule WORDS… --help`): the whole list without words,
 * else the command's, the group's, or the subcommand's (the words after it are ignored).
 * @throws UsageError ERR_USAGE for an unknown command or subcommand, naming the one probably meant
 */
export function helpText(words: readonly string[]): string {
  const [name, sub] = words;
  if (name === undefined) return topHelp(COMMAND_TABLE);
  const entry = findCommand(name);
  if (!isGroup(entry)) return commandHelp(entry);
  // `capsule wallet --help`, `capsule wallet --data-dir D --help`: the group's help.
  if (sub === undefined || sub.startsWith('-')) return groupHelp(entry);
  return commandHelp(subcommandOf(entry, sub));
}
