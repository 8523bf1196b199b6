// The worker's environment, rendered from the pipeline: the contract is common/src/worker-env.ts, whose names
// type every variable below and whose ranges the worker checks at start. Every value the pipeline decides is set explicitly, even when it equals the worker's default,
// so the pods run what the spec says whatever default a given worker image has.
import type { V1EnvVar, V1Volume, V1VolumeMount } from "@kubernetes/client-node";
import type { WorkerEnvVariable } from "../../../common/src/worker-env.ts";
import type { ResolvedPipeline } from "../pipeline.ts";
import { modelDir } from "./model-source.ts";
import { secretVolume } from "./secret-volume.ts";

/** The worker's HTTP port: /metrics, /healthz, /readyz. */
export const workerHttpPort = 8080;
export const workerHttpPortName = "http";

/** Bound on the worker's graceful shutdown; the pod's termination grace period is derived from it. */
export const workerShutdownTimeoutMs = 25_000;

function literal(name: WorkerEnvVariable, setting: string | number): V1EnvVar {
  return { name, value: String(setting) };
}

function fromPodField(name: WorkerEnvVariable, fieldPath: string): V1EnvVar {
  return { name, valueFrom: { fieldRef: { apiVersion: "v1", fieldPath } } };
}

function fromSecret(name: WorkerEnvVariable, secretName: string, key: string): V1EnvVar {
  return { name, valueFrom: { secretKeyRef: { name: secretName, key } } };
}

/** Where the worker reads the Secrets of spec.kafka.tls: each mounted read-only in a directory of its own. */
export const kafkaCaMountPath = "/etc/kubesentiment/kafka/ca";
export const kafkaClientCertMountPath = "/etc/kubesentiment/kafka/client";

/** The Secrets of spec.kafka.tls the worker reads as files: the CA and the client certificate (kubernetes.io/tls). */
export function kafkaTlsSecretMounts(pipeline: ResolvedPipeline) {
  const tls = pipeline.kafka.tls;
  return [
    ...(tls?.caSecretRef === undefined
      ? []
      : [
          {
            field: "spec.kafka.tls.caSecretRef",
            volume: "kafka-ca",
            path: kafkaCaMountPath,
            ref: tls.caSecretRef,
            keys: [tls.caSecretRef.key],
          },
        ]),
    ...(tls?.certSecretRef === undefined
      ? []
      : [
          {
            field: "spec.kafka.tls.certSecretRef",
            volume: "kafka-client-cert",
            path: kafkaClientCertMountPath,
            ref: tls.certSecretRef,
            keys: ["tls.crt", "tls.key"],
          },
        ]),
  ];
}

/**
 * The pod side of spec.kafka.tls: the CA Secret and the client certificate Secret as read-only volumes, each
 * projecting only the keys the worker reads.
 */
export function kafkaTlsPodParts(pipeline: ResolvedPipeline): {
  volumes: V1Volume[];
  workerMounts: V1VolumeMount[];
} {
  const secrets = kafkaTlsSecretMounts(pipeline);
  return {
    volumes: secrets.map(({ volume, ref, keys }) => secretVolume(volume, ref.name, keys)),
    workerMounts: secrets.map(({ volume, path }) => ({ name: volume, mountPath: path, readOnly: true })),
  };
}

/**
 * How to reach Kafka. The TLS variables point at the files kafkaTlsPodParts mounts; the SASL credentials are
 * secretKeyRef entries rather than values, so they never appear in the Deployment or its checksum input.
 */
function kafkaEnv(pipeline: ResolvedPipeline): V1EnvVar[] {
  const { tls, sasl } = pipeline.kafka;
  return [
    literal("KAFKA_BOOTSTRAP_SERVERS", pipeline.kafka.bootstrapServers.join(",")),
    literal("KAFKA_GROUP_ID", pipeline.consumerGroup),
    // The pod name: unique per member, so broker logs and group descriptions name the pod.
    fromPodField("KAFKA_CLIENT_ID", "metadata.name"),
    ...(tls === undefined ? [] : [literal("KAFKA_TLS_ENABLED", "true")]),
    ...(tls?.caSecretRef === undefined
      ? []
      : [literal("KAFKA_TLS_CA_FILE", `${kafkaCaMountPath}/${tls.caSecretRef.key}`)]),
    ...(tls?.certSecretRef === undefined
      ? []
      : [
          literal("KAFKA_TLS_CERT_FILE", `${kafkaClientCertMountPath}/tls.crt`),
          literal("KAFKA_TLS_KEY_FILE", `${kafkaClientCertMountPath}/tls.key`),
        ]),
    ...(sasl === undefined
      ? []
      : [
          literal("KAFKA_SASL_MECHANISM", sasl.mechanism),
          fromSecret("KAFKA_SASL_USERNAME", sasl.secretRef.name, "username"),
          fromSecret("KAFKA_SASL_PASSWORD", sasl.secretRef.name, "password"),
        ]),
  ];
}

function modelEnv(pipeline: ResolvedPipeline): V1EnvVar[] {
  const dir = modelDir(pipeline.model.source);
  return [
    ...(dir === undefined ? [] : [literal("MODEL_DIR", dir)]),
    literal("MODEL_MAX_SEQUENCE_LENGTH", pipeline.model.maxSequenceLength),
    literal("MODEL_THREADS", pipeline.model.threads),
    literal("MODEL_INTRA_OP_THREADS", pipeline.model.intraOpThreads),
  ];
}

export function renderWorkerEnv(pipeline: ResolvedPipeline): V1EnvVar[] {
  const { topics, worker } = pipeline;
  return [
    ...kafkaEnv(pipeline),
    literal("TOPIC_REQUESTS", topics.requests),
    literal("TOPIC_RESPONSES", topics.responses),
    literal("TOPIC_DEAD_LETTER", topics.deadLetter),
    ...modelEnv(pipeline),
    literal("BATCH_MAX_SIZE", worker.batch.maxSize),
    literal("BATCH_MAX_WAIT_MS", worker.batch.maxWaitMs),
    literal("RETRY_MAX_ATTEMPTS", worker.retry.maxAttempts),
    literal("RETRY_INITIAL_BACKOFF_MS", worker.retry.initialBackoffMs),
    literal("RETRY_MAX_BACKOFF_MS", worker.retry.maxBackoffMs),
    literal("BREAKER_FAILURE_THRESHOLD", worker.circuitBreaker.failureThreshold),
    literal("BREAKER_RESET_TIMEOUT_MS", worker.circuitBreaker.resetTimeoutMs),
    literal("HTTP_PORT", workerHttpPort),
    literal("SHUTDOWN_TIMEOUT_MS", workerShutdownTimeoutMs),
  ];
}
