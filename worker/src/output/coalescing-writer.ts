/**
 * Group commit for writes: one write at a time, and everything submitted while it runs goes out together in
 * the next. The producer sends one request at a time (idempotence), so many small per-batch writes would
 * queue behind each other; coalesced, a write costs one round trip however many batches it carries.
 */
export class CoalescingWriter<T> {
  readonly #write: (items: T[]) => Promise<void>;
  #waiting: { items: T[]; settle: { resolve: () => void; reject: (error: Error) => void }[] } = {
    items: [],
    settle: [],
  };
  #running = false;

  constructor(write: (items: T[]) => Promise<void>) {
    this.#write = write;
  }

  /** Resolves when `items` are written (with whatever else shared their write); rejects if that write fails. */
  submit(items: readonly T[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#waiting.items.push(...items);
      this.#waiting.settle.push({ resolve, reject });
      if (this.#running) return;
      this.#running = true;
      // Batches finished by the same model run become routed within one event-loop turn: wait for the
      // whole turn so they share the first write too.
      setImmediate(() => void this.#drain());
    });
  }

  async #drain(): Promise<void> {
    while (this.#waiting.settle.length > 0) {
      const taken = this.#waiting;
      this.#waiting = { items: [], settle: [] };
      try {
        await this.#write(taken.items);
        for (const { resolve } of taken.settle) resolve();
      } catch (error) {
        for (const { reject } of taken.settle) reject(error as Error);
      }
    }
    this.#running = false;
  }
}
