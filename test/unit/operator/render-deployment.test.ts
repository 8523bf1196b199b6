import { existsSync } from "node:fs";
import type { V1Container, V1Deployment } from "@kubernetes/client-node";
import { expect } from "chai";
import { fetchModelScript } from "../../../common/src/worker-env.ts";
import type { CaSecretRef, PipelineSpec } from "../../../operator/src/pipeline.ts";
import {
  configChecksumAnnotation,
  renderWorkerDeployment,
  workerResources,
} from "../../../operator/src/render/deployment.ts";
import { selectorLabels, workerLabels, workerObjectMeta } from "../../../operator/src/render/labels.ts";
import { mountedSecrets } from "../../../operator/src/render/mounted-secrets.ts";
import { renderWorkerEnv } from "../../../operator/src/render/worker-env.ts";
import { customSpec, defaultImage, defaultSpec, pipelineOf } from "./render-fixtures.ts";

function render(spec: PipelineSpec): V1Deployment {
  return renderWorkerDeployment(pipelineOf(spec), { defaultImage });
}

function podSpec(deployment: V1Deployment) {
  const spec = deployment.spec?.template.spec;
  if (spec === undefined) throw new Error("no pod spec");
  return spec;
}

function workerContainer(deployment: V1Deployment): V1Container {
  const [container, ...others] = podSpec(deployment).containers;
  if (container === undefined || others.length > 0) throw new Error("expected exactly one container");
  return container;
}

/** The same value with every object's keys in reverse order. */
function reversedKeys<T>(value: T): T {
  if (Array.isArray(value)) return value.map(reversedKeys) as T;
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.entries(value)
      .reverse()
      .map(([key, member]) => [key, reversedKeys(member)]),
  ) as T;
}

function checksumOf(deployment: V1Deployment): string | undefined {
  return deployment.spec?.template.metadata?.annotations?.[configChecksumAnnotation];
}

const hardenedContainer = {
  runAsNonRoot: true,
  runAsUser: 1000,
  runAsGroup: 1000,
  readOnlyRootFilesystem: true,
  allowPrivilegeEscalation: false,
  capabilities: { drop: ["ALL"] },
  seccompProfile: { type: "RuntimeDefault" },
};

describe("render: worker Deployment", () => {
  it("is a plain apps/v1 object that survives JSON unchanged (what server-side apply sends)", () => {
    for (const spec of [defaultSpec, customSpec]) {
      const deployment = render(spec);
      expect(deployment.apiVersion).to.equal("apps/v1");
      expect(deployment.kind).to.equal("Deployment");
      expect(JSON.parse(JSON.stringify(deployment))).to.deep.equal(deployment);
    }
  });

  it("is owned by the pipeline, selects by the stable labels and leaves replicas to the HPA", () => {
    const pipeline = pipelineOf(defaultSpec);
    const deployment = render(defaultSpec);
    expect(deployment.metadata).to.deep.equal(workerObjectMeta(pipeline));
    expect(deployment.spec?.selector).to.deep.equal({ matchLabels: selectorLabels(pipeline) });
    expect(deployment.spec?.template.metadata?.labels).to.deep.equal(workerLabels(pipeline));
    expect(deployment.spec).not.to.have.property("replicas");
    expect(deployment.spec?.strategy?.rollingUpdate?.maxUnavailable).to.equal(0);
  });

  it("runs the default image with the rendered env, the http port and the probes on it", () => {
    const container = workerContainer(render(defaultSpec));
    expect(container.name).to.equal("worker");
    expect(container.image).to.equal(defaultImage);
    expect(container.env).to.deep.equal(renderWorkerEnv(pipelineOf(defaultSpec)));
    expect(container.ports).to.deep.equal([{ name: "http", containerPort: 8080, protocol: "TCP" }]);
    expect(container.livenessProbe?.httpGet).to.deep.equal({ path: "/healthz", port: "http" });
    expect(container.readinessProbe?.httpGet).to.deep.equal({ path: "/readyz", port: "http" });
    expect(container.startupProbe?.httpGet).to.deep.equal({ path: "/healthz", port: "http" });
    const startup = container.startupProbe ?? {};
    // Model load and Kafka connection get minutes, not the liveness probe's 30 s.
    expect((startup.periodSeconds ?? 0) * (startup.failureThreshold ?? 0)).to.be.at.least(120);
  });

  it("runs the spec's image and resources when given", () => {
    const container = workerContainer(render(customSpec));
    expect(container.image).to.equal("registry.example/kubesentiment-worker:custom");
    expect(container.resources).to.deep.equal({
      requests: { cpu: "2", memory: "1Gi" },
      limits: { cpu: "4", memory: "2Gi" },
    });
  });

  it("defaults resources as a whole, never mixed with the spec's", () => {
    const defaults = { requests: { cpu: "500m", memory: "512Mi" }, limits: { memory: "1Gi" } };
    expect(workerResources({})).to.deep.equal(defaults);
    expect(workerResources({ requests: {}, limits: {} })).to.deep.equal(defaults);
    expect(workerResources({ limits: { memory: "256Mi" } })).to.deep.equal({ limits: { memory: "256Mi" } });
    expect(workerContainer(render(defaultSpec)).resources).to.deep.equal(defaults);
  });

  it("hardens pod and container: non-root 1000, read-only root, no privilege, no capabilities, seccomp", () => {
    for (const spec of [defaultSpec, customSpec]) {
      const deployment = render(spec);
      const pod = podSpec(deployment);
      expect(pod.securityContext).to.deep.equal({
        runAsNonRoot: true,
        runAsUser: 1000,
        runAsGroup: 1000,
        seccompProfile: { type: "RuntimeDefault" },
      });
      for (const container of [...pod.containers, ...(pod.initContainers ?? [])]) {
        expect(container.securityContext, container.name).to.deep.equal(hardenedContainer);
      }
      expect(pod.automountServiceAccountToken).to.equal(false);
      expect(pod.volumes).to.deep.include({ name: "tmp", emptyDir: { sizeLimit: "128Mi" } });
      expect(workerContainer(deployment).volumeMounts).to.deep.include({ name: "tmp", mountPath: "/tmp" });
    }
  });

  it("has every container's log tail as its termination message when it fails without writing one", () => {
    const pod = podSpec(render(customSpec));
    const containers = [...pod.containers, ...(pod.initContainers ?? [])];
    expect(containers.map(({ name }) => name)).to.deep.equal(["worker", "fetch-model"]);
    for (const container of containers) {
      expect(container.terminationMessagePolicy, container.name).to.equal("FallbackToLogsOnError");
    }
  });

  it("gives the worker more time to stop than its own shutdown bound (25 s)", () => {
    const grace = podSpec(render(defaultSpec)).terminationGracePeriodSeconds ?? 0;
    expect(grace).to.be.above(25).and.at.most(40);
  });

  describe("model source", () => {
    it("builtin: no model volume, no init container", () => {
      const pod = podSpec(render({ ...defaultSpec, model: { source: { builtin: {} } } }));
      expect(pod.volumes?.map(({ name }) => name)).to.deep.equal(["tmp"]);
      expect(pod).not.to.have.property("initContainers");
      expect(workerContainer(render(defaultSpec)).volumeMounts).to.have.length(1);
    });

    it("volume: the claim mounted read-only at /models, with its subPath", () => {
      const deployment = render({
        ...defaultSpec,
        model: { source: { volume: { claimName: "sst2-model", subPath: "v3" } } },
      });
      expect(podSpec(deployment).volumes).to.deep.include({
        name: "model",
        persistentVolumeClaim: { claimName: "sst2-model", readOnly: true },
      });
      expect(workerContainer(deployment).volumeMounts).to.deep.include({
        name: "model",
        mountPath: "/models",
        readOnly: true,
        subPath: "v3",
      });
      const withoutSubPath = render({ ...defaultSpec, model: { source: { volume: { claimName: "m" } } } });
      expect(workerContainer(withoutSubPath).volumeMounts).to.deep.include({
        name: "model",
        mountPath: "/models",
        readOnly: true,
      });
      expect(podSpec(deployment)).not.to.have.property("initContainers");
    });

    it("url: an emptyDir at /models filled by the image's fetcher in an init container", () => {
      const deployment = render(customSpec);
      const pod = podSpec(deployment);
      const worker = workerContainer(deployment);
      expect(pod.volumes).to.deep.include({ name: "model", emptyDir: {} });
      expect(worker.volumeMounts).to.deep.include({ name: "model", mountPath: "/models", readOnly: true });
      expect(pod.initContainers).to.have.length(1);
      const [fetcher] = pod.initContainers ?? [];
      expect(fetcher).to.deep.equal({
        name: "fetch-model",
        image: worker.image,
        resources: worker.resources,
        securityContext: hardenedContainer,
        terminationMessagePolicy: "FallbackToLogsOnError",
        command: ["node", "--enable-source-maps", "worker/src/model/fetch-model.js"],
        args: ["https://models.example/sst2.tar.gz", "ab".repeat(32), "/models"],
        volumeMounts: [{ name: "model", mountPath: "/models" }],
      });
    });

    describe("url with caSecretRef", () => {
      const withCa = (caSecretRef: CaSecretRef): PipelineSpec => ({
        ...customSpec,
        model: {
          ...customSpec.model,
          source: {
            url: { url: "https://models.internal/sst2.tar.gz", sha256: "ab".repeat(32), caSecretRef },
          },
        },
      });

      it("mounts only the CA's key, read-only, into the fetcher alone, and names it in NODE_EXTRA_CA_CERTS", () => {
        const deployment = render(withCa({ name: "artifacts-ca", key: "bundle.pem" }));
        const pod = podSpec(deployment);
        expect(pod.volumes).to.deep.include({
          name: "model-ca",
          secret: { secretName: "artifacts-ca", items: [{ key: "bundle.pem", path: "bundle.pem" }] },
        });
        const [fetcher] = pod.initContainers ?? [];
        expect(fetcher?.volumeMounts).to.deep.equal([
          { name: "model", mountPath: "/models" },
          { name: "model-ca", mountPath: "/etc/kubesentiment/model/ca", readOnly: true },
        ]);
        expect(fetcher?.env).to.deep.equal([
          { name: "NODE_EXTRA_CA_CERTS", value: "/etc/kubesentiment/model/ca/bundle.pem" },
        ]);
        const worker = workerContainer(deployment);
        expect(worker.volumeMounts?.map(({ name }) => name)).not.to.include("model-ca");
        expect(worker.env?.map(({ name }) => name)).not.to.include("NODE_EXTRA_CA_CERTS");
      });

      it("reads the key ca.crt when the spec names none", () => {
        const pod = podSpec(render(withCa({ name: "artifacts-ca" })));
        expect(pod.volumes).to.deep.include({
          name: "model-ca",
          secret: { secretName: "artifacts-ca", items: [{ key: "ca.crt", path: "ca.crt" }] },
        });
        expect(pod.initContainers?.[0]?.env).to.deep.equal([
          { name: "NODE_EXTRA_CA_CERTS", value: "/etc/kubesentiment/model/ca/ca.crt" },
        ]);
      });
    });

    it("runs a fetcher that exists: the compiled path of worker/src/model/fetch-model.ts", () => {
      const source = new URL(`../../../${fetchModelScript.replace(/\.js$/, ".ts")}`, import.meta.url);
      expect(existsSync(source), source.pathname).to.equal(true);
    });
  });

  describe("Kafka TLS and SASL", () => {
    const secured: PipelineSpec = {
      ...defaultSpec,
      kafka: {
        ...defaultSpec.kafka,
        tls: { caSecretRef: { name: "kafka-ca", key: "bundle.pem" }, certSecretRef: { name: "worker-cert" } },
        sasl: { mechanism: "scram-sha-512", secretRef: { name: "kafka-user" } },
      },
    };

    it("lists as mounted Secrets exactly the Secret volumes of the pod, each with the field that names it", () => {
      const spec: PipelineSpec = {
        ...secured,
        model: {
          source: {
            url: {
              url: "https://models.internal/sst2.tar.gz",
              sha256: "ab".repeat(32),
              caSecretRef: { name: "model-ca", key: "ca.pem" },
            },
          },
        },
      };
      const volumes = (podSpec(render(spec)).volumes ?? []).flatMap(({ secret }) =>
        secret === undefined
          ? []
          : [{ name: secret.secretName, keys: secret.items?.map((item) => item.key) }],
      );
      const listed = mountedSecrets(pipelineOf(spec));
      expect(listed.map(({ name, keys }) => ({ name, keys }))).to.have.deep.members(volumes);
      expect(listed.map(({ field, namespace }) => `${namespace} ${field}`)).to.have.members([
        "shop spec.kafka.tls.caSecretRef",
        "shop spec.kafka.tls.certSecretRef",
        "shop spec.model.source.url.caSecretRef",
      ]);
      expect(mountedSecrets(pipelineOf(defaultSpec))).to.deep.equal([]);
    });

    it("mounts the CA and the client certificate read-only, projecting only the keys the worker reads", () => {
      const deployment = render(secured);
      expect(podSpec(deployment).volumes).to.deep.include.members([
        {
          name: "kafka-ca",
          secret: { secretName: "kafka-ca", items: [{ key: "bundle.pem", path: "bundle.pem" }] },
        },
        {
          name: "kafka-client-cert",
          secret: {
            secretName: "worker-cert",
            items: [
              { key: "tls.crt", path: "tls.crt" },
              { key: "tls.key", path: "tls.key" },
            ],
          },
        },
      ]);
      expect(workerContainer(deployment).volumeMounts).to.deep.include.members([
        { name: "kafka-ca", mountPath: "/etc/kubesentiment/kafka/ca", readOnly: true },
        { name: "kafka-client-cert", mountPath: "/etc/kubesentiment/kafka/client", readOnly: true },
      ]);
    });

    it("takes the SASL credentials from the Secret, never as values", () => {
      const env = workerContainer(render(secured)).env ?? [];
      expect(env.filter(({ name }) => name.startsWith("KAFKA_SASL_"))).to.deep.equal([
        { name: "KAFKA_SASL_MECHANISM", value: "scram-sha-512" },
        { name: "KAFKA_SASL_USERNAME", valueFrom: { secretKeyRef: { name: "kafka-user", key: "username" } } },
        { name: "KAFKA_SASL_PASSWORD", valueFrom: { secretKeyRef: { name: "kafka-user", key: "password" } } },
      ]);
    });

    it("mounts nothing and sets no TLS variable when TLS is off", () => {
      const off = render({
        ...secured,
        kafka: { ...secured.kafka, tls: { ...secured.kafka.tls, enabled: false } },
      });
      expect(podSpec(off).volumes?.map(({ name }) => name)).to.deep.equal(["tmp"]);
      expect(workerContainer(off).env?.some(({ name }) => name.startsWith("KAFKA_TLS_"))).to.equal(false);
    });
  });

  describe("config checksum", () => {
    it("is a sha256 that an unchanged spec reproduces, whatever order its keys were written in", () => {
      const first = checksumOf(render(customSpec));
      expect(first).to.match(/^[0-9a-f]{64}$/);
      expect(checksumOf(render(customSpec))).to.equal(first);
      expect(checksumOf(render(reversedKeys(customSpec)))).to.equal(first);
      // Settings the env does not carry (autoscaling) do not roll the pods.
      expect(checksumOf(render({ ...customSpec, autoscaling: { maxReplicas: 12 } }))).to.equal(first);
    });

    it("changes with the batch size, the image and the model source", () => {
      const base = checksumOf(render(defaultSpec));
      const changed = [
        { ...defaultSpec, worker: { batch: { maxSize: 32 } } },
        { ...defaultSpec, worker: { image: "registry.example/worker:2" } },
        { ...defaultSpec, model: { source: { volume: { claimName: "m" } } } },
        { ...defaultSpec, model: { source: { volume: { claimName: "m", subPath: "v2" } } } },
      ].map((spec) => checksumOf(render(spec)));
      expect(new Set([base, ...changed]).size).to.equal(changed.length + 1);
      expect(
        checksumOf(renderWorkerDeployment(pipelineOf(defaultSpec), { defaultImage: "other:1" })),
      ).not.to.equal(base);
    });

    it("changes with the model URL's CA Secret and key, and stays as it was for a URL without one", () => {
      const checksumWithCa = (caSecretRef?: CaSecretRef) =>
        checksumOf(
          render({
            ...defaultSpec,
            model: {
              source: {
                url: {
                  url: "https://models.internal/sst2.tar.gz",
                  sha256: "ab".repeat(32),
                  ...(caSecretRef === undefined ? {} : { caSecretRef }),
                },
              },
            },
          }),
        );
      const variants = [
        checksumWithCa(),
        checksumWithCa({ name: "artifacts-ca" }),
        checksumWithCa({ name: "artifacts-ca-2" }),
        checksumWithCa({ name: "artifacts-ca", key: "bundle.pem" }),
      ];
      expect(new Set(variants).size).to.equal(variants.length);
      // The default key spelled out is the same reference.
      expect(checksumWithCa({ name: "artifacts-ca", key: "ca.crt" })).to.equal(variants[1]);
    });

    it("changes with every Secret reference of spec.kafka.tls and .sasl", () => {
      const withKafka = (kafka: Partial<PipelineSpec["kafka"]>): PipelineSpec => ({
        ...defaultSpec,
        kafka: { ...defaultSpec.kafka, ...kafka },
      });
      const variants = [
        withKafka({}),
        withKafka({ tls: {} }),
        withKafka({ tls: { caSecretRef: { name: "ca" } } }),
        withKafka({ tls: { caSecretRef: { name: "ca-2" } } }),
        withKafka({ tls: { caSecretRef: { name: "ca", key: "other.pem" } } }),
        withKafka({ tls: { certSecretRef: { name: "cert" } } }),
        withKafka({ tls: { certSecretRef: { name: "cert-2" } } }),
        withKafka({ sasl: { secretRef: { name: "user" } } }),
        withKafka({ sasl: { secretRef: { name: "user-2" } } }),
        withKafka({ sasl: { mechanism: "scram-sha-256", secretRef: { name: "user" } } }),
      ].map((spec) => checksumOf(render(spec)));
      expect(new Set(variants).size).to.equal(variants.length);
      // Pipelines without TLS keep the checksum they had before TLS existed.
      expect(variants[0]).to.equal(checksumOf(render(defaultSpec)));
    });
  });
});
