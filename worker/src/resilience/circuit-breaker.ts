// The circuit breaker around model runs: the pure transitions of breaker-transitions.ts plus a clock, a timer that
// turns an open breaker half-open when its timeout passes, and listeners (the consume loop pauses fetching while
// it is open and fetches a trial when it turns half-open).

import { realTimers, type Timers } from "../timers.ts";
import {
  afterOutcome,
  atTime,
  type BreakerPolicy,
  type BreakerSnapshot,
  type BreakerState,
  closedBreaker,
} from "./breaker-transitions.ts";

export type BreakerListener = (from: BreakerState, to: BreakerState) => void;

export class CircuitBreaker {
  #snapshot: BreakerSnapshot = closedBreaker;
  readonly #policy: BreakerPolicy;
  readonly #clock: () => number;
  readonly #schedule: Timers["schedule"];
  readonly #listeners: BreakerListener[] = [];
  /** Runs waiting for an open breaker to let them through. */
  readonly #permits: (() => void)[] = [];
  #cancelTrialTimer: () => void = () => {};

  constructor(policy: BreakerPolicy, time: Pick<Timers, "clock" | "schedule"> = realTimers) {
    this.#policy = policy;
    this.#clock = time.clock;
    this.#schedule = time.schedule;
  }

  onChange(listener: BreakerListener): void {
    this.#listeners.push(listener);
  }

  /**
   * The state as of the last transition. Reading it changes nothing: the breaker's own timer turns it half-open,
   * so a probe reading it cannot start a trial, and a trial starts even when nobody reads it.
   */
  get state(): BreakerState {
    return this.#snapshot.state;
  }

  /** Resolves when a run may start: at once unless the breaker is open, else when it turns half-open. */
  permit(): Promise<void> {
    if (this.#snapshot.state !== "open") return Promise.resolve();
    return new Promise<void>((resolve) => this.#permits.push(resolve));
  }

  record(outcome: "success" | "failure"): void {
    this.#advance(afterOutcome(this.#snapshot, outcome, this.#clock(), this.#policy));
  }

  #advance(next: BreakerSnapshot): void {
    const from = this.#snapshot.state;
    this.#snapshot = next;
    this.#cancelTrialTimer();
    if (next.state === "open") {
      this.#cancelTrialTimer = this.#schedule(
        () => this.#advance(atTime(this.#snapshot, this.#clock())),
        Math.max(0, next.retryAt - this.#clock()),
      );
    }
    if (next.state === from) return;
    for (const listener of this.#listeners) listener(from, next.state);
    if (from === "open") for (const permit of this.#permits.splice(0)) permit();
  }
}
