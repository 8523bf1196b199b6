// The clock and timers as a dependency: the worker runs on the real ones, and unit tests run what falls due
// themselves, in the order they choose, instead of sleeping.
import { setTimeout as sleep } from "node:timers/promises";

/** Runs `run` after `ms`; the returned function cancels it. */
export type Schedule = (run: () => void, ms: number) => () => void;

export interface Timers {
  /** Wall-clock time, epoch ms. */
  clock: () => number;
  sleep: (ms: number) => Promise<unknown>;
  schedule: Schedule;
}

export const realTimers: Timers = {
  clock: Date.now,
  sleep,
  schedule: (run, ms) => {
    const timer = setTimeout(run, ms);
    return () => clearTimeout(timer);
  },
};
