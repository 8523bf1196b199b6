// The worker's environment, rendered from the pipeline: the contract is worker/src/config.ts, which reads each
// variable below. Every value the pipeline decides is set explicitly, even when it equals the worker's default,
// so the pods run what the spec says whatever default a given worker image has.
import type { V1EnvVar } from "@kubernetes/client-node";
import type { ResolvedPipeline } from "../pipeline.ts";
import { modelDir } from "./model-source.ts";

/** The worker's HTTP port: /metrics, /healthz, /readyz. */
export const workerHttpPort = 8080;
export const workerHttpPortName = "http";

/** Bound on the worker's graceful shutdown; the pod's termination grace period is derived from it. */
export const workerShutdownTimeoutMs = 25_000;

function value(name: string, setting: string | number): V1EnvVar {
  return { name, value: String(setting) };
}

function fromPodField(name: string, fieldPath: string): V1EnvVar {
  return { name, valueFrom: { fieldRef: { apiVersion: "v1", fieldPath } } };
}

/**
 * How to reach Kafka. TLS and SASL (spec.kafka.tls / sasl) will add their variables here, with the credentials
 * as secretKeyRef entries rather than values, so they never appear in the Deployment or its checksum input.
 */
function kafkaEnv(pipeline: ResolvedPipeline): V1EnvVar[] {
  return [
    value("KAFKA_BOOTSTRAP_SERVERS", pipeline.kafka.bootstrapServers.join(",")),
    value("KAFKA_GROUP_ID", pipeline.consumerGroup),
    // The pod name: unique per member, so broker logs and group descriptions name the pod.
    fromPodField("KAFKA_CLIENT_ID", "metadata.name"),
  ];
}

function modelEnv(pipeline: ResolvedPipeline): V1EnvVar[] {
  const dir = modelDir(pipeline.model.source);
  return [
    ...(dir === undefined ? [] : [value("MODEL_DIR", dir)]),
    value("MODEL_MAX_SEQUENCE_LENGTH", pipeline.model.maxSequenceLength),
  ];
}

export function renderWorkerEnv(pipeline: ResolvedPipeline): V1EnvVar[] {
  const { topics, worker } = pipeline;
  return [
    ...kafkaEnv(pipeline),
    value("TOPIC_REQUESTS", topics.requests),
    value("TOPIC_RESPONSES", topics.responses),
    value("TOPIC_DEAD_LETTER", topics.deadLetter),
    ...modelEnv(pipeline),
    value("BATCH_MAX_SIZE", worker.batch.maxSize),
    value("BATCH_MAX_WAIT_MS", worker.batch.maxWaitMs),
    value("RETRY_MAX_ATTEMPTS", worker.retry.maxAttempts),
    value("RETRY_INITIAL_BACKOFF_MS", worker.retry.initialBackoffMs),
    value("RETRY_MAX_BACKOFF_MS", worker.retry.maxBackoffMs),
    value("BREAKER_FAILURE_THRESHOLD", worker.circuitBreaker.failureThreshold),
    value("BREAKER_RESET_TIMEOUT_MS", worker.circuitBreaker.resetTimeoutMs),
    value("HTTP_PORT", workerHttpPort),
    value("SHUTDOWN_TIMEOUT_MS", workerShutdownTimeoutMs),
  ];
}
