// The circuit breaker around model runs: the pure transitions of breaker-transitions.ts plus a clock, waiting
// for an open breaker to turn half-open, and listeners (the consume loop pauses fetching while it is open).

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
  readonly #sleep: (ms: number) => Promise<unknown>;
  readonly #listeners: BreakerListener[] = [];

  constructor(policy: BreakerPolicy, time: Pick<Timers, "clock" | "sleep"> = realTimers) {
    this.#policy = policy;
    this.#clock = time.clock;
    this.#sleep = time.sleep;
  }

  onChange(listener: BreakerListener): void {
    this.#listeners.push(listener);
  }

  get state(): BreakerState {
    this.#advance(atTime(this.#snapshot, this.#clock()));
    return this.#snapshot.state;
  }

  /** Resolves when a run may start: at once unless the breaker is open, else when it turns half-open. */
  async permit(): Promise<void> {
    while (this.state === "open") await this.#sleep(Math.max(1, this.#snapshot.retryAt - this.#clock()));
  }

  record(outcome: "success" | "failure"): void {
    const now = this.#clock();
    this.#advance(afterOutcome(atTime(this.#snapshot, now), outcome, now, this.#policy));
  }

  #advance(next: BreakerSnapshot): void {
    const from = this.#snapshot.state;
    this.#snapshot = next;
    if (next.state !== from) for (const listener of this.#listeners) listener(from, next.state);
  }
}
