// The controller loop of one kind (pipelines, replays): takes keys from the kind's work queue (watches.ts fills
// it) and runs reconciles, a few at a time, never two for one key, and does with each key what its reconcile's
// result says: look again after the resync period (or at once), retry with backoff, stop retrying until
// something changes, or forget it.
import type { KubernetesObject, ObjectCache } from "@kubernetes/client-node";
import type { OperatorMetrics } from "../metrics.ts";
import type { ReconcileResult } from "./reconcile.ts";
import { keyOf } from "./watches.ts";
import type { WorkQueue } from "./work-queue.ts";

export interface ControllerOptions<T extends KubernetesObject> {
  /** The kind's short name, e.g. "pipeline": the log field that names a key, and the metrics' kind label. */
  kind: string;
  queue: WorkQueue;
  /** Which objects exist: the keys to start with, and whether a failed reconcile's object is gone. */
  objects: Pick<ObjectCache<T>, "get" | "list">;
  concurrency: number;
  metrics: Pick<OperatorMetrics, "reconciles" | "reconcileDuration" | "queueDepth">;
  log: (level: "warn" | "error", message: string, fields?: Record<string, unknown>) => void;
}

export interface KeyReconciler {
  reconcile(key: string): Promise<ReconcileResult>;
}

export class Controller<T extends KubernetesObject> {
  #workers: Promise<void>[] = [];

  constructor(private readonly options: ControllerOptions<T>) {}

  /** Queues every known object and runs `concurrency` reconcile loops until stop(). */
  startWorkers(reconciler: KeyReconciler): void {
    for (const object of this.options.objects.list()) this.options.queue.add(keyOf(object));
    for (let i = 0; i < this.options.concurrency; i++) this.#workers.push(this.#work(reconciler));
  }

  async #work(reconciler: KeyReconciler): Promise<void> {
    const { kind, queue, metrics, log } = this.options;
    for (;;) {
      const key = await queue.get();
      if (key === undefined) return;
      metrics.queueDepth.set({ kind }, queue.length);
      const stopTimer = metrics.reconcileDuration.startTimer({ kind });
      try {
        this.#settle(key, await reconciler.reconcile(key));
      } catch (error) {
        if (this.#gone(key)) {
          // Deleted while it was being reconciled: the failure was about an object that no longer exists.
          this.#settle(key, { kind: "forget" });
          continue;
        }
        metrics.reconciles.inc({ kind, result: "error" });
        const delay = queue.addRateLimited(key);
        log("error", "reconcile failed", { [kind]: key, retryInMs: delay, error: String(error) });
      } finally {
        stopTimer();
        queue.done(key);
      }
    }
  }

  #gone(key: string): boolean {
    const [namespace = "", name = ""] = key.split("/");
    return this.options.objects.get(name, namespace) === undefined;
  }

  #settle(key: string, result: ReconcileResult): void {
    const { kind, queue, metrics, log } = this.options;
    metrics.reconciles.inc({ kind, result: result.kind });
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
        log("warn", "reconcile will be retried", { [kind]: key, reason: result.reason, retryInMs: delay });
        return;
      }
      case "terminal":
        // The backoff ends here: a later transient failure starts it afresh.
        queue.forget(key);
        queue.addAfter(key, result.afterMs);
        log("warn", "reconcile stopped retrying", {
          [kind]: key,
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
