/**
 * How the seed process of `capsule guardian init` is confined: bubblewrap (`bwrap`, Debian's
 * `bubblewrap` package) with every namespace new (user, pid, network, ipc, uts, cgroup), a new
 * session (no TIOCSTI into the operator's terminal), killed with its parent, and a filesystem of
 * only what it needs, read-only: the system directories Node and the module library use
 * (/usr, /lib*, /bin, /etc/ssl, /etc/ld.so.cache), this installation (the code it runs), Node's
 * binary, and the module library; a private /proc, a minimal /dev and an empty tmpfs /tmp. No
 * home, no /run, no /var — so no host Unix socket is reachable. Writable: only the simulator's
 * state directory (ZK_SIM_STATE_DIR) and paths listed in CAPSULE_SEED_BIND. A seccomp filter
 * (seccompFilter.ts) denies the syscalls a seed process never needs.
 *
 * On a real device the library talks to Zymbit's daemon (zkifc): list what it uses in
 * CAPSULE_SEED_BIND (colon-separated, bound read-write, e.g. its socket directory or
 * /dev/i2c-1); an abstract-namespace socket would not be reachable from the new network
 * namespace. Without bwrap (or where user namespaces are disabled) init fails closed unless the
 * operator passes --allow-unisolated; then only `unshare -rn` (network) is attempted.
 *
 * Deliberately not here: systemd-run (PrivateNetwork/ProtectSystem/SystemCallFilter) — bwrap
 * needs no running systemd and no root; and running the child (provision.ts).
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, realpathSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GuardianError } from '../errors.ts';
import { filterFor } from './seccompFilter.ts';

/** The installation's root (agent/, node_modules/): the code the child runs, bound read-only. */
const INSTALL_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface SeedSandbox {
  /** Command prefix before `node seedChild.ts …`. */
  prefix: string[];
  /** Bytes to write to the child's fd 4 (the seccomp program), if any. */
  seccomp?: Buffer;
  /** For guardian.json and `guardian show`. */
  isolation: string;
  /** False only with --allow-unisolated when confinement was unavailable. */
  isolated: boolean;
}

const probes = new Map<string, string>();

/** `cmd` resolved in the caller's PATH (the child's environment has none), or undefined. */
function which(cmd: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '/usr/bin:/bin').split(':').filter(Boolean)) {
    const p = join(dir, cmd);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Runs `argv` once per distinct command line; 'ok' or why it failed. */
function probe(argv: string[]): string {
  const key = argv.join('\0');
  let r = probes.get(key);
  if (r === undefined) {
    const p = spawnSync(argv[0]!, argv.slice(1), { timeout: 10_000, stdio: ['ignore', 'ignore', 'pipe'], env: {} });
    r = p.error
      ? `${argv[0]} failed to start (${(p.error as NodeJS.ErrnoException).code})`
      : p.status === 0
        ? 'ok'
        : `${argv[0]} refused (exit ${p.status}: ${p.stderr.toString().trim().split('\n')[0]?.slice(0, 160) ?? ''})`;
    probes.set(key, r);
  }
  return r;
}

function real(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

/** bwrap arguments for the child: namespaces, then the filesystem, then the writable paths. */
function bwrapArgs(bwrap: string, writable: string[], readable: string[], seccompFd: number | undefined, tpm: SeedTpm = {}): string[] {
  const a = [bwrap, '--unshare-all', ...(tpm.tcp ? ['--share-net'] : []), '--die-with-parent', '--new-session', '--cap-drop', 'ALL'];
  for (const d of ['/usr', '/bin', '/lib', '/lib64', '/lib32', '/etc/ssl', '/etc/ld.so.cache', '/etc/alternatives']) a.push('--ro-bind-try', d, d);
  a.push('--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp');
  if (tpm.device) a.push('--dev-bind', tpm.device, tpm.device);
  for (const p of new Set(readable)) a.push('--ro-bind', p, p);
  for (const p of new Set(writable)) a.push('--bind', p, p);
  if (seccompFd !== undefined) a.push('--seccomp', String(seccompFd));
  a.push('--chdir', '/', '--');
  return a;
}

/**
 * Decides how to run the seed process. `allowUnisolated`: the operator accepted running it
 * without confinement when confinement is unavailable.
 * @throws GuardianError ERR_ISOLATION when it cannot be confined and allowUnisolated is false.
 */
/**
 * What the seed process needs to reach a TPM (tpm2 backend): its character device (bound into the
 * sandbox), or, for a simulator's TCP TCTI, the network (shared, and AF_INET allowed by seccomp).
 */
export interface SeedTpm {
  device?: string;
  tcp?: boolean;
  /** An auth file outside the data directory (CAPSULE_TPM_AUTH_FILE), bound read-only. */
  authFile?: string;
}

/** What a TCTI string needs from the sandbox. */
export function seedTpmFor(tcti: string, authFile?: string): SeedTpm {
  const [kind, conf = ''] = tcti.split(/:(.*)/s);
  if (kind === 'device') return { device: conf || '/dev/tpmrm0', authFile };
  if (kind === 'swtpm' || kind === 'mssim') return { tcp: true, authFile };
  return { authFile };
}

export function seedSandbox(
  env: NodeJS.ProcessEnv,
  opts: { library?: string; dataDir: string; allowUnisolated: boolean; execPath?: string; tpm?: SeedTpm },
): SeedSandbox {
  const execPath = real(opts.execPath ?? process.execPath);
  const tpm = opts.tpm ?? {};
  const readable = [real(INSTALL_ROOT), dirname(execPath), opts.dataDir];
  if (tpm.authFile && isAbsolute(tpm.authFile) && existsSync(tpm.authFile)) readable.push(real(tpm.authFile));
  if (tpm.device && !existsSync(tpm.device)) {
    throw new GuardianError('ERR_ISOLATION', `the TPM device ${tpm.device} does not exist`, {
      hint: 'enable the TPM (dtoverlay=tpm-slb9670 on a Pi), or set CAPSULE_TPM_TCTI',
    });
  }
  if (opts.library && isAbsolute(opts.library) && existsSync(opts.library)) readable.push(real(opts.library));
  // The simulator's fault file (tests): the file alone, if present now, never its directory.
  if (env.ZK_SIM_FAULTS && isAbsolute(env.ZK_SIM_FAULTS) && existsSync(env.ZK_SIM_FAULTS)) readable.push(real(env.ZK_SIM_FAULTS));
  const writable: string[] = [];
  if (env.ZK_SIM_STATE_DIR && isAbsolute(env.ZK_SIM_STATE_DIR) && existsSync(env.ZK_SIM_STATE_DIR)) writable.push(real(env.ZK_SIM_STATE_DIR));
  for (const p of (env.CAPSULE_SEED_BIND ?? '').split(':').filter(Boolean)) {
    if (!isAbsolute(p) || !existsSync(p)) {
      throw new GuardianError('ERR_ISOLATION', `CAPSULE_SEED_BIND: expected existing absolute paths separated by ":", got ${JSON.stringify(p)}`, {
        hint: 'list what the module library needs (e.g. the zkifc socket directory), or unset it',
      });
    }
    writable.push(real(p));
  }
  const filter = filterFor(process.arch, { inet: tpm.tcp });
  const bwrap = which('bwrap', env);
  const present = readable.filter((p) => existsSync(p));
  const check = bwrap ? probe([...bwrapArgs(bwrap, writable, present, undefined, tpm), execPath, '-e', '']) : 'bwrap not found in PATH';
  if (check === 'ok') {
    const net = tpm.tcp ? 'the network shared (a TPM simulator reached over TCP; AF_INET allowed)' : 'network';
    return {
      prefix: bwrapArgs(bwrap!, writable, present, filter ? 4 : undefined, tpm),
      seccomp: filter?.program,
      isolated: true,
      isolation: `bubblewrap: new user, pid, ${tpm.tcp ? '' : 'network, '}ipc, uts and cgroup namespaces${tpm.tcp ? `; ${net}` : ''}; read-only system and installation, no home, tmpfs /tmp${tpm.device ? `; device ${tpm.device}` : ''}; writable: ${writable.length ? writable.join(', ') : 'nothing'}; ${filter ? `seccomp: ${filter.denied} syscalls denied` : `no seccomp filter for ${process.arch}`}`,
    };
  }
  if (!opts.allowUnisolated) {
    throw new GuardianError('ERR_ISOLATION', `cannot confine the seed process: ${check}`, {
      hint: 'install bubblewrap (apt-get install bubblewrap) and allow unprivileged user namespaces; or accept the risk with --allow-unisolated (recorded in guardian.json)',
    });
  }
  const unshare = tpm.tcp ? undefined : which('unshare', env); // a TCP TPM needs the network
  const netns = unshare ? probe([unshare, '-rn', 'true']) : tpm.tcp ? 'the TPM is reached over TCP' : 'unshare not found in PATH';
  return netns === 'ok'
    ? {
        prefix: [unshare!, '-rn', '--'],
        isolated: false,
        isolation: `UNISOLATED (--allow-unisolated): ${check}; network namespace only (unshare -rn), same filesystem, no seccomp`,
      }
    : { prefix: [], isolated: false, isolation: `UNISOLATED (--allow-unisolated): ${check}; ${netns}; own process and minimal environment only` };
}
