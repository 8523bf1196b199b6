// The SentimentPipeline resource as the operator sees it: the stored object's shape, and the pipeline with
// every default resolved, which is what every pure renderer and planner takes. crds/ holds the schema; the
// API server applies its defaults, and `resolvePipeline` applies them again so an object written before a
// default existed (or read from a test fixture) renders the same. Every default is decided here and nowhere
// else: readers of a ResolvedPipeline never fall back to one of their own.
import type { V1ObjectMeta } from "@kubernetes/client-node";

export const group = "kubesentiment.io";
export const version = "v1alpha1";
export const plural = "sentimentpipelines";
export const kind = "SentimentPipeline";
export const apiVersion = `${group}/${version}`;

type SaslMechanism = "scram-sha-512" | "scram-sha-256";

export interface PipelineSpec {
  kafka: {
    bootstrapServers: string[];
    tls?: {
      enabled?: boolean;
      caSecretRef?: { name: string; key?: string };
      certSecretRef?: { name: string };
    };
    sasl?: { mechanism?: SaslMechanism; secretRef: { name: string } };
  };
  topics?: {
    requests?: string;
    responses?: string;
    deadLetter?: string;
    partitions?: number;
    replicationFactor?: number;
    config?: Record<string, string>;
    deletionPolicy?: "Retain" | "Delete";
  };
  model?: {
    source?: {
      builtin?: Record<string, never>;
      volume?: { claimName: string; subPath?: string };
      url?: { url: string; sha256: string };
    };
    maxSequenceLength?: number;
    threads?: number;
    intraOpThreads?: number;
  };
  worker?: {
    image?: string;
    resources?: { requests?: Record<string, string | number>; limits?: Record<string, string | number> };
    batch?: { maxSize?: number; maxWaitMs?: number };
    retry?: { maxAttempts?: number; initialBackoffMs?: number; maxBackoffMs?: number };
    circuitBreaker?: { failureThreshold?: number; resetTimeoutMs?: number };
  };
  autoscaling?: {
    minReplicas?: number;
    maxReplicas?: number;
    lagThreshold?: number;
    activationLagThreshold?: number;
    scaleToZeroAfterSeconds?: number;
    scaleDownStabilizationSeconds?: number;
  };
}

export interface Condition {
  type: ConditionType;
  status: "True" | "False" | "Unknown";
  observedGeneration?: number;
  lastTransitionTime: string;
  reason: string;
  message: string;
}

export type ConditionType = "Ready" | "TopicsReady" | "WorkersAvailable" | "AutoscalingActive";

export interface PipelineStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  topics?: { requests: string; responses: string; deadLetter: string; partitions: number };
  replicas?: number;
  readyReplicas?: number;
  desiredReplicas?: number;
  consumerLag?: number;
  lastActiveTime?: string;
  /** The requests topic's log end offsets summed, as last read; kept with lastActiveTime for scale to zero. */
  requestsLogEndOffset?: number;
}

export interface SentimentPipeline {
  apiVersion: string;
  kind: string;
  metadata: V1ObjectMeta;
  spec: PipelineSpec;
  status?: PipelineStatus;
}

export type ModelSource =
  | { kind: "builtin" }
  | { kind: "volume"; claimName: string; subPath: string | undefined }
  | { kind: "url"; url: string; sha256: string };

/** A pipeline with every default applied and every derived name decided. */
export interface ResolvedPipeline {
  name: string;
  namespace: string;
  uid: string;
  generation: number;
  kafka: {
    bootstrapServers: string[];
    /** Undefined when TLS is off: no spec.kafka.tls, or tls.enabled false. */
    tls:
      | {
          /** Undefined: the system's CAs. */
          caSecretRef: { name: string; key: string } | undefined;
          /** A kubernetes.io/tls Secret (tls.crt, tls.key); undefined: no client certificate. */
          certSecretRef: { name: string } | undefined;
        }
      | undefined;
    sasl: { mechanism: SaslMechanism; secretRef: { name: string } } | undefined;
  };
  topics: {
    requests: string;
    responses: string;
    deadLetter: string;
    partitions: number;
    replicationFactor: number;
    config: Record<string, string>;
    deletionPolicy: "Retain" | "Delete";
  };
  /** The consumer group every worker of this pipeline joins. */
  consumerGroup: string;
  model: { source: ModelSource; maxSequenceLength: number; threads: number; intraOpThreads: number };
  worker: {
    image: string | undefined;
    resources: NonNullable<NonNullable<PipelineSpec["worker"]>["resources"]>;
    batch: { maxSize: number; maxWaitMs: number };
    retry: { maxAttempts: number; initialBackoffMs: number; maxBackoffMs: number };
    circuitBreaker: { failureThreshold: number; resetTimeoutMs: number };
  };
  autoscaling: {
    minReplicas: number;
    maxReplicas: number;
    lagThreshold: number;
    activationLagThreshold: number;
    scaleToZeroAfterSeconds: number;
    scaleDownStabilizationSeconds: number;
  };
}

function kafkaSettings(kafka: PipelineSpec["kafka"]): ResolvedPipeline["kafka"] {
  const { tls, sasl } = kafka;
  return {
    bootstrapServers: kafka.bootstrapServers,
    tls:
      tls === undefined || tls.enabled === false
        ? undefined
        : {
            caSecretRef:
              tls.caSecretRef === undefined
                ? undefined
                : { name: tls.caSecretRef.name, key: tls.caSecretRef.key ?? "ca.crt" },
            certSecretRef: tls.certSecretRef,
          },
    sasl:
      sasl === undefined
        ? undefined
        : { mechanism: sasl.mechanism ?? "scram-sha-512", secretRef: sasl.secretRef },
  };
}

function modelSource(source: NonNullable<PipelineSpec["model"]>["source"]): ModelSource {
  if (source?.volume !== undefined) {
    return { kind: "volume", claimName: source.volume.claimName, subPath: source.volume.subPath };
  }
  if (source?.url !== undefined) return { kind: "url", url: source.url.url, sha256: source.url.sha256 };
  return { kind: "builtin" };
}

export function resolvePipeline(pipeline: SentimentPipeline): ResolvedPipeline {
  const { metadata, spec } = pipeline;
  const name = metadata.name ?? "";
  const namespace = metadata.namespace ?? "default";
  const topics = spec.topics ?? {};
  const worker = spec.worker ?? {};
  const autoscaling = spec.autoscaling ?? {};
  return {
    name,
    namespace,
    uid: metadata.uid ?? "",
    generation: metadata.generation ?? 0,
    kafka: kafkaSettings(spec.kafka),
    topics: {
      requests: topics.requests ?? `${name}-requests`,
      responses: topics.responses ?? `${name}-responses`,
      deadLetter: topics.deadLetter ?? `${name}-dlq`,
      partitions: topics.partitions ?? 8,
      replicationFactor: topics.replicationFactor ?? 3,
      config: topics.config ?? {},
      deletionPolicy: topics.deletionPolicy ?? "Retain",
    },
    // Namespaced so two pipelines of the same name in different namespaces never share a group.
    consumerGroup: `kubesentiment.${namespace}.${name}`,
    model: {
      source: modelSource(spec.model?.source),
      maxSequenceLength: spec.model?.maxSequenceLength ?? 128,
      threads: spec.model?.threads ?? 1,
      intraOpThreads: spec.model?.intraOpThreads ?? 1,
    },
    worker: {
      image: worker.image,
      resources: worker.resources ?? {},
      batch: { maxSize: worker.batch?.maxSize ?? 64, maxWaitMs: worker.batch?.maxWaitMs ?? 0 },
      retry: {
        maxAttempts: worker.retry?.maxAttempts ?? 3,
        initialBackoffMs: worker.retry?.initialBackoffMs ?? 100,
        maxBackoffMs: worker.retry?.maxBackoffMs ?? 10_000,
      },
      circuitBreaker: {
        failureThreshold: worker.circuitBreaker?.failureThreshold ?? 5,
        resetTimeoutMs: worker.circuitBreaker?.resetTimeoutMs ?? 30_000,
      },
    },
    autoscaling: {
      minReplicas: autoscaling.minReplicas ?? 1,
      maxReplicas: autoscaling.maxReplicas ?? 8,
      lagThreshold: autoscaling.lagThreshold ?? 1000,
      activationLagThreshold: autoscaling.activationLagThreshold ?? 0,
      scaleToZeroAfterSeconds: autoscaling.scaleToZeroAfterSeconds ?? 300,
      scaleDownStabilizationSeconds: autoscaling.scaleDownStabilizationSeconds ?? 300,
    },
  };
}
