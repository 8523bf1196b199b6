// The SentimentPipeline CRD on a real kube-apiserver: it installs and becomes Established, the sample is
// accepted with its defaults filled in, and what the schema and its CEL rules refuse is refused by the API
// server with a message that names the field.
import { join } from "node:path";
import { expect } from "chai";
import { clusterPortCount } from "../../hack/harness/cluster-config.ts";
import { type Cluster, startCluster } from "../../hack/harness/cluster-run.ts";
import { repoRoot } from "../../hack/harness/dirs.ts";
import { kubectlFor } from "../../hack/harness/kubectl.ts";
import { freePortBase } from "../../hack/harness/ports.ts";

const crdFile = join(repoRoot, "crds", "sentimentpipelines.kubesentiment.io.yaml");
const sampleFile = join(repoRoot, "crds", "samples", "pipeline.yaml");

/** A minimal pipeline manifest (JSON is YAML) with `spec` merged over the one required field. */
function pipeline(name: string, spec: Record<string, unknown> = {}): string {
  return JSON.stringify({
    apiVersion: "kubesentiment.io/v1alpha1",
    kind: "SentimentPipeline",
    metadata: { name },
    spec: { kafka: { bootstrapServers: ["127.0.0.1:9092"] }, ...spec },
  });
}

describe("SentimentPipeline CRD", function () {
  this.timeout(60_000);
  let cluster: Cluster;
  const k = (args: string[], input?: string) => kubectlFor(cluster.kubeconfigPath).result(args, input);

  before(async function () {
    this.timeout(120_000);
    cluster = await startCluster({ name: "crd-test", portBase: await freePortBase(clusterPortCount) });
    const applied = k(["apply", "-f", crdFile]);
    expect(applied.status, applied.stderr).to.equal(0);
    const waited = k([
      "wait",
      "--for=condition=Established",
      "crd/sentimentpipelines.kubesentiment.io",
      "--timeout=30s",
    ]);
    expect(waited.status, waited.stderr).to.equal(0);
  });

  after(async () => {
    await cluster?.stop();
  });

  it("becomes Established with its names and short names", () => {
    const established = k([
      "get",
      "crd/sentimentpipelines.kubesentiment.io",
      "-o",
      'jsonpath={.status.conditions[?(@.type=="Established")].status}',
    ]);
    expect(established.stdout).to.equal("True");
    const resources = k(["api-resources", "--api-group=kubesentiment.io", "-o", "wide"]);
    expect(resources.stdout).to.match(
      /sentimentpipelines\s+sp,spipe\s+kubesentiment\.io\/v1alpha1\s+true\s+SentimentPipeline/,
    );
  });

  it("accepts the sample and fills in the defaults", () => {
    const applied = k(["apply", "-f", sampleFile]);
    expect(applied.status, applied.stderr).to.equal(0);
    const got = k(["get", "sentimentpipelines", "-o", "json"]);
    expect(got.status, got.stderr).to.equal(0);
    const [demo] = JSON.parse(got.stdout).items as {
      metadata: { name: string };
      spec: Record<string, unknown>;
    }[];
    expect(demo?.metadata.name).to.equal("demo");
    expect(demo?.spec).to.deep.include({
      model: { source: { builtin: {} }, maxSequenceLength: 128, threads: 1, intraOpThreads: 1 },
      worker: {
        batch: { maxSize: 256, maxWaitMs: 0 },
        retry: { maxAttempts: 3, initialBackoffMs: 100, maxBackoffMs: 10_000 },
        circuitBreaker: { failureThreshold: 5, resetTimeoutMs: 30_000 },
      },
      autoscaling: {
        provider: "builtin",
        minReplicas: 1,
        maxReplicas: 4,
        lagThreshold: 1000,
        activationLagThreshold: 0,
        scaleToZeroAfterSeconds: 300,
        scaleDownStabilizationSeconds: 300,
      },
    });
    expect(demo?.spec.topics).to.include({ partitions: 8, replicationFactor: 1, deletionPolicy: "Delete" });
  });

  it("defaults an empty pipeline to not paused, 8 partitions, replication factor 3 and Retain", () => {
    const created = k(["create", "-f", "-", "-o", "json"], pipeline("defaults"));
    expect(created.status, created.stderr).to.equal(0);
    expect(JSON.parse(created.stdout).spec.paused).to.equal(false);
    expect(JSON.parse(created.stdout).spec.topics).to.deep.equal({
      partitions: 8,
      replicationFactor: 3,
      deletionPolicy: "Retain",
    });
    k(["delete", "sentimentpipeline", "defaults"]);
  });

  it("defaults the key of a model URL's CA Secret to ca.crt", () => {
    const url = { url: "https://models.internal/sst2.tar.gz", sha256: "ab".repeat(32) };
    const created = k(
      ["create", "-f", "-", "-o", "json"],
      pipeline("private-ca", {
        model: { source: { url: { ...url, caSecretRef: { name: "artifacts-ca" } } } },
      }),
    );
    expect(created.status, created.stderr).to.equal(0);
    expect(JSON.parse(created.stdout).spec.model.source).to.deep.equal({
      url: { ...url, caSecretRef: { name: "artifacts-ca", key: "ca.crt" } },
    });
    k(["delete", "sentimentpipeline", "private-ca"]);
  });

  it("shows Ready, Paused, Replicas, Lag and Age columns", () => {
    const table = k(["get", "sp", "demo"]);
    expect(table.stdout.split("\n")[0]).to.match(/^NAME\s+READY\s+PAUSED\s+REPLICAS\s+LAG\s+AGE$/);
  });

  const refusals: { title: string; spec: Record<string, unknown>; expected: string[] }[] = [
    {
      title: "a pause that is not a boolean",
      spec: { paused: "yes" },
      expected: ['spec.paused: Invalid value: "string": spec.paused in body must be of type boolean'],
    },
    {
      title: "a partition count of the wrong type",
      spec: { topics: { partitions: "eight" } },
      expected: [
        'spec.topics.partitions: Invalid value: "string": spec.topics.partitions in body must be of type integer',
      ],
    },
    {
      title: "an autoscaler the operator does not know",
      spec: { autoscaling: { provider: "hpa" } },
      expected: ['spec.autoscaling.provider: Unsupported value: "hpa": supported values: "builtin", "keda"'],
    },
    {
      title: "minReplicas above maxReplicas",
      spec: { autoscaling: { minReplicas: 5, maxReplicas: 2 } },
      expected: [
        "spec.autoscaling.minReplicas: Invalid value: autoscaling.minReplicas must not exceed autoscaling.maxReplicas",
      ],
    },
    {
      title: "one topic in two roles",
      spec: { topics: { requests: "reviews", responses: "reviews" } },
      expected: ["topics.requests, topics.responses and topics.deadLetter must be three different topics"],
    },
    {
      title: "a topic named as the default of a role left unset",
      spec: { topics: { responses: "default.refused-requests" } },
      expected: [
        "a topic set in spec.topics must not be the default name of a role left unset (<namespace>.<metadata.name>-requests, -responses or -dlq)",
      ],
    },
    {
      title: "a dead-letter topic named as the default responses topic in any namespace",
      spec: { topics: { requests: "in", deadLetter: "elsewhere.refused-responses" } },
      expected: ["a topic set in spec.topics must not be the default name of a role left unset"],
    },
    {
      title: "an unknown deletion policy",
      spec: { topics: { deletionPolicy: "Forever" } },
      expected: [
        'spec.topics.deletionPolicy: Unsupported value: "Forever": supported values: "Retain", "Delete"',
      ],
    },
    {
      title: "an unknown SASL mechanism",
      spec: {
        kafka: {
          bootstrapServers: ["127.0.0.1:9092"],
          sasl: { mechanism: "plain", secretRef: { name: "kafka-user" } },
        },
      },
      expected: ['spec.kafka.sasl.mechanism: Unsupported value: "plain"'],
    },
    {
      title: "managed ACLs without a login of the operator's own",
      spec: {
        kafka: {
          bootstrapServers: ["127.0.0.1:9092"],
          sasl: { secretRef: { name: "kafka-user" } },
          acls: { manage: true },
        },
      },
      expected: ["kafka.acls.manage needs kafka.admin"],
    },
    {
      title: "managed ACLs for workers without a principal",
      spec: {
        kafka: {
          bootstrapServers: ["127.0.0.1:9092"],
          admin: { sasl: { secretRef: { name: "kafka-admin" } } },
          acls: { manage: true },
        },
      },
      expected: ["kafka.acls.manage needs the workers' principal"],
    },
    {
      title: "an ACL principal without its type",
      spec: { kafka: { bootstrapServers: ["127.0.0.1:9092"], acls: { principal: "alice" } } },
      expected: ['spec.kafka.acls.principal: Invalid value: "alice"'],
    },
    {
      title: "an empty operator login",
      spec: { kafka: { bootstrapServers: ["127.0.0.1:9092"], admin: {} } },
      expected: ["kafka.admin needs sasl or certSecretRef"],
    },
    {
      title: "an operator client certificate without TLS",
      spec: {
        kafka: { bootstrapServers: ["127.0.0.1:9092"], admin: { certSecretRef: { name: "operator-cert" } } },
      },
      expected: ["kafka.admin.certSecretRef is a TLS client certificate: it needs kafka.tls"],
    },
    {
      title: "a bootstrap server without a port",
      spec: { kafka: { bootstrapServers: ["127.0.0.1:9092", "broker-2"] } },
      expected: ['spec.kafka.bootstrapServers[1]: Invalid value: "broker-2"'],
    },
    {
      title: "an empty bootstrap server list",
      spec: { kafka: { bootstrapServers: [] } },
      expected: [
        "spec.kafka.bootstrapServers: Invalid value: 0: spec.kafka.bootstrapServers in body should have at least 1 items",
      ],
    },
    {
      title: "two model sources",
      spec: { model: { source: { builtin: {}, volume: { claimName: "models" } } } },
      expected: [
        "spec.model.source: Invalid value: exactly one of model.source.builtin, model.source.volume or model.source.url",
      ],
    },
    {
      title: "a model URL without a valid sha256",
      spec: { model: { source: { url: { url: "https://models.example/sst2.tar", sha256: "abc" } } } },
      expected: ['spec.model.source.url.sha256: Invalid value: "abc"'],
    },
    {
      title: "a model URL's CA Secret without a name",
      spec: {
        model: {
          source: {
            url: { url: "https://models.internal/m.tar.gz", sha256: "ab".repeat(32), caSecretRef: {} },
          },
        },
      },
      expected: ["spec.model.source.url.caSecretRef.name: Required value"],
    },
    {
      title: "a model URL's CA key that is no Secret key",
      spec: {
        model: {
          source: {
            url: {
              url: "https://models.internal/m.tar.gz",
              sha256: "ab".repeat(32),
              caSecretRef: { name: "artifacts-ca", key: "../ca.crt" },
            },
          },
        },
      },
      expected: ['spec.model.source.url.caSecretRef.key: Invalid value: "../ca.crt"'],
    },
    {
      title: "a Kafka CA key that is no Secret key",
      spec: {
        kafka: {
          bootstrapServers: ["127.0.0.1:9092"],
          tls: { caSecretRef: { name: "kafka-ca", key: "../ca.crt" } },
        },
      },
      expected: ['spec.kafka.tls.caSecretRef.key: Invalid value: "../ca.crt"'],
    },
    {
      title: "an initial backoff above the maximum",
      spec: { worker: { retry: { initialBackoffMs: 5000, maxBackoffMs: 1000 } } },
      expected: [
        "spec.worker.retry.initialBackoffMs: Invalid value: retry.initialBackoffMs must not exceed retry.maxBackoffMs",
      ],
    },
    {
      title: "a batch wait below zero",
      spec: { worker: { batch: { maxWaitMs: -1 } } },
      expected: [
        "spec.worker.batch.maxWaitMs: Invalid value: -1: spec.worker.batch.maxWaitMs in body should be greater than or equal to 0",
      ],
    },
  ];

  for (const { title, spec, expected } of refusals) {
    it(`refuses ${title}, naming the field`, () => {
      const result = k(["create", "-f", "-"], pipeline("refused", spec));
      expect(result.status).to.equal(1);
      expect(result.stderr).to.contain('The SentimentPipeline "refused" is invalid');
      for (const text of expected) expect(result.stderr).to.contain(text);
    });
  }

  it("accepts a topic that only looks like another role's default: that role is set, or the name differs", () => {
    for (const [name, topics] of [
      ["explicit", { requests: "default.explicit-responses", responses: "out" }],
      ["other", { responses: "default.someone-requests" }],
    ] as const) {
      const result = k(["create", "-f", "-"], pipeline(name, { topics }));
      expect(result.status, result.stderr).to.equal(0);
      k(["delete", "sentimentpipeline", name]);
    }
  });

  it("refuses a name the worker Service could not carry, naming the field", () => {
    for (const name of ["x".repeat(57), "9lives", "dotted.name"]) {
      const result = k(["create", "-f", "-"], pipeline(name));
      expect(result.status, name).to.equal(1);
      expect(result.stderr).to.contain("metadata.name must be at most 56 lowercase letters");
    }
  });

  describe("on update", () => {
    const patch = (spec: Record<string, unknown>) =>
      k(["patch", "sp", "demo", "--type=merge", "-p", JSON.stringify({ spec })]);

    it("refuses fewer partitions", () => {
      const result = patch({ topics: { partitions: 4 } });
      expect(result.status).to.equal(1);
      expect(result.stderr).to.contain(
        "spec.topics.partitions: Forbidden: partitions may not be decreased: Kafka cannot remove partitions from a topic",
      );
    });

    it("refuses another replication factor", () => {
      const result = patch({ topics: { replicationFactor: 3 } });
      expect(result.status).to.equal(1);
      expect(result.stderr).to.contain(
        "spec.topics.replicationFactor: Forbidden: replicationFactor is immutable once the topics are created",
      );
    });

    it("accepts more partitions and leaves the rest as it was", () => {
      const result = patch({ topics: { partitions: 16 } });
      expect(result.status, result.stderr).to.equal(0);
      const topics = JSON.parse(k(["get", "sp", "demo", "-o", "jsonpath={.spec.topics}"]).stdout);
      expect(topics).to.include({ partitions: 16, replicationFactor: 1 });
    });

    it("keeps the status subresource apart from spec", () => {
      const status = { status: { observedGeneration: 1, replicas: 2, consumerLag: 42 } };
      const result = k([
        "patch",
        "sp",
        "demo",
        "--subresource=status",
        "--type=merge",
        "-p",
        JSON.stringify(status),
      ]);
      expect(result.status, result.stderr).to.equal(0);
      const table = k(["get", "sp", "demo", "--no-headers"]);
      expect(table.stdout).to.match(/^demo\s+2\s+42\s+\S+\s*$/);
    });
  });
});
