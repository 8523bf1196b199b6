import { expect } from "chai";
import { WorkerHealth } from "../../../worker/src/health/worker-health.ts";
import type { BreakerState } from "../../../worker/src/resilience/breaker-transitions.ts";

function setUp() {
  const breaker: { state: BreakerState } = { state: "closed" };
  return { breaker, health: new WorkerHealth(breaker) };
}

describe("WorkerHealth", () => {
  it("is live but not ready until the consumer joins its group", () => {
    const { health } = setUp();
    expect([health.live(), health.ready()]).to.deep.equal([true, false]);
    health.joinedGroup();
    expect([health.live(), health.ready()]).to.deep.equal([true, true]);
  });

  it("leaves readiness, staying live, until a trial closes the breaker: open and half-open are not ready", () => {
    const { health, breaker } = setUp();
    health.joinedGroup();
    breaker.state = "open";
    expect([health.live(), health.ready()]).to.deep.equal([true, false]);
    breaker.state = "half-open";
    expect([health.live(), health.ready()]).to.deep.equal([true, false]);
    breaker.state = "closed";
    expect(health.ready()).to.equal(true);
  });

  it("stays live through a crash kafkajs restarts from, but not ready until the group is joined again", () => {
    const { health } = setUp();
    health.joinedGroup();
    health.consumerCrashed(true);
    expect([health.live(), health.ready()]).to.deep.equal([true, false]);
    health.joinedGroup();
    expect(health.ready()).to.equal(true);
  });

  it("fails liveness after a crash kafkajs will not restart from", () => {
    const { health } = setUp();
    health.joinedGroup();
    health.consumerCrashed(false);
    expect([health.live(), health.ready()]).to.deep.equal([false, false]);
  });

  it("fails liveness for good once a write failed, keeping the first failure", () => {
    const { health } = setUp();
    health.joinedGroup();
    const first = new Error("refused");
    health.writesFailed(first);
    health.writesFailed(new Error("later"));
    expect(health.live()).to.equal(false);
    expect(health.failure).to.equal(first);
  });

  it("leaves readiness, and only readiness, when a graceful stop begins", () => {
    const { health } = setUp();
    health.joinedGroup();
    health.beginStopping();
    expect([health.live(), health.ready(), health.stopping]).to.deep.equal([true, false, true]);
  });
});
