// How far fetching may run ahead of the model and the writes. kafkajs fetches a partition again only once eachBatch
// returns, so returning at hand-off overlaps the next fetch with this one's work; past a limit eachBatch waits for
// room instead, heartbeating all the while.
import type { Schedule } from "../timers.ts";

/** Handed-off messages above which eachBatch holds kafkajs's next fetch back (raised for large batches). */
const minUnacknowledged = 1024;

/** Enough handed-off work to keep the model busy while the next fetch is on its way, and no more in memory. */
export function fetchAheadLimit(batchMaxSize: number, modelThreads: number): number {
  return Math.max(minUnacknowledged, 4 * batchMaxSize * modelThreads);
}

export class BackPressure {
  readonly #mustWait: () => boolean;
  readonly #heartbeatIntervalMs: number;
  readonly #schedule: Schedule;
  readonly #waiters = new Set<() => void>();

  /** `mustWait` says whether to go on holding the fetch back: too much in memory, and still consuming. */
  constructor(mustWait: () => boolean, heartbeatIntervalMs: number, schedule: Schedule) {
    this.#mustWait = mustWait;
    this.#heartbeatIntervalMs = heartbeatIntervalMs;
    this.#schedule = schedule;
  }

  /**
   * Heartbeats, then waits while `mustWait` holds. kafkajs heartbeats only between batches, so the wait for room
   * heartbeats itself: the member stays in the group however long its model takes, and a rebalance (heartbeat
   * throws) is joined at once instead of after the work in memory is done.
   */
  async waitForRoom(heartbeat: () => Promise<void>): Promise<void> {
    await heartbeat();
    while (this.#mustWait()) {
      await this.#wokenOrTimeout();
      await heartbeat();
    }
  }

  /** Every waiter looks again: a handed-off batch finished, or fetching stopped. */
  wake(): void {
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const wake of waiters) wake();
  }

  /** Resolves at the next wake(), or after a heartbeat interval. */
  #wokenOrTimeout(): Promise<void> {
    return new Promise<void>((resolve) => {
      const wake = () => {
        cancel();
        resolve();
      };
      const cancel = this.#schedule(() => {
        this.#waiters.delete(wake);
        resolve();
      }, this.#heartbeatIntervalMs);
      this.#waiters.add(wake);
    });
  }
}
