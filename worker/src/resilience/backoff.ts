// The delay between tries, shared by inference retries and the producers' reconnects and resends, so every retry
// loop in the worker backs off the same way.
export interface BackoffPolicy {
  initialBackoffMs: number;
  maxBackoffMs: number;
}

/**
 * Delay before retry number `attempt` (1 = the first retry): exponential growth capped at maxBackoffMs, with
 * "equal jitter" — half the step is fixed so delays still grow, half is random so retrying workers spread out.
 * `random` returns a number in [0, 1).
 */
export function backoffDelayMs(
  attempt: number,
  policy: BackoffPolicy,
  random: () => number = Math.random,
): number {
  const step = Math.min(policy.maxBackoffMs, policy.initialBackoffMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(step / 2 + random() * (step / 2));
}
