// Pipelines the render tests share: one with every default, one with every setting changed.
import {
  apiVersion,
  kind,
  type PipelineSpec,
  type ResolvedPipeline,
  resolvePipeline,
} from "../../../operator/src/pipeline.ts";

export function pipelineOf(spec: PipelineSpec, name = "reviews"): ResolvedPipeline {
  return resolvePipeline({
    apiVersion,
    kind,
    metadata: { name, namespace: "shop", uid: "0b5e6c9a-1111-4222-8333-444455556666", generation: 3 },
    spec,
  });
}

export const defaultSpec: PipelineSpec = {
  kafka: { bootstrapServers: ["kafka-0.kafka:9092", "kafka-1.kafka:9092"] },
};

export const customSpec: PipelineSpec = {
  kafka: { bootstrapServers: ["broker.example:9093"] },
  topics: {
    requests: "in",
    responses: "out",
    deadLetter: "bad",
    partitions: 12,
    replicationFactor: 1,
    deletionPolicy: "Delete",
  },
  model: {
    source: { url: { url: "https://models.example/sst2.tar.gz", sha256: "ab".repeat(32) } },
    maxSequenceLength: 256,
    threads: 2,
    intraOpThreads: 3,
  },
  worker: {
    image: "registry.example/kubesentiment-worker:custom",
    resources: { requests: { cpu: 2, memory: "1Gi" }, limits: { cpu: "4", memory: "2Gi" } },
    batch: { maxSize: 128, maxWaitMs: 0 },
    retry: { maxAttempts: 7, initialBackoffMs: 50, maxBackoffMs: 2000 },
    circuitBreaker: { failureThreshold: 9, resetTimeoutMs: 60_000 },
  },
  autoscaling: { minReplicas: 2, maxReplicas: 10, lagThreshold: 250, activationLagThreshold: 5 },
};

export const defaultImage = "ghcr.io/kubesentiment/worker:0.1.0";
