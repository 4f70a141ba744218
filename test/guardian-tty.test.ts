/**
 * `capsule guardian init` as an operator sees it, on a real pseudo-terminal (util-linux `script`,
 * part of every Debian system): the 24 words shown once in a numbered grid, the screen and its
 * scrollback cleared after Enter, three words asked back with a retry on a typo; and `--restore`
 * reading the words without echoing them.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BIN } from './helpers/cli.ts';

const LIB = fileURLToPath(new URL('../native/build/libzk_sim.so', import.meta.url));
const CLEAR = '\x1b[2J\x1b[3J\x1b[H';

interface Session {
  /** Resolves once the terminal output matches `re` (searching from the last match on). */
  waitFor(re: RegExp): Promise<RegExpExecArray>;
  type(text: string): void;
  done: Promise<{ code: number | null; output: string }>;
}

/** Runs the CLI on a pseudo-terminal; stdin, stdout and stderr are all the terminal. */
function onTerminal(args: string[], env: NodeJS.ProcessEnv): Session {
  const cmd = [process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const child = spawn('script', ['-qfec', cmd, '/dev/null'], { env, stdio: 'pipe' });
  let output = '';
  let from = 0;
  const waiters: Array<() => void> = [];
  child.stdout.on('data', (c) => {
    output += c;
    waiters.splice(0).forEach((w) => w());
  });
  const timeout = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return {
    waitFor(re) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = new RegExp(re.source, re.flags.replace('g', '') + 'g');
          m.lastIndex = from;
          const hit = m.exec(output);
          if (hit) {
            from = m.lastIndex;
            resolve(hit);
          } else if (child.exitCode !== null) reject(new Error(`exited before ${re}: ${JSON.stringify(output)}`));
          else waiters.push(check);
        };
        check();
      });
    },
    type(text) {
      child.stdin.write(text);
    },
    done: new Promise((resolve) =>
      child.on('close', (code) => {
        clearTimeout(timeout);
        resolve({ code, output });
      }),
    ),
  };
}

const made: string[] = [];
test.after(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

function device() {
  const dir = mkdtempSync(join(tmpdir(), 'guardian-tty-'));
  made.push(dir);
  mkdirSync(join(dir, 'module'));
  return {
    dir,
    data: join(dir, 'data'),
    env: { ...process.env, CAPSULE_ZYMBIT_LIB: LIB, ZK_SIM_STATE_DIR: join(dir, 'module'), ZK_SIM_MODEL: 'HSM6', TERM: 'dumb' },
  };
}

test('init on a terminal: grid of 24 words, cleared after Enter, three words confirmed with a retry', async () => {
  const d = device();
  const s = onTerminal(['guardian', 'init', '--data-dir', d.data], d.env);
  await s.waitFor(/Recovery words — write them on paper, in order\. They are shown once and never stored\./);
  const grid = (await s.waitFor(/((?: ?\d+\. [a-z]+ +){3}\r?\n){8}/)).at(0)!;
  const words: string[] = [];
  for (const m of grid.matchAll(/(\d+)\. ([a-z]+)/g)) words[Number(m[1]) - 1] = m[2]!;
  assert.is(words.filter(Boolean).length, 24, 'a numbered 3-column grid of 24 words');
  await s.waitFor(/capsule: press Enter once they are written down/);
  s.type('\r');
  await s.waitFor(new RegExp(CLEAR.replace(/[[\]]/g, '\\$&')));
  let first = true;
  for (let i = 0; i < 3; i++) {
    const n = Number((await s.waitFor(/capsule: type word #(\d+): /))[1]);
    if (first) {
      first = false;
      s.type(`${words[n - 1] === 'zoo' ? 'abandon' : 'zoo'}\r`);
      await s.waitFor(new RegExp(`capsule: word #${n} does not match; try again`));
      await s.waitFor(new RegExp(`capsule: type word #${n}: `));
    }
    s.type(`${words[n - 1]!.toUpperCase()}\r`);
  }
  const { code, output } = await s.done;
  assert.is(code, 0, output);
  assert.ok(existsSync(join(d.data, 'guardian.json')));
  const afterClear = output.slice(output.indexOf(CLEAR) + CLEAR.length);
  assert.not.match(afterClear, /\d+\. [a-z]+ {2,}/, 'the grid is not printed again');
  assert.not.match(afterClear, new RegExp(words.join(' ')), 'nor the phrase');
  assert.match(afterClear, /capsule: guardian provisioned in/);
  assert.match(afterClear, /x25519: age1[0-9a-z]{58}/);
});

test('restore on a terminal: the words are read without being echoed', async () => {
  const d = device();
  const words =
    'legal winner thank year wave sausage worth useful legal winner thank year wave sausage worth useful legal winner thank year wave sausage worth title';
  const s = onTerminal(['guardian', 'init', '--restore', '--data-dir', d.data], d.env);
  await s.waitFor(/capsule: type the 24 recovery words \(not shown\): /);
  s.type(`${words}\r`);
  const { code, output } = await s.done;
  assert.is(code, 0, output);
  assert.not.match(output, /winner|sausage/, 'no word echoed');
  assert.match(output, /x25519: age1r2zdkx066ftg86mzmjrnzsfr65paefq60yldqstm94ps2yss7g2ssyakj8/);
  assert.is(JSON.parse(readFileSync(join(d.data, 'guardian.json'), 'utf8')).restored, true);
});

test.run();
