/**
 * Compiling unlock logic: runs the AssemblyScript compiler (`asc`, in-process) with the project's
 * settings, then validates the result against the capsule_v1 ABI. Settings: stub runtime (no GC:
 * a policy runs once and is discarded), -O3, memory capped at the sandbox's page limit, and
 * `abort` compiled to a trap so the module imports nothing outside capsule_v1.
 *
 * The SDK is the package `@capsule-engine/sdk` (contracts-as/sdk). A policy imports it by name and
 * asc resolves it as it resolves any AssemblyScript package: `node_modules/@capsule-engine/sdk`
 * in the policy's folder or one above it (the author's own project, e.g. after `npm install
 * @capsule-engine/sdk`), and failing that the engine's own copy. asc 0.28 looks a package up as
 * `<dir>/<name>/index.ts` in each node_modules folder, then in each `--path` folder; the engine's
 * copy lives at contracts-as/sdk, not under a folder named "@capsule-engine", so `--path` names a
 * virtual folder (ENGINE_PACKAGES) that this file's readFile maps onto contracts-as/sdk. That keeps
 * the npm tarball free of symlinks and the SDK at the path the docs name; contracts-as/sdk sits at
 * the same place relative to agent/logic and to dist/logic, so an installed engine finds it too.
 *
 * Every SDK the compiler read is checked against its package.json: `capsule.abi` must be the
 * engine's ABI and the major version one the engine supports (ERR_SDK_VERSION, both versions
 * named). Compile errors are reported as `file:line:col: error TSxxxx: message`, with the source
 * line and a caret under the column (formatDiagnostic).
 *
 * Deliberately not here: the SDK itself (contracts-as/sdk), running modules (agent/sandbox), and
 * asconfig.json files (a policy is built with the guardian's settings, not its own).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { readFile } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DceError, SandboxError } from '../errors.ts';
import { ioError } from '../io/sources.ts';
import { resolveLimits, type Limits } from '../sandbox/limits.ts';
import { validateModule, type ModuleReport } from '../sandbox/validate.ts';
import type { BuildCache } from './BuildCache.ts';

/** The compiler's version: part of every build cache key. */
const ASC_VERSION = (createRequire(import.meta.url)('assemblyscript/package.json') as { version: string }).version;

/** The SDK's package name, as policies import it. */
export const SDK_PACKAGE = '@capsule-engine/sdk';
/** The host ABI this engine runs (contracts-as/ABI.md). */
export const ENGINE_ABI = 'capsule_v1';
/** SDK major versions this engine builds against (the SDK's major version moves with the ABI). */
export const SUPPORTED_SDK_MAJORS: readonly number[] = [1];
/** The engine's own SDK: contracts-as/sdk (same relative place from agent/logic and dist/logic). */
export const ENGINE_SDK_DIR = fileURLToPath(new URL('../../contracts-as/sdk/', import.meta.url));
/** The virtual `--path` folder whose `@capsule-engine/sdk/` readFile maps onto ENGINE_SDK_DIR. */
const ENGINE_PACKAGES = fileURLToPath(new URL('../../contracts-as/.packages/', import.meta.url));
const VIRTUAL_SDK = join(ENGINE_PACKAGES, SDK_PACKAGE) + sep;
const SDK_SEGMENT = `${sep}${SDK_PACKAGE.replace('/', sep)}${sep}`;

/** A failed build: ERR_BUILD (the source does not compile, or the result is not a capsule_v1 module) or ERR_SDK_VERSION. */
export class BuildError extends DceError {
  override readonly name = 'BuildError';
  /** asc's diagnostics as it printed them (all of them; the message has the first error). */
  readonly diagnostics: string;
  /** The compile errors, formatted as formatDiagnostic does (empty for other failures). */
  readonly errors: readonly string[];
  constructor(message: string, diagnostics: string, options: { code?: 'ERR_BUILD' | 'ERR_SDK_VERSION'; hint?: string; errors?: string[] } = {}) {
    super(options.code ?? 'ERR_BUILD', message, {
      hint: options.hint ?? `fix the policy source; the SDK is ${SDK_PACKAGE} (contracts-as/sdk), the ABI contracts-as/ABI.md`,
    });
    this.diagnostics = diagnostics;
    this.errors = options.errors ?? [];
  }
}

export interface BuildResult {
  wasm: Uint8Array;
  report: ModuleReport;
  diagnostics: string;
  /** Each SDK the policy was compiled against: its folder, version and ABI (empty if it imports none, or from the cache). */
  sdks: SdkInfo[];
  /** True when the module came from the build cache (nothing it was built from has changed). */
  fromCache: boolean;
}

/** An SDK package the compiler read. */
export interface SdkInfo {
  dir: string;
  version: string;
  abi: string;
}

/** asc arguments besides the entry file and folders: the "project settings". */
export function ascFlags(limits: Limits): string[] {
  // Bulk memory is outside the ABI (static fuel cannot price memory.fill/copy): asc then emits loops.
  return ['--runtime', 'stub', '-O3', '--maximumMemory', String(limits.maxMemoryPages), '--use', 'abort=', '--disable', 'bulk-memory'];
}

/** One compile error with where it is: what formatDiagnostic prints. */
export interface Diagnostic {
  /** The file as the user knows it (relative to the build's cwd when inside it), or asc's "~lib/…" name. */
  file: string;
  line: number;
  column: number;
  code: number;
  message: string;
  /** The source line, when the file's text is known. */
  source?: string;
}

/**
 * Compiles `entry` (resolved against `options.cwd`) into a capsule_v1 module; with `options.cache`,
 * an unchanged source (every file the last build read) reuses that build's module (BuildCache.ts).
 * @throws IoError ERR_NOT_FOUND etc. (the entry cannot be read); BuildError ERR_BUILD (compile errors
 * — the message is the first, formatted `file:line:col: error TSxxxx: …` — or a module the ABI
 * refuses) or ERR_SDK_VERSION (an SDK for another ABI or an unsupported major version).
 */
export async function buildPolicy(entry: string, options: { cwd?: string; limits?: Partial<Limits>; cache?: BuildCache } = {}): Promise<BuildResult> {
  const limits = resolveLimits(options.limits);
  const cwd = options.cwd ?? process.cwd();
  const path = resolve(cwd, entry);
  try {
    await readFile(path);
  } catch (cause) {
    throw ioError(entry, 'read', cause);
  }
  const settings = `asc ${ASC_VERSION} ${ascFlags(limits).join(' ')} --path ${ENGINE_PACKAGES}`;
  const cached = options.cache?.get(path, settings);
  if (cached) return fromCache(cached, limits, entry);
  const { default: asc } = await import('assemblyscript/asc');
  const baseDir = dirname(path);
  const asked = new Set<string>(); // every file asc asked for, read or absent: the cache entry's inputs
  const texts = new Map<string, { real: string; text: string }>(); // asc's normalized path → file
  const sdkDirs = new Set<string>();
  const reported: Diagnostic[] = [];
  let wasm: Uint8Array | undefined;
  let diagnostics = '';
  const sink = {
    write: (c: string | Uint8Array) => {
      diagnostics += typeof c === 'string' ? c : Buffer.from(c).toString();
      return true;
    },
  };
  const result = await asc.main(
    [basename(path), '--baseDir', baseDir, '--path', ENGINE_PACKAGES, '--outFile', 'policy.wasm', '--noColors', ...ascFlags(limits)],
    {
      stdout: sink as never,
      stderr: sink as never,
      readFile: async (name: string, base: string) => {
        const wanted = resolve(base, name);
        const real = wanted.startsWith(VIRTUAL_SDK) ? join(ENGINE_SDK_DIR, wanted.slice(VIRTUAL_SDK.length)) : wanted;
        asked.add(real);
        let text: string;
        try {
          text = await readFile(real, 'utf8');
        } catch {
          return null; // asc tries several names per import: absent is normal
        }
        const at = wanted.lastIndexOf(SDK_SEGMENT);
        if (at >= 0 && real.endsWith('.ts')) {
          const root = wanted.startsWith(VIRTUAL_SDK) ? ENGINE_SDK_DIR : real.slice(0, at + SDK_SEGMENT.length);
          sdkDirs.add(root);
          texts.set(`~lib/${SDK_PACKAGE}/${real.slice(root.length).split(sep).join('/')}`, { real, text });
        } else {
          texts.set(relative(baseDir, real).split(sep).join('/'), { real, text });
        }
        return text;
      },
      writeFile: (name: string, contents: Uint8Array | string) => {
        if (name.endsWith('.wasm')) wasm = typeof contents === 'string' ? new TextEncoder().encode(contents) : contents;
      },
      reportDiagnostic: (d) => {
        if (d.category !== 3 /* DiagnosticCategory.Error */) return;
        reported.push(locate(d, texts, cwd));
      },
    },
  );
  // An SDK for another ABI explains any compile error it causes: checked first.
  const sdks = [...sdkDirs].map((dir) => checkSdk(dir));
  if (result.error || !wasm) {
    const errors = reported.map(formatDiagnostic);
    const first = errors[0]?.split('\n')[0] ?? firstDiagnostic(diagnostics) ?? result.error?.message ?? 'no output';
    const more = reported.length > 1 ? ` (and ${reported.length - 1} more error${reported.length > 2 ? 's' : ''})` : '';
    throw new BuildError(`${first}${more}`, diagnostics, { errors });
  }
  let report: ModuleReport;
  try {
    report = validateModule(wasm, limits);
  } catch (e) {
    if (e instanceof SandboxError) throw new BuildError(`${entry}: compiled, but ${e.message}`, diagnostics);
    throw e;
  }
  // The SDKs' package.json files decide the version check: they are inputs of the entry too.
  options.cache?.put(path, settings, [...asked, ...sdks.map((x) => join(x.dir, 'package.json'))], wasm);
  return { wasm, report, diagnostics, sdks, fromCache: false };
}

/** A cached module, validated again (the limits may differ) and its SDKs checked again. */
function fromCache(wasm: Uint8Array, limits: Limits, entry: string): BuildResult {
  try {
    return { wasm, report: validateModule(wasm, limits), diagnostics: '', sdks: [], fromCache: true };
  } catch (e) {
    if (e instanceof SandboxError) throw new BuildError(`${entry}: compiled, but ${e.message}`, '');
    throw e;
  }
}

/**
 * Reads `dir`/package.json and refuses an SDK this engine cannot run.
 * @throws BuildError ERR_SDK_VERSION naming the SDK's version and ABI and the engine's.
 */
export function checkSdk(dir: string): SdkInfo {
  const where = dir.startsWith(ENGINE_SDK_DIR) ? "the engine's own copy" : dir;
  let pkg: { name?: unknown; version?: unknown; capsule?: { abi?: unknown } };
  try {
    pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  } catch (cause) {
    throw new BuildError(
      `${SDK_PACKAGE} at ${where}: no readable package.json (${(cause as Error).message}); this engine needs SDK ${supported()} for ${ENGINE_ABI}`,
      '',
      {
        code: 'ERR_SDK_VERSION',
        hint: `reinstall ${SDK_PACKAGE}, or remove it from node_modules to build against the engine's copy`,
      },
    );
  }
  const version = typeof pkg.version === 'string' ? pkg.version : '(no version)';
  const abi = typeof pkg.capsule?.abi === 'string' ? pkg.capsule.abi : '(no capsule.abi)';
  const major = /^(\d+)\./.exec(version)?.[1];
  if (abi !== ENGINE_ABI || major === undefined || !SUPPORTED_SDK_MAJORS.includes(Number(major))) {
    throw new BuildError(
      `${SDK_PACKAGE} ${version} (ABI ${abi}) at ${where} does not match this engine: it runs ABI ${ENGINE_ABI} with SDK ${supported()}`,
      '',
      {
        code: 'ERR_SDK_VERSION',
        hint: `install ${SDK_PACKAGE}@${SUPPORTED_SDK_MAJORS.at(-1)} in the policy's project, or remove it from node_modules to build against the engine's copy`,
      },
    );
  }
  return { dir, version, abi };
}

function supported(): string {
  return SUPPORTED_SDK_MAJORS.map((m) => `${m}.x`).join(' or ');
}

interface AscDiagnostic {
  message: string;
  code: number;
  range: { start: number; end: number; source: { normalizedPath: string } | null } | null;
}

/** A diagnostic's file, line and column (1-based) from its character range in the source text. */
function locate(d: AscDiagnostic, texts: Map<string, { real: string; text: string }>, cwd: string): Diagnostic {
  const name = d.range?.source?.normalizedPath ?? '';
  const known = texts.get(name);
  let file = name || '(unknown file)';
  if (known) {
    const rel = relative(cwd, known.real);
    file = !rel.startsWith('..') && !isAbsolute(rel) ? rel : known.real;
  }
  if (!d.range || !known) return { file, line: 0, column: 0, code: d.code, message: d.message };
  const text = known.text;
  const start = Math.min(d.range.start, text.length);
  const lineStart = text.lastIndexOf('\n', start - 1) + 1;
  let lineEnd = text.indexOf('\n', start);
  if (lineEnd < 0) lineEnd = text.length;
  const line = text.slice(0, start).split('\n').length;
  return { file, line, column: start - lineStart + 1, code: d.code, message: d.message, source: text.slice(lineStart, lineEnd).replace(/\r$/, '') };
}

/**
 * "policy.ts:3:10: error TS2304: Cannot find name 'x'." then, when the source is known, the line
 * (numbered) and a caret under the column.
 */
export function formatDiagnostic(d: Diagnostic): string {
  const head = `${d.file}${d.line ? `:${d.line}:${d.column}` : ''}: error TS${d.code}: ${d.message}`;
  if (d.source === undefined) return head;
  const num = String(d.line);
  const shown = d.source.replace(/\t/g, ' ');
  return `${head}\n ${num} | ${shown}\n ${' '.repeat(num.length)} | ${' '.repeat(Math.max(0, d.column - 1))}^`;
}

/** "TS1109: Expression expected. (at broken.ts:1:43)" from asc's first ERROR block (its printed form). */
export function firstDiagnostic(text: string): string | undefined {
  const lines = text.replace(/\x1b\[[0-9;]*m/g, '').split('\n'); // asc colours its output when CI is set
  const i = lines.findIndex((l) => /^ERROR /.test(l));
  if (i < 0) return undefined;
  const what = lines[i]!.replace(/^ERROR\s+/, '').trim();
  const where = lines
    .slice(i + 1, i + 8)
    .map((l) => /in (.+)\((\d+),(\d+)\)\s*$/.exec(l))
    .find(Boolean);
  return where ? `${what} (at ${where[1]}:${where[2]}:${where[3]})` : what;
}

/**
 * A BuildError as stderr lines without the "capsule: " prefix: "error: <file:line:col: …>" and the
 * source line with its caret for each compile error (at most `max`), then "hint: …".
 */
export function buildErrorLines(e: BuildError, max = 10): string[] {
  const out: string[] = [];
  const errors = e.errors.length ? e.errors.slice(0, max) : [e.message];
  for (const err of errors) {
    const [head, ...rest] = err.split('\n');
    out.push(`error: ${head}`, ...rest);
  }
  if (e.errors.length > max) out.push(`error: … and ${e.errors.length - max} more`);
  if (e.hint) out.push(`hint: ${e.hint}`);
  return out;
}
