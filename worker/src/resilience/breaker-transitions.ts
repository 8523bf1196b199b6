// The circuit breaker's states and transitions as pure functions of a snapshot, the outcome and the time, so every
// transition is tested without timers; circuit-breaker.ts holds the clock and the listeners.
export type BreakerState = "closed" | "open" | "half-open";

export interface BreakerPolicy {
  /** Consecutive failures that open the breaker. */
  failureThreshold: number;
  /** How long the breaker stays open before one trial is let through. */
  resetTimeoutMs: number;
}

export interface BreakerSnapshot {
  state: BreakerState;
  consecutiveFailures: number;
  /** When an open breaker lets a trial through (epoch ms); meaningful only while open. */
  retryAt: number;
}

export const closedBreaker: BreakerSnapshot = { state: "closed", consecutiveFailures: 0, retryAt: 0 };

/** The breaker after an outcome at time `now`. */
export function afterOutcome(
  breaker: BreakerSnapshot,
  outcome: "success" | "failure",
  now: number,
  policy: BreakerPolicy,
): BreakerSnapshot {
  if (outcome === "success") return closedBreaker;
  const consecutiveFailures = breaker.consecutiveFailures + 1;
  // A failed trial reopens at once; a closed breaker opens at the threshold.
  if (breaker.state === "half-open" || consecutiveFailures >= policy.failureThreshold) {
    return { state: "open", consecutiveFailures, retryAt: now + policy.resetTimeoutMs };
  }
  return { state: "closed", consecutiveFailures, retryAt: 0 };
}

/** An open breaker whose timeout has passed becomes half-open: the next run is the trial. */
export function atTime(breaker: BreakerSnapshot, now: number): BreakerSnapshot {
  return breaker.state === "open" && now >= breaker.retryAt ? { ...breaker, state: "half-open" } : breaker;
}
