import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { V1EnvVar } from "@kubernetes/client-node";
import { expect } from "chai";
import type { PipelineSpec } from "../../../operator/src/pipeline.ts";
import { kafkaTlsPodParts, renderWorkerEnv } from "../../../operator/src/render/worker-env.ts";
import { builtInModelDir, parseWorkerConfig, type WorkerConfig } from "../../../worker/src/config.ts";
import { customSpec, defaultSpec, pipelineOf } from "./render-fixtures.ts";

const podName = "reviews-worker-7d9f8b6c5-x2x4q";

/** Secrets by name, their data decoded: what secretKeyRef entries resolve against. */
type Secrets = Record<string, Record<string, string>>;

/**
 * The environment the kubelet would give the container: fieldRefs resolved against the pod, secretKeyRefs
 * against `secrets`, and paths under a mounted volume moved to where the test laid out that volume's files.
 */
function containerEnv(
  env: V1EnvVar[],
  secrets: Secrets = {},
  mounts: Record<string, string> = {},
): Record<string, string> {
  const pod: Record<string, string> = { "metadata.name": podName, "metadata.namespace": "shop" };
  const remounted = (value: string) =>
    Object.entries(mounts).reduce(
      (path, [mountPath, dir]) =>
        path.startsWith(`${mountPath}/`) ? dir + path.slice(mountPath.length) : path,
      value,
    );
  return Object.fromEntries(
    env.map((variable) => {
      if (variable.value !== undefined) return [variable.name, remounted(variable.value)];
      const path = variable.valueFrom?.fieldRef?.fieldPath;
      const secretRef = variable.valueFrom?.secretKeyRef;
      const resolved =
        path !== undefined
          ? pod[path]
          : secretRef === undefined
            ? undefined
            : secrets[secretRef.name ?? ""]?.[secretRef.key];
      if (resolved === undefined)
        throw new Error(`${variable.name}: cannot resolve ${JSON.stringify(variable)}`);
      return [variable.name, resolved];
    }),
  );
}

function parsed(env: V1EnvVar[], secrets: Secrets = {}, mounts: Record<string, string> = {}): WorkerConfig {
  const result = parseWorkerConfig(containerEnv(env, secrets, mounts));
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
      topics: {
        requests: "shop.reviews-requests",
        responses: "shop.reviews-responses",
        deadLetter: "shop.reviews-dlq",
      },
      model: { dir: builtInModelDir, maxSequenceLength: 128, threads: 1, intraOpThreads: 1 },
      batch: { maxSize: 256, maxWaitMs: 0 },
      // The pipeline's default (10 s), not the worker's own (5 s): the rendered env decides.
      retry: { maxAttempts: 3, initialBackoffMs: 100, maxBackoffMs: 10_000 },
      circuitBreaker: { failureThreshold: 5, resetTimeoutMs: 30_000 },
      limits: { maxMessageBytes: 1_048_576, maxTextLength: 10_000 },
      maxInFlightBytes: 0,
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
      model: { dir: "/models", maxSequenceLength: 256, threads: 2, intraOpThreads: 3 },
      batch: { maxSize: 128, maxWaitMs: 0 },
      retry: { maxAttempts: 7, initialBackoffMs: 50, maxBackoffMs: 2000 },
      circuitBreaker: { failureThreshold: 9, resetTimeoutMs: 60_000 },
      limits: { maxMessageBytes: 1_048_576, maxTextLength: 10_000 },
      maxInFlightBytes: 0,
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

  describe("Kafka TLS and SASL", () => {
    const secured: PipelineSpec = {
      ...defaultSpec,
      kafka: {
        ...defaultSpec.kafka,
        tls: { caSecretRef: { name: "kafka-ca", key: "bundle.pem" }, certSecretRef: { name: "worker-cert" } },
        sasl: { mechanism: "scram-sha-256", secretRef: { name: "kafka-user" } },
      },
    };
    const secrets = { "kafka-user": { username: "alice", password: "pa55-word" } };
    let root: string;
    before(() => {
      root = mkdtempSync(join(tmpdir(), "render-worker-env-"));
    });
    after(() => rmSync(root, { recursive: true, force: true }));

    /** Lays out each Secret volume's projected files as the kubelet would, under `root`. */
    function mountedVolumes(spec: PipelineSpec): Record<string, string> {
      const { volumes, workerMounts } = kafkaTlsPodParts(pipelineOf(spec));
      return Object.fromEntries(
        workerMounts.map((mount) => {
          const dir = join(root, mount.name);
          mkdirSync(dir, { recursive: true });
          const volume = volumes.find(({ name }) => name === mount.name);
          for (const { path } of volume?.secret?.items ?? []) writeFileSync(join(dir, path), "pem");
          return [mount.mountPath, dir];
        }),
      );
    }

    it("parses into TLS with the mounted CA and client certificate, and SCRAM from the Secret", () => {
      const config = parsed(renderWorkerEnv(pipelineOf(secured)), secrets, mountedVolumes(secured));
      expect(config.kafka.tls).to.deep.equal({
        caFile: join(root, "kafka-ca", "bundle.pem"),
        client: {
          certFile: join(root, "kafka-client-cert", "tls.crt"),
          keyFile: join(root, "kafka-client-cert", "tls.key"),
        },
      });
      expect(config.kafka.sasl).to.deep.equal({
        mechanism: "scram-sha-256",
        username: "alice",
        password: "pa55-word",
      });
    });

    it("points the variables at the mounts and keeps the password out of the rendered env", () => {
      const env = renderWorkerEnv(pipelineOf(secured));
      const values = Object.fromEntries(env.map(({ name, value }) => [name, value]));
      expect(values).to.include({
        KAFKA_TLS_ENABLED: "true",
        KAFKA_TLS_CA_FILE: "/etc/kubesentiment/kafka/ca/bundle.pem",
        KAFKA_TLS_CERT_FILE: "/etc/kubesentiment/kafka/client/tls.crt",
        KAFKA_TLS_KEY_FILE: "/etc/kubesentiment/kafka/client/tls.key",
      });
      expect(JSON.stringify(env)).not.to.include("pa55-word");
    });

    it("parses TLS alone, on the system's CAs, and SASL alone with the default mechanism", () => {
      const tlsOnly = { ...defaultSpec, kafka: { ...defaultSpec.kafka, tls: {} } };
      expect(parsed(renderWorkerEnv(pipelineOf(tlsOnly))).kafka).to.deep.include({ tls: {} });
      const saslOnly = {
        ...defaultSpec,
        kafka: { ...defaultSpec.kafka, sasl: { secretRef: { name: "kafka-user" } } },
      };
      const config = parsed(renderWorkerEnv(pipelineOf(saslOnly)), secrets);
      expect(config.kafka).not.to.have.property("tls");
      expect(config.kafka.sasl).to.deep.include({ mechanism: "scram-sha-512", username: "alice" });
    });
  });
});
