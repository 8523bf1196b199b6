// Fetching follows the circuit breaker: paused while open, let through for a trial at half-open, paused again
// when the trial fails, and never resumed once the worker no longer consumes.
import { expect } from "chai";
import { pauseWhileBreakerOpen } from "../../../worker/src/consume/breaker-pause.ts";
import { CircuitBreaker } from "../../../worker/src/resilience/circuit-breaker.ts";
import { ManualTimers } from "./manual-timers.ts";

function setUp() {
  const timers = new ManualTimers();
  const breaker = new CircuitBreaker({ failureThreshold: 1, resetTimeoutMs: 1_000 }, timers);
  const fetching: string[] = [];
  const consuming = { value: true };
  pauseWhileBreakerOpen(breaker, {
    pause: () => fetching.push("pause"),
    resume: () => fetching.push("resume"),
    mayResume: () => consuming.value,
    recordBreaker: () => {},
    logger: { warn: () => undefined } as never,
  });
  return { timers, breaker, fetching, consuming };
}

describe("pauseWhileBreakerOpen", () => {
  it("resumes fetching at half-open so a trial can be fetched, pauses on a failed trial, stays resumed on success", async () => {
    const { timers, breaker, fetching } = setUp();
    breaker.record("failure");
    expect(fetching).to.deep.equal(["pause"]);
    await timers.advance(1_000);
    expect(fetching).to.deep.equal(["pause", "resume"], "half-open fetches a trial");
    breaker.record("failure");
    expect(fetching).to.deep.equal(["pause", "resume", "pause"]);
    await timers.advance(1_000);
    breaker.record("success");
    expect(fetching).to.deep.equal(["pause", "resume", "pause", "resume"]);
    expect(breaker.state).to.equal("closed");
  });

  it("never resumes fetching for a worker that stopped consuming", async () => {
    const { timers, breaker, fetching, consuming } = setUp();
    breaker.record("failure");
    consuming.value = false;
    await timers.advance(1_000);
    breaker.record("success");
    expect(fetching).to.deep.equal(["pause"]);
  });
});
