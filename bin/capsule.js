#!/usr/bin/env node
// Entry point of the `capsule` command. Plain JS so that an old Node fails with our message rather
// than a syntax error: the sources are TypeScript run by Node >= 22.18's type stripping.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  process.stderr.write(`capsule: error: Node.js >= 22.18 is required, this is ${process.version}\n`);
  process.stderr.write("capsule: hint: run it through npm (npx capsule …), which uses the project's pinned Node 24\n");
  process.exit(1);
}
// node:sqlite (the agent's state) is stable in use but still flagged experimental in Node 24; its
// one-time warning would be a stderr line not starting with "capsule:". Only that one is dropped.
const emitWarning = process.emitWarning;
process.emitWarning = function (warning, ...rest) {
  const text = typeof warning === 'string' ? warning : warning?.message;
  const type = typeof rest[0] === 'string' ? rest[0] : (rest[0]?.type ?? warning?.name);
  if (type === 'ExperimentalWarning' && /SQLite/.test(String(text))) return;
  return emitWarning.call(process, warning, ...rest);
};
// V8's on-disk compile cache, which Node 24 also applies to the type-stripped sources: a command
// starts in about half the time once it has run (BENCHMARKS.md). Entries are keyed by content, so
// an upgrade just adds new ones. CAPSULE_COMPILE_CACHE=off disables it, or names the directory.
const cacheDir = process.env.CAPSULE_COMPILE_CACHE;
if (cacheDir !== 'off') {
  const { enableCompileCache } = await import('node:module');
  const { homedir } = await import('node:os');
  let home;
  try {
    home = homedir();
  } catch {
    home = undefined; // no HOME and no passwd entry (an initramfs chroot): run without the cache
  }
  const base = process.env.XDG_CACHE_HOME || (home && `${home}/.cache`);
  const dir = cacheDir || (base && `${base}/digital-capsule-engine/compile-cache`);
  // Failure (read-only home, no HOME) only costs speed: the status is ignored on purpose. The
  // variable carries it to worker threads (seal/decrypt's bulk threads, the sandbox), which
  // would otherwise strip their TypeScript again at each start (~85 ms for the bulk worker).
  if (dir) {
    process.env.NODE_COMPILE_CACHE ??= dir;
    enableCompileCache?.(dir);
  }
}
// In a checkout the TypeScript sources run as they are; an installed package has only the build
// (dist/, `npm run build`). Sources win when both exist, so a stale dist/ never shadows an edit.
const { existsSync } = await import('node:fs');
const fromSource = existsSync(new URL('../agent/cli/main.ts', import.meta.url));
// The command owns its process, so it may turn on V8's --expose-gc for streaming's collection
// hints (agent/io/gcHint.ts); the library never does that on its users' behalf.
const { enableGcHints } = await import(fromSource ? '../agent/io/gcHint.ts' : '../dist/io/gcHint.js');
enableGcHints();
const { main } = await import(fromSource ? '../agent/cli/main.ts' : '../dist/cli/main.js');
process.exitCode = await main(process.argv.slice(2));
