// An open circuit breaker pauses fetching, so requests wait in Kafka rather than in memory or the dead letter;
// every change of the breaker is logged and exported as a metric.
import type winston from "winston";
import type { BreakerState } from "../resilience/breaker-transitions.ts";
import type { CircuitBreaker } from "../resilience/circuit-breaker.ts";

export interface BreakerPauseDependencies {
  pause: () => void;
  resume: () => void;
  /** False once the worker drains: a breaker closing then must not start fetching again. */
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
    if (to === "closed" && deps.mayResume()) deps.resume();
  });
}
