// The controller loop: watches pipelines and the objects they own, turns every change into the owning
// pipeline's key on the work queue, and runs reconciles from it, a few at a time, never two for one key.
import type {
  AppsV1Api,
  AutoscalingV2Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  KubernetesListObject,
  KubernetesObject,
  V1Deployment,
  V1Service,
  V2HorizontalPodAutoscaler,
} from "@kubernetes/client-node";
import { type WatchedResource, watchResource } from "../kube/watch.ts";
import type { OperatorMetrics } from "../metrics.ts";
import { group, plural, type SentimentPipeline, version } from "../pipeline.ts";
import { managedBy, pipelineLabel } from "../render/labels.ts";
import type { ReconcileResult, Reconciler } from "./reconcile.ts";
import { WorkQueue } from "./work-queue.ts";

export interface ControllerOptions {
  kubeConfig: KubeConfig;
  customObjects: CustomObjectsApi;
  apps: AppsV1Api;
  core: CoreV1Api;
  autoscaling: AutoscalingV2Api;
  concurrency: number;
  metrics: OperatorMetrics;
  log: (level: "info" | "warn" | "error", message: string, fields?: Record<string, unknown>) => void;
}

export interface Caches {
  pipelines: WatchedResource<SentimentPipeline>;
  deployments: WatchedResource<V1Deployment>;
  services: WatchedResource<V1Service>;
  hpas: WatchedResource<V2HorizontalPodAutoscaler>;
}

const ownedSelector = `app.kubernetes.io/managed-by=${managedBy}`;

function keyOf(object: KubernetesObject): string {
  return `${object.metadata?.namespace ?? ""}/${object.metadata?.name ?? ""}`;
}

function ownerKeyOf(object: KubernetesObject): string | undefined {
  const pipeline = object.metadata?.labels?.[pipelineLabel];
  return pipeline === undefined ? undefined : `${object.metadata?.namespace ?? ""}/${pipeline}`;
}

export class Controller {
  readonly queue = new WorkQueue({ baseDelayMs: 500, maxDelayMs: 300_000 });
  #caches: Caches | undefined;
  #workers: Promise<void>[] = [];

  constructor(private readonly options: ControllerOptions) {}

  /** Starts the watches; resolves once each has listed, so reconciles see a filled cache. */
  async startWatches(): Promise<Caches> {
    const { kubeConfig, customObjects, apps, core, autoscaling, log } = this.options;
    const onError = (what: string) => (error: unknown) =>
      log("warn", `watch of ${what} failed; restarting it`, { error: String(error) });
    const enqueueOwner = (object: KubernetesObject) => {
      const key = ownerKeyOf(object);
      if (key !== undefined) this.queue.add(key);
    };
    const [pipelines, deployments, services, hpas] = await Promise.all([
      watchResource<SentimentPipeline>({
        kubeConfig,
        path: `/apis/${group}/${version}/${plural}`,
        list: () =>
          customObjects.listClusterCustomObject({ group, version, plural }) as Promise<
            KubernetesListObject<SentimentPipeline>
          >,
        onChange: (pipeline) => this.queue.add(keyOf(pipeline)),
        onError: onError("SentimentPipelines"),
      }),
      watchResource<V1Deployment>({
        kubeConfig,
        path: "/apis/apps/v1/deployments",
        labelSelector: ownedSelector,
        list: () => apps.listDeploymentForAllNamespaces({ labelSelector: ownedSelector }),
        onChange: enqueueOwner,
        onError: onError("Deployments"),
      }),
      // Only to notice a Service changed or deleted behind the operator's back: reconcile re-applies it.
      watchResource<V1Service>({
        kubeConfig,
        path: "/api/v1/services",
        labelSelector: ownedSelector,
        list: () => core.listServiceForAllNamespaces({ labelSelector: ownedSelector }),
        onChange: enqueueOwner,
        onError: onError("Services"),
      }),
      watchResource<V2HorizontalPodAutoscaler>({
        kubeConfig,
        path: "/apis/autoscaling/v2/horizontalpodautoscalers",
        labelSelector: ownedSelector,
        list: () => autoscaling.listHorizontalPodAutoscalerForAllNamespaces({ labelSelector: ownedSelector }),
        onChange: enqueueOwner,
        onError: onError("HorizontalPodAutoscalers"),
      }),
    ]);
    this.#caches = { pipelines, deployments, services, hpas };
    return this.#caches;
  }

  synced(): boolean {
    const caches = this.#caches;
    return caches !== undefined && Object.values(caches).every((watched) => watched.synced());
  }

  /** Runs `concurrency` reconcile loops until stop(). */
  startWorkers(reconciler: Reconciler): void {
    for (const pipeline of this.#caches?.pipelines.cache.list() ?? []) this.queue.add(keyOf(pipeline));
    for (let i = 0; i < this.options.concurrency; i++) this.#workers.push(this.#work(reconciler));
  }

  async #work(reconciler: Reconciler): Promise<void> {
    const { metrics, log } = this.options;
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      metrics.queueDepth.set(this.queue.length);
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
        const delay = this.queue.addRateLimited(key);
        log("error", "reconcile failed", { pipeline: key, retryInMs: delay, error: String(error) });
      } finally {
        stopTimer();
        this.queue.done(key);
      }
    }
  }

  #gone(key: string): boolean {
    const [namespace = "", name = ""] = key.split("/");
    return this.#caches?.pipelines.cache.get(name, namespace) === undefined;
  }

  #settle(key: string, result: ReconcileResult): void {
    const { metrics, log } = this.options;
    metrics.reconciles.inc({ result: result.kind });
    switch (result.kind) {
      case "forget":
        this.queue.forget(key);
        return;
      case "resync":
        this.queue.forget(key);
        this.queue.addAfter(key, result.afterMs);
        return;
      case "retry": {
        const delay = this.queue.addRateLimited(key);
        log("warn", "reconcile will be retried", { pipeline: key, reason: result.reason, retryInMs: delay });
        return;
      }
    }
  }

  /** Stops handing out work, waits for the reconciles in flight, and stops the watches. */
  async stop(): Promise<void> {
    this.queue.shutDown();
    await Promise.all(this.#workers);
    await Promise.all(Object.values(this.#caches ?? {}).map((watched) => watched.stop()));
  }
}
