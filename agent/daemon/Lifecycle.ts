/**
 * The agent's components in the order they start, each with its stop: a component is started by
 * `use` (which records its stop only once its start succeeded), and stopAll() stops the started
 * ones last-first. So the composition root (Agent.ts) states each component's start and stop in
 * one place, a failed start undoes exactly what had started, and the stop order is the list's.
 *
 * Deliberately not here: what the components are (Agent.ts) and readiness signalling (sdNotify.ts).
 */

interface Started {
  name: string;
  stop: () => Promise<void> | void;
}

export class Lifecycle {
  readonly #started: Started[] = [];

  /**
   * Starts one component and records its stop.
   * @param name - Names it in stopAll's failures.
   * @param start - Opens or starts it; what it returns is given to `stop` (and returned).
   * @param stop - Stops or closes it.
   * @returns What `start` returned.
   * @throws what `start` throws (nothing is recorded then)
   */
  async use<T>(name: string, start: () => Promise<T> | T, stop: (it: T) => Promise<void> | void): Promise<T> {
    const it = await start();
    this.#started.push({ name, stop: () => stop(it) });
    return it;
  }

  /** The started components' names, in start order. */
  get names(): string[] {
    return this.#started.map((s) => s.name);
  }

  /**
   * Stops every started component, the last started first; each is stopped even if one before it
   * failed to stop. Then the list is empty.
   * @param onError - Told of each failure; without it, the first failure is thrown once all are stopped.
   * @throws the first stop's error when no `onError` is given
   */
  async stopAll(onError?: (name: string, e: unknown) => void): Promise<void> {
    let first: { e: unknown } | undefined;
    for (const s of this.#started.splice(0).reverse()) {
      try {
        await s.stop();
      } catch (e) {
        if (onError) onError(s.name, e);
        else first ??= { e };
      }
    }
    if (first) throw first.e;
  }
}
