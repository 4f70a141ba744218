/**
 * The fuzz campaign's target list (issue 18 Build 6), shared by `npm run fuzz` (fuzz/run.ts) and
 * test/fuzz.test.ts, with the targets that are named in the issue but cannot run yet — listed as
 * skipped with the reason, so a report never omits them silently.
 *
 * The hostile-Wasm target (fuzz/targets/hostileWasm.ts) is built by the sandbox slice and joins
 * when that file exists; it reports its own shape (contained / wrongly allowed / agent deaths).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FuzzOptions, FuzzResult } from './drive.ts';

export interface Target {
  name: string;
  run(opts: FuzzOptions): Promise<FuzzResult>;
  /**
   * Cases in `npm run fuzz` when not the default 10^5, with the reason: the HTTP target goes
   * through a real agent (every request parsed, validated, most decided and audited with an
   * fsync: ~5–12 ms each on this 2-core machine), so it runs a smaller count against real parts.
   */
  campaignCases?: { cases: number; why: string };
}

export const TARGETS: Target[] = [
  { name: 'capsule reader', run: async (o) => (await import('./targets/capsuleReader.ts')).run(o) },
  { name: 'header decoder', run: async (o) => (await import('./targets/header.ts')).run(o) },
  { name: 'announcement decoder', run: async (o) => (await import('./targets/announcement.ts')).run(o) },
  { name: 'evidence parser', run: async (o) => (await import('./targets/evidence.ts')).run(o) },
  { name: 'wallet request decoding', run: async (o) => (await import('./targets/walletRequest.ts')).run(o) },
  {
    name: 'http api',
    run: async (o) => (await import('./targets/httpApi.ts')).run(o),
    campaignCases: { cases: 20_000, why: 'a real agent over HTTP on 127.0.0.1 (~5–12 ms per request here, most decided and audited)' },
  },
];

/** Named by the issue, not runnable yet: reported as skipped. */
export const SKIPPED: { name: string; why: string }[] = [];

/** What C's hostile-Wasm target returns. */
export interface HostileResult {
  cases: number;
  contained: number;
  wronglyAllowed: number;
  agentDeaths: number;
}

/** The hostile-Wasm target's run(), when fuzz/targets/hostileWasm.ts exists. */
export async function hostileWasm(): Promise<((opts: FuzzOptions & { log?: (line: string) => void }) => Promise<HostileResult>) | undefined> {
  const file = fileURLToPath(new URL('./targets/hostileWasm.ts', import.meta.url));
  if (!existsSync(file)) return undefined;
  const m = (await import(file)) as { run: (opts: FuzzOptions & { log?: (line: string) => void }) => Promise<HostileResult> };
  return m.run;
}
