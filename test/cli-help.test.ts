/**
 * Help everywhere (issue 16): every command and subcommand that `capsule --help` lists answers
 * `--help` (through the real binary) with exit 0, nothing on stderr, and a text with a usage line,
 * a description, its options and at least two examples — so a command added without help fails
 * here. `capsule help WORDS` and `-h` say the same. And the command table cannot drift: each
 * synopsis names exactly the options the command parses, every example parses with them, the
 * documented defaults are the code's, and the one-line summaries fit on one line.
 *
 * Deliberately not here: the exact texts (the scenario folders test/cli/help* hold a few), and
 * the behaviour of the commands themselves.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { PassThrough, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { parse, wantsHelp } from '../agent/cli/args.ts';
import { main } from '../agent/cli/main.ts';
import { isGroup, type CommandSpec } from '../agent/cli/spec.ts';
import { editDistance, suggest } from '../agent/cli/suggest.ts';
import { COMMAND_TABLE } from '../agent/cli/synopsis.ts';
import { FETCH } from '../agent/cli/specs/ipfs.ts';
import { IMAGE_FETCH, IMAGE_LOAD, IMAGE_PUBLISH, IMAGE_VERIFY } from '../agent/cli/specs/image.ts';
import { LOGIC_RUN } from '../agent/cli/specs/logic.ts';
import { AGENT } from '../agent/cli/specs/guardian.ts';
import { DEFAULT_MAX_BYTES } from '../agent/cli/commands/fetch.ts';
import { DEFAULT_MAX_ARCHIVE_BYTES, DEFAULT_MAX_ENTRY_BYTES } from '../agent/device/verifyOciArchive.ts';
import { DEFAULT_LIMITS } from '../agent/sandbox/limits.ts';
import { defaults } from '../agent/daemon/config.ts';
import { IMAGE_TOPIC } from '../agent/daemon/ImageManifestWatcher.ts';
import type { Terminal } from '../agent/cli/Terminal.ts';

const BIN = fileURLToPath(new URL('../bin/capsule.js', import.meta.url));

function capsule(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: tmpdir(), env: process.env, timeout: 60_000, encoding: 'utf8', input: '' });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

class Sink extends Writable {
  text = '';
  override _write(chunk: Buffer, _e: string, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

/** `capsule ARGS…` in-process: [exit code, stdout, stderr]. */
async function inProcess(args: string[]): Promise<[number, string, string]> {
  const out = new Sink();
  const err = new Sink();
  const t: Terminal = { stdin: new PassThrough(), stdout: out, stderr: err, now: () => performance.now(), cwd: tmpdir() };
  const code = await main(args, t);
  return [code, out.text, err.text];
}

const SPECS: CommandSpec[] = COMMAND_TABLE.flatMap((e) => (isGroup(e) ? Object.values<CommandSpec>(e.subs) : [e]));

/** The commands section of `capsule --help`: each listed name (one or two words). */
function listed(help: string): string[] {
  const section = help.split('\n\n').find((s) => s.startsWith('commands:\n'));
  assert.ok(section, 'capsule --help has a "commands:" section');
  return section!
    .split('\n')
    .slice(1)
    .map((line) => {
      // One line per command: a wrapped summary would start a line with spaces only.
      assert.match(line, /^ {2}[a-z][a-z-]*(?: [a-z][a-z-]*)? {2,}\S/, `one line per command: ${JSON.stringify(line)}`);
      return line.trim().split(/ {2,}/)[0]!;
    });
}

test('every command and subcommand capsule --help lists answers --help: exit 0, usage, description, options, two examples', () => {
  const top = capsule(['--help']);
  assert.is(top.code, 0);
  assert.is(top.stderr, '');
  const names = listed(top.stdout);
  assert.ok(names.length >= 30, `found ${names.length} commands`);
  for (const name of names) {
    const r = capsule([...name.split(' '), '--help']);
    const what = `capsule ${name} --help`;
    assert.is(r.code, 0, `${what}: exit code (stderr: ${r.stderr})`);
    assert.is(r.stderr, '', `${what}: stderr`);
    const blocks = r.stdout.split('\n\n');
    assert.ok(`${blocks[0]!} `.startsWith(`usage: capsule ${name} `), `${what}: starts with its usage line`);
    assert.match(blocks[1]!, /^[A-Z][^\n]+[\s\S]*\.$/, `${what}: a description (sentences) follows the usage line`);
    assert.ok(
      blocks.some((b) => b.startsWith('options:\n')),
      `${what}: options`,
    );
    const examples = blocks.find((b) => b.startsWith('examples:\n'));
    assert.ok(examples, `${what}: examples`);
    const commands = examples!.split('\n').filter((l) => !l.startsWith('  #') && l.includes(`capsule ${name}`));
    assert.ok(commands.length >= 2, `${what}: at least two examples, got ${commands.length}`);
  }
  // Each group's own help lists its subcommands' synopses.
  for (const group of new Set(names.filter((n) => n.includes(' ')).map((n) => n.split(' ')[0]!))) {
    const r = capsule([group, '--help']);
    assert.is(r.code, 0, `capsule ${group} --help`);
    assert.is(r.stderr, '');
    for (const sub of names.filter((n) => n.startsWith(`${group} `))) {
      assert.match(r.stdout, `\n  capsule ${sub} `, `capsule ${group} --help names ${sub}`);
    }
    assert.match(r.stdout, /\nexamples:\n {2}# /);
  }
});

test('the command table is what capsule --help lists', async () => {
  const [code, out] = await inProcess(['--help']);
  assert.is(code, 0);
  assert.equal(
    listed(out),
    SPECS.map((s) => s.name),
  );
});

test('capsule help WORDS, WORDS --help and WORDS -h print the same', async () => {
  for (const words of [...SPECS.map((s) => s.name.split(' ')), ...COMMAND_TABLE.filter(isGroup).map((g) => [g.name])]) {
    const [c1, viaHelp, e1] = await inProcess(['help', ...words]);
    const [c2, viaFlag] = await inProcess([...words, '--help']);
    const [c3, viaShort] = await inProcess([...words, '-h']);
    assert.equal([c1, c2, c3, e1], [0, 0, 0, ''], words.join(' '));
    assert.is(viaFlag, viaHelp, `${words.join(' ')} --help`);
    assert.is(viaShort, viaHelp, `${words.join(' ')} -h`);
  }
  const [code, top] = await inProcess(['help']);
  assert.is(code, 0);
  assert.is(top, (await inProcess(['--help']))[1]);
});

test('help is refused for an unknown command or subcommand, with the one meant', async () => {
  const [c1, o1, e1] = await inProcess(['help', 'sael']);
  assert.equal([c1, o1], [1, '']);
  assert.match(e1, /^capsule: error: unknown command "sael"\ncapsule: hint: did you mean "seal"\? commands: keygen, /);
  const [c2, o2, e2] = await inProcess(['wallet', 'sing', '--help']);
  assert.equal([c2, o2], [1, '']);
  assert.match(e2, /^capsule: error: wallet: unknown subcommand "sing"\ncapsule: hint: did you mean "sign"\? usage: capsule wallet /);
});

/** Option tokens of a synopsis (`--name`, `-o`), not the dashes inside words such as capsule-guardian1…. */
function synopsisOptions(synopsis: string): string[] {
  return synopsis.match(/(?<![\w-])--?[a-zA-Z][\w-]*/g) ?? [];
}

test('each synopsis names exactly the options its command parses', () => {
  for (const spec of SPECS) {
    const tokens = new Set(synopsisOptions(spec.synopsis));
    for (const [name, o] of Object.entries(spec.options)) {
      const named = tokens.has(`--${name}`) || (o.short !== undefined && tokens.has(`-${o.short}`));
      assert.ok(named, `${spec.name}: --${name} is not in its synopsis`);
    }
    for (const token of tokens) {
      const known = token.startsWith('--') ? Object.hasOwn(spec.options, token.slice(2)) : Object.values(spec.options).some((o) => `-${o.short}` === token);
      assert.ok(known, `${spec.name}: its synopsis names ${token}, which it does not parse`);
    }
  }
});

/** The arguments of the `capsule NAME` invocation in an example (shell quoting; up to a pipe, redirection or &&). */
function invocation(example: string, name: string): string[] {
  const at = example.indexOf(`capsule ${name}`);
  const rest = example.slice(at + `capsule ${name}`.length);
  const tokens: string[] = [];
  let cur = '';
  let has = false;
  let quote: string | undefined;
  for (let i = 0; i < rest.length; i++) {
    const c = rest[i]!;
    if (quote !== undefined) {
      if (c === quote) quote = undefined;
      else cur += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      has = true;
    } else if (c === ' ') {
      if (has) tokens.push(cur);
      cur = '';
      has = false;
    } else if ('|<>;'.includes(c) || (c === '&' && rest[i + 1] === '&')) {
      break;
    } else {
      cur += c;
      has = true;
    }
  }
  if (has) tokens.push(cur);
  return tokens;
}

test('every example is a valid invocation of its command', () => {
  for (const spec of SPECS) {
    assert.ok(spec.examples.length >= 2, `${spec.name}: at least two examples`);
    for (const [what, example] of spec.examples) {
      assert.ok(what.length > 0 && example.includes(`capsule ${spec.name}`), `${spec.name}: example ${JSON.stringify(example)}`);
      const args = invocation(example, spec.name);
      try {
        parse(args, spec);
      } catch (e) {
        assert.unreachable(`${spec.name}: example ${JSON.stringify(example)} does not parse: ${(e as Error).message}`);
      }
    }
  }
});

test("documented defaults are the code's", () => {
  const starts = (text: string | undefined, value: unknown, what: string) => {
    assert.ok(text?.startsWith(String(value)), `${what}: help says ${text}, the code ${value}`);
  };
  starts(FETCH.options['max-size']!.default, DEFAULT_MAX_BYTES, 'fetch --max-size');
  for (const spec of [IMAGE_VERIFY, IMAGE_LOAD, IMAGE_FETCH]) {
    starts(spec.options['max-archive-bytes']!.default, DEFAULT_MAX_ARCHIVE_BYTES, `${spec.name} --max-archive-bytes`);
    starts(spec.options['max-entry-bytes']!.default, DEFAULT_MAX_ENTRY_BYTES, `${spec.name} --max-entry-bytes`);
  }
  starts(LOGIC_RUN.options.fuel!.default, DEFAULT_LIMITS.fuel, 'logic run --fuel');
  const agent = defaults({});
  assert.is(AGENT.options.listen!.default, `${agent.host}:${agent.port}`);
  assert.is(AGENT.options.clock!.default, agent.clock);
  assert.is(AGENT.options['ipfs-listen']!.default, agent.ipfsListen.join(', '));
  assert.ok(IMAGE_PUBLISH.description.includes(IMAGE_TOPIC), 'image publish names its topic');
});

test('--help counts only before --', () => {
  assert.ok(wantsHelp(['x', '-h']));
  assert.ok(wantsHelp(['--help', '--', 'f']));
  assert.not.ok(wantsHelp(['--', '--help']));
  assert.not.ok(wantsHelp(['--output=--help']));
});

test('edit distance and suggestions', () => {
  assert.is(editDistance('sael', 'seal'), 1, 'a swap of neighbours costs 1');
  assert.is(editDistance('guardain', 'guardian'), 1);
  assert.is(editDistance('kitten', 'sitting'), 3);
  assert.is(editDistance('', 'abc'), 3);
  assert.is(editDistance('Seal', 'seal'), 0, 'case-insensitive');
  const commands = COMMAND_TABLE.map((c) => c.name);
  assert.equal(suggest('sael', commands), ['seal']);
  assert.equal(suggest('sign', commands), ['sign-request'], 'a prefix');
  assert.equal(suggest('frob', commands), []);
  assert.equal(suggest('ru', ['run', 'build']), ['run']);
  assert.equal(suggest('x', ['o', 'i']), [], 'one letter is too short to guess from');
});

test.run();
