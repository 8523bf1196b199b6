// An open circuit breaker pauses fetching, so requests wait in Kafka rather than in memory or the dead letter; a
// half-open one fetches again, so there is always a trial to run even when every input in memory has been
// dead-lettered (the consume loop's back-pressure keeps that fetch to a trial's size). Every change of the
// breaker is logged and exported as a metric.
import type winston from "winston";
import type { BreakerState } from "../resilience/breaker-transitions.ts";
import type { CircuitBreaker } from "../resilience/circuit-breaker.ts";

export interface BreakerPauseDependencies {
  pause: () => void;
  resume: () => void;
  /** False once the worker stopped consuming (draining, or a write failed): the breaker must not restart it. */
  mayResume: () => boolean;
  recordBreaker: (state: BreakerState) => void;
  logger: Pick<winston.Logger, "warn">;
}

export function pauseWhileBreakerOpen(
  breaker: Pick<CircuitBreaker, "onChange">,
  deps: BreakerPauseDependencies,
): void {
  breaker.onChange((from, to) => {
    deps.recordBreaker(to);
    deps.logger.warn("circuit breaker changed state", { from, to });
    if (to === "open") deps.pause();
    else if (from === "open" && deps.mayResume()) deps.resume();
  });
}
