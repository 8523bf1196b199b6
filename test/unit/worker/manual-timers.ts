// Timers for unit tests of the worker: nothing fires until the test moves the clock, so a test sets the order of
// events instead of sleeping and asserting on the wall clock.
import type { Schedule, Timers } from "../../../worker/src/timers.ts";

interface Due {
  at: number;
  run: () => void;
}

export class ManualTimers implements Timers {
  now = 0;
  readonly #due: Due[] = [];

  readonly clock = (): number => this.now;

  readonly sleep = (ms: number): Promise<void> =>
    new Promise<void>((resolve) => {
      this.#add(ms, resolve);
    });

  readonly schedule: Schedule = (run, ms) => {
    const due = this.#add(ms, run);
    return () => {
      const index = this.#due.indexOf(due);
      if (index >= 0) this.#due.splice(index, 1);
    };
  };

  /** Delays of the timers and sleeps waiting to fire, soonest first. */
  get pending(): number[] {
    return this.#due.map((due) => due.at - this.now).sort((a, b) => a - b);
  }

  /** Moves the clock on by `ms`, firing what falls due in time order and letting each one's work settle. */
  async advance(ms: number): Promise<void> {
    const until = this.now + ms;
    for (;;) {
      await settle();
      const next = this.#due.filter((due) => due.at <= until).sort((a, b) => a.at - b.at)[0];
      if (next === undefined) break;
      this.#due.splice(this.#due.indexOf(next), 1);
      this.now = next.at;
      next.run();
    }
    this.now = until;
  }

  #add(ms: number, run: () => void): Due {
    const due = { at: this.now + ms, run };
    this.#due.push(due);
    return due;
  }
}

/** Lets every callback already queued run (promises, setImmediate), and whatever those queue in turn. */
export async function settle(turns = 10): Promise<void> {
  for (let turn = 0; turn < turns; turn++) await new Promise((resolve) => setImmediate(resolve));
}
