/**
 * systemd's readiness protocol (sd_notify(3)) spoken by the agent itself: newline-separated
 * `KEY=value` lines in one datagram on the unix socket named by $NOTIFY_SOCKET (a path, or an
 * abstract-namespace name when it starts with '@'). READY=1, STATUS=…, STOPPING=1, and WATCHDOG=1
 * every $WATCHDOG_USEC/2 when systemd asks for it ($WATCHDOG_PID unset or our pid).
 *
 * Why koffi: Node's core has no unix *datagram* sockets (node:net is stream-only, node:dgram is
 * UDP-only), and the alternative — running `systemd-notify` per message — makes the sender a
 * child process, which forces NotifyAccess=all on the unit (any child could then declare the
 * service ready or stopping) and costs a fork per watchdog ping. koffi is already a dependency
 * (the Zymbit binding) and calls libc socket(2)/sendto(2)/close(2) directly: three functions,
 * no native build. The socket is SOCK_CLOEXEC (no child inherits it) and every send is
 * MSG_DONTWAIT|MSG_NOSIGNAL, so a stuck receiver never blocks the event loop.
 *
 * Sending never throws: a failure is logged once (event `notify-failed`, with the errno name)
 * and later failures are silent; the service keeps serving. Deliberately not here: fd passing
 * (FDSTORE), MAINPID, EXTEND_TIMEOUT_USEC, vsock: addresses (systemd ≥ 253), and what the
 * STATUS text says (the agent decides).
 */
import koffi from 'koffi';
import { endianness } from 'node:os';

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000; // Linux on x86, arm and arm64 (the targets koffi ships for)
const MSG_DONTWAIT = 0x40;
const MSG_NOSIGNAL = 0x4000;
/** sizeof(struct sockaddr_un.sun_path) on Linux. */
const SUN_PATH = 108;

interface Libc {
  socket: (domain: number, type: number, protocol: number) => number;
  sendto: (fd: number, buf: Buffer, len: number, flags: number, addr: Buffer, addrlen: number) => number;
  close: (fd: number) => number;
}

let libc: Libc | undefined;
function loadLibc(): Libc {
  if (!libc) {
    const l = koffi.load('libc.so.6');
    libc = {
      socket: l.func('int socket(int domain, int type, int protocol)') as never,
      sendto: l.func('intptr_t sendto(int fd, const void *buf, size_t len, int flags, const void *addr, uint32_t addrlen)') as never,
      close: l.func('int close(int fd)') as never,
    };
  }
  return libc;
}

const errnoNames = new Map<number, string>();
function errnoName(n: number): string {
  if (!errnoNames.size) for (const [k, v] of Object.entries(koffi.os.errno)) if (!errnoNames.has(v)) errnoNames.set(v, k);
  return errnoNames.get(n) ?? `errno ${n}`;
}

/** A reason the notifier cannot send: logged once, never thrown. */
export interface NotifyFailure {
  socket: string;
  errno: string;
  message: string;
}

/**
 * The `struct sockaddr_un` for $NOTIFY_SOCKET and its length, or why it cannot be one.
 * '@name' is the abstract namespace: sun_path[0] = 0, then the name, no terminator, and the
 * length counts exactly those bytes (as sd_notify does).
 */
export function notifyAddress(socket: string): { addr: Buffer; len: number } | { error: string } {
  if (socket.startsWith('vsock:')) return { error: 'vsock addresses are not supported (only unix socket paths and @abstract names)' };
  const abstract = socket.startsWith('@');
  if (!abstract && !socket.startsWith('/')) return { error: `expected an absolute path or an @abstract name, got ${JSON.stringify(socket)}` };
  const name = Buffer.from(abstract ? socket.slice(1) : socket, 'utf8');
  // A path needs its terminating NUL inside sun_path; an abstract name needs the leading NUL.
  if (name.length + 1 > SUN_PATH) return { error: `the socket address is ${name.length} bytes; at most ${SUN_PATH - 1} fit in sockaddr_un` };
  if (name.includes(0)) return { error: 'the socket address contains a NUL byte' };
  const addr = Buffer.alloc(2 + SUN_PATH);
  if (endianness() === 'LE') addr.writeUInt16LE(AF_UNIX, 0);
  else addr.writeUInt16BE(AF_UNIX, 0); // sa_family_t, host order
  name.copy(addr, abstract ? 3 : 2);
  return { addr, len: 2 + 1 + name.length };
}

/** What the agent says to its service manager. All methods are no-ops when $NOTIFY_SOCKET is unset. */
export interface SdNotify {
  /** True when $NOTIFY_SOCKET was set (whether or not sends succeed). */
  readonly enabled: boolean;
  /** The watchdog ping interval in ms (half of $WATCHDOG_USEC), when the watchdog applies to us. */
  readonly watchdogMs: number | undefined;
  /** Sends `KEY=value` lines as one datagram; false when it could not be sent (logged once). */
  send(lines: string[]): boolean;
  /** READY=1, with a STATUS= line when `status` is given. */
  ready(status?: string): void;
  /** STATUS=…, only when it differs from the last status sent. */
  status(text: string): void;
  /** STOPPING=1, with a STATUS= line when `status` is given. */
  stopping(status?: string): void;
  /** Starts WATCHDOG=1 pings if $WATCHDOG_USEC asks for them; idempotent. */
  startWatchdog(): void;
  /** Stops the pings and closes the socket; the notifier is inert afterwards. */
  close(): void;
}

export interface SdNotifyOptions {
  /** Where a send failure (or an unusable $WATCHDOG_USEC) is reported, once. */
  log?: (event: string, fields: Record<string, unknown>) => void;
  /** Our pid, compared with $WATCHDOG_PID (tests). */
  pid?: number;
}

/** The watchdog interval for `env`, or why there is none (undefined reason: not asked for). */
export function watchdogInterval(env: NodeJS.ProcessEnv, pid: number): { ms?: number; ignored?: string } {
  const usec = env.WATCHDOG_USEC;
  if (usec === undefined || usec === '') return {};
  const wpid = env.WATCHDOG_PID;
  // systemd sets WATCHDOG_PID to the main process; a wrapper's child must not answer for it.
  if (wpid !== undefined && wpid !== '' && wpid !== String(pid)) return { ignored: `WATCHDOG_PID is ${wpid}, not this process (${pid})` };
  if (!/^[1-9][0-9]{0,15}$/.test(usec)) return { ignored: `WATCHDOG_USEC: expected a positive integer of microseconds, got ${JSON.stringify(usec)}` };
  return { ms: Math.max(1, Math.floor(Number(usec) / 2000)) };
}

/**
 * A notifier for `env` ($NOTIFY_SOCKET, $WATCHDOG_USEC, $WATCHDOG_PID). Never throws: an unusable
 * socket address or a failed send is logged once through `opts.log`.
 */
export function sdNotify(env: NodeJS.ProcessEnv, opts: SdNotifyOptions = {}): SdNotify {
  const socket = env.NOTIFY_SOCKET;
  const log = opts.log ?? (() => {});
  const wd = socket ? watchdogInterval(env, opts.pid ?? process.pid) : {};
  let fd = -1;
  let closed = !socket;
  let failed = false;
  let lastStatus: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  const target = socket ? notifyAddress(socket) : undefined;

  const fail = (errno: string, message: string): false => {
    if (!failed) log('notify-failed', { socket: socket ?? '', errno, message } satisfies NotifyFailure);
    failed = true;
    return false;
  };

  const send = (lines: string[]): boolean => {
    if (closed || !target) return false;
    if ('error' in target) return fail('EINVAL', `NOTIFY_SOCKET: ${target.error}`);
    try {
      const c = loadLibc();
      if (fd < 0) {
        fd = c.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0) return fail(errnoName(koffi.errno()), 'socket(AF_UNIX, SOCK_DGRAM) failed');
      }
      const msg = Buffer.from(lines.join('\n'), 'utf8');
      const n = c.sendto(fd, msg, msg.length, MSG_DONTWAIT | MSG_NOSIGNAL, target.addr, target.len);
      if (n < 0) return fail(errnoName(koffi.errno()), `sendto ${socket} failed`);
      return true;
    } catch (e) {
      // libc missing (not glibc) or a koffi failure: the service runs on without notifications.
      return fail('ELIBACC', e instanceof Error ? e.message : String(e));
    }
  };

  const statusLine = (text: string): string => `STATUS=${text.replace(/[\r\n]+/g, ' ')}`;

  return {
    enabled: !!socket,
    watchdogMs: wd.ms,
    send,
    ready(status) {
      if (status !== undefined) lastStatus = status;
      send(status === undefined ? ['READY=1'] : ['READY=1', statusLine(status)]);
    },
    status(text) {
      if (text === lastStatus) return;
      lastStatus = text;
      send([statusLine(text)]);
    },
    stopping(status) {
      if (status !== undefined) lastStatus = status;
      send(status === undefined ? ['STOPPING=1'] : ['STOPPING=1', statusLine(status)]);
    },
    startWatchdog() {
      if (closed || timer) return;
      if (wd.ignored) {
        log('notify-watchdog-ignored', { reason: wd.ignored });
        wd.ignored = undefined; // once
        return;
      }
      if (!wd.ms) return;
      // The pings come from a timer on the event loop, on purpose: if the loop wedges (a
      // synchronous call that never returns, a busy loop), the pings stop and systemd restarts
      // the service. A ping from a thread of its own would keep a dead service "alive".
      timer = setInterval(() => send(['WATCHDOG=1']), wd.ms);
      timer.unref(); // the pings never keep a stopped agent's process alive
      send(['WATCHDOG=1']);
    },
    close() {
      if (timer) clearInterval(timer);
      timer = undefined;
      closed = true;
      if (fd >= 0) {
        try {
          loadLibc().close(fd);
        } catch {
          // nothing more to do: the process is ending or the fd is gone
        }
        fd = -1;
      }
    },
  };
}
