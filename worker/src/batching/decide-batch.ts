export interface BatchPolicy {
  /** A batch closes at this many inputs. 1 disables batching. */
  maxSize: number;
  /** A batch closes this long after its first input arrived; 0 means take what is queued, never wait. */
  maxWaitMs: number;
  /** Batches run at once; more queue up (and so grow towards maxSize while the model is busy). */
  maxInFlight: number;
}

export interface BatchQueueState {
  queued: number;
  /** Arrival time (ms) of the oldest queued input; ignored when nothing is queued. */
  oldestArrivedAt: number;
  inFlight: number;
}

export type BatchDecision =
  | { kind: "dispatch"; size: number }
  | { kind: "wait"; ms: number }
  | { kind: "idle" };

/** What the batcher does next at time `now`: run a batch of `size`, look again in `ms`, or wait for an event. */
export function decideBatch(state: BatchQueueState, now: number, policy: BatchPolicy): BatchDecision {
  if (state.queued === 0 || state.inFlight >= policy.maxInFlight) return { kind: "idle" };
  const waited = now - state.oldestArrivedAt;
  if (state.queued >= policy.maxSize || waited >= policy.maxWaitMs) {
    return { kind: "dispatch", size: Math.min(state.queued, policy.maxSize) };
  }
  return { kind: "wait", ms: policy.maxWaitMs - waited };
}
