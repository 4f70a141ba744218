/**
 * Giving freed native memory back to the system (issue 15, memory budget). Node's buffers, OpenSSL,
 * SQLite, the HTTP parser and V8's compiler threads allocate with glibc malloc; memory they free
 * stays in malloc's arenas (one per thread that allocated), so after a burst of requests the
 * agent's RSS stayed ~100 MiB above what it uses (measured: 250 → 135 MiB after one trim;
 * bench/agent.ts "15 s after the last run"). Two libc calls, through koffi (already a dependency, as in sdNotify.ts):
 *
 * - at start, mallopt(3) fixes the mmap threshold at 32 KiB and the trim threshold at 128 KiB
 *   (glibc's defaults are 128 KiB, and it raises them for good after the first large block is
 *   freed): a request's large blocks — its ~93 KB body, the decoded capsule, the answer — are
 *   mapped and unmapped on their own, so what V8 frees goes back to the system at once instead of
 *   waiting in an arena, and an arena's free top is returned once it passes 128 KiB. Same as
 *   MALLOC_MMAP_THRESHOLD_=32768 MALLOC_TRIM_THRESHOLD_=131072. Measured at the end of the
 *   64-client allow run (with the unit's --optimize-for-size): 128 KiB ~157 MiB at ~250 req/s,
 *   64 KiB ~157 at ~280, 32 KiB ~146 at ~250, 16 KiB ~141 at ~212 (the page faults of fresh
 *   mappings cost CPU): 32 KiB keeps the agent (ipfs: off) under 160 MiB with a margin (BENCHMARKS.md "Memory").
 * - malloc_trim(0) once the agent has been quiet for a while after activity (trimWhenQuiet):
 *   it returns the free pages inside every arena, which no threshold does.
 *
 * Anything else than glibc on Linux (no libc.so.6, or no such functions): nothing is done.
 * Deliberately not here: V8's own heaps (they shrink by themselves when the agent is idle; their
 * collection policy is set by Node flags at launch: the unit's --optimize-for-size).
 */
const M_TRIM_THRESHOLD = -1;
const M_MMAP_THRESHOLD = -3;
const MMAP_THRESHOLD = 32 * 1024;
const TRIM_THRESHOLD = 128 * 1024;

interface Libc {
  mallopt(param: number, value: number): number;
  malloc_trim(pad: number): number;
}

let libc: Libc | null | undefined;

/**
 * Loads the two libc functions (once) and fixes glibc's mmap and trim thresholds (see the header).
 * @returns false where there is no glibc (nothing is tuned or trimmed then)
 */
export async function tuneMalloc(): Promise<boolean> {
  if (libc === undefined) {
    try {
      if (process.platform !== 'linux') throw new Error('not Linux');
      const { default: koffi } = await import('koffi');
      const l = koffi.load('libc.so.6');
      libc = { mallopt: l.func('int mallopt(int param, int value)') as never, malloc_trim: l.func('int malloc_trim(size_t pad)') as never };
    } catch {
      libc = null; // not glibc (musl, another OS): nothing to tune
    }
  }
  if (!libc) return false;
  libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD);
  libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD);
  return true;
}

/** malloc_trim(0): returns the free pages of every arena; false without glibc or before tuneMalloc(). */
export function trimMalloc(): boolean {
  if (!libc) return false;
  libc.malloc_trim(0);
  return true;
}

/**
 * Calls `trim` once each time the agent becomes quiet: `activity()` (a count of requests served)
 * changed since the previous check and then stayed the same for `quietMs`, with `busy()` false.
 * Quiet for a while rather than at once, so that V8's memory reducer (~8 s after the allocation
 * rate drops) has collected the garbage that holds native memory first. Returns a stop function.
 */
export function trimWhenQuiet(o: { activity: () => number; busy: () => boolean; trim: () => void; quietMs?: number; everyMs?: number }): () => void {
  const quietMs = o.quietMs ?? 12_000;
  let last = o.activity();
  let lastChange = performance.now();
  let dirty = false;
  const timer = setInterval(() => {
    const now = performance.now();
    const a = o.activity();
    if (a !== last) {
      last = a;
      lastChange = now;
      dirty = true;
      return;
    }
    if (dirty && !o.busy() && now - lastChange >= quietMs) {
      dirty = false;
      o.trim();
    }
  }, o.everyMs ?? 2000);
  timer.unref();
  return () => clearInterval(timer);
}
