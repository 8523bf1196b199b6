// spec.autoscaling.provider keda end to end (npm run test:keda, not in npm test: KEDA builds from source for far
// longer than the rest of CI takes), on real components: kube-apiserver with the aggregation layer,
// kube-controller-manager's HPA controller (short sync period), kwok for the pods, a real Kafka broker, KEDA's
// own operator and metrics server (built from source, the metrics server registered as external.metrics.k8s.io:
// the operator serves no metrics API here, as in a cluster where KEDA holds it), the operator with KEDA enabled,
// and real worker processes doing the draining. The operator's periodic resync is longer than the whole test, so
// every status waited for here reaches the pipeline through an event: KEDA's conditions through the operator's
// watch of the ScaledObjects it owns, and nothing waits for a resync.
import type { V2HorizontalPodAutoscaler } from "@kubernetes/client-node";
import { expect } from "chai";
import type { Cluster } from "../../hack/harness/cluster-run.ts";
import { kafkaClient } from "../../hack/harness/kafka-client.ts";
import type { KafkaCluster } from "../../hack/harness/kafka-cluster.ts";
import { type RunningKeda, startKeda } from "../../hack/harness/keda-run.ts";
import { type Kubectl, kubectlFor } from "../../hack/harness/kubectl.ts";
import { waitFor } from "../../hack/harness/wait.ts";
import type { RunningOperator } from "../../operator/src/operator.ts";
import type { PipelineSpec } from "../../operator/src/pipeline.ts";
import type { ScaledObject } from "../../operator/src/render/scaled-object.ts";
import { pipelineWorkers, startAutoscalingCluster } from "../support/autoscaling-cluster.ts";
import { conditionOf, pipelineManifest, prepareCluster, runOperator } from "../support/operator.ts";
import { ResultReader } from "../support/pipeline-topics.ts";

/** A resync period no wait of this file outlasts: a status it waits for comes from an event, or never. */
const beyondTheTest = 3_600_000;

describe("KEDA as the autoscaler, end to end", function () {
  this.timeout(300_000);
  let cluster: Cluster;
  let kafka: KafkaCluster;
  let keda: RunningKeda;
  let operator: RunningOperator;
  let k: Kubectl;
  const { deployment, fleetOf, stopFleets } = pipelineWorkers(() => k);
  const spec = (autoscaling: NonNullable<PipelineSpec["autoscaling"]>, partitions: number): PipelineSpec => ({
    kafka: { bootstrapServers: kafka.bootstrapServers },
    topics: { partitions, replicationFactor: 1 },
    autoscaling: { provider: "keda", ...autoscaling },
  });
  const produce = async (topic: string, count: number, prefix: string) => {
    const producer = kafkaClient(kafka.bootstrapServers).producer();
    await producer.connect();
    await producer.send({
      topic,
      acks: -1,
      messages: Array.from({ length: count }, (_, i) => ({
        key: `${prefix}-${i}`,
        value: JSON.stringify({ id: `${prefix}-${i}`, text: i % 2 ? "a warm, funny film" : "a dull film" }),
      })),
    });
    await producer.disconnect();
  };
  const scaledObject = (name: string) =>
    k.getJson<ScaledObject>(["scaledobject", `${name}-worker`, "-n", "default"]);
  const autoscaling = (name: string) => conditionOf(k.pipeline(name), "AutoscalingActive");
  /** Why a wait on KEDA timed out: what the pipeline says, and the end of KEDA's logs. */
  const kedaState = (name: string) => () =>
    `AutoscalingActive ${JSON.stringify(autoscaling(name))}; ScaledObject status ${JSON.stringify(scaledObject(name)?.status)}`;

  before(async function () {
    this.timeout(300_000);
    [cluster, kafka] = await startAutoscalingCluster("e2e-keda", "test-e2e-keda");
    k = kubectlFor(cluster.kubeconfigPath);
    prepareCluster(k);
    keda = await startKeda("e2e-keda-keda", cluster.kubeconfigPath, k);
    operator = await runOperator(cluster.kubeconfigPath, {
      kedaEnabled: true,
      resyncPeriodMs: beyondTheTest,
    });
  });

  afterEach(async () => {
    await stopFleets();
  });

  after(async () => {
    await operator?.stop();
    await keda?.stop();
    await Promise.all([cluster?.stop(), kafka?.stop()]);
  });

  it("scales a backlog up through KEDA's HPA, never past the partitions, and back down; a pause holds it at 0", async () => {
    const name = "surge";
    k.apply(
      pipelineManifest(
        name,
        spec({ minReplicas: 1, maxReplicas: 8, lagThreshold: 50, scaleDownStabilizationSeconds: 5 }, 4),
      ),
    );
    await waitFor(
      "KEDA reporting the ScaledObject Ready in the pipeline's status",
      () => autoscaling(name)?.message.includes("Ready (ScaledObjectReady"),
      { timeoutMs: 90_000, describe: kedaState(name) },
    );
    // KEDA's HPA, not the operator's: the operator renders none with provider keda.
    const hpa = k.getJson<V2HorizontalPodAutoscaler>(["hpa", "keda-hpa-surge-worker", "-n", "default"]);
    expect(hpa?.spec?.maxReplicas).to.equal(4);
    expect(k.getJson(["hpa", "surge-worker", "-n", "default"])).to.equal(undefined);

    // A running pipeline meets a surge: KEDA leaves a partition whose offset does not move out of the metric
    // (excludePersistentLag), so the worker that is there must be consuming for the backlog to count.
    const fleet = fleetOf(name);
    await waitFor("surge's first worker", () => fleet.size === 1);
    await produce("default.surge-requests", 2000, name);
    await waitFor(
      "KEDA's HPA raising surge above 1 replica",
      () => (deployment(name)?.spec?.replicas ?? 0) > 1,
      {
        timeoutMs: 90_000,
        describe: kedaState(name),
      },
    );
    await waitFor("the workers draining the backlog", () => k.pipeline(name)?.status?.consumerLag === 0, {
      timeoutMs: 120_000,
    });
    await waitFor(
      "KEDA's HPA bringing surge back to 1 replica",
      () => deployment(name)?.spec?.replicas === 1,
      {
        timeoutMs: 120_000,
        describe: () => `replicas ${deployment(name)?.spec?.replicas}`,
      },
    );
    expect(fleet.peak).to.be.within(2, 4);

    k.run(["patch", "sp", name, "-n", "default", "--type=merge", "-p", '{"spec":{"paused":true}}']);
    await waitFor(
      "the workers held at 0 and KEDA reporting the pause",
      () => {
        const condition = autoscaling(name);
        return (
          deployment(name)?.spec?.replicas === 0 &&
          condition?.status === "False" &&
          condition.message.includes("KEDA holds ScaledObject surge-worker paused")
        );
      },
      { timeoutMs: 60_000, describe: kedaState(name) },
    );
    // Only once no worker process is left to consume what comes next.
    await waitFor("the fleet stopping its workers", () => fleet.size === 0);
    await produce("default.surge-requests", 100, "paused");
    // Paused, KEDA evaluates nothing and the Deployment stays as it is: a change of the pipeline makes the
    // operator look (and read the lag) now.
    k.run(["annotate", "sp", name, "-n", "default", "kubesentiment.test/look=backlog"]);
    await waitFor(
      "the operator reading a lag of 100 while paused",
      () => k.pipeline(name)?.status?.consumerLag === 100,
    );
    expect(deployment(name)?.spec?.replicas).to.equal(0);
  });

  it("scales an idle pipeline to zero through KEDA and wakes it when requests arrive", async () => {
    const name = "idle";
    k.apply(pipelineManifest(name, spec({ minReplicas: 0, maxReplicas: 2, scaleToZeroAfterSeconds: 3 }, 2)));
    const fleet = fleetOf(name);
    await waitFor(
      "KEDA scaling idle to zero",
      () => {
        const pipeline = k.pipeline(name);
        return (
          deployment(name)?.spec?.replicas === 0 &&
          conditionOf(pipeline, "WorkersAvailable")?.reason === "ScaledToZero"
        );
      },
      { timeoutMs: 120_000, describe: kedaState(name) },
    );
    // KEDA scales the Deployment to 0 first and writes Active False after: only the operator's watch of the
    // ScaledObject brings that to the pipeline (no resync comes within this test).
    await waitFor(
      "KEDA's Active False (ScalerNotActive) in AutoscalingActive",
      () => autoscaling(name)?.status === "True" && autoscaling(name)?.reason === "ScalerNotActive",
      { timeoutMs: 60_000, describe: kedaState(name) },
    );
    await waitFor("the fleet stopping its worker", () => fleet.size === 0);

    const topics = {
      requests: "default.idle-requests",
      responses: "default.idle-responses",
      deadLetter: "default.idle-dlq",
    };
    const reader = await ResultReader.start(kafkaClient(kafka.bootstrapServers), topics);
    try {
      await produce(topics.requests, 10, "wake");
      await waitFor("KEDA waking idle to one replica", () => deployment(name)?.spec?.replicas === 1, {
        timeoutMs: 90_000,
        describe: kedaState(name),
      });
      await reader.waitFor(
        () => reader.idsOn(topics.responses).size === 10,
        () => `${reader.idsOn(topics.responses).size} of 10 answered after waking`,
      );
    } finally {
      await reader.close();
    }
  });
});
