import { expect } from "chai";
import { backoffDelayMs } from "../../../worker/src/resilience/backoff.ts";
import { afterOutcome, atTime, closedBreaker } from "../../../worker/src/resilience/breaker-transitions.ts";
import { CircuitBreaker } from "../../../worker/src/resilience/circuit-breaker.ts";
import { runWithRetry } from "../../../worker/src/resilience/retry.ts";
import { ManualTimers } from "./manual-timers.ts";

const backoff = { initialBackoffMs: 100, maxBackoffMs: 1000 };

describe("backoffDelayMs", () => {
  it("doubles each attempt, caps at the maximum, and keeps jitter within the upper half of the step", () => {
    expect([1, 2, 3, 4, 5].map((a) => backoffDelayMs(a, backoff, () => 0))).to.deep.equal([
      50, 100, 200, 400, 500,
    ]);
    expect([1, 2, 3, 4, 5].map((a) => backoffDelayMs(a, backoff, () => 0.999999))).to.deep.equal([
      100, 200, 400, 800, 1000,
    ]);
  });
});

describe("circuit breaker transitions", () => {
  const policy = { failureThreshold: 3, resetTimeoutMs: 1000 };
  it("opens after the threshold of consecutive failures, not before", () => {
    let breaker = closedBreaker;
    breaker = afterOutcome(breaker, "failure", 0, policy);
    breaker = afterOutcome(breaker, "failure", 0, policy);
    expect(breaker.state).to.equal("closed");
    breaker = afterOutcome(breaker, "failure", 10, policy);
    expect(breaker).to.deep.equal({ state: "open", consecutiveFailures: 3, retryAt: 1010 });
  });
  it("a success resets the count", () => {
    let breaker = afterOutcome(closedBreaker, "failure", 0, policy);
    breaker = afterOutcome(breaker, "failure", 0, policy);
    breaker = afterOutcome(breaker, "success", 0, policy);
    expect(afterOutcome(breaker, "failure", 0, policy).state).to.equal("closed");
  });
  it("turns half-open after the reset timeout; a failed trial reopens, a good one closes", () => {
    const open = { state: "open" as const, consecutiveFailures: 3, retryAt: 1000 };
    expect(atTime(open, 999).state).to.equal("open");
    const halfOpen = atTime(open, 1000);
    expect(halfOpen.state).to.equal("half-open");
    expect(afterOutcome(halfOpen, "failure", 1000, policy)).to.deep.equal({
      state: "open",
      consecutiveFailures: 4,
      retryAt: 2000,
    });
    expect(afterOutcome(halfOpen, "success", 1000, policy)).to.deep.equal(closedBreaker);
  });
});

/** A breaker on manual timers; retry sleeps are recorded, and nothing fires until the test advances. */
function fakeTime(failureThreshold = 3) {
  const timers = new ManualTimers();
  const sleeps: number[] = [];
  const sleep = (ms: number) => {
    sleeps.push(ms);
    return timers.sleep(ms);
  };
  const breaker = new CircuitBreaker({ failureThreshold, resetTimeoutMs: 5000 }, timers);
  const transitions: string[] = [];
  breaker.onChange((from, to) => transitions.push(`${from}->${to}`));
  return { breaker, transitions, sleeps, sleep, timers };
}

/** Runs `work` to its end, moving the manual clock on as far as it waits. */
async function driven<T>(timers: ManualTimers, work: Promise<T>): Promise<T> {
  let done = false;
  const finished = work.finally(() => {
    done = true;
  });
  while (!done) await timers.advance(1_000);
  return finished;
}

describe("CircuitBreaker", () => {
  it("turns half-open when its reset timeout passes with nobody asking, and says so to its listeners", async () => {
    const { breaker, transitions, timers } = fakeTime(1);
    breaker.record("failure");
    await timers.advance(4_999);
    expect(transitions).to.deep.equal(["closed->open"]);
    await timers.advance(1);
    expect(transitions).to.deep.equal(["closed->open", "open->half-open"]);
    expect(breaker.state).to.equal("half-open");
  });

  it("is not moved by reading its state: only its own timer opens the trial", () => {
    const { breaker, transitions, timers } = fakeTime(1);
    breaker.record("failure");
    timers.now = 60_000;
    expect(breaker.state).to.equal("open");
    expect(transitions).to.deep.equal(["closed->open"]);
  });

  it("holds permit() while open and lets it through at half-open; a failed trial waits a full timeout again", async () => {
    const { breaker, transitions, timers } = fakeTime(1);
    breaker.record("failure");
    let permitted = 0;
    void breaker.permit().then(() => permitted++);
    await timers.advance(4_000);
    expect(permitted).to.equal(0);
    await timers.advance(1_000);
    expect(permitted).to.equal(1);
    breaker.record("failure");
    await timers.advance(4_999);
    expect(transitions).to.deep.equal(["closed->open", "open->half-open", "half-open->open"]);
    await timers.advance(1);
    expect(breaker.state).to.equal("half-open");
  });
});

const upper = async (items: string[]) => items.map((item) => item.toUpperCase());

describe("runWithRetry", () => {
  const policy = { maxAttempts: 3, ...backoff };

  it("returns one outcome per input in order on success, each after one attempt", async () => {
    const { breaker, sleep } = fakeTime();
    const outcomes = await runWithRetry(["a", "b"], upper, { breaker, policy, sleep });
    expect(outcomes).to.deep.equal([
      { ok: true, result: "A", attempts: 1 },
      { ok: true, result: "B", attempts: 1 },
    ]);
  });

  it("isolates a poison input: batchmates succeed at once, the poison is retried then given up", async () => {
    const { breaker, sleep, sleeps, transitions, timers } = fakeTime();
    const calls: string[][] = [];
    const run = async (items: string[]) => {
      calls.push(items);
      if (items.includes("poison")) throw new Error("bad input");
      return upper(items);
    };
    let retried = 0;
    const outcomes = await driven(
      timers,
      runWithRetry(["a", "poison", "b"], run, {
        breaker,
        policy,
        sleep,
        random: () => 0,
        onRetry: (n) => {
          retried += n;
        },
      }),
    );
    expect(outcomes[0]).to.deep.equal({ ok: true, result: "A", attempts: 1 });
    expect(outcomes[2]).to.deep.equal({ ok: true, result: "B", attempts: 1 });
    expect(outcomes[1]).to.include({ ok: false, attempts: 3 });
    expect(calls.filter((c) => c.length === 1 && c[0] === "poison")).to.have.length(3);
    expect(sleeps).to.deep.equal([50, 100]);
    expect(retried).to.equal(2);
    expect(transitions).to.deep.equal(
      [],
      "a lone poison input below the threshold does not open the breaker",
    );
  });

  it("treats an outage as the model's failure: opens the breaker, uses no attempts, recovers when it heals", async () => {
    const { breaker, sleep, transitions, timers } = fakeTime(2);
    let healthy = false;
    let runs = 0;
    const run = async (items: string[]) => {
      runs++;
      // Two rounds of four runs (batch + three isolated) fail; the half-open trial is the ninth run.
      if (runs >= 9) healthy = true;
      if (!healthy) throw new Error("model down");
      return upper(items);
    };
    const outcomes = await driven(
      timers,
      runWithRetry(["a", "b", "c"], run, { breaker, policy, sleep, random: () => 0 }),
    );
    expect(outcomes.every((o) => o.ok)).to.equal(true, "nothing is given up during an outage");
    expect(transitions).to.deep.equal(["closed->open", "open->half-open", "half-open->closed"]);
  });

  it("gives up, before the run, an input that expired while it waited; the others run", async () => {
    const { breaker, sleep, timers } = fakeTime(1);
    const calls: string[][] = [];
    // Down at first: the batch and each input alone fail, the breaker opens, and the clock moves on.
    const run = async (items: string[]) => {
      calls.push(items);
      if (timers.now === 0) throw new Error("model down");
      return upper(items);
    };
    const outcomes = await driven(
      timers,
      runWithRetry(["late", "b"], run, {
        breaker,
        policy,
        sleep,
        expired: (item) => item === "late" && timers.now > 0,
      }),
    );
    expect(calls).to.deep.equal([["late", "b"], ["late"], ["b"], ["b"]]);
    expect(outcomes[0]).to.include({ ok: false, attempts: 0, expired: true });
    expect(outcomes[1]).to.deep.equal({ ok: true, result: "B", attempts: 1 });
  });

  it("treats a wrong result count as a failure: exactly one result per input", async () => {
    const { breaker, sleep } = fakeTime();
    const outcomes = await runWithRetry(["a"], async () => [], {
      breaker,
      policy: { ...policy, maxAttempts: 1 },
      sleep,
    });
    expect(outcomes).to.have.length(1);
    expect(outcomes[0]?.ok).to.equal(false);
    expect(outcomes[0]?.ok === false && outcomes[0].error.message).to.match(
      /returned 0 results for 1 inputs/,
    );
  });
});
