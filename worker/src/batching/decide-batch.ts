// When the batcher closes a batch and how big, as a pure function of its queue and the time, so every policy
// (size, wait, model threads) is tested without timers.
export interface BatchPolicy {
  /** A batch closes at this many inputs. 1 disables batching. */
  maxSize: number;
  /** A batch closes this long after its first input arrived; 0 means take what is queued, never wait. */
  maxWaitMs: number;
  /** Batches the model runs side by side (its threads): what closes at once is shared out among the idle ones. */
  parallel: number;
  /** Batches handed to the model at once, running or waiting for a thread; more queue up (and so grow towards
   * maxSize while the model is busy). */
  maxInFlight: number;
}

export interface BatchQueueState {
  queued: number;
  /** Arrival time (ms) of the oldest queued input; ignored when nothing is queued. */
  oldestArrivedAt: number;
  inFlight: number;
}

export type BatchDecision =
  | { kind: "dispatch"; sizes: number[] }
  | { kind: "wait"; ms: number }
  | { kind: "idle" };

/**
 * What the batcher does next at time `now`: run batches of the given sizes, look again in `ms`, or wait for an
 * event. Inputs that close together are split evenly over the idle threads, so a light load is not run by one
 * thread while the other waits; under a heavy load every batch is full anyway.
 */
export function decideBatch(state: BatchQueueState, now: number, policy: BatchPolicy): BatchDecision {
  if (state.queued === 0 || state.inFlight >= policy.maxInFlight) return { kind: "idle" };
  const waited = now - state.oldestArrivedAt;
  if (state.queued < policy.maxSize && waited < policy.maxWaitMs) {
    return { kind: "wait", ms: policy.maxWaitMs - waited };
  }
  const idle = Math.max(1, Math.min(policy.parallel, policy.maxInFlight) - state.inFlight);
  const taken = Math.min(state.queued, policy.maxSize * idle);
  const batches = Math.min(idle, taken);
  return {
    kind: "dispatch",
    sizes: Array.from({ length: batches }, (_, i) => Math.floor((taken + i) / batches)).reverse(),
  };
}
