/**
 * Joins the calls made in one turn of the event loop into one flush; every caller's promise settles with that
 * flush. The partitions of a fetch finish their model batch in the same turn, so their responses go out as one
 * produce request and their offsets as one commit, where one round trip per partition would queue behind each
 * other (the idempotent producer sends one request per broker at a time).
 */
export class Gatherer<T> {
  readonly #flush: (items: T[]) => Promise<void>;
  #open: { items: T[]; flushed: Promise<void> } | undefined;

  constructor(flush: (items: T[]) => Promise<void>) {
    this.#flush = flush;
  }

  add(items: readonly T[]): Promise<void> {
    if (this.#open === undefined) {
      const items: T[] = [];
      const flushed = new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
        // Closed before flushing: a call made while this flush runs starts the next one.
        this.#open = undefined;
        return this.#flush(items);
      });
      this.#open = { items, flushed };
    }
    this.#open.items.push(...items);
    return this.#open.flushed;
  }
}
