import type { V1Deployment, V1Service, V2HorizontalPodAutoscaler } from "@kubernetes/client-node";
import { expect } from "chai";
import { clusterPortCount } from "../../hack/harness/cluster-config.ts";
import { type Cluster, startCluster } from "../../hack/harness/cluster-run.ts";
import { createTopic, kafkaClient } from "../../hack/harness/kafka-client.ts";
import type { KafkaCluster } from "../../hack/harness/kafka-cluster.ts";
import { type Kubectl, kubectlFor } from "../../hack/harness/kubectl.ts";
import { freePortBase } from "../../hack/harness/ports.ts";
import { startTogether } from "../../hack/harness/processes.ts";
import { waitFor } from "../../hack/harness/wait.ts";
import { skipTopicDeletionAnnotation, topicsFinalizer } from "../../operator/src/controller/reconcile.ts";
import { leaseName, type RunningOperator } from "../../operator/src/operator.ts";
import type { PipelineSpec } from "../../operator/src/pipeline.ts";
import { exactProducer, kcat, startKafkaOnFreePorts } from "../support/kafka.ts";
import {
  conditionOf,
  operatorNamespace,
  pipelineManifest,
  prepareCluster,
  readyPipeline as readyPipelineIn,
  runOperator,
  topicsOn,
} from "../support/operator.ts";

describe("operator on a real control plane and a real Kafka", function () {
  this.timeout(180_000);
  let cluster: Cluster;
  let kafka: KafkaCluster;
  let operator: RunningOperator | undefined;
  let k: Kubectl;
  const spec = (overrides: Partial<PipelineSpec> = {}): PipelineSpec => ({
    kafka: { bootstrapServers: kafka.bootstrapServers },
    topics: { partitions: 4, replicationFactor: 1 },
    ...overrides,
  });
  const topicsOf = () => topicsOn(kafka.bootstrapServers);
  const partitionsOf = async (topic: string) => {
    const admin = kafkaClient(kafka.bootstrapServers).admin();
    await admin.connect();
    try {
      const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
      return metadata.topics[0]?.partitions.length;
    } finally {
      await admin.disconnect();
    }
  };
  const readyPipeline = (name: string, timeoutMs = 90_000) => readyPipelineIn(k, name, "default", timeoutMs);

  before(async function () {
    this.timeout(300_000);
    [cluster, kafka] = await startTogether(
      freePortBase(clusterPortCount).then((portBase) =>
        startCluster({ name: "operator-test", portBase, controllerManager: true, kwok: true }),
      ),
      startKafkaOnFreePorts({ name: "test-operator" }),
    );
    k = kubectlFor(cluster.kubeconfigPath);
    prepareCluster(k);
    operator = await runOperator(cluster.kubeconfigPath);
  });

  after(async () => {
    await operator?.stop();
    await Promise.all([cluster?.stop(), kafka?.stop()]);
  });

  it("turns a pipeline into topics, a Deployment, a Service and an HPA, and reports it Ready", async () => {
    k.apply(pipelineManifest("reviews", spec({ worker: { image: "example/worker:1" } })));
    const pipeline = await readyPipeline("reviews");

    expect(pipeline.status?.topics).to.deep.equal({
      requests: "default.reviews-requests",
      responses: "default.reviews-responses",
      deadLetter: "default.reviews-dlq",
      partitions: 4,
      created: ["default.reviews-requests", "default.reviews-responses", "default.reviews-dlq"],
    });
    for (const topic of ["default.reviews-requests", "default.reviews-responses", "default.reviews-dlq"]) {
      expect(await partitionsOf(topic), topic).to.equal(4);
    }
    // The same, seen by a Kafka client nobody here wrote.
    const listing = await kcat([
      "-L",
      "-b",
      kafka.bootstrapServers.join(","),
      "-t",
      "default.reviews-requests",
    ]);
    expect(listing).to.match(/topic "default.reviews-requests" with 4 partitions/);

    const deployment = k.getJson<V1Deployment>(["deployment", "reviews-worker", "-n", "default"]);
    const container = deployment?.spec?.template.spec?.containers[0];
    expect(container?.image).to.equal("example/worker:1");
    const env = Object.fromEntries((container?.env ?? []).map((variable) => [variable.name, variable.value]));
    expect(env).to.include({
      KAFKA_BOOTSTRAP_SERVERS: kafka.bootstrapServers.join(","),
      TOPIC_REQUESTS: "default.reviews-requests",
      TOPIC_RESPONSES: "default.reviews-responses",
      TOPIC_DEAD_LETTER: "default.reviews-dlq",
      BATCH_MAX_SIZE: "256",
    });
    expect(container?.securityContext).to.include({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
    });
    expect(deployment?.metadata?.ownerReferences?.[0]).to.include({
      kind: "SentimentPipeline",
      name: "reviews",
    });

    const service = k.getJson<V1Service>(["service", "reviews-worker", "-n", "default"]);
    expect(service?.spec?.ports?.[0]).to.include({ name: "http", port: 8080 });

    const hpa = k.getJson<V2HorizontalPodAutoscaler>(["hpa", "reviews-worker", "-n", "default"]);
    // maxReplicas defaults to 8; 4 partitions cap it at 4, and status says so.
    expect(hpa?.spec).to.deep.include({ minReplicas: 1, maxReplicas: 4 });
    expect(hpa?.spec?.metrics?.[0]?.external?.metric.name).to.equal("kubesentiment_consumer_lag");
    expect(hpa?.spec?.metrics?.[0]?.external?.target).to.deep.equal({
      type: "AverageValue",
      averageValue: "1k",
    });

    expect(conditionOf(pipeline, "TopicsReady")).to.include({ status: "True", reason: "TopicsReady" });
    expect(conditionOf(pipeline, "WorkersAvailable")?.status).to.equal("True");
    expect(conditionOf(pipeline, "AutoscalingActive")?.message).to.include(
      "at most 4 replicas: the requests topic has 4 partitions",
    );
    expect(pipeline.status?.readyReplicas).to.equal(1);
    const columns = k.run(["get", "sp", "reviews", "-n", "default"]);
    expect(columns).to.match(/NAME\s+READY\s+PAUSED\s+REPLICAS\s+LAG\s+AGE/);
    expect(columns).to.match(/reviews\s+True\s+False\s+1\s+0\s+/);
    const events = k.run([
      "get",
      "events",
      "-n",
      "default",
      "--field-selector",
      "involvedObject.name=reviews",
    ]);
    expect(events).to.match(/TopicsReconciled.*created topic default.reviews-requests with 4 partitions/);
  });

  it("reconciles an update: more partitions, a new batch size and image roll the pods", async () => {
    const before = k.getJson<V1Deployment>(["deployment", "reviews-worker", "-n", "default"]);
    const checksum = before?.spec?.template.metadata?.annotations?.["kubesentiment.io/config-checksum"];
    k.apply(
      pipelineManifest(
        "reviews",
        spec({
          topics: { partitions: 6, replicationFactor: 1 },
          worker: { image: "example/worker:2", batch: { maxSize: 32 } },
        }),
      ),
    );
    await waitFor(
      "6 partitions on default.reviews-requests",
      async () => (await partitionsOf("default.reviews-requests")) === 6,
    );
    const rolled = await waitFor("the Deployment rolled out with the new image on every pod", () => {
      const deployment = k.getJson<V1Deployment>(["deployment", "reviews-worker", "-n", "default"]);
      const status = deployment?.status;
      return deployment?.spec?.template.spec?.containers[0]?.image === "example/worker:2" &&
        status?.observedGeneration === deployment.metadata?.generation &&
        status?.updatedReplicas === 1 &&
        status?.availableReplicas === 1 &&
        (status?.replicas ?? 0) === 1
        ? deployment
        : undefined;
    });
    const env = rolled.spec?.template.spec?.containers[0]?.env ?? [];
    expect(env.find((variable) => variable.name === "BATCH_MAX_SIZE")?.value).to.equal("32");
    expect(rolled.spec?.template.metadata?.annotations?.["kubesentiment.io/config-checksum"]).to.not.equal(
      checksum,
    );
    const pods = k.run([
      "get",
      "pods",
      "-n",
      "default",
      "-l",
      "app.kubernetes.io/instance=reviews",
      "-o",
      "name",
    ]);
    expect(pods.trim().split("\n")).to.have.length(1);
    const pipeline = await readyPipeline("reviews");
    expect(pipeline.status?.topics?.partitions).to.equal(6);
  });

  it("puts back an owned object deleted or changed behind its back", async () => {
    await k.runAsync(["delete", "service", "reviews-worker", "-n", "default", "--wait=true"]);
    await waitFor("the Service recreated", () =>
      k.getJson<V1Service>(["service", "reviews-worker", "-n", "default"]),
    );
    k.run(["set", "env", "deployment/reviews-worker", "-n", "default", "BATCH_MAX_SIZE=7"]);
    await waitFor("the worker environment put back", () => {
      const env = k.getJson<V1Deployment>(["deployment", "reviews-worker", "-n", "default"])?.spec?.template
        .spec?.containers[0]?.env;
      return env?.find((variable) => variable.name === "BATCH_MAX_SIZE")?.value === "32";
    });
  });

  it("lets the API server refuse fewer partitions, and refuses a topic that already has more", async () => {
    const lowered = k.getJson<unknown>(["sp", "reviews", "-n", "default"]);
    expect(lowered).to.not.equal(undefined);
    const refused = kubectlFor(cluster.kubeconfigPath);
    expect(() =>
      refused.apply(pipelineManifest("reviews", spec({ topics: { partitions: 2, replicationFactor: 1 } }))),
    ).to.throw(/partitions may not be decreased/);

    // A topic made behind the operator's back with more partitions than the pipeline asks for.
    await createTopic(kafka.bootstrapServers, "default.wide-requests", 8, 1);
    k.apply(pipelineManifest("wide", spec()));
    const pipeline = await waitFor("wide refused", () => {
      const current = k.pipeline("wide");
      return conditionOf(current, "TopicsReady")?.reason === "PartitionDecreaseRefused" ? current : undefined;
    });
    expect(conditionOf(pipeline, "TopicsReady")?.status).to.equal("False");
    expect(conditionOf(pipeline, "TopicsReady")?.message).to.match(/default.wide-requests/);
    expect(conditionOf(pipeline, "Ready")).to.include({
      status: "False",
      reason: "PartitionDecreaseRefused",
    });
    expect(await partitionsOf("default.wide-requests")).to.equal(8);
    const events = k.run(["get", "events", "-n", "default", "--field-selector", "involvedObject.name=wide"]);
    expect(events).to.match(/Warning\s+PartitionDecreaseRefused/);
    await k.runAsync(["delete", "sp", "wide", "-n", "default", "--wait=true", "--timeout=60s"]);
  });

  it("keeps the topics of a deleted pipeline under Retain and deletes them under Delete", async () => {
    k.apply(pipelineManifest("kept", spec({ topics: { partitions: 2, replicationFactor: 1 } })));
    await readyPipeline("kept");
    await k.runAsync(["delete", "sp", "kept", "-n", "default", "--wait=true", "--timeout=60s"]);
    expect([...(await topicsOf())]).to.include.members([
      "default.kept-requests",
      "default.kept-responses",
      "default.kept-dlq",
    ]);

    k.apply(
      pipelineManifest(
        "shortlived",
        spec({ topics: { partitions: 2, replicationFactor: 1, deletionPolicy: "Delete" } }),
      ),
    );
    const pipeline = await readyPipeline("shortlived");
    expect(pipeline.metadata.finalizers).to.include(topicsFinalizer);
    await k.runAsync(["delete", "sp", "shortlived", "-n", "default", "--wait=true", "--timeout=60s"]);
    expect(k.pipeline("shortlived")).to.equal(undefined);
    await waitFor("shortlived topics deleted", async () => {
      const topics = await topicsOf();
      return !["default.shortlived-requests", "default.shortlived-responses", "default.shortlived-dlq"].some(
        (topic) => topics.has(topic),
      );
    });
  });

  it("says which Secret is missing instead of trying Kafka without its credentials", async () => {
    k.apply(
      pipelineManifest(
        "locked",
        spec({
          kafka: { bootstrapServers: kafka.bootstrapServers, sasl: { secretRef: { name: "kafka-user" } } },
          topics: { partitions: 2, replicationFactor: 1 },
        }),
      ),
    );
    const missing = await waitFor("locked reported without its Secret", () => {
      const current = k.pipeline("locked");
      return conditionOf(current, "TopicsReady")?.reason === "SecretNotFound" ? current : undefined;
    });
    expect(conditionOf(missing, "TopicsReady")?.message).to.equal(
      "spec.kafka.sasl.secretRef names Secret default/kafka-user, which does not exist",
    );
    expect(conditionOf(missing, "Ready")).to.include({ status: "False", reason: "SecretNotFound" });
    k.run(["create", "secret", "generic", "kafka-user", "-n", "default", "--from-literal=username=alice"]);
    await waitFor("locked reported with the key missing", () =>
      conditionOf(k.pipeline("locked"), "TopicsReady")?.message.includes("has no key password"),
    );
    expect(JSON.stringify(k.pipeline("locked")?.status)).to.not.include("alice");
    await k.runAsync(["delete", "sp", "locked", "-n", "default", "--wait=true", "--timeout=60s"]);
  });

  it("names the field the API server refused in the worker Deployment, waits for a change, and converges on it", async () => {
    const withCpu = (requests: string, limits: string) =>
      pipelineManifest(
        "overcommitted",
        spec({ worker: { resources: { requests: { cpu: requests }, limits: { cpu: limits } } } }),
      );
    const terminalBefore = await reconcileCount(operator, "terminal");
    k.apply(withCpu("2", "1"));
    const refused = await waitFor(
      "overcommitted reported with its Deployment refused",
      () => {
        const current = k.pipeline("overcommitted");
        return conditionOf(current, "WorkersAvailable")?.reason === "ApplyFailed" ? current : undefined;
      },
      { describe: () => `pipeline: ${JSON.stringify(k.pipeline("overcommitted"))}` },
    );
    expect(conditionOf(refused, "WorkersAvailable")?.message).to.match(
      /^applying the worker Deployment, Service and autoscaler failed: .*is invalid: .*resources.*must be less than or equal to cpu limit/,
    );
    expect(conditionOf(refused, "Ready")).to.include({ status: "False", reason: "ApplyFailed" });
    expect(
      await reconcileCount(operator, "terminal"),
      "reconciles that stopped retrying (the refusal waits for a change)",
    ).to.be.above(terminalBefore);
    k.apply(withCpu("1", "1"));
    await readyPipeline("overcommitted");
    await k.runAsync(["delete", "sp", "overcommitted", "-n", "default", "--wait=true", "--timeout=60s"]);
  });

  it("names a failing worker pod in WorkersAvailable and Ready, and lets go of it once the pod is ready", async () => {
    const modelUrl = "https://models.example/sentiment.tar.gz";
    const sha256 = "ab".repeat(32);
    k.apply(
      pipelineManifest(
        "fetching",
        spec({
          topics: { partitions: 1, replicationFactor: 1 },
          model: { source: { url: { url: modelUrl, sha256 } } },
        }),
      ),
    );
    await readyPipeline("fetching");
    const pod = k
      .run(["get", "pods", "-n", "default", "-l", "app.kubernetes.io/instance=fetching", "-o", "name"])
      .trim()
      .replace(/^pod\//, "");
    const mismatch = `SHA-256 mismatch for ${modelUrl}: expected ${sha256}, got ${"cd".repeat(32)}; the archive was not unpacked`;
    // What a kubelet reports of a pod whose init container keeps failing, written through the status subresource
    // as a kubelet writes it. kwok, which plays the kubelet here, acts only on Pending pods: this Running pod's
    // status stays as written. The termination message is the tail of fetch-model's log.
    const container = (name: string, state: object, lastState: object = {}) => ({
      name,
      image: "kubesentiment/worker:0.1.0",
      imageID: "",
      ready: false,
      restartCount: 3,
      state,
      lastState,
    });
    const status = (ready: "True" | "False", init: object, worker: object) => ({
      status: {
        conditions: ["Initialized", "ContainersReady", "Ready"].map((type) => ({ type, status: ready })),
        initContainerStatuses: [init],
        containerStatuses: [worker],
      },
    });
    const patchStatus = (patch: object) =>
      k.run(["patch", "pod", pod, "-n", "default", "--subresource=status", "-p", JSON.stringify(patch)]);
    patchStatus(
      status(
        "False",
        container(
          "fetch-model",
          { waiting: { reason: "CrashLoopBackOff", message: "back-off 40s restarting failed container" } },
          { terminated: { exitCode: 1, reason: "Error", message: `fetch-model: ${mismatch}\n` } },
        ),
        container("worker", { waiting: { reason: "PodInitializing" } }),
      ),
    );
    const failing = await waitFor(
      "WorkersAvailable naming the failing pod",
      () => {
        const current = k.pipeline("fetching");
        return conditionOf(current, "WorkersAvailable")?.reason === "WorkerPodFailing" ? current : undefined;
      },
      { timeoutMs: 60_000, describe: () => JSON.stringify(k.pipeline("fetching")?.status?.conditions) },
    );
    const expected = {
      status: "False",
      reason: "WorkerPodFailing",
      message: `0 of 1 workers of Deployment fetching-worker available; pod ${pod}: init container fetch-model failed (exit 1; now CrashLoopBackOff): ${mismatch}`,
    };
    expect(conditionOf(failing, "WorkersAvailable")).to.include(expected);
    expect(conditionOf(failing, "Ready")).to.include(expected);

    const completed = { terminated: { exitCode: 0, reason: "Completed" } };
    patchStatus(
      status(
        "True",
        { ...container("fetch-model", completed), ready: true },
        {
          ...container("worker", { running: { startedAt: new Date().toISOString() } }),
          ready: true,
        },
      ),
    );
    const recovered = await readyPipeline("fetching", 60_000);
    expect(conditionOf(recovered, "WorkersAvailable")).to.include({
      status: "True",
      message: "1 of 1 workers available",
    });
    await k.runAsync(["delete", "sp", "fetching", "-n", "default", "--wait=true", "--timeout=60s"]);
  });

  it("never wedges: a pipeline whose Kafka is gone can be released by an annotation", async () => {
    const nowhere = { bootstrapServers: ["127.0.0.1:1"] };
    k.apply(
      pipelineManifest(
        "unreached",
        spec({ kafka: nowhere, topics: { partitions: 2, replicationFactor: 1, deletionPolicy: "Delete" } }),
      ),
    );
    const unreachable = await waitFor("unreached reported unreachable", () => {
      const current = k.pipeline("unreached");
      return conditionOf(current, "TopicsReady")?.reason === "KafkaUnreachable" ? current : undefined;
    });
    expect(conditionOf(unreachable, "Ready")?.status).to.equal("False");
    expect(conditionOf(unreachable, "TopicsReady")?.message).to.include("127.0.0.1:1");
    // It created no topic, so there is none to delete: it goes at once.
    await k.runAsync(["delete", "sp", "unreached", "-n", "default", "--wait=true", "--timeout=60s"]);

    k.apply(
      pipelineManifest(
        "stranded",
        spec({ topics: { partitions: 2, replicationFactor: 1, deletionPolicy: "Delete" } }),
      ),
    );
    await readyPipeline("stranded");
    await kafka.stopBroker(0);
    try {
      k.run(["delete", "sp", "stranded", "-n", "default", "--wait=false"]);
      const stuck = await waitFor("stranded deletion reported as failed", () => {
        const current = k.pipeline("stranded");
        return conditionOf(current, "Ready")?.reason === "TopicDeletionFailed" ? current : undefined;
      });
      expect(conditionOf(stuck, "Ready")?.message).to.include(skipTopicDeletionAnnotation);
      k.run(["annotate", "sp", "stranded", "-n", "default", `${skipTopicDeletionAnnotation}=true`]);
      await waitFor("stranded released", () => k.pipeline("stranded") === undefined);
    } finally {
      await kafka.startBroker(0);
    }
    expect([...(await topicsOf())]).to.include.members(["default.stranded-requests", "default.stranded-dlq"]);
  });

  it("says Kafka is unreachable while the broker is down and converges when it is back, without a restart", async () => {
    k.apply(pipelineManifest("outage", spec({ topics: { partitions: 2, replicationFactor: 1 } })));
    await readyPipeline("outage");
    await kafka.stopBroker(0);
    try {
      const down = await waitFor("outage reported unreachable", () => {
        const current = k.pipeline("outage");
        return conditionOf(current, "TopicsReady")?.reason === "KafkaUnreachable" ? current : undefined;
      });
      expect(conditionOf(down, "Ready")).to.include({ status: "False", reason: "KafkaUnreachable" });
    } finally {
      await kafka.startBroker(0);
    }
    await readyPipeline("outage", 120_000);
  });

  it("converges after being restarted mid-reconcile", async () => {
    k.apply(pipelineManifest("restarted", spec({ topics: { partitions: 3, replicationFactor: 1 } })));
    await waitFor("a reconcile of restarted under way", () => k.pipeline("restarted")?.metadata.uid);
    await operator?.stop();
    operator = await runOperator(cluster.kubeconfigPath);
    const pipeline = await readyPipeline("restarted");
    expect(pipeline.status?.topics?.partitions).to.equal(3);
    expect(await partitionsOf("default.restarted-requests")).to.equal(3);
  });

  it("keeps a trickled minReplicas 0 pipeline at one worker, scales it to zero when idle, wakes it on a request", async () => {
    const cooldownMs = 6_000;
    k.apply(
      pipelineManifest(
        "trickle",
        spec({
          topics: { partitions: 1, replicationFactor: 1 },
          autoscaling: { minReplicas: 0, maxReplicas: 1, scaleToZeroAfterSeconds: cooldownMs / 1000 },
        }),
      ),
    );
    const ready = await readyPipeline("trickle");
    const topic = ready.status?.topics?.requests ?? "";
    const worker = () => k.getJson<V1Deployment>(["deployment", "trickle-worker", "-n", "default"]);
    const groupId = worker()?.spec?.template.spec?.containers[0]?.env?.find(
      (variable) => variable.name === "KAFKA_GROUP_ID",
    )?.value;
    // Stands in for the worker (kwok runs no containers): answers each request at once and commits it.
    const consumer = kafkaClient(kafka.bootstrapServers).consumer({ groupId: groupId ?? "" });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ autoCommitThreshold: 1, eachMessage: async () => {} });
    const producer = await exactProducer(kafka.bootstrapServers);
    try {
      // One request per look of the operator, each consumed before the next: lag 0 at nearly every look. The
      // trickle goes on until the operator's own timestamps span more than the cooldown.
      let firstActive: number | undefined;
      let lastActive = 0;
      for (let sent = 1; firstActive === undefined || lastActive - firstActive <= cooldownMs; sent++) {
        await producer.send({ topic, acks: -1, messages: [{ value: `{"id":"${sent}","text":"ok"}` }] });
        // Seen by a look, or scaled to zero meanwhile, which the expectation below reports.
        const seen = await waitFor(`the operator sees request ${sent}`, () => {
          const status = k.pipeline("trickle")?.status;
          return status?.requestsLogEndOffset === sent || worker()?.spec?.replicas === 0 ? status : undefined;
        });
        expect(worker()?.spec?.replicas, `replicas after request ${sent}`).to.equal(1);
        lastActive = Date.parse(seen?.lastActiveTime ?? "");
        firstActive ??= lastActive;
      }
      await waitFor("scaled to zero once no request comes", () => worker()?.spec?.replicas === 0, {
        timeoutMs: 60_000,
      });
      await consumer.stop();
      await producer.send({ topic, acks: -1, messages: [{ value: '{"id":"wake","text":"ok"}' }] });
      await waitFor("woken by a request", () => worker()?.spec?.replicas === 1, { timeoutMs: 30_000 });
    } finally {
      await Promise.all([consumer.disconnect(), producer.disconnect()]);
    }
  });

  it("runs two replicas of which exactly one acts, and hands over when the leader stops", async () => {
    await operator?.stop();
    operator = undefined;
    const replicas = await Promise.all(
      ["op-a", "op-b"].map((identity) =>
        runOperator(cluster.kubeconfigPath, { leaderElection: true, identity }),
      ),
    );
    try {
      const leaseHolder = () =>
        k.run(["get", "lease", leaseName, "-n", operatorNamespace, "-o", "jsonpath={.spec.holderIdentity}"]);
      const leader = await waitFor("a leader", () => replicas.find((replica) => replica.isLeader()));
      const standby = replicas.find((replica) => replica !== leader);
      const holder = leaseHolder();
      expect(holder).to.be.oneOf(["op-a", "op-b"]);
      k.apply(pipelineManifest("elected", spec({ topics: { partitions: 2, replicationFactor: 1 } })));
      await readyPipeline("elected");
      expect(replicas.filter((replica) => replica.isLeader())).to.have.length(1);
      expect(await reconcileCount(standby)).to.equal(0);
      expect(await reconcileCount(leader)).to.be.greaterThan(0);

      await leader.stop();
      await waitFor("the standby takes over", () => standby?.isLeader());
      const newHolder = leaseHolder();
      expect(newHolder).to.not.equal(holder);
      k.apply(pipelineManifest("elected", spec({ topics: { partitions: 5, replicationFactor: 1 } })));
      await waitFor(
        "the new leader raises the partitions",
        async () => (await partitionsOf("default.elected-requests")) === 5,
      );
    } finally {
      await Promise.all(replicas.map((replica) => replica.stop()));
    }
  });
});

/** Reconciles an operator replica has run (those of one result, given one), from its own /metrics. */
async function reconcileCount(replica: RunningOperator | undefined, result?: string): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${replica?.httpPort}/metrics`);
  const lines = (await response.text())
    .split("\n")
    .filter((line) => line.startsWith("kubesentiment_operator_reconciles_total{"))
    .filter((line) => result === undefined || line.includes(`result="${result}"`));
  return lines.reduce((sum, line) => sum + Number(line.split(" ").at(-1)), 0);
}
