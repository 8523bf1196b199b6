// One reconcile of one pipeline, level-triggered: read the pipeline and what it owns, bring the topics to
// the spec, apply the Deployment, Service and HPA rendered from the spec, and write the status once. It
// returns when to look again; a failure the user must see becomes a condition and an Event, never a crash.
// A failure no retry can cure (a rejected login, a missing Secret, a refused topic change) is terminal, as
// controller-runtime's reconcile.TerminalError: no backoff, only the periodic look and any change.
import { isDeepStrictEqual } from "node:util";
import type {
  AppsV1Api,
  CustomObjectsApi,
  KubernetesObjectApi,
  ObjectCache,
  V1Deployment,
  V2HorizontalPodAutoscaler,
} from "@kubernetes/client-node";
import { lagMetric } from "../autoscaling/lag-metric.ts";
import { type Activity, decideScaleToZero, observeActivity } from "../autoscaling/scale-to-zero.ts";
import { KafkaAdminError } from "../kafka/errors.ts";
import type { ConsumerLag } from "../kafka/lag.ts";
import { applyFinalizer, applyObject, applyStatus } from "../kube/apply.ts";
import type { EventRecorder } from "../kube/events.ts";
import {
  type PipelineStatus,
  type ResolvedPipeline,
  resolvePipeline,
  type SentimentPipeline,
} from "../pipeline.ts";
import { renderWorkerDeployment } from "../render/deployment.ts";
import { renderWorkerHpa, replicaBounds } from "../render/hpa.ts";
import { workerName } from "../render/labels.ts";
import { renderWorkerService } from "../render/service.ts";
import { mergeConditions } from "./conditions.ts";
import { computeStatus, type TopicsOutcome } from "./status.ts";

/** Held while topics must be deleted with the pipeline (deletionPolicy Delete). */
export const topicsFinalizer = "kubesentiment.io/topics";
/**
 * Set to "true" on a pipeline being deleted to release it without deleting its topics: the way out when Kafka
 * is gone for good, so a namespace is never wedged behind the finalizer.
 */
export const skipTopicDeletionAnnotation = "kubesentiment.io/skip-topic-deletion";

export interface EnsuredTopics {
  outcome: TopicsOutcome;
  /** What was changed, one line each, for Events. */
  changes: string[];
  /** Undefined when the topics are not there or the lag could not be read. */
  lag: ConsumerLag | undefined;
  /** The outcome is a failure that asking Kafka again cannot change; something must change first. */
  terminal: boolean;
}

/** The Kafka side of a reconcile; implementations never throw for Kafka trouble, they describe it. */
export interface TopicsPort {
  /** Creates, raises and repairs the topics, and reads the group's lag while connected. */
  ensure(pipeline: ResolvedPipeline): Promise<EnsuredTopics>;
  /** Deletes the topics; throws with a message a person can act on when it cannot. */
  delete(pipeline: ResolvedPipeline): Promise<void>;
  /** The consumer group's lag on the requests topic; throws a KafkaAdminError when it cannot be read. */
  lag(pipeline: ResolvedPipeline): Promise<ConsumerLag>;
}

/** Each dependency narrowed to the calls a reconcile makes, so a test can stand in for the cluster. */
export interface ReconcilerDeps {
  apps: Pick<AppsV1Api, "patchNamespacedDeploymentScale">;
  pipelines: Pick<ObjectCache<SentimentPipeline>, "get">;
  deployments: Pick<ObjectCache<V1Deployment>, "get">;
  hpas: Pick<ObjectCache<V2HorizontalPodAutoscaler>, "get">;
  objects: Pick<KubernetesObjectApi, "patch">;
  customObjects: Pick<CustomObjectsApi, "patchNamespacedCustomObjectStatus">;
  events: Pick<EventRecorder, "record" | "forget">;
  topics: TopicsPort;
  defaultWorkerImage: string;
  /** Told each pipeline's lag as it is read (the operator's own Prometheus gauge). */
  observeLag?: (namespace: string, name: string, lag: number) => void;
  forgetLag?: (namespace: string, name: string) => void;
  /** How often a healthy pipeline is looked at again (lag, drift) without any event. */
  resyncPeriodMs: number;
  log: (message: string, fields?: Record<string, unknown>) => void;
  now?: () => Date;
}

export type ReconcileResult =
  /** Healthy: look again after the resync period. */
  | { kind: "resync"; afterMs: number }
  /** Something the operator will retry with backoff (Kafka unreachable, an apply refused). */
  | { kind: "retry"; reason: string }
  /**
   * Something no retry can cure until the spec, a referenced Secret or Kafka changes: no backoff. A spec change
   * is seen at once (the pipeline watch). Secrets are not watched (the operator would cache every Secret in
   * the cluster to see a few) and Kafka cannot be, so the pipeline is still looked at again after `afterMs`,
   * the resync period.
   */
  | { kind: "terminal"; reason: string; afterMs: number }
  /** The pipeline is gone. */
  | { kind: "forget" };

function errorMessage(error: unknown): string {
  const body = (error as { body?: unknown }).body;
  if (typeof body === "string" && body !== "") {
    try {
      return (JSON.parse(body) as { message?: string }).message ?? body;
    } catch {
      return body;
    }
  }
  return error instanceof Error ? error.message : String(error);
}

/** The scale-to-zero activity a previous reconcile kept in status; none when either half is missing. */
function previousActivity(status: PipelineStatus | undefined): Activity | undefined {
  const lastActiveAt = status?.lastActiveTime === undefined ? Number.NaN : Date.parse(status.lastActiveTime);
  const logEndOffset = status?.requestsLogEndOffset;
  return Number.isNaN(lastActiveAt) || logEndOffset === undefined
    ? undefined
    : { lastActiveAt, logEndOffset };
}

export class Reconciler {
  constructor(private readonly deps: ReconcilerDeps) {}

  async reconcile(key: string): Promise<ReconcileResult> {
    const [namespace = "", name = ""] = key.split("/");
    const object = this.deps.pipelines.get(name, namespace);
    if (object === undefined) {
      this.deps.forgetLag?.(namespace, name);
      return { kind: "forget" };
    }
    const pipeline = resolvePipeline(object);
    if (object.metadata.deletionTimestamp !== undefined) return this.#finalize(object, pipeline);

    const wantsFinalizer = pipeline.topics.deletionPolicy === "Delete";
    if (wantsFinalizer !== (object.metadata.finalizers ?? []).includes(topicsFinalizer)) {
      await applyFinalizer(this.deps.objects, namespace, name, topicsFinalizer, wantsFinalizer);
    }

    const { outcome: topics, changes, lag, terminal } = await this.deps.topics.ensure(pipeline);
    for (const change of changes) await this.#event(object, "Normal", "TopicsReconciled", change);
    if (topics.state === "failed") await this.#event(object, "Warning", topics.reason, topics.message);

    const workloads =
      topics.state === "ready" || topics.exist ? await this.#applyWorkloads(object, pipeline) : {};
    if (lag !== undefined) this.deps.observeLag?.(namespace, name, lag.total);
    const now = this.deps.now?.() ?? new Date();
    const current = workloads.deployment ?? this.deps.deployments.get(workerName(pipeline), namespace);
    const scaled = await this.#scaleToZero(object, pipeline, current, lag, now);
    const deployment =
      current?.spec === undefined || scaled.replicas === undefined
        ? current
        : { ...current, spec: { ...current.spec, replicas: scaled.replicas } };

    const status = computeStatus(
      {
        pipeline,
        topics,
        deployment,
        hpa: workloads.hpa ?? this.deps.hpas.get(workerName(pipeline), namespace),
        cappedByPartitions: replicaBounds(pipeline).cappedByPartitions,
        workloadError: workloads.error,
        lag: lag === undefined ? undefined : lagMetric(lag, pipeline.autoscaling.lagThreshold),
        activity: scaled.activity,
      },
      object.status?.conditions ?? [],
      now,
    );
    if (!isDeepStrictEqual(status, object.status)) {
      await applyStatus(this.deps.customObjects, namespace, name, status);
      await this.#announceReadiness(
        object,
        status.conditions?.find((c) => c.type === "Ready"),
      );
    }
    if (topics.state === "failed") return this.#failed(topics.reason, terminal);
    if (workloads.error !== undefined) return this.#failed(workloads.error.reason, false);
    return { kind: "resync", afterMs: this.deps.resyncPeriodMs };
  }

  #failed(reason: string, terminal: boolean): ReconcileResult {
    return terminal
      ? { kind: "terminal", reason, afterMs: this.deps.resyncPeriodMs }
      : { kind: "retry", reason };
  }

  /**
   * With minReplicas 0, folds this reconcile's lag sample into the activity kept in status, and sets the
   * Deployment's scale to 0 after the cooldown without new requests, and back to 1 on lag (see
   * scale-to-zero.ts); returns the replicas it set, if any, and the activity to keep in status.
   */
  async #scaleToZero(
    object: SentimentPipeline,
    pipeline: ResolvedPipeline,
    deployment: V1Deployment | undefined,
    lag: ConsumerLag | undefined,
    now: Date,
  ): Promise<{ replicas?: number; activity?: Activity }> {
    const { minReplicas } = pipeline.autoscaling;
    const replicas = deployment?.spec?.replicas;
    if (replicas === undefined || (minReplicas > 0 && replicas > 0)) return {};
    const activity = observeActivity(
      previousActivity(object.status),
      lag === undefined ? undefined : { lag: lag.total, logEndOffset: lag.logEndOffset },
      now.getTime(),
    );
    const decision = decideScaleToZero({
      minReplicas,
      activationLagThreshold: pipeline.autoscaling.activationLagThreshold,
      cooldownMs: pipeline.autoscaling.scaleToZeroAfterSeconds * 1000,
      replicas,
      lag: lag?.total,
      activity,
      now: now.getTime(),
    });
    if (decision.replicas !== undefined) {
      await this.deps.apps.patchNamespacedDeploymentScale({
        name: workerName(pipeline),
        namespace: pipeline.namespace,
        body: [{ op: "replace", path: "/spec/replicas", value: decision.replicas }],
      });
      const reason = decision.replicas === 0 ? "ScaledToZero" : "ScaledFromZero";
      await this.#event(
        object,
        "Normal",
        reason,
        `scaled the workers to ${decision.replicas}: ${decision.reason}`,
      );
    }
    return {
      ...(decision.replicas === undefined ? {} : { replicas: decision.replicas }),
      ...(minReplicas === 0 && activity !== undefined ? { activity } : {}),
    };
  }

  async #applyWorkloads(
    object: SentimentPipeline,
    pipeline: ResolvedPipeline,
  ): Promise<{
    deployment?: V1Deployment;
    hpa?: V2HorizontalPodAutoscaler;
    error?: { reason: string; message: string };
  }> {
    try {
      const deployment = await applyObject(
        this.deps.objects,
        renderWorkerDeployment(pipeline, { defaultImage: this.deps.defaultWorkerImage }),
      );
      await applyObject(this.deps.objects, renderWorkerService(pipeline));
      const hpa = await applyObject(this.deps.objects, renderWorkerHpa(pipeline));
      return { deployment, hpa };
    } catch (error) {
      const message = `applying the worker Deployment, Service and HPA failed: ${errorMessage(error)}`;
      await this.#event(object, "Warning", "ApplyFailed", message);
      return { error: { reason: "ApplyFailed", message } };
    }
  }

  async #finalize(object: SentimentPipeline, pipeline: ResolvedPipeline): Promise<ReconcileResult> {
    const { name = "", namespace = "" } = object.metadata;
    if (!(object.metadata.finalizers ?? []).includes(topicsFinalizer)) return { kind: "forget" };
    const topicNames = `${pipeline.topics.requests}, ${pipeline.topics.responses} and ${pipeline.topics.deadLetter}`;
    if (object.metadata.annotations?.[skipTopicDeletionAnnotation] === "true") {
      await this.#event(
        object,
        "Warning",
        "TopicDeletionSkipped",
        `released without deleting topics ${topicNames}`,
      );
    } else {
      try {
        await this.deps.topics.delete(pipeline);
        await this.#event(object, "Normal", "TopicsDeleted", `deleted topics ${topicNames}`);
      } catch (error) {
        const message = `${errorMessage(error)}; the pipeline stays until its topics are deleted, or until it is annotated ${skipTopicDeletionAnnotation}=true to release it and keep the topics`;
        await this.#event(object, "Warning", "TopicDeletionFailed", message);
        const conditions = mergeConditions(
          object.status?.conditions ?? [],
          [{ type: "Ready", status: "False", reason: "TopicDeletionFailed", message }],
          pipeline.generation,
          this.deps.now?.() ?? new Date(),
        );
        await applyStatus(this.deps.customObjects, namespace, name, { ...object.status, conditions }).catch(
          () => undefined,
        );
        return this.#failed("TopicDeletionFailed", error instanceof KafkaAdminError && !error.retriable);
      }
    }
    await applyFinalizer(this.deps.objects, namespace, name, topicsFinalizer, false);
    this.deps.events.forget(object.metadata.uid ?? "");
    return { kind: "forget" };
  }

  async #announceReadiness(object: SentimentPipeline, ready: { status: string; reason: string } | undefined) {
    const before = object.status?.conditions?.find((condition) => condition.type === "Ready")?.status;
    if (ready === undefined || ready.status === before) return;
    if (ready.status === "True")
      await this.#event(object, "Normal", "PipelineReady", "the pipeline is ready");
  }

  async #event(object: SentimentPipeline, type: "Normal" | "Warning", reason: string, message: string) {
    await this.deps.events.record(object, type, reason, message).catch((error: unknown) => {
      this.deps.log("writing an event failed", { reason, error: errorMessage(error) });
    });
  }
}
