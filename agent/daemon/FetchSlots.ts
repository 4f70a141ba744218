/**
 * How many fetches by CID (capsules and modules together) run at once: each may read up to its
 * cap, so beyond MAX_FETCHES a fetch is refused at once (503, "retry shortly") rather than queued.
 *
 * Deliberately not here: the fetches (CapsuleFetcher.ts, ModuleFetcher.ts).
 */
import { AgentError } from '../errors.ts';

/** Fetches by CID at once (each may read up to maxCapsuleBytes). */
export const MAX_FETCHES = 4;

export class FetchSlots {
  readonly #max: number;
  #active = 0;

  /** @param max - Fetches at once (default MAX_FETCHES). */
  constructor(max = MAX_FETCHES) {
    this.#max = max;
  }

  /**
   * Runs `fn` in a slot.
   * @throws AgentError ERR_UNAVAILABLE when every slot is taken; what `fn` throws
   */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#active >= this.#max) throw new AgentError('ERR_UNAVAILABLE', `busy: ${this.#active} fetches by CID in progress`, { hint: 'retry shortly' });
    this.#active++;
    try {
      return await fn();
    } finally {
      this.#active--;
    }
  }
}
