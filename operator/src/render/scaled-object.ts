// The worker autoscaler when spec.autoscaling.provider is keda: a KEDA ScaledObject with KEDA's Kafka scaler in
// place of the operator's HPA, for clusters whose one external.metrics.k8s.io APIService is KEDA's. It carries
// the pipeline's lag rules as far as the scaler's options reach (the README says where they stop): the same
// group, topic, lagThreshold and activation threshold; no more workers than partitions with lag
// (limitToPartitionsWithLag, which needs allowIdleConsumers false); a partition whose committed offset does not
// move (a stuck or poison record) left out of the sum (excludePersistentLag); a group without offsets counted
// from the log start, as the worker consumes from the beginning (offsetResetPolicy earliest). KEDA scales to and
// from zero itself (minReplicaCount 0, cooldownPeriod), and KEDA's own pause annotation holds a paused pipeline
// at 0, so its scale loop never wakes the workers behind the operator's back. KEDA copies the ScaledObject's
// labels onto the HPA it makes, but not the managed-by one: that HPA is KEDA's, and the operator's watch of the
// HPAs it manages (by that label) has no reason to wake its pipeline at each of its status updates.
// The pipeline's SASL and TLS reach the scaler through a TriggerAuthentication naming the pipeline's own Secrets.
import type { V1ObjectMeta, V2HorizontalPodAutoscalerBehavior } from "@kubernetes/client-node";
import type { ResolvedPipeline, SaslMechanism } from "../pipeline.ts";
import { behavior, replicaBounds } from "./hpa.ts";
import { workerName, workerObjectMeta } from "./labels.ts";

export const kedaApiVersion = "keda.sh/v1alpha1";
/** KEDA scales the target to this many replicas and stops scaling it while the annotation is set. */
export const pausedReplicasAnnotation = "autoscaling.keda.sh/paused-replicas";
/** Labels of the ScaledObject KEDA leaves off the HPA it makes for it. */
export const hpaExcludedLabelsAnnotation = "scaledobject.keda.sh/hpa-excluded-labels";

/** One of KEDA's status conditions (Ready, Active, Fallback, Paused). */
export interface KedaCondition {
  type: string;
  status: "True" | "False" | "Unknown";
  reason?: string;
  message?: string;
}

export interface ScaledObject {
  apiVersion: typeof kedaApiVersion;
  kind: "ScaledObject";
  metadata: V1ObjectMeta;
  spec: {
    scaleTargetRef: { apiVersion: string; kind: string; name: string };
    minReplicaCount: number;
    maxReplicaCount: number;
    cooldownPeriod: number;
    advanced: { horizontalPodAutoscalerConfig: { behavior: V2HorizontalPodAutoscalerBehavior } };
    triggers: {
      type: "kafka";
      metadata: Record<string, string>;
      authenticationRef?: { name: string };
    }[];
  };
  status?: { conditions?: KedaCondition[]; hpaName?: string };
}

export interface TriggerAuthentication {
  apiVersion: typeof kedaApiVersion;
  kind: "TriggerAuthentication";
  metadata: V1ObjectMeta;
  spec: { secretTargetRef: { parameter: string; name: string; key: string }[] };
}

/**
 * KEDA's floor may be 0 (it scales to and from zero itself, unlike an HPA); the ceiling is the HPA's, capped at
 * the partition count.
 */
export function kedaReplicaBounds(pipeline: ResolvedPipeline): { min: number; max: number } {
  const { minReplicas, maxReplicas } = replicaBounds(pipeline);
  return { min: pipeline.autoscaling.minReplicas === 0 ? 0 : minReplicas, max: maxReplicas };
}

/** The Secret keys the scaler reads as authentication parameters; empty when Kafka needs no credentials. */
function secretTargets(pipeline: ResolvedPipeline): TriggerAuthentication["spec"]["secretTargetRef"] {
  const { sasl, tls } = pipeline.kafka;
  const targets: TriggerAuthentication["spec"]["secretTargetRef"] = [];
  if (sasl !== undefined) {
    targets.push(
      { parameter: "username", name: sasl.secretRef.name, key: "username" },
      { parameter: "password", name: sasl.secretRef.name, key: "password" },
    );
  }
  if (tls?.caSecretRef !== undefined) {
    targets.push({ parameter: "ca", name: tls.caSecretRef.name, key: tls.caSecretRef.key });
  }
  if (tls?.certSecretRef !== undefined) {
    targets.push(
      { parameter: "cert", name: tls.certSecretRef.name, key: "tls.crt" },
      { parameter: "key", name: tls.certSecretRef.name, key: "tls.key" },
    );
  }
  return targets;
}

/** The TriggerAuthentication for the pipeline's credentials; undefined when Kafka needs none. */
export function renderTriggerAuthentication(pipeline: ResolvedPipeline): TriggerAuthentication | undefined {
  const secretTargetRef = secretTargets(pipeline);
  if (secretTargetRef.length === 0) return undefined;
  return {
    apiVersion: kedaApiVersion,
    kind: "TriggerAuthentication",
    metadata: workerObjectMeta(pipeline),
    spec: { secretTargetRef },
  };
}

/** The scaler's names for the pipeline's SASL mechanisms. */
const kedaSaslMechanisms: Record<SaslMechanism, string> = {
  "scram-sha-512": "scram_sha512",
  "scram-sha-256": "scram_sha256",
};

/** The Kafka scaler's metadata: where to read the lag, and the lag rules it can express. */
function kafkaTriggerMetadata(pipeline: ResolvedPipeline): Record<string, string> {
  const { kafka, autoscaling } = pipeline;
  const metadata: Record<string, string> = {
    bootstrapServers: kafka.bootstrapServers.join(","),
    consumerGroup: pipeline.consumerGroup,
    topic: pipeline.topics.requests,
    lagThreshold: String(autoscaling.lagThreshold),
    activationLagThreshold: String(autoscaling.activationLagThreshold),
    offsetResetPolicy: "earliest",
    allowIdleConsumers: "false",
    limitToPartitionsWithLag: "true",
    excludePersistentLag: "true",
  };
  if (kafka.sasl !== undefined) metadata.sasl = kedaSaslMechanisms[kafka.sasl.mechanism];
  if (kafka.tls !== undefined) metadata.tls = "enable";
  return metadata;
}

/** The ScaledObject; `paused` (by spec or a replay's hold) sets KEDA's pause at 0 replicas. */
export function renderScaledObject(
  pipeline: ResolvedPipeline,
  { paused }: { paused: boolean },
): ScaledObject {
  const { min, max } = kedaReplicaBounds(pipeline);
  const meta = workerObjectMeta(pipeline);
  const authenticated = renderTriggerAuthentication(pipeline) !== undefined;
  return {
    apiVersion: kedaApiVersion,
    kind: "ScaledObject",
    metadata: {
      ...meta,
      annotations: {
        [hpaExcludedLabelsAnnotation]: "app.kubernetes.io/managed-by",
        ...(paused ? { [pausedReplicasAnnotation]: "0" } : {}),
      },
    },
    spec: {
      scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: workerName(pipeline) },
      minReplicaCount: min,
      maxReplicaCount: max,
      // KEDA's cooldown applies only to the step from 1 to 0, as scaleToZeroAfterSeconds does.
      cooldownPeriod: pipeline.autoscaling.scaleToZeroAfterSeconds,
      advanced: { horizontalPodAutoscalerConfig: { behavior: behavior(pipeline, max) } },
      triggers: [
        {
          type: "kafka",
          metadata: kafkaTriggerMetadata(pipeline),
          ...(authenticated ? { authenticationRef: { name: workerName(pipeline) } } : {}),
        },
      ],
    },
  };
}
