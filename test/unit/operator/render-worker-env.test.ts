import type { V1EnvVar } from "@kubernetes/client-node";
import { expect } from "chai";
import { renderWorkerEnv } from "../../../operator/src/render/worker-env.ts";
import { builtInModelDir, parseWorkerConfig, type WorkerConfig } from "../../../worker/src/config.ts";
import { customSpec, defaultSpec, pipelineOf } from "./render-fixtures.ts";

const podName = "reviews-worker-7d9f8b6c5-x2x4q";

/** The environment the kubelet would give the container: fieldRefs resolved against the pod. */
function containerEnv(env: V1EnvVar[]): Record<string, string> {
  const pod: Record<string, string> = { "metadata.name": podName, "metadata.namespace": "shop" };
  return Object.fromEntries(
    env.map((variable) => {
      if (variable.value !== undefined) return [variable.name, variable.value];
      const path = variable.valueFrom?.fieldRef?.fieldPath;
      const resolved = path === undefined ? undefined : pod[path];
      if (resolved === undefined)
        throw new Error(`${variable.name}: cannot resolve ${JSON.stringify(variable)}`);
      return [variable.name, resolved];
    }),
  );
}

function parsed(env: V1EnvVar[]): WorkerConfig {
  const result = parseWorkerConfig(containerEnv(env));
  if (!result.ok) throw new Error(result.problems.join("; "));
  return result.config;
}

describe("render: worker environment", () => {
  it("parses, for a default spec, into exactly the pipeline's settings", () => {
    const config = parsed(renderWorkerEnv(pipelineOf(defaultSpec)));
    expect(config).to.deep.equal({
      kafka: {
        bootstrapServers: ["kafka-0.kafka:9092", "kafka-1.kafka:9092"],
        clientId: podName,
        groupId: "kubesentiment.shop.reviews",
        sessionTimeoutMs: 30_000,
      },
      topics: { requests: "reviews-requests", responses: "reviews-responses", deadLetter: "reviews-dlq" },
      model: { dir: builtInModelDir, maxSequenceLength: 128, intraOpThreads: 1 },
      batch: { maxSize: 64, maxWaitMs: 5 },
      // The pipeline's default (10 s), not the worker's own (5 s): the rendered env decides.
      retry: { maxAttempts: 3, initialBackoffMs: 100, maxBackoffMs: 10_000 },
      circuitBreaker: { failureThreshold: 5, resetTimeoutMs: 30_000 },
      limits: { maxMessageBytes: 1_048_576, maxTextLength: 10_000 },
      httpPort: 8080,
      shutdownTimeoutMs: 25_000,
      logLevel: "info",
    } satisfies WorkerConfig);
  });

  it("parses, for a fully customised spec, into exactly the pipeline's settings", () => {
    const config = parsed(renderWorkerEnv(pipelineOf(customSpec)));
    expect(config).to.deep.equal({
      kafka: {
        bootstrapServers: ["broker.example:9093"],
        clientId: podName,
        groupId: "kubesentiment.shop.reviews",
        sessionTimeoutMs: 30_000,
      },
      topics: { requests: "in", responses: "out", deadLetter: "bad" },
      model: { dir: "/models", maxSequenceLength: 256, intraOpThreads: 1 },
      batch: { maxSize: 128, maxWaitMs: 0 },
      retry: { maxAttempts: 7, initialBackoffMs: 50, maxBackoffMs: 2000 },
      circuitBreaker: { failureThreshold: 9, resetTimeoutMs: 60_000 },
      limits: { maxMessageBytes: 1_048_576, maxTextLength: 10_000 },
      httpPort: 8080,
      shutdownTimeoutMs: 25_000,
      logLevel: "info",
    } satisfies WorkerConfig);
  });

  it("takes the client id from the pod name, unique per group member", () => {
    const clientId = renderWorkerEnv(pipelineOf(defaultSpec)).find(({ name }) => name === "KAFKA_CLIENT_ID");
    expect(clientId).to.deep.equal({
      name: "KAFKA_CLIENT_ID",
      valueFrom: { fieldRef: { apiVersion: "v1", fieldPath: "metadata.name" } },
    });
  });

  it("points MODEL_DIR at /models for a volume or URL source and leaves it unset for the built-in model", () => {
    const modelDir = (spec: typeof defaultSpec) =>
      renderWorkerEnv(pipelineOf(spec)).find(({ name }) => name === "MODEL_DIR")?.value;
    expect(modelDir(defaultSpec)).to.equal(undefined);
    expect(modelDir({ ...defaultSpec, model: { source: { builtin: {} } } })).to.equal(undefined);
    expect(modelDir({ ...defaultSpec, model: { source: { volume: { claimName: "m" } } } })).to.equal(
      "/models",
    );
    expect(modelDir(customSpec)).to.equal("/models");
  });

  it("sets each variable once", () => {
    const names = renderWorkerEnv(pipelineOf(customSpec)).map(({ name }) => name);
    expect(new Set(names).size).to.equal(names.length);
  });
});
