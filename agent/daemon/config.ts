/**
 * The agent's configuration: defaults, then a JSON file (`--config`), then the environment, then
 * command-line flags; validated with messages that name the key, the expectation and what came.
 *
 *   dataDir            CAPSULE_DATA_DIR          the guardian's data directory
 *   host, port         CAPSULE_AGENT_HOST/_PORT  127.0.0.1:7373; another host needs lan: true
 *   lan                CAPSULE_AGENT_LAN=1       allow listening beyond loopback
 *   clock              CAPSULE_AGENT_CLOCK       "module" (the module's RTC), "system", or "file:PATH" (tests)
 *   requestTimeoutMs   headers and body must arrive within this (slow clients are cut off)
 *   ratePerSecond      requests per second per client address (0: no rate limit at all, every level)
 *   ratePerNetwork     requests per second per /24 (IPv4) or /64 (IPv6) network, all its addresses together (0: unlimited)
 *   rateGlobal         requests per second from all clients together (0: unlimited); buckets hold 2 s of each rate
 *   allowedHosts       extra Host header values accepted ("name" or "name:port"; no port = the listen port); always
 *                      accepted: localhost, 127.0.0.1, [::1] and the listen address with its port, and the IP
 *                      literal the connection arrived on (DNS rebinding needs a name). Others: 421.
 *   fuel               the unlock logic's fuel limit per decision
 *   maxQueuedDecisions decisions waiting for the sandbox beyond this are refused (503 busy); one client may hold
 *                      at most a quarter of them (DecisionScheduler.ts)
 *   sandboxWorkers     sandbox worker threads deciding in parallel (default: the CPU count, at most 8)
 *   sandboxWarmWorkers of those, how many start with the agent (default 0; a value above sandboxWorkers counts as
 *                      sandboxWorkers); the others start when decisions queue for them and stop again after a minute
 *                      idle (DecisionScheduler.ts), so an idle agent holds only these (each ~17 MiB of RSS). With 0 the
 *                      first decision request starts one while the decision code loads (first release ~150 ms, ~130
 *                      ms with one warm worker, measured here)
 *   clientFuelPerMinute fuel one client may spend per minute: each decision costs the fuel it used or its time on a
 *                      sandbox worker (1 ms = 10⁶), whichever is larger, a timeout at least timeoutMs × 10⁶; a client
 *                      over it is refused with 503 + Retry-After until it refills (0: no budget; default 5·10⁹,
 *                      5 s of worker time a minute; at most 10 s' worth is saved up)
 *   signing            [{ "slot": N, "logic": "<sha256 hex>", "params": JSON }] — policy-gated signing
 *   wallet             { "accounts": [{ "wallet": NAME, "path": "m/44'/60'/0'/0/0", "chain": "ethereum", "chainId": N,
 *                      "logic": "<sha256 hex>", "params": JSON, "rawDigest"?: bool } | { …, "chain": "bitcoin",
 *                      "network": "mainnet"|"testnet"|"regtest", "keys"?: [PATH, …] }] } — the hot wallet's accounts
 *                      and their signing policies (WalletService.ts)
 *   ipfs               CAPSULE_IPFS              "helia" (embedded node, repo in <dataDir>/ipfs), "kubo:URL", or "off"
 *   ipfsListen         CAPSULE_IPFS_LISTEN       the embedded node's libp2p listen multiaddrs (comma-separated in the
 *                                                environment); loopback by default, like the API
 *   ipfsPeers          CAPSULE_IPFS_PEERS        multiaddrs (with /p2p/ID) dialled at start and on retry: with no
 *                                                public routing, blocks and announcements come only from these
 *   maxCapsuleBytes    a capsule fetched by CID larger than this is refused before its data is fetched
 *   maxStoredBytes     all capsules kept by CID together: a capsule that would pass this is refused (507)
 *   fetchTimeoutMs     a fetch by CID that has not completed within this fails (504)
 *   maxModuleStoreBytes all logic modules stored together: a module that would pass this is refused (507 ERR_QUOTA)
 *   maxModules         how many logic modules are stored: one more is refused (507 ERR_QUOTA)
 *   minFreeBytes       free space kept on the data directory's file system for decisions and the audit log: module
 *                      pushes, fetches by CID and new capsule registrations are refused below it (507 ERR_DISK_FULL; 0: off)
 *   moduleTimeoutMs    CAPSULE_MODULE_TIMEOUT_MS a security-module call not answered within this fails (503
 *                                                ERR_MODULE_CALL); the module is then reported failing until it answers
 *   acceptRollback     (--accept-rollback) start although the rollback anchor found the database or audit log rolled
 *                      back; the finding is audited (an `override` entry) and the anchor re-established (docs/AUDIT.md)
 *
 * Deliberately not here: starting anything (Agent.ts).
 */
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import { AgentError, type ContentError } from '../errors.ts';
import { defaultDataDir } from '../guardian/GuardianFile.ts';
import { DEFAULT_LIMITS } from '../sandbox/limits.ts';
import type { SigningPolicy } from './SigningService.ts';
import type { WalletAccountPolicy } from './WalletService.ts';

export interface AgentConfig {
  dataDir: string;
  host: string;
  port: number;
  lan: boolean;
  clock: string;
  requestTimeoutMs: number;
  ratePerSecond: number;
  ratePerNetwork: number;
  rateGlobal: number;
  allowedHosts: string[];
  fuel: number;
  maxQueuedDecisions: number;
  sandboxWorkers: number;
  sandboxWarmWorkers: number;
  clientFuelPerMinute: number;
  signing: SigningPolicy[];
  wallet: { accounts: WalletAccountPolicy[] };
  ipfs: string;
  ipfsListen: string[];
  ipfsPeers: string[];
  maxCapsuleBytes: number;
  maxStoredBytes: number;
  fetchTimeoutMs: number;
  maxModuleStoreBytes: number;
  maxModules: number;
  minFreeBytes: number;
  moduleTimeoutMs: number;
  acceptRollback: boolean;
}

const KEYS: Record<keyof AgentConfig, 'string' | 'port' | 'boolean' | 'positive' | 'count' | 'signing' | 'wallet' | 'strings'> = {
  dataDir: 'string',
  host: 'string',
  port: 'port',
  lan: 'boolean',
  clock: 'string',
  requestTimeoutMs: 'positive',
  ratePerSecond: 'count',
  fuel: 'positive',
  maxQueuedDecisions: 'positive',
  sandboxWorkers: 'positive',
  sandboxWarmWorkers: 'count',
  clientFuelPerMinute: 'count',
  signing: 'signing',
  wallet: 'wallet',
  ipfs: 'string',
  ipfsListen: 'strings',
  ipfsPeers: 'strings',
  maxCapsuleBytes: 'positive',
  maxStoredBytes: 'positive',
  fetchTimeoutMs: 'positive',
  moduleTimeoutMs: 'positive',
  acceptRollback: 'boolean',
  maxModuleStoreBytes: 'positive',
  maxModules: 'positive',
  minFreeBytes: 'count',
  ratePerNetwork: 'count',
  rateGlobal: 'count',
  allowedHosts: 'strings',
};

export function defaults(env: NodeJS.ProcessEnv): AgentConfig {
  return {
    dataDir: defaultDataDir(env),
    host: '127.0.0.1',
    port: 7373,
    lan: false,
    clock: 'module',
    requestTimeoutMs: 10_000,
    ratePerSecond: 200,
    fuel: DEFAULT_LIMITS.fuel,
    maxQueuedDecisions: 256,
    signing: [],
    wallet: { accounts: [] },
    sandboxWorkers: Math.min(availableParallelism(), 8),
    sandboxWarmWorkers: 0,
    clientFuelPerMinute: 5_000_000_000,
    ipfs: 'helia',
    ipfsListen: ['/ip4/127.0.0.1/tcp/7374'],
    ipfsPeers: [],
    maxCapsuleBytes: 4 * 2 ** 30,
    maxStoredBytes: 32 * 2 ** 30,
    fetchTimeoutMs: 60_000,
    moduleTimeoutMs: 10_000,
    acceptRollback: false,
    maxModuleStoreBytes: 256 * 2 ** 20,
    maxModules: 1024,
    minFreeBytes: 64 * 2 ** 20,
    ratePerNetwork: 400,
    rateGlobal: 1000,
    allowedHosts: [],
  };
}

function bad(source: string, key: string, want: string, got: unknown): AgentError {
  return new AgentError('ERR_CONFIG', `${source}: ${key}: expected ${want}, got ${JSON.stringify(got)}`, {
    hint: 'see the table at the top of agent/daemon/config.ts (and README "The agent")',
  });
}

/** Deterministic CBOR of policy params (format/cbor.ts), imported only when a policy is configured. */
type Encode = (value: unknown) => Uint8Array;

function coerce(source: string, key: keyof AgentConfig, v: unknown, fromText: boolean, encode?: Encode): unknown {
  const kind = KEYS[key];
  if (kind === 'signing') return signingOf(source, v, encode!);
  if (kind === 'wallet') return walletOf(source, v, encode!);
  if (kind === 'strings') {
    const list =
      fromText && typeof v === 'string'
        ? v
            .split(',')
            .map((x) => x.trim())
            .filter(Boolean)
        : v;
    if (!Array.isArray(list) || !list.every((x) => typeof x === 'string' && x !== '')) throw bad(source, key, 'an array of non-empty strings', v);
    return list;
  }
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

export async function loadConfig(options: {
  file?: string;
  env: NodeJS.ProcessEnv;
  flags?: Partial<Record<keyof AgentConfig, unknown>>;
}): Promise<AgentConfig> {
  const c = defaults(options.env) as unknown as Record<string, unknown>;
  if (options.file) {
    let json: unknown;
    try {
      json = JSON.parse(await readFile(options.file, 'utf8'));
    } catch (cause) {
      throw new AgentError('ERR_CONFIG', `${options.file}: cannot read it as JSON`, { cause });
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new AgentError('ERR_CONFIG', `${options.file}: expected a JSON object`);
    const encode = await encoderFor(json);
    for (const [k, v] of Object.entries(json)) {
      if (!Object.hasOwn(KEYS, k))
        throw new AgentError('ERR_CONFIG', `${options.file}: unknown key ${JSON.stringify(k)}`, { hint: `known keys: ${Object.keys(KEYS).join(', ')}` });
      c[k] = coerce(options.file, k as keyof AgentConfig, v, false, encode);
    }
  }
  const env: Array<[string, keyof AgentConfig]> = [
    ['CAPSULE_DATA_DIR', 'dataDir'],
    ['CAPSULE_AGENT_HOST', 'host'],
    ['CAPSULE_AGENT_PORT', 'port'],
    ['CAPSULE_AGENT_LAN', 'lan'],
    ['CAPSULE_AGENT_CLOCK', 'clock'],
    ['CAPSULE_IPFS', 'ipfs'],
    ['CAPSULE_IPFS_LISTEN', 'ipfsListen'],
    ['CAPSULE_IPFS_PEERS', 'ipfsPeers'],
    ['CAPSULE_MODULE_TIMEOUT_MS', 'moduleTimeoutMs'],
  ];
  for (const [name, key] of env) if (options.env[name] !== undefined) c[key] = coerce(name, key, options.env[name], true);
  const encode = await encoderFor(options.flags ?? {});
  for (const [k, v] of Object.entries(options.flags ?? {})) if (v !== undefined) c[k] = coerce(`--${k}`, k as keyof AgentConfig, v, true, encode);
  const cfg = c as unknown as AgentConfig;
  if (!isLoopback(cfg.host) && !cfg.lan) {
    throw new AgentError('ERR_CONFIG', `host: ${cfg.host} is not a loopback address; listening beyond this machine needs lan: true (or --lan)`, {
      hint: 'the API is unauthenticated for releases (answers are encrypted to the requester); expose it deliberately',
    });
  }
  for (const k of ['requestTimeoutMs', 'fetchTimeoutMs', 'moduleTimeoutMs'] as const) {
    if (cfg[k] > 2 ** 31 - 1) throw bad(k, k, "at most 2147483647 (Node's longest timer)", cfg[k]);
  }
  for (const h of cfg.allowedHosts) {
    if (!/^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::[0-9]{1,5})?$/.test(h))
      throw bad('allowedHosts', 'allowedHosts', 'host names or host:port (IPv6 in brackets)', h);
  }
  // "off" and "helia" need no parsing; anything else is checked by ContentStore's parser, imported
  // only then (it brings multiformats and the IPFS format code, which an agent without IPFS never needs).
  if (cfg.ipfs !== 'off' && cfg.ipfs !== 'helia') {
    const { parseIpfsSpec } = await import('../store/ContentStore.ts');
    try {
      parseIpfsSpec(cfg.ipfs, 'ipfs');
    } catch (cause) {
      throw new AgentError('ERR_CONFIG', (cause as Error).message, { cause, hint: (cause as ContentError).hint });
    }
  }
  if (!(cfg.clock === 'module' || cfg.clock === 'system' || cfg.clock.startsWith('file:')))
    throw bad('clock', 'clock', '"module", "system" or "file:PATH"', cfg.clock);
  return cfg;
}

/** The CBOR encoder when `o` configures signing or wallet policies (their params are kept encoded), else undefined. */
async function encoderFor(o: object): Promise<Encode | undefined> {
  if (!Object.hasOwn(o, 'signing') && !Object.hasOwn(o, 'wallet')) return undefined;
  return (await import('../format/cbor.ts')).encodeCanonical;
}

function signingOf(source: string, v: unknown, encodeCanonical: Encode): SigningPolicy[] {
  if (!Array.isArray(v)) throw bad(source, 'signing', 'an array of {slot, logic, params?}', v);
  const seen = new Set<number>();
  return v.map((p, i) => {
    const at = `signing[${i}]`;
    if (typeof p !== 'object' || p === null || Array.isArray(p)) throw bad(source, at, 'an object {slot, logic, params?}', p);
    const o = p as Record<string, unknown>;
    for (const k of Object.keys(o)) if (!['slot', 'logic', 'params'].includes(k)) throw bad(source, `${at}.${k}`, 'no such key (slot, logic, params)', o[k]);
    if (!Number.isSafeInteger(o.slot) || (o.slot as number) < 0) throw bad(source, `${at}.slot`, 'a slot number ≥ 0', o.slot);
    if (seen.has(o.slot as number)) throw bad(source, `${at}.slot`, 'one policy per slot', o.slot);
    seen.add(o.slot as number);
    if (typeof o.logic !== 'string' || !/^[0-9a-f]{64}$/.test(o.logic))
      throw bad(source, `${at}.logic`, "the module's SHA-256 as 64 lowercase hex digits", o.logic);
    return { slot: o.slot as number, logic: o.logic, params: o.params === undefined ? undefined : encodeCanonical(o.params) };
  });
}

const PATH = /^m(\/\d+'?)*$/;
const NETWORKS = ['mainnet', 'testnet', 'regtest'];

/** `wallet`: { accounts: [...] }, each account once, its chain's fields and no others. */
function walletOf(source: string, v: unknown, encodeCanonical: Encode): { accounts: WalletAccountPolicy[] } {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad(source, 'wallet', 'an object {accounts: [...]}', v);
  for (const k of Object.keys(v)) if (k !== 'accounts') throw bad(source, `wallet.${k}`, 'no such key (accounts)', (v as Record<string, unknown>)[k]);
  const list = (v as { accounts?: unknown }).accounts;
  if (!Array.isArray(list)) throw bad(source, 'wallet.accounts', 'an array of accounts {wallet, path, chain, …, logic, params?}', list);
  const seen = new Set<string>();
  return {
    accounts: list.map((p, i): WalletAccountPolicy => {
      const at = `wallet.accounts[${i}]`;
      if (typeof p !== 'object' || p === null || Array.isArray(p)) throw bad(source, at, 'an object {wallet, path, chain, …, logic, params?}', p);
      const o = p as Record<string, unknown>;
      const allowed = [
        'wallet',
        'path',
        'chain',
        'logic',
        'params',
        'rawDigest',
        ...(o.chain === 'ethereum' ? ['chainId'] : o.chain === 'bitcoin' ? ['network', 'keys'] : []),
      ];
      if (o.chain !== 'ethereum' && o.chain !== 'bitcoin') throw bad(source, `${at}.chain`, '"ethereum" or "bitcoin"', o.chain);
      for (const k of Object.keys(o))
        if (!allowed.includes(k)) throw bad(source, `${at}.${k}`, `no such key for a ${o.chain} account (${allowed.join(', ')})`, o[k]);
      if (typeof o.wallet !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(o.wallet))
        throw bad(source, `${at}.wallet`, 'a wallet name (1-64 of A-Z a-z 0-9 . _ -)', o.wallet);
      if (typeof o.path !== 'string' || !PATH.test(o.path)) throw bad(source, `${at}.path`, "a BIP32 path like m/44'/60'/0'/0/0", o.path);
      if (seen.has(`${o.wallet} ${o.path}`)) throw bad(source, `${at}.path`, 'one policy per account (wallet and path)', o.path);
      seen.add(`${o.wallet} ${o.path}`);
      if (typeof o.logic !== 'string' || !/^[0-9a-f]{64}$/.test(o.logic))
        throw bad(source, `${at}.logic`, "the policy module's SHA-256 as 64 lowercase hex digits", o.logic);
      if (o.rawDigest !== undefined && typeof o.rawDigest !== 'boolean') throw bad(source, `${at}.rawDigest`, 'true or false', o.rawDigest);
      const common = {
        wallet: o.wallet,
        path: o.path,
        logic: o.logic,
        params: o.params === undefined ? undefined : encodeCanonical(o.params),
        rawDigest: o.rawDigest as boolean | undefined,
      };
      if (o.chain === 'ethereum') {
        if (!Number.isSafeInteger(o.chainId) || (o.chainId as number) < 1)
          throw bad(source, `${at}.chainId`, 'a positive integer (EIP-155 chain id)', o.chainId);
        return { ...common, chain: 'ethereum', chainId: o.chainId as number };
      }
      if (typeof o.network !== 'string' || !NETWORKS.includes(o.network)) throw bad(source, `${at}.network`, '"mainnet", "testnet" or "regtest"', o.network);
      if (o.keys !== undefined && !(Array.isArray(o.keys) && o.keys.every((k) => typeof k === 'string' && PATH.test(k))))
        throw bad(source, `${at}.keys`, 'an array of BIP32 paths', o.keys);
      return { ...common, chain: 'bitcoin', network: o.network as 'mainnet', keys: o.keys as string[] | undefined };
    }),
  };
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}
