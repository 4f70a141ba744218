/**
 * The seed process's syscall filter: a classic-BPF seccomp program (what `bwrap --seccomp FD`
 * loads) built here, byte for byte, so no libseccomp is needed. It is a deny list: the process
 * runs Node, whose exact syscall set varies by version, so an allow list would break on upgrades;
 * what it denies is everything a seed process never needs and an attacker inside it would want —
 * opening sockets other than AF_UNIX, debugging or reading other processes (ptrace,
 * process_vm_*), mounting or changing namespaces, kernel keyrings, BPF, perf, io_uring,
 * userfaultfd, modules, kexec, reboot, swap, the clock, chroot, file handles, fanotify, syslog.
 * Denied calls fail with EPERM (so Node's own fallbacks, e.g. io_uring, keep working); a foreign
 * architecture or the x32 ABI kills the process.
 *
 * Syscall numbers are from the kernel headers (x86_64: asm/unistd_64.h; aarch64:
 * asm-generic/unistd.h). Deliberately not here: other architectures (32-bit ARM among them):
 * filterFor() returns undefined there and the isolation record says so.
 */

// BPF opcodes (linux/filter.h) and seccomp return values (linux/seccomp.h).
const LD_W_ABS = 0x20;
const JEQ_K = 0x15;
const JGE_K = 0x35;
const RET_K = 0x06;
const RET_KILL_PROCESS = 0x80000000;
const RET_ERRNO = 0x00050000;
const RET_ALLOW = 0x7fff0000;
const EPERM = 1;
const AF_UNIX = 1;
const AF_INET = 2;
// offsets in struct seccomp_data
const NR = 0;
const ARCH = 4;
const ARG0_LOW = 16; // little-endian: the low 32 bits of args[0]

type Table = Record<string, number>;

const DENIED = [
  'ptrace',
  'process_vm_readv',
  'process_vm_writev',
  'mount',
  'umount2',
  'pivot_root',
  'kexec_load',
  'kexec_file_load',
  'init_module',
  'finit_module',
  'delete_module',
  'reboot',
  'swapon',
  'swapoff',
  'keyctl',
  'add_key',
  'request_key',
  'bpf',
  'perf_event_open',
  'userfaultfd',
  'unshare',
  'setns',
  'acct',
  'settimeofday',
  'clock_settime',
  'adjtimex',
  'chroot',
  'io_uring_setup',
  'io_uring_enter',
  'io_uring_register',
  'open_by_handle_at',
  'name_to_handle_at',
  'fanotify_init',
  'syslog',
  'quotactl',
  'move_mount',
  'fsopen',
  'fsconfig',
  'fsmount',
  'fspick',
  'open_tree',
  'mount_setattr',
  'iopl',
  'ioperm',
] as const;

const X86_64: Table = {
  socket: 41,
  ptrace: 101,
  process_vm_readv: 310,
  process_vm_writev: 311,
  mount: 165,
  umount2: 166,
  pivot_root: 155,
  kexec_load: 246,
  kexec_file_load: 320,
  init_module: 175,
  finit_module: 313,
  delete_module: 176,
  reboot: 169,
  swapon: 167,
  swapoff: 168,
  keyctl: 250,
  add_key: 248,
  request_key: 249,
  bpf: 321,
  perf_event_open: 298,
  userfaultfd: 323,
  unshare: 272,
  setns: 308,
  acct: 163,
  settimeofday: 164,
  clock_settime: 227,
  adjtimex: 159,
  chroot: 161,
  io_uring_setup: 425,
  io_uring_enter: 426,
  io_uring_register: 427,
  open_by_handle_at: 304,
  name_to_handle_at: 303,
  fanotify_init: 300,
  syslog: 103,
  quotactl: 179,
  move_mount: 429,
  fsopen: 430,
  fsconfig: 431,
  fsmount: 432,
  fspick: 433,
  open_tree: 428,
  mount_setattr: 442,
  iopl: 172,
  ioperm: 173,
};

const AARCH64: Table = {
  socket: 198,
  ptrace: 117,
  process_vm_readv: 270,
  process_vm_writev: 271,
  mount: 40,
  umount2: 39,
  pivot_root: 41,
  kexec_load: 104,
  kexec_file_load: 294,
  init_module: 105,
  finit_module: 273,
  delete_module: 106,
  reboot: 142,
  swapon: 224,
  swapoff: 225,
  keyctl: 219,
  add_key: 217,
  request_key: 218,
  bpf: 280,
  perf_event_open: 241,
  userfaultfd: 282,
  unshare: 97,
  setns: 268,
  acct: 89,
  settimeofday: 170,
  clock_settime: 112,
  adjtimex: 171,
  chroot: 51,
  io_uring_setup: 425,
  io_uring_enter: 426,
  io_uring_register: 427,
  open_by_handle_at: 265,
  name_to_handle_at: 264,
  fanotify_init: 262,
  syslog: 116,
  quotactl: 60,
  move_mount: 429,
  fsopen: 430,
  fsconfig: 431,
  fsmount: 432,
  fspick: 433,
  open_tree: 428,
  mount_setattr: 442,
};

const ARCHES: Record<string, { audit: number; table: Table; x32?: boolean }> = {
  x64: { audit: 0xc000003e, table: X86_64, x32: true },
  arm64: { audit: 0xc00000b7, table: AARCH64 },
};

export interface SeccompFilter {
  /** The program as `struct sock_filter[]` bytes (8 per instruction, host byte order). */
  program: Buffer;
  /** How many syscalls it denies (for the isolation record). */
  denied: number;
}

/**
 * The filter for `arch` (process.arch), or undefined where none is defined. `inet` also allows
 * AF_INET sockets: only for a TPM reached over TCP (a simulator's TCTI), with the network shared.
 */
export function filterFor(arch: string = process.arch, options: { inet?: boolean } = {}): SeccompFilter | undefined {
  const a = ARCHES[arch];
  if (!a) return undefined;
  const denied = DENIED.map((n) => a.table[n]).filter((n): n is number => n !== undefined);
  const ins: Array<[number, number, number, number]> = [];
  ins.push([LD_W_ABS, 0, 0, ARCH]);
  ins.push([JEQ_K, 1, 0, a.audit]);
  ins.push([RET_K, 0, 0, RET_KILL_PROCESS]);
  ins.push([LD_W_ABS, 0, 0, NR]);
  if (a.x32) {
    ins.push([JGE_K, 0, 1, 0x40000000]); // x32 ABI numbers alias the x86_64 ones: refuse them
    ins.push([RET_K, 0, 0, RET_KILL_PROCESS]);
  }
  // socket(domain, …): AF_UNIX only (the module's daemon socket); the network namespace has no
  // interfaces anyway, this keeps even netlink and packet sockets closed.
  ins.push([JEQ_K, 0, options.inet ? 4 : 3, a.table.socket!]);
  ins.push([LD_W_ABS, 0, 0, ARG0_LOW]);
  if (options.inet) ins.push([JEQ_K, 1, 0, AF_INET]); // AF_INET: jump to the ALLOW below
  ins.push([JEQ_K, 0, 1 + denied.length + 1, AF_UNIX]); // not AF_UNIX: jump to the EPERM return
  ins.push([RET_K, 0, 0, RET_ALLOW]);
  // Each denied number jumps forward to the shared EPERM return after the final ALLOW.
  denied.forEach((nr, i) => ins.push([JEQ_K, denied.length - i, 0, nr]));
  ins.push([RET_K, 0, 0, RET_ALLOW]);
  ins.push([RET_K, 0, 0, RET_ERRNO | EPERM]);
  const program = Buffer.alloc(ins.length * 8);
  ins.forEach(([code, jt, jf, k], i) => {
    program.writeUInt16LE(code, i * 8);
    program.writeUInt8(jt, i * 8 + 2);
    program.writeUInt8(jf, i * 8 + 3);
    program.writeUInt32LE(k >>> 0, i * 8 + 4);
  });
  return { program, denied: denied.length + 1 };
}
