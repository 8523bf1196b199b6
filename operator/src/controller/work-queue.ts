// A work queue of object keys ("namespace/name") in the manner of client-go's: a key added many times
// before a worker takes it is processed once; a key is never processed by two workers at once (an add
// while it is processed marks it to run again afterwards); failures come back after a per-key exponential
// backoff that resets on success; and `addAfter` schedules the periodic look that keeps reconcile
// level-triggered even when no event arrives.

/** Runs `run` after `delayMs`; returns a function that cancels it. */
export type Schedule = (run: () => void, delayMs: number) => () => void;

export interface WorkQueueOptions {
  /** First retry delay after a failure; doubled per consecutive failure of the same key. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Where delayed adds wait; a test passes its own to decide when they come due. */
  schedule?: Schedule;
}

/** A timer that keeps no process alive: a pending look must not hold up an exit. */
const unrefTimer: Schedule = (run, delayMs) => {
  const timer = setTimeout(run, delayMs);
  timer.unref();
  return () => clearTimeout(timer);
};

export class WorkQueue {
  readonly #queue: string[] = [];
  readonly #dirty = new Set<string>();
  readonly #processing = new Set<string>();
  readonly #failures = new Map<string, number>();
  readonly #scheduled = new Map<string, { cancel: () => void; dueAt: number }>();
  readonly #waiters: ((key: string | undefined) => void)[] = [];
  #shuttingDown = false;

  constructor(private readonly options: WorkQueueOptions) {}

  add(key: string): void {
    if (this.#shuttingDown || this.#dirty.has(key)) return;
    this.#dirty.add(key);
    if (this.#processing.has(key)) return;
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) this.#hand(key, waiter);
    else this.#queue.push(key);
  }

  /** Adds `key` after `delayMs`; an earlier pending schedule for the key wins over a later one. */
  addAfter(key: string, delayMs: number): void {
    if (this.#shuttingDown) return;
    if (delayMs <= 0) {
      this.add(key);
      return;
    }
    const dueAt = Date.now() + delayMs;
    const pending = this.#scheduled.get(key);
    if (pending !== undefined && pending.dueAt <= dueAt) return;
    pending?.cancel();
    const schedule = this.options.schedule ?? unrefTimer;
    const cancel = schedule(() => {
      this.#scheduled.delete(key);
      this.add(key);
    }, delayMs);
    this.#scheduled.set(key, { cancel, dueAt });
  }

  /** Schedules a retry of `key` after its backoff; returns the delay chosen. */
  addRateLimited(key: string): number {
    const failures = (this.#failures.get(key) ?? 0) + 1;
    this.#failures.set(key, failures);
    const delay = Math.min(this.options.maxDelayMs, this.options.baseDelayMs * 2 ** (failures - 1));
    this.addAfter(key, delay);
    return delay;
  }

  /** Clears the failure count of `key` (after a success, or once the object is gone). */
  forget(key: string): void {
    this.#failures.delete(key);
  }

  failures(key: string): number {
    return this.#failures.get(key) ?? 0;
  }

  /** The next key to process, or undefined once the queue shuts down. Call `done(key)` after processing. */
  get(): Promise<string | undefined> {
    const key = this.#queue.shift();
    if (key !== undefined) return Promise.resolve(this.#take(key));
    if (this.#shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  done(key: string): void {
    this.#processing.delete(key);
    if (!this.#dirty.has(key)) return;
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) this.#hand(key, waiter);
    else this.#queue.push(key);
  }

  get length(): number {
    return this.#queue.length;
  }

  /** Stops handing out keys; waiting `get` calls resolve to undefined. */
  shutDown(): void {
    this.#shuttingDown = true;
    for (const { cancel } of this.#scheduled.values()) cancel();
    this.#scheduled.clear();
    this.#queue.length = 0;
    for (const waiter of this.#waiters.splice(0)) waiter(undefined);
  }

  #take(key: string): string {
    this.#dirty.delete(key);
    this.#processing.add(key);
    return key;
  }

  #hand(key: string, waiter: (key: string | undefined) => void): void {
    waiter(this.#take(key));
  }
}
