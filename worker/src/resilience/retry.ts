// Inference with retries: which inputs of a batch to run again, how long to wait, and when a failure is the
// model's (counted by the breaker) rather than one input's (counted against its attempts).
import { type BackoffPolicy, backoffDelayMs } from "./backoff.ts";
import type { CircuitBreaker } from "./circuit-breaker.ts";

export interface RetryPolicy extends BackoffPolicy {
  /** Attempts per input before it is given up on (1 = no retry). */
  maxAttempts: number;
}

export type RunOutcome<R> =
  | { ok: true; result: R; attempts: number }
  /** `expired`: given up before a run because the input's deadline passed while it waited. */
  | { ok: false; error: Error; attempts: number; expired?: true };

export interface RetryDependencies<T> {
  breaker: CircuitBreaker;
  policy: RetryPolicy;
  sleep: (ms: number) => Promise<unknown>;
  random?: () => number;
  /** Called with the number of inputs about to be retried. */
  onRetry?: (inputs: number) => void;
  /** Whether an input is no longer wanted; asked just before each run, after any backoff or breaker wait. */
  expired?: (item: T) => boolean;
}

async function runChecked<T, R>(run: (items: T[]) => Promise<R[]>, items: T[]): Promise<R[]> {
  const results = await run(items);
  if (results.length !== items.length) {
    throw new Error(`the model returned ${results.length} results for ${items.length} inputs`);
  }
  return results;
}

/**
 * Runs `items` through `run` (one result per input, in order) in rounds until each has a result or has used its
 * attempts; returns exactly one outcome per input, in input order.
 *
 * A failed batch is isolated: each input runs alone, so one poison input cannot fail its batchmates. A round in
 * which several inputs all failed while the breaker was closed is taken as a failure of the model, not of the
 * inputs: it counts against the breaker but uses no attempts, so an outage opens the breaker (and pauses
 * consumption) instead of flooding the dead letter. Rounds alone or during the breaker's half-open trial use an
 * attempt, which bounds how long any input is held. An input `expired` says is no longer wanted is given up
 * before the run instead of run.
 */
export async function runWithRetry<T, R>(
  items: T[],
  run: (items: T[]) => Promise<R[]>,
  deps: RetryDependencies<T>,
): Promise<RunOutcome<R>[]> {
  const outcomes: RunOutcome<R>[] = new Array(items.length);
  const attempts = new Array<number>(items.length).fill(0);
  let pending = items.map((_, index) => index);
  for (let round = 1; pending.length > 0; round++) {
    await deps.breaker.permit();
    pending = pending.filter((index) => {
      if (deps.expired?.(items[index] as T) !== true) return true;
      const error = new Error("the deadline passed before the model could run");
      outcomes[index] = { ok: false, error, attempts: attempts[index] ?? 0, expired: true };
      return false;
    });
    if (pending.length === 0) break;
    const trial = deps.breaker.state === "half-open";
    const failures = new Map<number, Error>();
    try {
      const results = await runChecked(
        run,
        pending.map((index) => items[index] as T),
      );
      pending.forEach((index, position) => {
        outcomes[index] = { ok: true, result: results[position] as R, attempts: (attempts[index] ?? 0) + 1 };
      });
    } catch (batchError) {
      if (pending.length === 1) failures.set(pending[0] as number, asError(batchError));
      else {
        for (const index of pending) {
          try {
            const [result] = await runChecked(run, [items[index] as T]);
            outcomes[index] = { ok: true, result: result as R, attempts: (attempts[index] ?? 0) + 1 };
          } catch (error) {
            failures.set(index, asError(error));
          }
        }
      }
    }
    const anySucceeded = failures.size < pending.length;
    deps.breaker.record(anySucceeded ? "success" : "failure");
    const modelFailure = !anySucceeded && pending.length > 1 && !trial;
    const retrying: number[] = [];
    for (const [index, error] of failures) {
      if (!modelFailure) attempts[index] = (attempts[index] ?? 0) + 1;
      const used = attempts[index] ?? 0;
      if (used >= deps.policy.maxAttempts) outcomes[index] = { ok: false, error, attempts: used };
      else retrying.push(index);
    }
    pending = retrying;
    if (pending.length > 0) {
      deps.onRetry?.(pending.length);
      await deps.sleep(backoffDelayMs(round, deps.policy, deps.random));
    }
  }
  return outcomes;
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
