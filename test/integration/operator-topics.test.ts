// Who owns a pipeline's topics, on a real control plane and a real Kafka: default names that never meet across
// namespaces, a topic another pipeline claims refused, a topic the pipeline found already there never deleted,
// the deletionPolicy read when the pipeline is deleted, the workers stopped before any topic goes, and names
// kept across an upgrade from the old defaults.
import type { V1Deployment } from "@kubernetes/client-node";
import { expect } from "chai";
import { clusterPortCount } from "../../hack/harness/cluster-config.ts";
import { type Cluster, startCluster } from "../../hack/harness/cluster-run.ts";
import { createTopic, kafkaClient } from "../../hack/harness/kafka-client.ts";
import type { KafkaCluster } from "../../hack/harness/kafka-cluster.ts";
import { type Kubectl, kubectlFor } from "../../hack/harness/kubectl.ts";
import { freePortBase } from "../../hack/harness/ports.ts";
import { startTogether } from "../../hack/harness/processes.ts";
import { waitFor } from "../../hack/harness/wait.ts";
import { topicsFinalizer } from "../../operator/src/controller/reconcile.ts";
import type { RunningOperator } from "../../operator/src/operator.ts";
import type { PipelineSpec, SentimentPipeline } from "../../operator/src/pipeline.ts";
import { startTestKafka } from "../support/kafka.ts";
import {
  conditionOf,
  pipelineManifest,
  prepareCluster,
  readyPipeline,
  runOperator,
  topicsOn,
} from "../support/operator.ts";

const holdFinalizer = "test.kubesentiment.io/hold";

describe("operator topic ownership on a real control plane and a real Kafka", function () {
  this.timeout(180_000);
  let cluster: Cluster;
  let kafka: KafkaCluster;
  let operator: RunningOperator | undefined;
  let k: Kubectl;
  const spec = (topics: PipelineSpec["topics"] = {}): PipelineSpec => ({
    kafka: { bootstrapServers: kafka.bootstrapServers },
    topics: { partitions: 2, replicationFactor: 1, ...topics },
  });
  const pipelineIn = (namespace: string, name: string) =>
    k.getJson<SentimentPipeline>(["sentimentpipeline", name, "-n", namespace]);
  const topicsOf = () => topicsOn(kafka.bootstrapServers);
  const readyIn = (namespace: string, name: string) => readyPipeline(k, name, namespace);
  /** Sets the worker Deployment's finalizers: one of the test's own holds it as pods slow to stop would. */
  const holdWorkers = (name: string, held: boolean) =>
    k.run([
      "patch",
      "deployment",
      `${name}-worker`,
      "-n",
      "default",
      "--type=merge",
      "-p",
      JSON.stringify({ metadata: { finalizers: held ? [holdFinalizer] : null } }),
    ]);
  /** The three topic names the pipeline reports in status. */
  const namesOf = (pipeline: SentimentPipeline): string[] => {
    const topics = pipeline.status?.topics;
    return topics === undefined ? [] : [topics.requests, topics.responses, topics.deadLetter];
  };
  const deletePipeline = (namespace: string, name: string) =>
    k.runAsync(["delete", "sp", name, "-n", namespace, "--wait=true", "--timeout=60s"]);
  /** Stops the operator, does `what` while nobody reconciles, and starts it again. */
  const withOperatorStopped = async (what: () => void | Promise<void>) => {
    await operator?.stop();
    operator = undefined;
    await what();
    operator = await runOperator(cluster.kubeconfigPath);
  };

  before(async function () {
    this.timeout(300_000);
    [cluster, kafka] = await startTogether(
      freePortBase(clusterPortCount).then((portBase) =>
        startCluster({ name: "operator-topics-test", portBase, controllerManager: true, kwok: true }),
      ),
      startTestKafka(1),
    );
    k = kubectlFor(cluster.kubeconfigPath);
    prepareCluster(k);
    for (const namespace of ["team-a", "team-b"]) k.run(["create", "namespace", namespace]);
    // A broker just started fails metadata requests for a while and creates its offsets topic on the first
    // group request: cold-start costs that are not this suite's subject, paid here rather than by the first
    // pipelines' reconciles and their backoff.
    const admin = kafkaClient(kafka.bootstrapServers).admin();
    await admin.connect();
    try {
      await waitFor("Kafka's group coordinator answering", () =>
        admin.describeGroups(["warm-up"]).then(
          () => true,
          () => false,
        ),
      );
    } finally {
      await admin.disconnect();
    }
    operator = await runOperator(cluster.kubeconfigPath);
  });

  after(async () => {
    await operator?.stop();
    await Promise.all([cluster?.stop(), kafka?.stop()]);
  });

  it("gives two pipelines named foo in two namespaces their own topics; deleting one leaves the other's", async () => {
    for (const namespace of ["team-a", "team-b"]) {
      k.apply(pipelineManifest("foo", spec({ deletionPolicy: "Delete" }), {}, namespace));
    }
    const [a, b] = await Promise.all([readyIn("team-a", "foo"), readyIn("team-b", "foo")]);
    expect(namesOf(a)).to.deep.equal(["team-a.foo-requests", "team-a.foo-responses", "team-a.foo-dlq"]);
    expect(namesOf(b)).to.deep.equal(["team-b.foo-requests", "team-b.foo-responses", "team-b.foo-dlq"]);
    expect([...(await topicsOf())]).to.include.members([...namesOf(a), ...namesOf(b)]);

    await deletePipeline("team-a", "foo");
    const left = await topicsOf();
    expect(namesOf(a).filter((topic) => left.has(topic))).to.deep.equal([]);
    expect(namesOf(b).filter((topic) => left.has(topic))).to.deep.equal(namesOf(b));
    expect(conditionOf(pipelineIn("team-b", "foo"), "Ready")?.status).to.equal("True");
    await deletePipeline("team-b", "foo");
  });

  it("refuses a topic another pipeline uses, naming the topic and that pipeline", async () => {
    k.apply(pipelineManifest("owner", spec(), {}, "team-a"));
    const owner = await readyIn("team-a", "owner");
    const [claimed = ""] = namesOf(owner);
    k.apply(pipelineManifest("intruder", spec({ requests: claimed }), {}, "team-b"));
    const refused = await waitFor("intruder refused", () => {
      const current = pipelineIn("team-b", "intruder");
      return conditionOf(current, "TopicsReady")?.status === "False" ? current : undefined;
    });
    expect(conditionOf(refused, "TopicsReady")).to.include({ reason: "TopicClaimed" });
    expect(conditionOf(refused, "TopicsReady")?.message).to.include(claimed).and.include("team-a/owner");
    expect(conditionOf(refused, "Ready")?.status).to.equal("False");
    expect(k.getJson<V1Deployment>(["deployment", "intruder-worker", "-n", "team-b"])).to.equal(undefined);
    expect(conditionOf(pipelineIn("team-a", "owner"), "Ready")?.status).to.equal("True");
    await Promise.all([deletePipeline("team-b", "intruder"), deletePipeline("team-a", "owner")]);
  });

  it("never deletes a topic it found already there, and deletes the ones it created", async () => {
    await createTopic(kafka.bootstrapServers, "shared-intake", 2, 1);
    k.apply(pipelineManifest("adopter", spec({ requests: "shared-intake", deletionPolicy: "Delete" })));
    const adopter = await readyIn("default", "adopter");
    const [, responses = "", deadLetter = ""] = namesOf(adopter);
    await deletePipeline("default", "adopter");
    const left = await topicsOf();
    expect(left.has("shared-intake"), "the adopted topic").to.equal(true);
    expect([responses, deadLetter].filter((topic) => left.has(topic))).to.deep.equal([]);
  });

  it("keeps the topics when the policy changed from Delete to Retain just before deletion", async () => {
    k.apply(pipelineManifest("changed", spec({ deletionPolicy: "Delete" })));
    const changed = await readyIn("default", "changed");
    expect(changed.metadata.finalizers).to.include(topicsFinalizer);
    // With no operator acting, the finalizer is still there when the pipeline is deleted under Retain.
    await withOperatorStopped(() => {
      k.apply(pipelineManifest("changed", spec({ deletionPolicy: "Retain" })));
      k.run(["delete", "sp", "changed", "-n", "default", "--wait=false"]);
    });
    await waitFor("changed released", () => pipelineIn("default", "changed") === undefined);
    expect([...(await topicsOf())]).to.include.members(namesOf(changed));
  });

  it("deletes the topics when the policy changed from Retain to Delete before deletion", async () => {
    k.apply(pipelineManifest("converted", spec()));
    const converted = await readyIn("default", "converted");
    k.apply(pipelineManifest("converted", spec({ deletionPolicy: "Delete" })));
    await waitFor("the finalizer added", () =>
      pipelineIn("default", "converted")?.metadata.finalizers?.includes(topicsFinalizer),
    );
    await deletePipeline("default", "converted");
    const left = await topicsOf();
    expect(namesOf(converted).filter((topic) => left.has(topic))).to.deep.equal([]);
  });

  it("deletes the topics only once the worker Deployment and its pods are gone", async () => {
    k.apply(pipelineManifest("drained", spec({ deletionPolicy: "Delete" })));
    const drained = await readyIn("default", "drained");
    holdWorkers("drained", true);
    try {
      k.run(["delete", "sp", "drained", "-n", "default", "--wait=false"]);
      const waiting = await waitFor("drained waiting for its workers", () => {
        const current = pipelineIn("default", "drained");
        return conditionOf(current, "Ready")?.reason === "WorkersStopping" ? current : undefined;
      });
      expect(conditionOf(waiting, "Ready")?.message).to.include("drained-worker");
      expect(
        k.getJson<V1Deployment>(["deployment", "drained-worker", "-n", "default"])?.metadata
          ?.deletionTimestamp,
      ).to.be.a("string");
      expect([...(await topicsOf())]).to.include.members(namesOf(drained));
    } finally {
      holdWorkers("drained", false);
    }
    await waitFor("drained released", () => pipelineIn("default", "drained") === undefined);
    const left = await topicsOf();
    expect(namesOf(drained).filter((topic) => left.has(topic))).to.deep.equal([]);
  });

  it("keeps the old default topic names of a pipeline made before namespaced defaults", async () => {
    await withOperatorStopped(() => {
      k.apply(pipelineManifest("legacy", spec(), {}, "team-a"));
      // What a reconcile of the previous version wrote.
      k.run([
        "patch",
        "sp",
        "legacy",
        "-n",
        "team-a",
        "--subresource=status",
        "--type=merge",
        "-p",
        JSON.stringify({
          status: {
            topics: {
              requests: "legacy-requests",
              responses: "legacy-responses",
              deadLetter: "legacy-dlq",
              partitions: 2,
            },
          },
        }),
      ]);
    });
    const legacy = await readyIn("team-a", "legacy");
    expect(namesOf(legacy)).to.deep.equal(["legacy-requests", "legacy-responses", "legacy-dlq"]);
    const env = k.getJson<V1Deployment>(["deployment", "legacy-worker", "-n", "team-a"])?.spec?.template.spec
      ?.containers[0]?.env;
    expect(env?.find((variable) => variable.name === "TOPIC_REQUESTS")?.value).to.equal("legacy-requests");
    expect([...(await topicsOf())]).to.include.members(namesOf(legacy));
    await deletePipeline("team-a", "legacy");
  });
});
