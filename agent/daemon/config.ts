/**
 * The agent's configuration: defaults, then a JSON file (`--config`), then the environment, then
 * command-line flags; validated with messages that name the key, the expectation and what came.
 *
 *   dataDir            CAPSULE_DATA_DIR          the guardian's data directory
 *   host, port         CAPSULE_AGENT_HOST/_PORT  127.0.0.1:7373; another host needs lan: true
 *   lan                CAPSULE_AGENT_LAN=1       allow listening beyond loopback
 *   clock              CAPSULE_AGENT_CLOCK       "module" (the module's RTC), "system", or "file:PATH" (tests)
 *   requestTimeoutMs   headers and body must arrive within this (slow clients are cut off)
 *   ratePerSecond      requests per second per client address (0: unlimited)
 *   fuel               the unlock logic's fuel limit per decision
 *
 * Deliberately not here: starting anything (Agent.ts).
 */
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { AgentError } from '../errors.ts';
import { defaultDataDir } from '../guardian/GuardianFile.ts';
import { DEFAULT_LIMITS } from '../sandbox/limits.ts';

export interface AgentConfig {
  dataDir: string;
  host: string;
  port: number;
  lan: boolean;
  clock: string;
  requestTimeoutMs: number;
  ratePerSecond: number;
  fuel: number;
}

const KEYS: Record<keyof AgentConfig, 'string' | 'port' | 'boolean' | 'positive' | 'count'> = {
  dataDir: 'string', host: 'string', port: 'port', lan: 'boolean', clock: 'string', requestTimeoutMs: 'positive', ratePerSecond: 'count', fuel: 'positive',
};

export function defaults(env: NodeJS.ProcessEnv): AgentConfig {
  return { dataDir: defaultDataDir(env), host: '127.0.0.1', port: 7373, lan: false, clock: 'module', requestTimeoutMs: 10_000, ratePerSecond: 200, fuel: DEFAULT_LIMITS.fuel };
}

function bad(source: string, key: string, want: string, got: unknown): AgentError {
  return new AgentError('ERR_CONFIG', `${source}: ${key}: expected ${want}, got ${JSON.stringify(got)}`, { hint: 'see the table at the top of agent/daemon/config.ts (and README "The agent")' });
}

function coerce(source: string, key: keyof AgentConfig, v: unknown, fromText: boolean): unknown {
  const kind = KEYS[key];
  if (kind === 'string') {
    if (typeof v !== 'string' || v === '') throw bad(source, key, 'a non-empty string', v);
    return v;
  }
  if (kind === 'boolean') {
    if (fromText && (v === '1' || v === 'true')) return true;
    if (fromText && (v === '0' || v === 'false')) return false;
    if (typeof v !== 'boolean') throw bad(source, key, 'true or false', v);
    return v;
  }
  const n = fromText && typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  const ok = typeof n === 'number' && Number.isSafeInteger(n) && (kind === 'port' ? n >= 0 && n <= 65535 : kind === 'count' ? n >= 0 : n > 0);
  if (!ok) throw bad(source, key, kind === 'port' ? 'a port 0..65535' : kind === 'count' ? 'an integer ≥ 0' : 'an integer > 0', v);
  return n;
}

export async function loadConfig(options: { file?: string; env: NodeJS.ProcessEnv; flags?: Partial<Record<keyof AgentConfig, unknown>> }): Promise<AgentConfig> {
  const c = defaults(options.env) as unknown as Record<string, unknown>;
  if (options.file) {
    let json: unknown;
    try {
      json = JSON.parse(await readFile(options.file, 'utf8'));
    } catch (cause) {
      throw new AgentError('ERR_CONFIG', `${options.file}: cannot read it as JSON`, { cause });
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new AgentError('ERR_CONFIG', `${options.file}: expected a JSON object`);
    for (const [k, v] of Object.entries(json)) {
      if (!Object.hasOwn(KEYS, k)) throw new AgentError('ERR_CONFIG', `${options.file}: unknown key ${JSON.stringify(k)}`, { hint: `known keys: ${Object.keys(KEYS).join(', ')}` });
      c[k] = coerce(options.file, k as keyof AgentConfig, v, false);
    }
  }
  const env: Array<[string, keyof AgentConfig]> = [['CAPSULE_DATA_DIR', 'dataDir'], ['CAPSULE_AGENT_HOST', 'host'], ['CAPSULE_AGENT_PORT', 'port'], ['CAPSULE_AGENT_LAN', 'lan'], ['CAPSULE_AGENT_CLOCK', 'clock']];
  for (const [name, key] of env) if (options.env[name] !== undefined) c[key] = coerce(name, key, options.env[name], true);
  for (const [k, v] of Object.entries(options.flags ?? {})) if (v !== undefined) c[k] = coerce(`--${k}`, k as keyof AgentConfig, v, true);
  const cfg = c as unknown as AgentConfig;
  if (!isLoopback(cfg.host) && !cfg.lan) {
    throw new AgentError('ERR_CONFIG', `host: ${cfg.host} is not a loopback address; listening beyond this machine needs lan: true (or --lan)`, {
      hint: 'the API is unauthenticated for releases (answers are encrypted to the requester); expose it deliberately',
    });
  }
  if (!(cfg.clock === 'module' || cfg.clock === 'system' || cfg.clock.startsWith('file:'))) throw bad('clock', 'clock', '"module", "system" or "file:PATH"', cfg.clock);
  return cfg;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}
