// The controller loop with a scripted reconciler and a clock the test steps: each test decides when a reconcile
// returns and when a delayed key comes due, so what it checks is the order of events, never elapsed time.
import { expect } from "chai";
import { Controller } from "../../../operator/src/controller/controller.ts";
import type { ReconcileResult } from "../../../operator/src/controller/reconcile.ts";
import { type Schedule, WorkQueue } from "../../../operator/src/controller/work-queue.ts";
import { createOperatorMetrics } from "../../../operator/src/metrics.ts";
import type { SentimentPipeline } from "../../../operator/src/pipeline.ts";
import { pipelineObject } from "./fake-cluster.ts";

/** Resolves the oldest waiter with each value pushed, or keeps the value until someone asks. */
class Mailbox<T> {
  readonly #values: T[] = [];
  readonly #waiters: ((value: T) => void)[] = [];

  push(value: T): void {
    const waiter = this.#waiters.shift();
    if (waiter === undefined) this.#values.push(value);
    else waiter(value);
  }

  next(): Promise<T> {
    const value = this.#values.shift();
    if (value !== undefined) return Promise.resolve(value);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  get size(): number {
    return this.#values.length;
  }
}

interface Timer {
  delayMs: number;
  cancelled: boolean;
  /** Brings the delayed key due now. */
  fire(): void;
}

/** The work queue's timers, fired only when the test says so. */
class ManualClock {
  readonly timers = new Mailbox<Timer>();
  readonly schedule: Schedule = (run, delayMs) => {
    const timer: Timer = { delayMs, cancelled: false, fire: () => !timer.cancelled && run() };
    this.timers.push(timer);
    return () => {
      timer.cancelled = true;
    };
  };
}

/** One turn of the event loop: every continuation of what has already happened has run. */
const settled = () => new Promise((resolve) => setImmediate(resolve));

interface Call {
  key: string;
  answer(result: ReconcileResult): void;
  fail(error: Error): void;
}

/** A reconciler whose every call waits until the test answers it. */
class ScriptedReconciler {
  readonly calls = new Mailbox<Call>();
  readonly #unanswered = new Set<Call>();

  reconcile(key: string): Promise<ReconcileResult> {
    return new Promise((resolve, reject) => {
      const call: Call = {
        key,
        answer: (result) => {
          this.#unanswered.delete(call);
          resolve(result);
        },
        fail: (error) => {
          this.#unanswered.delete(call);
          reject(error);
        },
      };
      this.#unanswered.add(call);
      this.calls.push(call);
    });
  }

  /** Answers every call still waiting, so a stopping controller's loops can end. */
  release(): void {
    for (const call of [...this.#unanswered]) call.answer({ kind: "forget" });
  }
}

describe("operator controller loop", function () {
  // Every wait here is on an event the test itself causes; a missing one fails fast instead of hanging.
  this.timeout(2_000);
  let clock: ManualClock;
  let queue: WorkQueue;
  let reconciler: ScriptedReconciler;
  let pipelines: Map<string, SentimentPipeline>;
  let controller: Controller<SentimentPipeline> | undefined;
  let logged: { level: string; message: string; fields: Record<string, unknown> | undefined }[];

  const start = (concurrency = 1) => {
    controller = new Controller<SentimentPipeline>({
      kind: "pipeline",
      queue,
      objects: {
        get: (name, namespace) => pipelines.get(`${namespace}/${name}`),
        list: () => [...pipelines.values()],
      },
      concurrency,
      metrics: createOperatorMetrics(),
      log: (level, message, fields) => logged.push({ level, message, fields }),
    });
    controller.startWorkers(reconciler);
  };
  const exists = (name: string) => pipelines.set(`shop/${name}`, pipelineObject({}, { name }));

  beforeEach(() => {
    clock = new ManualClock();
    queue = new WorkQueue({ baseDelayMs: 500, maxDelayMs: 300_000, schedule: clock.schedule });
    reconciler = new ScriptedReconciler();
    pipelines = new Map();
    logged = [];
    exists("reviews");
  });

  afterEach(async () => {
    const stopping = controller?.stop();
    reconciler.release();
    await stopping;
    controller = undefined;
  });

  it("reconciles every pipeline it knows when it starts", async () => {
    exists("orders");
    start(2);
    const keys = [(await reconciler.calls.next()).key, (await reconciler.calls.next()).key];
    expect(keys.sort()).to.deep.equal(["shop/orders", "shop/reviews"]);
  });

  it("reconciles a key added many times while it waits once", async () => {
    queue.add("shop/reviews");
    queue.add("shop/reviews");
    start();
    queue.add("shop/reviews");
    const call = await reconciler.calls.next();
    call.answer({ kind: "forget" });
    queue.add("shop/other");
    expect((await reconciler.calls.next()).key).to.equal("shop/other");
  });

  it("never runs two reconciles of one key at once; a change meanwhile runs it once more afterwards", async () => {
    start(2);
    const first = await reconciler.calls.next();
    queue.add("shop/reviews");
    queue.add("shop/reviews");
    await settled();
    expect(reconciler.calls.size).to.equal(0);
    first.answer({ kind: "forget" });
    const second = await reconciler.calls.next();
    expect(second.key).to.equal("shop/reviews");
    second.answer({ kind: "forget" });
    queue.add("shop/other");
    expect((await reconciler.calls.next()).key).to.equal("shop/other");
  });

  it("retries with exponential backoff, and starts the backoff afresh after a success", async () => {
    start();
    const retry: ReconcileResult = { kind: "retry", reason: "KafkaUnreachable" };
    const delays: number[] = [];
    for (const result of [retry, retry, retry, { kind: "resync", afterMs: 30_000 } as const, retry]) {
      (await reconciler.calls.next()).answer(result);
      const timer = await clock.timers.next();
      delays.push(timer.delayMs);
      timer.fire();
    }
    expect(delays).to.deep.equal([500, 1000, 2000, 30_000, 500]);
    expect(logged[0]).to.deep.include({ level: "warn", message: "reconcile will be retried" });
    expect(logged[0]?.fields).to.deep.equal({
      pipeline: "shop/reviews",
      reason: "KafkaUnreachable",
      retryInMs: 500,
    });
  });

  it("looks at a healthy pipeline again after the resync period, and forgets its failures", async () => {
    start();
    (await reconciler.calls.next()).answer({ kind: "retry", reason: "KafkaUnreachable" });
    (await clock.timers.next()).fire();
    (await reconciler.calls.next()).answer({ kind: "resync", afterMs: 30_000 });
    const resync = await clock.timers.next();
    expect(resync.delayMs).to.equal(30_000);
    expect(queue.failures("shop/reviews")).to.equal(0);
    resync.fire();
    expect((await reconciler.calls.next()).key).to.equal("shop/reviews");
  });

  it("retries nothing after a terminal result: the key waits for a change, or the resync period", async () => {
    start();
    (await reconciler.calls.next()).answer({ kind: "retry", reason: "KafkaUnreachable" });
    (await clock.timers.next()).fire();
    (await reconciler.calls.next()).answer({
      kind: "terminal",
      reason: "KafkaAuthenticationFailed",
      afterMs: 30_000,
    });
    const recheck = await clock.timers.next();
    expect(recheck.delayMs).to.equal(30_000);
    await settled();
    expect(clock.timers.size, "nothing scheduled but the resync").to.equal(0);
    expect(queue.failures("shop/reviews")).to.equal(0);
    expect(logged.at(-1)).to.deep.include({ level: "warn", message: "reconcile stopped retrying" });

    // A change (a watch event: the spec, or an object the pipeline owns) is looked at at once...
    queue.add("shop/reviews");
    const changed = await reconciler.calls.next();
    expect(changed.key).to.equal("shop/reviews");
    changed.answer({ kind: "terminal", reason: "KafkaAuthenticationFailed", afterMs: 30_000 });
    await settled();
    expect(clock.timers.size, "the pending look stands, and no retry joins it").to.equal(0);
    // ...and the periodic look still comes, for what no watch sees (a Secret fixed, Kafka changed).
    recheck.fire();
    expect((await reconciler.calls.next()).key).to.equal("shop/reviews");
  });

  it("retries a reconcile that threw while its pipeline exists, and forgets one whose pipeline is gone", async () => {
    start();
    (await reconciler.calls.next()).fail(new Error("connection reset"));
    const retry = await clock.timers.next();
    expect(retry.delayMs).to.equal(500);
    expect(logged[0]).to.deep.include({ level: "error", message: "reconcile failed" });

    retry.fire();
    const call = await reconciler.calls.next();
    pipelines.clear();
    call.fail(new Error("not found"));
    queue.add("shop/next");
    expect((await reconciler.calls.next()).key).to.equal("shop/next");
    expect(clock.timers.size).to.equal(0);
    expect(queue.failures("shop/reviews")).to.equal(0);
  });

  it("forgets a pipeline that is gone: nothing is scheduled for it", async () => {
    start();
    (await reconciler.calls.next()).answer({ kind: "forget" });
    queue.add("shop/next");
    await reconciler.calls.next();
    expect(clock.timers.size).to.equal(0);
  });

  it("waits for the reconciles in flight when it stops, and starts no more", async () => {
    start();
    const call = await reconciler.calls.next();
    let stopped = false;
    const stopping = controller?.stop().then(() => {
      stopped = true;
    });
    queue.add("shop/other");
    await settled();
    expect(stopped).to.equal(false);
    call.answer({ kind: "resync", afterMs: 30_000 });
    await stopping;
    expect(reconciler.calls.size).to.equal(0);
  });
});
