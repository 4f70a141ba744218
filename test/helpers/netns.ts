/**
 * A small private network for multi-guardian tests: one client network namespace joined to each
 * guardian's own namespace by a veth pair (client 10.77.<i>.1/30 ↔ guardian 10.77.<i>.2/30), so
 * guardians are separate hosts that the client reaches over a real (virtual) link and that cannot
 * reach each other. Everything is created by the test and removed by `stop()`; nothing is bound to
 * any address outside these namespaces.
 *
 * Where namespaces are not permitted (not root, no `ip`, a container without CAP_SYS_ADMIN) it
 * returns a loopback fallback: every "host" is 127.0.0.1 and processes run directly, and
 * `skipped` says why, so the suite prints a visible SKIPPED line and still runs its scenarios.
 *
 * Deliberately not here: starting agents (test/helpers/runningAgent.ts) or assertions.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';

/** One place processes run in: a namespace (or the host, in the loopback fallback). */
export interface Host {
  /** The namespace's name, or undefined on the loopback fallback. */
  ns?: string;
  /** The address a process here listens on, and the client dials. */
  address: string;
}

export interface Net {
  client: Host;
  guardians: Host[];
  /** Why namespaces are not used (the loopback fallback), or undefined. */
  skipped?: string;
  /** `command args` run in `host` (through `ip netns exec`); the pid is the command's own. */
  spawn(host: Host, command: string, args: string[], options?: SpawnOptions): ChildProcess;
  /** Cut a guardian's link (its veth goes down) or restore it; on the fallback, unsupported. */
  link(i: number, up: boolean): void;
  /** Removes every namespace (which removes the veth pairs). Idempotent. */
  stop(): void;
}

const ip = (args: string[]) => spawnSync('ip', args, { encoding: 'utf8' });

function must(args: string[]): void {
  const r = ip(args);
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${(r.stderr || r.error?.message || '').trim()}`);
}

/** Why this machine cannot make namespaces, or undefined when it can (checked by making one). */
function unavailable(): string | undefined {
  if (process.env.CAPSULE_TEST_NETNS === 'off') return 'turned off by CAPSULE_TEST_NETNS=off';
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  const name = `cap-probe-${randomBytes(3).toString('hex')}`;
  const r = ip(['netns', 'add', name]);
  if (r.error) return `no ip command (${r.error.message})`;
  if (r.status !== 0) return `ip netns add is not permitted here: ${r.stderr.trim()}`;
  ip(['netns', 'del', name]);
  return undefined;
}

/**
 * A client namespace and `n` guardian namespaces (or the loopback fallback).
 * @throws Error when namespaces are permitted but setting one up fails (after removing what was made).
 */
export function makeNet(n: number): Net {
  const why = unavailable();
  if (why !== undefined) {
    const lo: Host = { address: '127.0.0.1' };
    return {
      client: lo,
      guardians: Array.from({ length: n }, () => ({ address: '127.0.0.1' })),
      skipped: why,
      spawn: (_h, command, args, options = {}) => spawn(command, args, options),
      link: () => {
        throw new Error('links cannot be cut on the loopback fallback');
      },
      stop: () => {},
    };
  }
  const tag = randomBytes(3).toString('hex');
  const made: string[] = [];
  const stop = () => {
    for (const ns of made.splice(0)) ip(['netns', 'del', ns]);
  };
  try {
    const client = `cap-c-${tag}`;
    must(['netns', 'add', client]);
    made.push(client);
    must(['-n', client, 'link', 'set', 'lo', 'up']);
    const guardians: Host[] = [];
    for (let i = 0; i < n; i++) {
      const ns = `cap-g${i}-${tag}`;
      must(['netns', 'add', ns]);
      made.push(ns);
      must(['-n', ns, 'link', 'set', 'lo', 'up']);
      // Both ends are created in the client namespace, then one end moves into the guardian's.
      const a = `vc${i}${tag}`,
        b = `vg${i}${tag}`;
      must(['-n', client, 'link', 'add', a, 'type', 'veth', 'peer', 'name', b]);
      must(['-n', client, 'link', 'set', b, 'netns', ns]);
      must(['-n', client, 'addr', 'add', `10.77.${i}.1/30`, 'dev', a]);
      must(['-n', ns, 'addr', 'add', `10.77.${i}.2/30`, 'dev', b]);
      must(['-n', client, 'link', 'set', a, 'up']);
      must(['-n', ns, 'link', 'set', b, 'up']);
      guardians.push({ ns, address: `10.77.${i}.2` });
    }
    return {
      client: { ns: client, address: '10.77.0.1' },
      guardians,
      spawn: (h, command, args, options = {}) => (h.ns ? spawn('ip', ['netns', 'exec', h.ns, command, ...args], options) : spawn(command, args, options)),
      link: (i, up) => must(['-n', guardians[i]!.ns!, 'link', 'set', `vg${i}${tag}`, up ? 'up' : 'down']),
      stop,
    };
  } catch (e) {
    stop();
    throw e;
  }
}
