// The controller loop: takes pipeline keys from the work queue (watches.ts fills it) and runs reconciles, a few
// at a time, never two for one key, and does with each key what its reconcile's result says: look again after
// the resync period, retry with backoff, stop retrying until something changes, or forget it.
import type { ObjectCache } from "@kubernetes/client-node";
import type { OperatorMetrics } from "../metrics.ts";
import type { SentimentPipeline } from "../pipeline.ts";
import type { ReconcileResult, Reconciler } from "./reconcile.ts";
import { keyOf } from "./watches.ts";
import type { WorkQueue } from "./work-queue.ts";

export interface ControllerOptions {
  queue: WorkQueue;
  /** Which pipelines exist: the keys to start with, and whether a failed reconcile's pipeline is gone. */
  pipelines: Pick<ObjectCache<SentimentPipeline>, "get" | "list">;
  concurrency: number;
  metrics: Pick<OperatorMetrics, "reconciles" | "reconcileDuration" | "queueDepth">;
  log: (level: "warn" | "error", message: string, fields?: Record<string, unknown>) => void;
}

export class Controller {
  #workers: Promise<void>[] = [];

  constructor(private readonly options: ControllerOptions) {}

  /** Queues every known pipeline and runs `concurrency` reconcile loops until stop(). */
  startWorkers(reconciler: Pick<Reconciler, "reconcile">): void {
    for (const pipeline of this.options.pipelines.list()) this.options.queue.add(keyOf(pipeline));
    for (let i = 0; i < this.options.concurrency; i++) this.#workers.push(this.#work(reconciler));
  }

  async #work(reconciler: Pick<Reconciler, "reconcile">): Promise<void> {
    const { queue, metrics, log } = this.options;
    for (;;) {
      const key = await queue.get();
      if (key === undefined) return;
      metrics.queueDepth.set(queue.length);
      const stopTimer = metrics.reconcileDuration.startTimer();
      try {
        this.#settle(key, await reconciler.reconcile(key));
      } catch (error) {
        if (this.#gone(key)) {
          // Deleted while it was being reconciled: the failure was about an object that no longer exists.
          this.#settle(key, { kind: "forget" });
          continue;
        }
        metrics.reconciles.inc({ result: "error" });
        const delay = queue.addRateLimited(key);
        log("error", "reconcile failed", { pipeline: key, retryInMs: delay, error: String(error) });
      } finally {
        stopTimer();
        queue.done(key);
      }
    }
  }

  #gone(key: string): boolean {
    const [namespace = "", name = ""] = key.split("/");
    return this.options.pipelines.get(name, namespace) === undefined;
  }

  #settle(key: string, result: ReconcileResult): void {
    const { queue, metrics, log } = this.options;
    metrics.reconciles.inc({ result: result.kind });
    switch (result.kind) {
      case "forget":
        queue.forget(key);
        return;
      case "resync":
        queue.forget(key);
        queue.addAfter(key, result.afterMs);
        return;
      case "retry": {
        const delay = queue.addRateLimited(key);
        log("warn", "reconcile will be retried", { pipeline: key, reason: result.reason, retryInMs: delay });
        return;
      }
      case "terminal":
        // The backoff ends here: a later transient failure starts it afresh.
        queue.forget(key);
        queue.addAfter(key, result.afterMs);
        log("warn", "reconcile stopped retrying", {
          pipeline: key,
          reason: result.reason,
          lookAgainInMs: result.afterMs,
        });
        return;
    }
  }

  /** Stops handing out work and waits for the reconciles in flight. */
  async stop(): Promise<void> {
    this.options.queue.shutDown();
    await Promise.all(this.#workers);
  }
}
