// The pipeline's status as a pure function of what one reconcile observed: the topics' outcome, the
// Deployment and HPA as the cluster reports them, and the consumer lag. Reconcile writes it once.
import type { V1Deployment, V2HorizontalPodAutoscaler } from "@kubernetes/client-node";
import type { Condition, PipelineStatus, ResolvedPipeline } from "../pipeline.ts";
import { type ConditionInput, mergeConditions } from "./conditions.ts";

/** What happened to the topics in this reconcile. */
export type TopicsOutcome =
  | { state: "ready" }
  /** `exist`: the topics are there (a refused change leaves them as they were), so workers can run. */
  | { state: "failed"; reason: string; message: string; exist: boolean };

export interface Observation {
  pipeline: ResolvedPipeline;
  topics: TopicsOutcome;
  /** Undefined when the Deployment does not exist (yet). */
  deployment: V1Deployment | undefined;
  hpa: V2HorizontalPodAutoscaler | undefined;
  /** The HPA's maxReplicas was lowered to the partition count. */
  cappedByPartitions: boolean;
  /** Set when applying the owned objects failed. */
  workloadError: { reason: string; message: string } | undefined;
  consumerLag: number | undefined;
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

function workersCondition({ deployment, workloadError }: Observation): ConditionInput {
  const type = "WorkersAvailable";
  if (workloadError !== undefined) return { type, status: "False", ...workloadError };
  if (deployment === undefined) {
    return {
      type,
      status: "False",
      reason: "DeploymentMissing",
      message: "the worker Deployment does not exist yet",
    };
  }
  const name = deployment.metadata?.name ?? "";
  const desired = deployment.spec?.replicas ?? 0;
  const available = deployment.status?.availableReplicas ?? 0;
  const updated = deployment.status?.updatedReplicas ?? 0;
  if (desired === 0) {
    return { type, status: "True", reason: "ScaledToZero", message: `Deployment ${name} is scaled to zero` };
  }
  const rollout =
    updated < desired ? `; rolling out a new configuration: ${updated} of ${desired} updated` : "";
  if (available > 0) {
    return {
      type,
      status: "True",
      reason: "WorkersAvailable",
      message: `${available} of ${desired} workers available${rollout}`,
    };
  }
  const progressing = deployment.status?.conditions?.find((condition) => condition.type === "Progressing");
  const stalled = progressing?.reason === "ProgressDeadlineExceeded" ? `: ${progressing.message ?? ""}` : "";
  return {
    type,
    status: "False",
    reason: stalled === "" ? "NoWorkerAvailable" : "ProgressDeadlineExceeded",
    message: `0 of ${desired} workers of Deployment ${name} available${stalled || rollout}`,
  };
}

function autoscalingCondition({ hpa, pipeline, cappedByPartitions }: Observation): ConditionInput {
  const type = "AutoscalingActive";
  if (hpa === undefined) {
    return {
      type,
      status: "False",
      reason: "HorizontalPodAutoscalerMissing",
      message: "the HorizontalPodAutoscaler does not exist yet",
    };
  }
  const conditions = hpa.status?.conditions ?? [];
  const active = conditions.find((condition) => condition.type === "ScalingActive");
  const limited = conditions.find((condition) => condition.type === "ScalingLimited");
  const max = hpa.spec?.maxReplicas ?? 0;
  const partitions = pipeline.topics.partitions;
  const cap =
    cappedByPartitions || (limited?.status === "True" && max === partitions)
      ? `; at most ${max} replicas: the requests topic has ${partitions} partitions and a consumer group cannot use more consumers than that`
      : "";
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

/** Ready needs topics and workers; autoscaling is reported beside it but does not stop the pipeline working. */
function readyCondition(parts: readonly ConditionInput[]): ConditionInput {
  const blocking = parts.find(
    (condition) => condition.type !== "AutoscalingActive" && condition.status !== "True",
  );
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
    workersCondition(observation),
    autoscalingCondition(observation),
  ];
  const conditions = mergeConditions(previous, [readyCondition(parts), ...parts], pipeline.generation, now);
  const status: PipelineStatus = {
    observedGeneration: pipeline.generation,
    conditions,
    topics: {
      requests: pipeline.topics.requests,
      responses: pipeline.topics.responses,
      deadLetter: pipeline.topics.deadLetter,
      partitions: pipeline.topics.partitions,
    },
    replicas: deployment?.status?.replicas ?? 0,
    readyReplicas: deployment?.status?.readyReplicas ?? 0,
  };
  const desired = hpa?.status?.desiredReplicas ?? deployment?.spec?.replicas;
  if (desired !== undefined) status.desiredReplicas = desired;
  if (observation.consumerLag !== undefined) status.consumerLag = observation.consumerLag;
  return status;
}
