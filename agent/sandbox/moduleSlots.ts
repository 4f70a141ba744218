/**
 * Which module bytes a sandbox worker already holds, so that a request for a module it was sent
 * before carries a slot number instead of the bytes: cloning a module into the worker cost ~7 µs
 * for a 1 KB module (allocation on both sides), a tenth of a warm evaluation's round trip.
 *
 * The main end decides everything: it keeps a copy of what it put in each of the worker's slots
 * and reuses a slot only for a module equal to that copy byte for byte (a caller may change or
 * reuse its buffer: nothing is keyed by object identity), and the worker stores whatever it is
 * told to. So the two sides never disagree, and no round trip is needed to find out. A module
 * larger than SLOT_BYTES is always sent (comparing and copying it would cost what cloning does).
 *
 * Deliberately not here: compiled modules (MeteredSandbox.ts caches them by hash) and metered
 * bytes (WorkerSandbox.ts sends those once per worker).
 */

const SLOTS = 8;
const SLOT_BYTES = 256 * 1024;

/** How a request refers to its module: the bytes (stored in `slot` when given), or a slot only. */
export type ModuleRef = { module: Uint8Array; slot?: number } | { slot: number };

/** Main end: one per worker (a replaced worker starts with no slots). */
export class ModuleSlots {
  readonly #copies: (Uint8Array | undefined)[] = [];
  /** Slot numbers, least recently used first. */
  readonly #order: number[] = [];

  /** How to refer to `module` in the next request; call commit() once that request was sent. */
  pick(module: Uint8Array): ModuleRef {
    for (let i = 0; i < this.#copies.length; i++) {
      const c = this.#copies[i];
      if (c && c.length === module.length && Buffer.compare(c, module) === 0) return { slot: i };
    }
    if (module.length > SLOT_BYTES) return { module };
    const slot = this.#copies.length < SLOTS ? this.#copies.length : this.#order[0]!;
    return { module, slot };
  }

  /** Records what the request that carried `ref` (now sent) did to the worker's slots. */
  commit(ref: ModuleRef): void {
    if (ref.slot === undefined) return;
    if ('module' in ref) this.#copies[ref.slot] = ref.module.slice();
    const at = this.#order.indexOf(ref.slot);
    if (at >= 0) this.#order.splice(at, 1);
    this.#order.push(ref.slot);
  }
}

/**
 * Worker end: the module a request refers to, storing it when the request says so.
 * @throws RangeError for a slot never filled (a bug: the main end only names filled slots)
 */
export function resolveModule(slots: Uint8Array[], ref: ModuleRef): Uint8Array {
  if ('module' in ref) {
    if (ref.slot !== undefined) slots[ref.slot] = ref.module;
    return ref.module;
  }
  const m = slots[ref.slot];
  if (!m) throw new RangeError(`module slot ${ref.slot} is empty`);
  return m;
}
