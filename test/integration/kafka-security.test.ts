// Kafka security against a real broker: one node with a SASL_SSL listener (SCRAM-SHA-512, a test CA), then the
// same with mutual TLS. The worker answers over it with the right credentials and refuses to start, quickly and
// saying what to fix, with a wrong password, a CA that did not sign the broker or no client certificate; the
// operator's topics port creates topics over it and reports a rejected login or certificate as such. No
// secret's value may appear in anything either prints.
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import type { Kafka } from "kafkajs";
import { clusterPortCount } from "../../hack/harness/cluster-config.ts";
import { type Cluster, startCluster } from "../../hack/harness/cluster-run.ts";
import { runCommandAsync } from "../../hack/harness/commands.ts";
import { repoRoot } from "../../hack/harness/dirs.ts";
import { kafkaClient } from "../../hack/harness/kafka-client.ts";
import type { KafkaCluster } from "../../hack/harness/kafka-cluster.ts";
import { type Kubectl, kubectlFor } from "../../hack/harness/kubectl.ts";
import { localWorkerEnv, workerArgs } from "../../hack/harness/local-worker.ts";
import { freePortBase } from "../../hack/harness/ports.ts";
import { waitFor } from "../../hack/harness/wait.ts";
import type { SecretReader } from "../../operator/src/kafka/credentials.ts";
import { topicNames as pipelineTopicNames } from "../../operator/src/kafka/topic-plan.ts";
import type { RunningOperator } from "../../operator/src/operator.ts";
import { apiVersion, kind, type PipelineSpec, resolvePipeline } from "../../operator/src/pipeline.ts";
import { KafkaTopicsPort } from "../../operator/src/topics-port.ts";
import { parseWorkerConfig, type WorkerConfig } from "../../worker/src/config.ts";
import { startWorker } from "../../worker/src/worker.ts";
import { startKafkaOnFreePorts } from "../support/kafka.ts";
import { alice, brokerSecurity, makeTestPki, type TestPki } from "../support/kafka-security.ts";
import { conditionOf, pipelineManifest, prepareCluster, runOperator } from "../support/operator.ts";
import { createPipelineTopics, type PipelineTopics, ResultReader } from "../support/pipeline-topics.ts";

/** How long a refused start may take: one connection attempt and two quick retries, far from a hang. */
const refusalBoundMs = 15_000;
const wrongPassword = "not-alices-password-9Zt";

/** A client of the secured cluster as its admin, for the test's own set-up and reads. */
function secureClient(cluster: KafkaCluster): Kafka {
  if (cluster.security === undefined) throw new Error("cluster is not secured");
  return kafkaClient(cluster.bootstrapServers, { security: cluster.security });
}

function createTopics(cluster: KafkaCluster): Promise<PipelineTopics> {
  return createPipelineTopics(cluster.bootstrapServers, { partitions: 2, security: cluster.security });
}

async function topicNames(kafka: Kafka): Promise<Set<string>> {
  const client = kafka.admin();
  await client.connect();
  try {
    return new Set(await client.listTopics());
  } finally {
    await client.disconnect();
  }
}

/** The worker's environment for the secured cluster: TLS on the test CA, SCRAM as alice. */
function securedWorkerEnv(
  cluster: KafkaCluster,
  pki: TestPki,
  topics: PipelineTopics,
  overrides: Record<string, string | undefined> = {},
): Record<string, string | undefined> {
  return {
    ...localWorkerEnv(cluster.bootstrapServers, topics),
    KAFKA_TLS_ENABLED: "true",
    KAFKA_TLS_CA_FILE: pki.caCert,
    KAFKA_SASL_MECHANISM: "scram-sha-512",
    KAFKA_SASL_USERNAME: alice.name,
    KAFKA_SASL_PASSWORD: alice.password,
    ...overrides,
  };
}

function configOf(env: Record<string, string | undefined>): WorkerConfig {
  const parsed = parseWorkerConfig(env);
  if (!parsed.ok) throw new Error(parsed.problems.join("; "));
  return parsed.config;
}

/** Runs `work` with everything this process writes to stdout and stderr recorded (and still shown). */
async function recordingOutput<T>(
  work: () => Promise<T>,
): Promise<{ outcome: PromiseSettledResult<T>; output: string }> {
  let output = "";
  const originals = { out: process.stdout.write, err: process.stderr.write };
  const recorder = (original: typeof process.stdout.write) =>
    function (this: NodeJS.WriteStream, chunk: unknown, ...rest: unknown[]) {
      output += String(chunk);
      return (original as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
    } as typeof process.stdout.write;
  process.stdout.write = recorder(originals.out);
  process.stderr.write = recorder(originals.err);
  try {
    const [outcome] = await Promise.allSettled([work()]);
    return { outcome: outcome as PromiseSettledResult<T>, output };
  } finally {
    process.stdout.write = originals.out;
    process.stderr.write = originals.err;
  }
}

/** Starts a worker that must refuse: the error message, how long it took, and all it printed meanwhile. */
async function refusedStart(env: Record<string, string | undefined>) {
  const started = Date.now();
  // Debug: every line the worker can log is checked for secrets.
  const { outcome, output } = await recordingOutput(() =>
    startWorker(configOf({ ...env, LOG_LEVEL: "debug" })),
  );
  const elapsedMs = Date.now() - started;
  if (outcome.status === "fulfilled") {
    await outcome.value.stop();
    throw new Error("the worker started");
  }
  return { message: (outcome.reason as Error).message, elapsedMs, output };
}

/** Answers a few requests end to end: the worker started with `env` reads them and writes responses. */
async function expectAnswers(kafka: Kafka, topics: PipelineTopics, env: Record<string, string | undefined>) {
  const worker = await startWorker(configOf(env));
  const reader = await ResultReader.start(kafka, topics);
  try {
    const producer = kafka.producer();
    await producer.connect();
    const requests = [
      "an absolute delight",
      "a tedious, joyless mess",
      "a boring, pointless waste of time",
    ].map((text, i) => ({ id: `secure-${i}`, text }));
    await producer.send({
      topic: topics.requests,
      acks: -1,
      messages: requests.map((request) => ({ key: request.id, value: JSON.stringify(request) })),
    });
    await producer.disconnect();
    await reader.waitFor(
      () => reader.on(topics.responses).length >= requests.length,
      () => `${reader.on(topics.responses).length} of ${requests.length} responses`,
    );
    // Partitions keep no order between them: compare by id.
    const labels = Object.fromEntries(
      reader.on(topics.responses).map(({ value }) => [value.id, value.label]),
    );
    expect(labels).to.deep.equal({ "secure-0": "positive", "secure-1": "negative", "secure-2": "negative" });
  } finally {
    await reader.close();
    await worker.stop();
  }
}

/** The operator's view of a pipeline on the secured cluster, with its Secrets served from memory. */
function operatorSide(
  cluster: KafkaCluster,
  pki: TestPki,
  options: { password?: string; ca?: string; clientCert?: boolean } = {},
) {
  const secrets: Record<string, Record<string, Buffer>> = {
    "kafka-ca": { "ca.crt": readFileSync(options.ca ?? pki.caCert) },
    "kafka-user": {
      username: Buffer.from(alice.name),
      password: Buffer.from(options.password ?? alice.password),
    },
    "worker-cert": { "tls.crt": readFileSync(pki.clientCert), "tls.key": readFileSync(pki.clientKey) },
  };
  const readSecret: SecretReader = async (_namespace, name) => secrets[name];
  const name = `secure-${randomUUID().slice(0, 6)}`;
  const spec: PipelineSpec = {
    kafka: {
      bootstrapServers: cluster.bootstrapServers,
      tls: {
        caSecretRef: { name: "kafka-ca" },
        ...(options.clientCert ? { certSecretRef: { name: "worker-cert" } } : {}),
      },
      sasl: { mechanism: "scram-sha-512", secretRef: { name: "kafka-user" } },
    },
    topics: { partitions: 2, replicationFactor: 1 },
  };
  const pipeline = resolvePipeline({
    apiVersion,
    kind,
    metadata: { name, namespace: "shop", uid: randomUUID(), generation: 1 },
    spec,
  });
  return { port: new KafkaTopicsPort(readSecret), pipeline };
}

/**
 * A secured single-node broker for one describe block, with a test PKI of its own: started before its tests
 * and stopped after; the tests read its fields once the hook has run.
 */
function useSecureBroker(options: { mutualTls: boolean }): { pki: TestPki; cluster: KafkaCluster } {
  const broker = {} as { pki: TestPki; cluster: KafkaCluster };
  let dir = "";
  before(async function () {
    this.timeout(180_000);
    dir = mkdtempSync(join(tmpdir(), "kafka-security-test-"));
    broker.pki = makeTestPki(join(dir, "pki"));
    broker.cluster = await startKafkaOnFreePorts({
      name: "test-security",
      security: brokerSecurity(broker.pki, options),
    });
  });
  after(async () => {
    await broker.cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  return broker;
}

describe("Kafka security: SASL/SCRAM over TLS on a real broker", function () {
  this.timeout(240_000);
  const broker = useSecureBroker({ mutualTls: false });

  it("lets a worker with alice's SCRAM credentials over TLS answer requests end to end", async () => {
    const kafka = secureClient(broker.cluster);
    const topics = await createTopics(broker.cluster);
    await expectAnswers(kafka, topics, securedWorkerEnv(broker.cluster, broker.pki, topics));
  });

  it("stops a worker with a wrong password within seconds, naming the user and the variables, never the password", async () => {
    const topics = await createTopics(broker.cluster);
    const refused = await refusedStart(
      securedWorkerEnv(broker.cluster, broker.pki, topics, { KAFKA_SASL_PASSWORD: wrongPassword }),
    );
    expect(refused.message).to.match(
      /^SASL authentication failed for user alice: check KAFKA_SASL_USERNAME\/KAFKA_SASL_PASSWORD/,
    );
    expect(refused.elapsedMs).to.be.below(refusalBoundMs);
    expect(refused.message + refused.output).not.to.include(wrongPassword);
  });

  it("exits the worker process non-zero with that message on stderr", async () => {
    const topics = await createTopics(broker.cluster);
    const env = securedWorkerEnv(broker.cluster, broker.pki, topics, {
      KAFKA_SASL_PASSWORD: wrongPassword,
      LOG_LEVEL: "debug",
    });
    const started = Date.now();
    const {
      status: code,
      stdout,
      stderr,
    } = await runCommandAsync(process.execPath, workerArgs, {
      cwd: repoRoot,
      env: { PATH: process.env.PATH, ...env },
      timeoutMs: 60_000,
    });
    expect(code, stderr).to.equal(1);
    expect(stderr).to.include("worker: failed to start: SASL authentication failed for user alice");
    // Node's own start-up (tsx compiling) counts here too.
    expect(Date.now() - started).to.be.below(refusalBoundMs + 20_000);
    expect(stdout + stderr).not.to.include(wrongPassword);
  });

  it("stops a worker that trusts a CA which did not sign the broker's certificate, naming KAFKA_TLS_CA_FILE", async () => {
    const topics = await createTopics(broker.cluster);
    const refused = await refusedStart(
      securedWorkerEnv(broker.cluster, broker.pki, topics, { KAFKA_TLS_CA_FILE: broker.pki.otherCaCert }),
    );
    expect(refused.message).to.match(/^the broker's TLS certificate is not trusted: check KAFKA_TLS_CA_FILE/);
    expect(refused.elapsedMs).to.be.below(refusalBoundMs);
    expect(refused.output).not.to.include(alice.password);
  });

  describe("operator topics port", () => {
    it("creates the pipeline's topics over SCRAM and TLS with the credentials from its Secrets", async () => {
      const { port, pipeline } = operatorSide(broker.cluster, broker.pki);
      const { outcome, changes } = await port.ensure(pipeline, { wereReady: false });
      expect(outcome).to.deep.equal({ state: "ready" });
      expect(changes).to.have.length(3);
      const existing = await topicNames(secureClient(broker.cluster));
      for (const topic of pipelineTopicNames(pipeline.topics))
        expect(existing.has(topic), topic).to.equal(true);
    });

    it("reports a wrong password as KafkaAuthenticationFailed, naming the Secret field and not the password", async () => {
      const { port, pipeline } = operatorSide(broker.cluster, broker.pki, { password: wrongPassword });
      const started = Date.now();
      const { outcome } = await port.ensure(pipeline, { wereReady: false });
      expect(Date.now() - started).to.be.below(refusalBoundMs);
      if (outcome.state !== "failed") throw new Error("expected a failure");
      expect(outcome.reason).to.equal("KafkaAuthenticationFailed");
      expect(outcome.message).to.include("spec.kafka.sasl.secretRef").and.include("authentication failed");
      expect(outcome.message).not.to.include(wrongPassword);
    });

    it("reports a CA that did not sign the broker as KafkaTlsFailed, naming spec.kafka.tls.caSecretRef", async () => {
      const { port, pipeline } = operatorSide(broker.cluster, broker.pki, { ca: broker.pki.otherCaCert });
      const { outcome } = await port.ensure(pipeline, { wereReady: false });
      if (outcome.state !== "failed") throw new Error("expected a failure");
      expect(outcome.reason).to.equal("KafkaTlsFailed");
      expect(outcome.message).to.include("spec.kafka.tls.caSecretRef").and.not.include(alice.password);
    });
  });

  describe("operator on a real control plane", () => {
    let control: Cluster;
    let operator: RunningOperator | undefined;
    let k: Kubectl;

    before(async function () {
      this.timeout(180_000);
      control = await startCluster({ name: "security-test", portBase: await freePortBase(clusterPortCount) });
      k = kubectlFor(control.kubeconfigPath);
      prepareCluster(k);
      operator = await runOperator(control.kubeconfigPath);
    });
    after(async () => {
      await operator?.stop();
      await control?.stop();
    });

    const userSecret = (password: string) => [
      "create",
      "secret",
      "generic",
      "kafka-user",
      "-n",
      "default",
      `--from-literal=username=${alice.name}`,
      `--from-literal=password=${password}`,
    ];

    it("reports a Secret with a wrong password as TopicsReady False, KafkaAuthenticationFailed, until it is fixed", async () => {
      k.run([
        "create",
        "secret",
        "generic",
        "kafka-ca",
        "-n",
        "default",
        `--from-file=ca.crt=${broker.pki.caCert}`,
      ]);
      k.run(userSecret(wrongPassword));
      k.apply(
        pipelineManifest("guarded", {
          kafka: {
            bootstrapServers: broker.cluster.bootstrapServers,
            tls: { caSecretRef: { name: "kafka-ca" } },
            sasl: { mechanism: "scram-sha-512", secretRef: { name: "kafka-user" } },
          },
          topics: { partitions: 2, replicationFactor: 1 },
        }),
      );
      const refused = await waitFor(
        "guarded reported with its login rejected",
        () => {
          const current = k.pipeline("guarded");
          return conditionOf(current, "TopicsReady")?.reason === "KafkaAuthenticationFailed"
            ? current
            : undefined;
        },
        { timeoutMs: 60_000, describe: () => JSON.stringify(k.pipeline("guarded")?.status?.conditions) },
      );
      expect(conditionOf(refused, "TopicsReady")?.status).to.equal("False");
      expect(conditionOf(refused, "TopicsReady")?.message).to.include("spec.kafka.sasl.secretRef");
      const events = k.run(["get", "events", "-n", "default", "-o", "json"]);
      expect(JSON.stringify(refused.status) + events).not.to.include(wrongPassword);

      k.run(["delete", "secret", "kafka-user", "-n", "default"]);
      k.run(userSecret(alice.password));
      await waitFor(
        "guarded's topics ready once the Secret holds the right password",
        () => conditionOf(k.pipeline("guarded"), "TopicsReady")?.status === "True",
        { timeoutMs: 60_000, describe: () => JSON.stringify(k.pipeline("guarded")?.status?.conditions) },
      );
    });
  });
});

describe("Kafka security: mutual TLS on a real broker", function () {
  this.timeout(240_000);
  const broker = useSecureBroker({ mutualTls: true });

  it("lets a worker with a client certificate signed by the broker's CA answer requests", async () => {
    const kafka = secureClient(broker.cluster);
    const topics = await createTopics(broker.cluster);
    await expectAnswers(
      kafka,
      topics,
      securedWorkerEnv(broker.cluster, broker.pki, topics, {
        KAFKA_TLS_CERT_FILE: broker.pki.clientCert,
        KAFKA_TLS_KEY_FILE: broker.pki.clientKey,
      }),
    );
  });

  it("stops a worker without a client certificate, saying the broker requires one", async () => {
    const topics = await createTopics(broker.cluster);
    const refused = await refusedStart(securedWorkerEnv(broker.cluster, broker.pki, topics));
    expect(refused.message).to.match(
      /^the broker requires a client certificate: set KAFKA_TLS_CERT_FILE and KAFKA_TLS_KEY_FILE/,
    );
    expect(refused.elapsedMs).to.be.below(refusalBoundMs);
  });

  it("has the operator's topics port present spec.kafka.tls.certSecretRef, and say so when it is missing", async () => {
    const withCert = operatorSide(broker.cluster, broker.pki, { clientCert: true });
    expect((await withCert.port.ensure(withCert.pipeline, { wereReady: false })).outcome).to.deep.equal({
      state: "ready",
    });
    const without = operatorSide(broker.cluster, broker.pki);
    const { outcome } = await without.port.ensure(without.pipeline, { wereReady: false });
    if (outcome.state !== "failed") throw new Error("expected a failure");
    expect(outcome.reason).to.equal("KafkaTlsFailed");
    expect(outcome.message).to.include("spec.kafka.tls.certSecretRef");
  });
});
