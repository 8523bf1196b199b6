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
  V1Pod,
  V2HorizontalPodAutoscaler,
} from "@kubernetes/client-node";
import { lagMetric } from "../autoscaling/lag-metric.ts";
import { type Activity, decideScaleToZero, observeActivity } from "../autoscaling/scale-to-zero.ts";
import { type AclBinding, unionOfBindings } from "../kafka/acl-plan.ts";
import type { SecretReader } from "../kafka/credentials.ts";
import { KafkaAdminError } from "../kafka/errors.ts";
import type { ConsumerLag } from "../kafka/lag.ts";
import { topicNames } from "../kafka/topic-plan.ts";
import { hasApiStatus } from "../kube/api-status.ts";
import { applyFinalizer, applyObject, applyStatus, refusedAsInvalid } from "../kube/apply.ts";
import type { EventRecorder } from "../kube/events.ts";
import type { PodLister } from "../kube/pods.ts";
import { readCustomObject } from "../kube/read.ts";
import { secretProblem } from "../kube/secret-problem.ts";
import {
  type InvalidPipelineError,
  type PipelineStatus,
  plural,
  type ResolvedPipeline,
  resolvePipelineOrRefusal,
  type SentimentPipeline,
} from "../pipeline.ts";
import { renderWorkerDeployment } from "../render/deployment.ts";
import { replicaBounds } from "../render/hpa.ts";
import { selectorLabels, workerName } from "../render/labels.ts";
import { mountedSecrets } from "../render/mounted-secrets.ts";
import { renderWorkerService } from "../render/service.ts";
import { type AppliedAutoscaler, applyAutoscaler, type KedaCaches } from "./autoscaler.ts";
import { mergeConditions } from "./conditions.ts";
import { mostTellingPodFailure, newestUnreadyPod, type PodFailure } from "./pod-failures.ts";
import { computeStatus, isPaused, type Pause, type TopicsOutcome, workersShort } from "./status.ts";
import { claimedTopics, describeClaims } from "./topic-claims.ts";

/** Held while topics must be deleted with the pipeline (deletionPolicy Delete). */
export const topicsFinalizer = "kubesentiment.io/topics";
/**
 * Set to "true" on a pipeline being deleted to release it without deleting its topics: the way out when Kafka
 * is gone for good, so a namespace is never wedged behind the finalizer.
 */
export const skipTopicDeletionAnnotation = "kubesentiment.io/skip-topic-deletion";
/**
 * How long topic deletion waits for the worker Deployment to go, counted from its deletionTimestamp. The wait
 * keeps a write in flight from landing on a topic being deleted; past it (pods stuck on a lost node, which can
 * write nothing) the topics are deleted all the same, since the worker never creates topics itself.
 */
export const workerStopTimeoutMs = 120_000;

export interface EnsuredTopics {
  outcome: TopicsOutcome;
  /** What was changed, one line each, for Events. */
  changes: string[];
  /** Undefined when the topics are not there or the lag could not be read. */
  lag: ConsumerLag | undefined;
  /** Why the lag could not be read although the topics are there. */
  lagUnknown?: string;
  /** The outcome is a failure that asking Kafka again cannot change; something must change first. */
  terminal: boolean;
  /** The topics this call created (also when it failed later): the pipeline's own, to delete under Delete. */
  created: string[];
}

/** The Kafka side of a reconcile; implementations never throw for Kafka trouble, they describe it. */
export interface TopicsPort {
  /**
   * Creates, raises and repairs the topics, and reads the group's lag while connected. `wereReady`: the status
   * last said TopicsReady, so the topics are most likely there (which makes reading them cheaper).
   */
  ensure(pipeline: ResolvedPipeline, hint: { wereReady: boolean }): Promise<EnsuredTopics>;
  /** Deletes those of `topics` that exist; throws with a message a person can act on when it cannot. */
  delete(pipeline: ResolvedPipeline, topics: readonly string[]): Promise<void>;
  /** The consumer group's lag on the requests topic; throws a KafkaAdminError when it cannot be read. */
  lag(pipeline: ResolvedPipeline): Promise<ConsumerLag>;
}

export interface AclsOutcome {
  /** Undefined: ACLs are none of the operator's business (not managed, and it logs in as the workers). */
  condition: { status: "True" | "False" | "Unknown"; reason: string; message: string } | undefined;
  /** What was granted or revoked, one line each, for Events. */
  changes: string[];
  /** A False condition that asking Kafka again cannot change; something must change first. */
  terminal: boolean;
  /**
   * Managed: the bindings the operator now holds granted for the workers (status.acls.granted), which a later
   * change of principal or topics revokes; undefined leaves the record as it was.
   */
  granted?: AclBinding[];
}

/** The workers' Kafka ACLs (spec.kafka.acls); implementations never throw for Kafka trouble, they describe it. */
export interface AclsPort {
  /**
   * Grants what the workers need when managed, and revokes those of `granted` (what it granted before) they no
   * longer need; else checks that Kafka's ACLs grant it.
   */
  ensure(pipeline: ResolvedPipeline, granted: readonly AclBinding[]): Promise<AclsOutcome>;
  /**
   * Deletes the ACLs a managed pipeline's workers need and those of `granted`; throws with a message a person
   * can act on.
   */
  delete(pipeline: ResolvedPipeline, granted: readonly AclBinding[]): Promise<void>;
}

/** Each dependency narrowed to the calls a reconcile makes, so a test can stand in for the cluster. */
export interface ReconcilerDeps {
  apps: Pick<
    AppsV1Api,
    "patchNamespacedDeploymentScale" | "readNamespacedDeployment" | "deleteNamespacedDeployment"
  >;
  /** Every pipeline the operator serves: a topic another of them holds is refused. */
  pipelines: Pick<ObjectCache<SentimentPipeline>, "get" | "list">;
  deployments: Pick<ObjectCache<V1Deployment>, "get">;
  hpas: Pick<ObjectCache<V2HorizontalPodAutoscaler>, "get">;
  /** Read only while a pipeline's workers are short, to say why (pods are not watched: there are many). */
  pods: PodLister;
  /** Read only while workers are short and their pods show no failure: a Secret they mount may be missing. */
  readSecret: SecretReader;
  objects: Pick<KubernetesObjectApi, "patch" | "delete">;
  /** With KEDA_ENABLED, its kinds' caches: pipelines may be scaled by KEDA (see autoscaler.ts). */
  keda?: KedaCaches;
  customObjects: Pick<CustomObjectsApi, "patchNamespacedCustomObjectStatus" | "getNamespacedCustomObject">;
  events: Pick<EventRecorder, "record" | "forget">;
  topics: TopicsPort;
  acls: AclsPort;
  defaultWorkerImage: string;
  /**
   * What holds a pipeline paused besides its spec, each described for a person ("SentimentReplay nightly");
   * absent means nothing does.
   */
  pauseHolds?: (namespace: string, pipeline: string) => string[];
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
  /** Something the operator will retry with backoff (Kafka unreachable, an apply refused but not as invalid). */
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

/**
 * The pipeline's topics the operator created for it: those its status already records and those just created,
 * of the names it uses now. A topic it stops using is forgotten, and so kept.
 */
function ownTopics(
  object: SentimentPipeline,
  pipeline: ResolvedPipeline,
  created: readonly string[],
): string[] {
  const recorded = new Set([...(object.status?.topics?.created ?? []), ...created]);
  return topicNames(pipeline.topics).filter((topic) => recorded.has(topic));
}

function listed(topics: readonly string[]): string {
  return topics.length === 0 ? "(none)" : topics.join(", ");
}

export class Reconciler {
  /**
   * The topics this process last recorded as created, by pipeline key, with the uid they belong to. The cache
   * can still hold the status from before that write when the next reconcile starts (a watch event of the
   * Deployment queued it first), and a record rebuilt from it alone would drop a topic just created, which
   * would then be kept, not deleted.
   */
  readonly #recordedCreated = new Map<string, { uid: string; topics: string[] }>();
  /** The ACL bindings this process last recorded as granted, by pipeline key, for the same reason. */
  readonly #recordedGrants = new Map<string, { uid: string; bindings: AclBinding[] }>();

  constructor(private readonly deps: ReconcilerDeps) {}

  async reconcile(key: string): Promise<ReconcileResult> {
    const [namespace = "", name = ""] = key.split("/");
    const object = this.deps.pipelines.get(name, namespace);
    if (object === undefined) {
      this.deps.forgetLag?.(namespace, name);
      this.#recordedCreated.delete(key);
      this.#recordedGrants.delete(key);
      return { kind: "forget" };
    }
    if (object.metadata.deletionTimestamp !== undefined) return this.#finalize(namespace, name);
    const { pipeline, refusal } = resolvePipelineOrRefusal(object);
    const pause: Pause = { bySpec: pipeline.paused, holds: this.deps.pauseHolds?.(namespace, name) ?? [] };

    const wantsFinalizer = pipeline.topics.deletionPolicy === "Delete";
    if (wantsFinalizer !== (object.metadata.finalizers ?? []).includes(topicsFinalizer)) {
      await applyFinalizer(this.deps.objects, namespace, name, topicsFinalizer, wantsFinalizer);
    }

    const {
      outcome: topics,
      changes,
      lag,
      lagUnknown,
      terminal,
      created,
    } = await this.#ensureTopics(object, pipeline, refusal);
    for (const change of changes) await this.#event(object, "Normal", "TopicsReconciled", change);
    if (topics.state === "failed") await this.#event(object, "Warning", topics.reason, topics.message);
    if (lagUnknown !== undefined) {
      const { minReplicas, provider } = pipeline.autoscaling;
      const held =
        minReplicas === 0 && provider === "builtin"
          ? ", and scale to zero holds the workers as they are,"
          : "";
      await this.#event(
        object,
        "Warning",
        "ConsumerLagUnknown",
        // The reason names the group and topic already (KafkaAdminError's action).
        `the consumer lag could not be read: ${lagUnknown}; status.consumerLag is left out${held} until it can be read`,
      );
    }
    // Granted before the workers start, so a new pipeline's workers are never refused.
    const granted = this.#granted(key, object);
    const acls: AclsOutcome =
      topics.state === "ready" || topics.exist
        ? await this.deps.acls.ensure(pipeline, granted)
        : { condition: undefined, changes: [], terminal: false };
    const grantedAcls = pipeline.kafka.acls.manage ? (acls.granted ?? granted) : undefined;
    this.#recordedGrants.set(key, { uid: object.metadata.uid ?? "", bindings: grantedAcls ?? [] });
    for (const change of acls.changes) await this.#event(object, "Normal", "AclsReconciled", change);
    if (acls.condition?.status === "False") {
      await this.#event(object, "Warning", acls.condition.reason, acls.condition.message);
    }

    const workloads =
      topics.state === "ready" || topics.exist
        ? await this.#applyWorkloads(object, pipeline, isPaused(pause))
        : {};
    if (lag !== undefined) this.deps.observeLag?.(namespace, name, lag.total);
    const now = this.deps.now?.() ?? new Date();
    const current = workloads.deployment ?? this.deps.deployments.get(workerName(pipeline), namespace);
    const scaled = await this.#setScale(object, pipeline, current, lag, isPaused(pause), now);
    const deployment =
      current?.spec === undefined || scaled.replicas === undefined
        ? current
        : { ...current, spec: { ...current.spec, replicas: scaled.replicas } };
    const podFailure =
      workloads.error === undefined ? await this.#podFailure(pipeline, deployment) : undefined;

    const uid = object.metadata.uid ?? "";
    const recorded = this.#recordedCreated.get(key);
    const createdTopics = ownTopics(object, pipeline, [
      ...created,
      ...(recorded?.uid === uid ? recorded.topics : []),
    ]);
    this.#recordedCreated.set(key, { uid, topics: createdTopics });
    const status = computeStatus(
      {
        pipeline,
        pause,
        topics,
        acls: acls.condition,
        deployment,
        podFailure,
        hpa:
          pipeline.autoscaling.provider === "builtin"
            ? (workloads.hpa ?? this.deps.hpas.get(workerName(pipeline), namespace))
            : undefined,
        keda: workloads.keda,
        cappedByPartitions: replicaBounds(pipeline).cappedByPartitions,
        workloadError: workloads.error,
        lag: lag === undefined ? undefined : lagMetric(lag, pipeline.autoscaling.lagThreshold),
        activity: scaled.activity,
        createdTopics,
        grantedAcls,
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
      await this.#announcePause(
        object,
        pipeline,
        status.conditions?.find((c) => c.type === "Paused"),
      );
    }
    if (topics.state === "failed") return this.#failed(topics.reason, terminal);
    if (acls.condition?.status === "False") return this.#failed(acls.condition.reason, acls.terminal);
    if (workloads.error !== undefined) return this.#failed(workloads.error.reason, workloads.error.terminal);
    return { kind: "resync", afterMs: this.deps.resyncPeriodMs };
  }

  /**
   * The topics brought to the spec, unless the spec is refused or another pipeline holds one of them: then
   * Kafka is not touched at all, and the refusal waits for a change.
   */
  async #ensureTopics(
    object: SentimentPipeline,
    pipeline: ResolvedPipeline,
    refusal: InvalidPipelineError | undefined,
  ): Promise<EnsuredTopics> {
    const refused = (reason: string, message: string): EnsuredTopics => ({
      outcome: { state: "failed", reason, message, exist: false },
      changes: [],
      lag: undefined,
      terminal: true,
      created: [],
    });
    if (refusal !== undefined) return refused(refusal.reason, refusal.message);
    const claims = claimedTopics(object, pipeline, this.deps.pipelines.list());
    if (claims.length > 0) return refused("TopicClaimed", describeClaims(claims));
    const wereReady =
      object.status?.conditions?.some(({ type, status }) => type === "TopicsReady" && status === "True") ??
      false;
    return this.deps.topics.ensure(pipeline, { wereReady });
  }

  /** What the operator granted the pipeline's workers: its status's record and this process's own. */
  #granted(key: string, object: SentimentPipeline): AclBinding[] {
    const recorded = this.#recordedGrants.get(key);
    const own = recorded?.uid === object.metadata.uid ? (recorded?.bindings ?? []) : [];
    return unionOfBindings(object.status?.acls?.granted ?? [], own);
  }

  #failed(reason: string, terminal: boolean): ReconcileResult {
    return terminal
      ? { kind: "terminal", reason, afterMs: this.deps.resyncPeriodMs }
      : { kind: "retry", reason };
  }

  /**
   * Why the workers do not come up, read from their pods only while some are missing, and from the Secrets they
   * mount when the pods show no failure. Best effort: a read refused (an install without the right) or failed
   * leaves the condition as the Deployment alone tells it.
   */
  async #podFailure(
    pipeline: ResolvedPipeline,
    deployment: V1Deployment | undefined,
  ): Promise<PodFailure | undefined> {
    if (!workersShort(deployment)) return undefined;
    try {
      const pods = await this.deps.pods(pipeline.namespace, selectorLabels(pipeline));
      return mostTellingPodFailure(pods) ?? (await this.#unmountableSecret(pipeline, pods));
    } catch (error) {
      this.deps.log("reading why the workers do not come up failed", {
        pipeline: `${pipeline.namespace}/${pipeline.name}`,
        error: errorMessage(error),
      });
      return undefined;
    }
  }

  /**
   * A pod on its way up that waits for a Secret it mounts, missing or without a key it reads: the kubelet says so
   * only in the pod's Events, and the pod looks like any other that is starting.
   */
  async #unmountableSecret(
    pipeline: ResolvedPipeline,
    pods: readonly V1Pod[],
  ): Promise<PodFailure | undefined> {
    const pod = newestUnreadyPod(pods);
    if (pod === undefined) return undefined;
    for (const use of mountedSecrets(pipeline)) {
      const problem = secretProblem(use, await this.deps.readSecret(use.namespace, use.name));
      if (problem !== undefined) {
        return {
          pod: pod.metadata?.name ?? "",
          container: undefined,
          reason: problem.reason,
          message: `cannot start: ${problem.message}`,
        };
      }
    }
    return undefined;
  }

  /**
   * The scale the operator sets itself, where the HPA cannot (see scale-to-zero.ts): 0 while paused, and back
   * to the HPA's floor when resumed; with minReplicas 0, folds this reconcile's lag sample into the activity
   * kept in status, and sets 0 after the cooldown without new requests, and 1 on lag. Returns the replicas it
   * set, if any, and the activity to keep in status.
   */
  async #setScale(
    object: SentimentPipeline,
    pipeline: ResolvedPipeline,
    deployment: V1Deployment | undefined,
    lag: ConsumerLag | undefined,
    paused: boolean,
    now: Date,
  ): Promise<{ replicas?: number; activity?: Activity }> {
    const { minReplicas, provider } = pipeline.autoscaling;
    const replicas = deployment?.spec?.replicas;
    if (replicas === undefined || (!paused && minReplicas > 0 && replicas > 0)) return {};
    // KEDA scales to and from zero itself; a pause is held by KEDA's pause annotation and, should KEDA not
    // run, here too.
    if (provider === "keda" && !paused) return {};
    const activity = observeActivity(
      previousActivity(object.status),
      lag === undefined ? undefined : { lag: lag.total, logEndOffset: lag.logEndOffset },
      now.getTime(),
    );
    const decision = decideScaleToZero({
      paused,
      // The HPA's floor (never above the partitions), so a resumed pipeline starts where the HPA would hold it.
      minReplicas: minReplicas === 0 ? 0 : replicaBounds(pipeline).minReplicas,
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
      // A pause is announced once, by #announcePause, however often the HPA or a person undoes it.
      if (!paused) {
        const reason = decision.replicas === 0 ? "ScaledToZero" : "ScaledFromZero";
        await this.#event(
          object,
          "Normal",
          reason,
          `scaled the workers to ${decision.replicas}: ${decision.reason}`,
        );
      }
    }
    return {
      ...(decision.replicas === undefined ? {} : { replicas: decision.replicas }),
      ...(minReplicas === 0 && activity !== undefined ? { activity } : {}),
    };
  }

  async #applyWorkloads(
    object: SentimentPipeline,
    pipeline: ResolvedPipeline,
    paused: boolean,
  ): Promise<
    AppliedAutoscaler & {
      deployment?: V1Deployment;
      error?: { reason: string; message: string; terminal: boolean };
    }
  > {
    try {
      const deployment = await applyObject(
        this.deps.objects,
        renderWorkerDeployment(pipeline, { defaultImage: this.deps.defaultWorkerImage }),
      );
      await applyObject(this.deps.objects, renderWorkerService(pipeline));
      const autoscaler = await applyAutoscaler(
        { objects: this.deps.objects, hpas: this.deps.hpas, keda: this.deps.keda },
        pipeline,
        paused,
      );
      return { deployment, ...autoscaler };
    } catch (error) {
      const message = `applying the worker Deployment, Service and autoscaler failed: ${errorMessage(error)}`;
      await this.#event(object, "Warning", "ApplyFailed", message);
      return { error: { reason: "ApplyFailed", message, terminal: refusedAsInvalid(error) } };
    }
  }

  /**
   * The pipeline is being deleted. Decided on the object as it is now, read from the API server rather than the
   * cache, so the deletionPolicy in force at deletion is the one obeyed: Retain (or the skip annotation) keeps
   * every topic; Delete first stops the workers (deletes their Deployment and waits until it and its pods are
   * gone, so no write in flight lands on a topic being deleted), then deletes only the topics this operator
   * created for the pipeline (status.topics.created), never one it found already there.
   */
  async #finalize(namespace: string, name: string): Promise<ReconcileResult> {
    const object = await this.#latest(namespace, name);
    if (object === undefined || !(object.metadata.finalizers ?? []).includes(topicsFinalizer)) {
      return { kind: "forget" };
    }
    const { pipeline } = resolvePipelineOrRefusal(object);
    const names = topicNames(pipeline.topics);
    const own = ownTopics(object, pipeline, []);
    const kept = names.filter((topic) => !own.includes(topic));
    if (pipeline.topics.deletionPolicy !== "Delete") {
      await this.#event(
        object,
        "Normal",
        "TopicsRetained",
        `kept topics ${listed(names)}: spec.topics.deletionPolicy is ${pipeline.topics.deletionPolicy}`,
      );
    } else if (object.metadata.annotations?.[skipTopicDeletionAnnotation] === "true") {
      await this.#event(
        object,
        "Warning",
        "TopicDeletionSkipped",
        `released without deleting topics ${listed(names)}`,
      );
    } else {
      const workers = await this.#stopWorkers(object, pipeline);
      if (workers !== undefined) return workers;
      try {
        await this.deps.topics.delete(pipeline, own);
        const deleted = own.length === 0 ? "deleted no topic" : `deleted topics ${listed(own)}`;
        const left =
          kept.length === 0 ? "" : `; kept ${listed(kept)}, which the operator did not create for it`;
        await this.#event(object, "Normal", "TopicsDeleted", `${deleted}${left}`);
        if (pipeline.kafka.acls.manage) {
          await this.deps.acls.delete(pipeline, object.status?.acls?.granted ?? []);
          await this.#event(object, "Normal", "AclsDeleted", "deleted the ACLs granted to the workers");
        }
      } catch (error) {
        const message = `${errorMessage(error)}; the pipeline stays until its topics (and managed ACLs) are deleted, or until it is annotated ${skipTopicDeletionAnnotation}=true to release it and keep them`;
        await this.#event(object, "Warning", "TopicDeletionFailed", message);
        await this.#deletionStatus(object, pipeline, "TopicDeletionFailed", message);
        return this.#failed("TopicDeletionFailed", error instanceof KafkaAdminError && !error.retriable);
      }
    }
    await applyFinalizer(this.deps.objects, namespace, name, topicsFinalizer, false);
    this.deps.events.forget(object.metadata.uid ?? "");
    return { kind: "forget" };
  }

  /** The pipeline as the API server has it now; undefined once it is gone. */
  #latest(namespace: string, name: string): Promise<SentimentPipeline | undefined> {
    return readCustomObject(this.deps.customObjects, plural, namespace, name);
  }

  /**
   * Deletes the worker Deployment (foreground: it goes only after its ReplicaSets and pods) and says to look
   * again while it is there, up to workerStopTimeoutMs after its deletion began; undefined once the workers
   * are gone (or the wait is over). The Deployment watch brings the pipeline back as soon as it goes.
   */
  async #stopWorkers(
    object: SentimentPipeline,
    pipeline: ResolvedPipeline,
  ): Promise<ReconcileResult | undefined> {
    const name = workerName(pipeline);
    const { namespace } = pipeline;
    let deployment: V1Deployment;
    try {
      deployment = await this.deps.apps.readNamespacedDeployment({ name, namespace });
    } catch (error) {
      if (hasApiStatus(error, 404)) return undefined;
      throw error;
    }
    const stopping = deployment.metadata?.deletionTimestamp;
    if (stopping === undefined) {
      await this.deps.apps.deleteNamespacedDeployment({ name, namespace, propagationPolicy: "Foreground" });
      await this.#event(object, "Normal", "WorkersStopping", `deleting Deployment ${name} before the topics`);
    }
    const now = this.deps.now?.() ?? new Date();
    if (stopping !== undefined && now.getTime() - new Date(stopping).getTime() >= workerStopTimeoutMs) {
      await this.#event(
        object,
        "Warning",
        "WorkersStillStopping",
        `Deployment ${name} or its pods still exist ${workerStopTimeoutMs / 1000} s after their deletion began; deleting the topics all the same (workers never create topics)`,
      );
      return undefined;
    }
    await this.#deletionStatus(
      object,
      pipeline,
      "WorkersStopping",
      `waiting for Deployment ${name} and its pods to be gone before deleting the topics`,
    );
    return { kind: "resync", afterMs: Math.min(this.deps.resyncPeriodMs, workerStopTimeoutMs) };
  }

  /** Ready False with why a deletion waits; best effort, as the pipeline is on its way out. */
  async #deletionStatus(
    object: SentimentPipeline,
    pipeline: ResolvedPipeline,
    reason: string,
    message: string,
  ) {
    const { name = "", namespace = "" } = object.metadata;
    const conditions = mergeConditions(
      object.status?.conditions ?? [],
      [{ type: "Ready", status: "False", reason, message }],
      pipeline.generation,
      this.deps.now?.() ?? new Date(),
    );
    await applyStatus(this.deps.customObjects, namespace, name, { ...object.status, conditions }).catch(
      () => undefined,
    );
  }

  async #announceReadiness(object: SentimentPipeline, ready: { status: string; reason: string } | undefined) {
    const before = object.status?.conditions?.find((condition) => condition.type === "Ready")?.status;
    if (ready === undefined || ready.status === before) return;
    if (ready.status === "True")
      await this.#event(object, "Normal", "PipelineReady", "the pipeline is ready");
  }

  /** Paused when the Paused condition turns True, Resumed when it turns False again. */
  async #announcePause(
    object: SentimentPipeline,
    pipeline: ResolvedPipeline,
    paused: { status: string; message: string } | undefined,
  ) {
    const before = object.status?.conditions?.find((condition) => condition.type === "Paused")?.status;
    if (paused === undefined || (paused.status === "True") === (before === "True")) return;
    if (paused.status === "True") {
      await this.#event(object, "Normal", "Paused", paused.message);
      return;
    }
    const { minReplicas, activationLagThreshold } = pipeline.autoscaling;
    const restored =
      minReplicas === 0
        ? `scale to zero starts a worker once the lag is above ${activationLagThreshold}`
        : `the HPA scales the workers again, from ${replicaBounds(pipeline).minReplicas}`;
    await this.#event(object, "Normal", "Resumed", `no longer paused: ${restored}`);
  }

  async #event(object: SentimentPipeline, type: "Normal" | "Warning", reason: string, message: string) {
    await this.deps.events.record(object, type, reason, message).catch((error: unknown) => {
      this.deps.log("writing an event failed", { reason, error: errorMessage(error) });
    });
  }
}
