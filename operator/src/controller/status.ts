// The pipeline's status as a pure function of what one reconcile observed: the topics' outcome, the
// Deployment and HPA as the cluster reports them, and the consumer lag. Reconcile writes it once.
import type { V1Deployment, V2HorizontalPodAutoscaler } from "@kubernetes/client-node";
import type { LagMetric } from "../autoscaling/lag-metric.ts";
import type { Activity } from "../autoscaling/scale-to-zero.ts";
import type { AclBinding } from "../kafka/acl-plan.ts";
import type { Condition, PipelineStatus, ResolvedPipeline } from "../pipeline.ts";
import { type ConditionInput, mergeConditions } from "./conditions.ts";
import { type KedaOutcome, kedaAutoscalingCondition } from "./keda-status.ts";
import type { PodFailure } from "./pod-failures.ts";

/** What happened to the topics in this reconcile. */
export type TopicsOutcome =
  | { state: "ready" }
  /** `exist`: the topics are there (a refused change leaves them as they were), so workers can run. */
  | { state: "failed"; reason: string; message: string; exist: boolean };

/** What holds the workers at 0 replicas: spec.paused, and holds from elsewhere, each described for a person. */
export interface Pause {
  bySpec: boolean;
  /** E.g. "SentimentReplay nightly", from ReconcilerDeps.pauseHolds. */
  holds: readonly string[];
}

export function isPaused(pause: Pause): boolean {
  return pause.bySpec || pause.holds.length > 0;
}

export interface Observation {
  pipeline: ResolvedPipeline;
  pause: Pause;
  topics: TopicsOutcome;
  /** The AclsReady condition; undefined leaves it as it was (absent unless ACLs ever concerned the operator). */
  acls: Omit<ConditionInput, "type"> | undefined;
  /** Undefined when the Deployment does not exist (yet). */
  deployment: V1Deployment | undefined;
  /** Why a worker pod fails, looked for only while workersShort(deployment); undefined when none is found. */
  podFailure: PodFailure | undefined;
  /** The built-in autoscaler; undefined with provider keda. */
  hpa: V2HorizontalPodAutoscaler | undefined;
  /** With provider keda: what applying the ScaledObject came to; undefined when it was not applied. */
  keda: KedaOutcome | undefined;
  /** The HPA's maxReplicas was lowered to the partition count. */
  cappedByPartitions: boolean;
  /** Set when applying the owned objects failed. */
  workloadError: { reason: string; message: string } | undefined;
  /** Undefined when the lag could not be read. */
  lag: LagMetric | undefined;
  /** Kept only while scale to zero is on (minReplicas 0). */
  activity: Activity | undefined;
  /** Those of the pipeline's topics the operator created for it (the only ones it may delete). */
  createdTopics: string[];
  /** While it manages the workers' ACLs: the bindings the operator holds granted (the only ones it revokes). */
  grantedAcls: AclBinding[] | undefined;
}

function topicsCondition({ pipeline, topics }: Observation): ConditionInput {
  if (topics.state === "failed") {
    return { type: "TopicsReady", status: "False", reason: topics.reason, message: topics.message };
  }
  const { requests, responses, deadLetter, partitions } = pipeline.topics;
  return {
    type: "TopicsReady",
    status: "True",
    reason: "TopicsReady",
    message: `topics ${requests}, ${responses} and ${deadLetter} exist with ${partitions} partitions and are writable`,
  };
}

function workerCounts(deployment: V1Deployment) {
  return {
    desired: deployment.spec?.replicas ?? 0,
    available: deployment.status?.availableReplicas ?? 0,
    updated: deployment.status?.updatedReplicas ?? 0,
    /** Every pod of the Deployment's ReplicaSets: more than the updated ones while old pods still run. */
    total: deployment.status?.replicas ?? 0,
  };
}

/**
 * Fewer workers available or updated than desired, or old pods still running beside the updated ones (a roll-out
 * whose new pods do not become ready, the old ones answering meanwhile): only then are the pods worth reading for
 * a failure, so a pipeline in its steady state costs no call for them.
 */
export function workersShort(deployment: V1Deployment | undefined): boolean {
  if (deployment === undefined) return false;
  const { desired, available, updated, total } = workerCounts(deployment);
  return available < desired || updated < desired || total > updated;
}

/** What a roll-out in progress adds to the WorkersAvailable message; empty when none is. */
function rolloutNote({ desired, updated, total }: ReturnType<typeof workerCounts>): string {
  if (updated < desired) return `; rolling out a new configuration: ${updated} of ${desired} updated`;
  const old = total - updated;
  if (old === 0) return "";
  return `; rolling out a new configuration: ${old} old pod${old === 1 ? "" : "s"} still running until the new ones are ready`;
}

function workersCondition({ deployment, podFailure, workloadError }: Observation): ConditionInput {
  const type = "WorkersAvailable";
  if (workloadError !== undefined) {
    return { type, status: "False", reason: workloadError.reason, message: workloadError.message };
  }
  if (deployment === undefined) {
    return {
      type,
      status: "False",
      reason: "DeploymentMissing",
      message: "the worker Deployment does not exist yet",
    };
  }
  const name = deployment.metadata?.name ?? "";
  const { desired, available } = workerCounts(deployment);
  if (desired === 0) {
    return { type, status: "True", reason: "ScaledToZero", message: `Deployment ${name} is scaled to zero` };
  }
  const rollout = rolloutNote(workerCounts(deployment));
  const failing = podFailure === undefined ? "" : `; pod ${podFailure.pod}: ${podFailure.message}`;
  if (available > 0) {
    // The workers that are there answer; a failing new pod is worth saying, not a reason to call them gone.
    return {
      type,
      status: "True",
      reason: "WorkersAvailable",
      message: `${available} of ${desired} workers available${rollout}${failing}`,
    };
  }
  const progressing = deployment.status?.conditions?.find((condition) => condition.type === "Progressing");
  const stalled = progressing?.reason === "ProgressDeadlineExceeded" ? `: ${progressing.message ?? ""}` : "";
  const reason =
    podFailure !== undefined
      ? "WorkerPodFailing"
      : stalled === ""
        ? "NoWorkerAvailable"
        : "ProgressDeadlineExceeded";
  return {
    type,
    status: "False",
    reason,
    message: `0 of ${desired} workers of Deployment ${name} available${stalled || rollout}${failing}`,
  };
}

function partitionCapNote(partitions: number): string {
  return `; at most ${partitions} replicas: the requests topic has ${partitions} partitions and each is consumed by one worker at a time`;
}

/**
 * What holds the replicas, when the partitions do: a partition is consumed by one worker at a time, so
 * partitions far behind ask for one worker each and no more (see autoscaling/lag-metric.ts).
 */
function partitionNote({ hpa, pipeline, cappedByPartitions, lag }: Observation): string {
  const partitions = pipeline.topics.partitions;
  const limited = hpa?.status?.conditions?.find((condition) => condition.type === "ScalingLimited");
  const saturated = lag?.saturatedPartitions ?? [];
  if (
    cappedByPartitions ||
    saturated.length === partitions ||
    (limited?.status === "True" && hpa?.spec?.maxReplicas === partitions)
  ) {
    return partitionCapNote(partitions);
  }
  if (saturated.length > 0) {
    return `; partition(s) ${saturated.join(", ")} are more than ${pipeline.autoscaling.lagThreshold} messages behind and count as one worker each, since a partition is consumed by one worker at a time`;
  }
  return "";
}

function autoscalingCondition(observation: Observation): ConditionInput {
  const { hpa, pipeline } = observation;
  if (pipeline.autoscaling.provider === "keda") {
    // KEDA sums the lag uncapped (see render/scaled-object.ts): only the partition ceiling is worth a note.
    const note = observation.cappedByPartitions ? partitionCapNote(pipeline.topics.partitions) : "";
    return kedaAutoscalingCondition(observation.keda, note);
  }
  const type = "AutoscalingActive";
  if (hpa === undefined) {
    return {
      type,
      status: "False",
      reason: "HorizontalPodAutoscalerMissing",
      message: "the HorizontalPodAutoscaler does not exist yet",
    };
  }
  const active = hpa.status?.conditions?.find((condition) => condition.type === "ScalingActive");
  const cap = partitionNote(observation);
  if (active === undefined) {
    return {
      type,
      status: "Unknown",
      reason: "AwaitingMetrics",
      message: `the HorizontalPodAutoscaler has not evaluated the consumer-lag metric yet${cap}`,
    };
  }
  return {
    type,
    status: active.status === "True" ? "True" : "False",
    reason: active.reason ?? (active.status === "True" ? "ScalingActive" : "ScalingInactive"),
    message: `${active.message ?? ""}${cap}`,
  };
}

function pausedCondition({ pause, pipeline }: Observation): ConditionInput {
  const type = "Paused";
  const held = `the workers are held at 0 replicas and requests wait in ${pipeline.topics.requests}`;
  const others = pause.holds.join(", ");
  if (pause.bySpec) {
    const also = others === "" ? "" : `; also held by ${others}`;
    return {
      type,
      status: "True",
      reason: "PausedBySpec",
      message: `spec.paused is true: ${held}; set spec.paused to false to resume${also}`,
    };
  }
  if (others !== "") {
    return {
      type,
      status: "True",
      reason: "HeldByReplay",
      message: `held by ${others}: ${held} until it lets go`,
    };
  }
  return { type, status: "False", reason: "NotPaused", message: "autoscaling sets the workers' replicas" };
}

/**
 * Ready needs topics, ACLs that are not known to be missing, and workers; autoscaling is reported beside it but
 * does not stop the pipeline working. A pause is not Ready either, but something broken is named first: that is
 * what needs a person.
 */
function readyCondition(parts: readonly ConditionInput[], paused: ConditionInput): ConditionInput {
  const blocks = (condition: ConditionInput) =>
    condition.type === "AclsReady" ? condition.status === "False" : condition.type !== "AutoscalingActive";
  const blocking =
    parts.find((condition) => blocks(condition) && condition.status !== "True") ??
    (paused.status === "True" ? { ...paused, reason: "Paused" } : undefined);
  return blocking === undefined
    ? {
        type: "Ready",
        status: "True",
        reason: "PipelineReady",
        message: "topics exist and workers are consuming",
      }
    : { type: "Ready", status: "False", reason: blocking.reason, message: blocking.message };
}

export function computeStatus(
  observation: Observation,
  previous: readonly Condition[],
  now: Date,
): PipelineStatus {
  const { pipeline, deployment, hpa } = observation;
  const parts = [
    topicsCondition(observation),
    ...(observation.acls === undefined ? [] : [{ type: "AclsReady" as const, ...observation.acls }]),
    workersCondition(observation),
    autoscalingCondition(observation),
  ];
  const paused = pausedCondition(observation);
  // A pipeline that no longer has the operator manage or check ACLs drops what was last said about them.
  const aclsConcern = pipeline.kafka.acls.manage || pipeline.kafka.admin !== undefined;
  const conditions = mergeConditions(
    aclsConcern ? previous : previous.filter((condition) => condition.type !== "AclsReady"),
    [readyCondition(parts, paused), ...parts, paused],
    pipeline.generation,
    now,
  );
  const status: PipelineStatus = {
    observedGeneration: pipeline.generation,
    conditions,
    topics: {
      requests: pipeline.topics.requests,
      responses: pipeline.topics.responses,
      deadLetter: pipeline.topics.deadLetter,
      partitions: pipeline.topics.partitions,
      created: observation.createdTopics,
    },
    replicas: deployment?.status?.replicas ?? 0,
    readyReplicas: deployment?.status?.readyReplicas ?? 0,
  };
  const desired = hpa?.status?.desiredReplicas ?? deployment?.spec?.replicas;
  if (desired !== undefined) status.desiredReplicas = desired;
  if (observation.lag !== undefined) status.consumerLag = observation.lag.total;
  if (observation.activity !== undefined) {
    status.lastActiveTime = new Date(observation.activity.lastActiveAt).toISOString();
    status.requestsLogEndOffset = observation.activity.logEndOffset;
  }
  if (observation.grantedAcls !== undefined) status.acls = { granted: observation.grantedAcls };
  return status;
}
