// SentimentReplay on real components: a kube-apiserver, a Kafka broker, the operator, and real worker processes
// answering the pipeline's requests (one per replica its Deployment asks for). Requests are counted by id on the
// responses topic, so "replayed" means answered once more, exactly.
//
// The workers follow the Deployment, which the pipeline reconcile holds at 0 while a replay is Pausing or
// Resetting; the replay itself only ever waits for what Kafka shows: a group with no members.
// The test reads the cluster through watches, not by polling kubectl: a kubectl run blocks this process, and the
// operator runs in it.
import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  type KubernetesListObject,
  type V1Deployment,
} from "@kubernetes/client-node";
import { expect } from "chai";
import { type Consumer, Kafka, logLevel } from "kafkajs";
import { clusterPortCount } from "../../hack/harness/cluster-config.ts";
import { type Cluster, startCluster } from "../../hack/harness/cluster-run.ts";
import { kafkaClient, recordCount } from "../../hack/harness/kafka-client.ts";
import type { KafkaCluster } from "../../hack/harness/kafka-cluster.ts";
import { type Kubectl, kubectlFor } from "../../hack/harness/kubectl.ts";
import { freePortBase } from "../../hack/harness/ports.ts";
import { startTogether } from "../../hack/harness/processes.ts";
import { waitFor } from "../../hack/harness/wait.ts";
import { EventRecorder } from "../../operator/src/kube/events.ts";
import { type WatchedResource, watchResource } from "../../operator/src/kube/watch.ts";
import type { RunningOperator } from "../../operator/src/operator.ts";
import { group, plural, type SentimentPipeline, version } from "../../operator/src/pipeline.ts";
import { KafkaReplayPort } from "../../operator/src/replay/kafka-port.ts";
import { ReplayReconciler } from "../../operator/src/replay/reconcile.ts";
import {
  type ReplaySpec,
  replayHolds,
  replayPlural,
  type SentimentReplay,
} from "../../operator/src/replay/replay.ts";
import { produce, startKafkaOnFreePorts } from "../support/kafka.ts";
import { eventsOf, pipelineManifest, prepareCluster, runOperator } from "../support/operator.ts";
import { ResultReader } from "../support/pipeline-topics.ts";
import { WorkerFleet } from "../support/worker-fleet.ts";

const topics = {
  requests: "default.replayed-requests",
  responses: "default.replayed-responses",
  deadLetter: "default.replayed-dlq",
};
const consumerGroup = "kubesentiment.default.replayed";
const ids = (prefix: string) => Array.from({ length: 20 }, (_, i) => `${prefix}-${i}`);

function replayManifest(name: string, spec: Partial<ReplaySpec>): string {
  return JSON.stringify({
    apiVersion: "kubesentiment.io/v1alpha1",
    kind: "SentimentReplay",
    metadata: { name, namespace: "default" },
    spec: { pipeline: "replayed", ...spec },
  });
}

describe("SentimentReplay on a real control plane, Kafka and workers", function () {
  this.timeout(180_000);
  let cluster: Cluster;
  let kafka: KafkaCluster;
  let operator: RunningOperator | undefined;
  let k: Kubectl;
  let fleet: WorkerFleet | undefined;
  let reader: ResultReader | undefined;
  const blockers: Consumer[] = [];

  const watches: WatchedResource<unknown>[] = [];
  let replayCache: WatchedResource<SentimentReplay>;
  let pipelineCache: WatchedResource<SentimentPipeline>;
  let deploymentCache: WatchedResource<V1Deployment>;
  const replays = (): SentimentReplay[] => [...replayCache.cache.list("default")];
  const replay = (name: string) => replayCache.cache.get(name, "default");
  /** A watch of one resource in the default namespace, stopped after the tests. */
  const watchDefault = async <T extends { metadata?: object }>(
    path: string,
    list: () => Promise<unknown>,
  ): Promise<WatchedResource<T>> => {
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(cluster.kubeconfigPath);
    const watched = await watchResource<T & { metadata: object }>({
      kubeConfig,
      path,
      list: list as () => Promise<KubernetesListObject<T & { metadata: object }>>,
      onChange: () => {},
      onError: () => {},
    });
    watches.push(watched as WatchedResource<unknown>);
    return watched;
  };
  const conditionOf = (object: SentimentReplay | undefined, type: string) =>
    object?.status?.conditions?.find((condition) => condition.type === type);
  const inPhase = (name: string, phase: string) =>
    waitFor(
      `replay ${name} ${phase}`,
      () => {
        const found = replay(name);
        return found?.status?.phase === phase ? found : undefined;
      },
      { timeoutMs: 90_000, describe: () => JSON.stringify(replay(name)?.status) },
    );
  /** How many times each id was answered. */
  const answers = (): Map<string, number> => {
    const counts = new Map<string, number>();
    for (const record of reader?.on(topics.responses) ?? []) {
      const id = String(record.value.id);
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    return counts;
  };
  const answeredTimes = (wanted: readonly string[]) => wanted.map((id) => answers().get(id) ?? 0);
  /** Waits until every id of `wanted` is answered `times` times and the reader has read all Kafka holds. */
  const answeredAll = async (wanted: readonly string[], times: number) => {
    await reader?.waitFor(
      () => answeredTimes(wanted).every((count) => count === times),
      () => `answers: ${JSON.stringify(answeredTimes(wanted))}, wanted ${times} each`,
    );
    await waitFor("the reader to have read every response Kafka holds", async () => {
      const admin = kafkaClient(kafka.bootstrapServers).admin();
      await admin.connect();
      try {
        return (await recordCount(admin, topics.responses)) === reader?.on(topics.responses).length;
      } finally {
        await admin.disconnect();
      }
    });
  };
  const committedOffsets = async (): Promise<string[]> => {
    const admin = kafkaClient(kafka.bootstrapServers).admin();
    await admin.connect();
    try {
      const [offsets] = await admin.fetchOffsets({ groupId: consumerGroup, topics: [topics.requests] });
      return (offsets?.partitions ?? []).sort((a, b) => a.partition - b.partition).map((p) => p.offset);
    } finally {
      await admin.disconnect();
    }
  };
  /** A consumer kept in the pipeline's group, consuming nothing: a group that cannot be emptied. */
  const blocker = async (): Promise<Consumer> => {
    const consumer = new Kafka({
      clientId: "replay-blocker",
      brokers: kafka.bootstrapServers,
      logLevel: logLevel.NOTHING,
    }).consumer({ groupId: consumerGroup, sessionTimeout: 6_000 });
    blockers.push(consumer);
    await consumer.connect();
    await consumer.subscribe({ topics: [topics.requests] });
    await consumer.run({ autoCommit: false, eachMessage: async () => {} });
    await waitFor("the blocker in the group", async () => {
      const admin = kafkaClient(kafka.bootstrapServers).admin();
      await admin.connect();
      try {
        const { groups } = await admin.describeGroups([consumerGroup]);
        return groups[0]?.members.some((member) => member.clientId === "replay-blocker");
      } finally {
        await admin.disconnect();
      }
    });
    return consumer;
  };

  before(async function () {
    this.timeout(300_000);
    [cluster, kafka] = await startTogether(
      freePortBase(clusterPortCount).then((portBase) => startCluster({ name: "replay-test", portBase })),
      startKafkaOnFreePorts({ name: "test-replay" }),
    );
    k = kubectlFor(cluster.kubeconfigPath);
    prepareCluster(k);
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(cluster.kubeconfigPath);
    const customObjects = kubeConfig.makeApiClient(CustomObjectsApi);
    const apps = kubeConfig.makeApiClient(AppsV1Api);
    const custom = (resource: string) => () =>
      customObjects.listNamespacedCustomObject({ group, version, namespace: "default", plural: resource });
    [replayCache, pipelineCache, deploymentCache] = await Promise.all([
      watchDefault<SentimentReplay>(
        `/apis/${group}/${version}/namespaces/default/${replayPlural}`,
        custom(replayPlural),
      ),
      watchDefault<SentimentPipeline>(
        `/apis/${group}/${version}/namespaces/default/${plural}`,
        custom(plural),
      ),
      watchDefault<V1Deployment>("/apis/apps/v1/namespaces/default/deployments", () =>
        apps.listNamespacedDeployment({ namespace: "default" }),
      ),
    ]);
    operator = await runOperator(cluster.kubeconfigPath);
    k.apply(
      pipelineManifest("replayed", {
        kafka: { bootstrapServers: kafka.bootstrapServers },
        topics: { partitions: 2, replicationFactor: 1 },
      }),
    );
    const deployment = () => deploymentCache.cache.get("replayed-worker", "default");
    await waitFor("the worker Deployment", deployment);
    fleet = new WorkerFleet(async () => deployment());
    reader = await ResultReader.start(kafkaClient(kafka.bootstrapServers), topics);
  });

  after(async () => {
    await Promise.all(blockers.map((consumer) => consumer.disconnect()));
    await reader?.close();
    await fleet?.stop();
    await operator?.stop();
    await Promise.all(watches.map((watched) => watched.stop()));
    await Promise.all([cluster?.stop(), kafka?.stop()]);
  });

  it("refuses at admission a replay without exactly one starting point, and any change to a replay's spec", () => {
    const both = k.result(
      ["apply", "-f", "-"],
      replayManifest("both", { from: { earliest: true, timestamp: "2026-12-03T10:00:00Z" } }),
    );
    expect(both.status).to.not.equal(0);
    expect(both.stderr).to.contain("from must set exactly one of timestamp, earliest or offsets");

    k.apply(replayManifest("fixed", { pipeline: "elsewhere", from: { earliest: true } }));
    const changed = k.result([
      "patch",
      "sentimentreplay",
      "fixed",
      "-n",
      "default",
      "--type=merge",
      "-p",
      '{"spec":{"pipeline":"x"}}',
    ]);
    expect(changed.status).to.not.equal(0);
    expect(changed.stderr).to.contain("the spec of a SentimentReplay is immutable");
    k.run(["delete", "sentimentreplay", "fixed", "-n", "default"]);
  });

  it("replays from a time exactly the requests written from then on", async () => {
    const before = ids("before");
    const after = ids("after");
    const requests = (wanted: string[]) =>
      wanted.map((id) => ({ key: id, value: JSON.stringify({ id, text: `a warm, funny film (${id})` }) }));
    await produce(kafka.bootstrapServers, topics.requests, requests(before));
    await answeredAll(before, 1);
    // Every request before it was written, and so time-stamped, before this moment; every one after, after.
    const from = new Date().toISOString();
    await produce(kafka.bootstrapServers, topics.requests, requests(after));
    await answeredAll(after, 1);

    k.apply(replayManifest("from-time", { from: { timestamp: from } }));
    const done = await inPhase("from-time", "Done");
    await answeredAll(after, 2);
    expect(
      answeredTimes(before).every((count) => count === 1),
      JSON.stringify(answeredTimes(before)),
    ).to.equal(true);
    expect(reader?.on(topics.responses).length).to.equal(before.length + 2 * after.length);

    expect(done.status).to.deep.include({ toReplay: after.length, remaining: 0 });
    expect(done.status?.partitions?.map((p) => p.partition)).to.deep.equal([0, 1]);
    const total = (field: "resetOffset" | "endOffset" | "previousOffset") =>
      done.status?.partitions?.reduce((sum, p) => sum + Number(p[field]), 0);
    expect(total("previousOffset")).to.equal(before.length + after.length);
    expect(total("endOffset")).to.equal(before.length + after.length);
    expect(total("resetOffset")).to.equal(before.length);
    expect(conditionOf(done, "Complete")).to.deep.include({ status: "True", reason: "Replayed" });
    const columns = k.run(["get", "sreplay", "from-time", "-n", "default"]);
    expect(columns).to.match(/NAME\s+PIPELINE\s+PHASE\s+TO REPLAY\s+REMAINING\s+AGE/);
    expect(columns).to.match(/from-time\s+replayed\s+Done\s+20\s+0\s+/);
    expect(eventsOf(k, "from-time")).to.match(
      /OffsetsReset.*set the offsets of consumer group kubesentiment.default.replayed/,
    );
  });

  it("survives an operator that stops after recording the plan and before setting it: resets once, completes", async () => {
    await operator?.stop();
    operator = undefined;
    // What the pipeline reconcile does while a replay holds the pipeline, done here as the operator is stopped:
    // the workers scaled to 0 (the fleet follows), so the group can empty.
    k.run(["scale", "deployment", "replayed-worker", "--replicas=0", "-n", "default"]);
    k.apply(replayManifest("from-earliest", { from: { earliest: true } }));
    const before = await committedOffsets();

    // The operator's own replay reconcile, run step by step here, stopping dead where it would set the offsets.
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(cluster.kubeconfigPath);
    const stoppedHere = new Error("the operator stopped before setting the offsets");
    const port = new KafkaReplayPort(async () => undefined);
    const stopping = new ReplayReconciler({
      replays: { list: () => replays() },
      pipelines: pipelineCache.cache,
      customObjects: kubeConfig.makeApiClient(CustomObjectsApi),
      events: new EventRecorder(kubeConfig.makeApiClient(CoreV1Api), "stopping-operator"),
      kafka: {
        observe: (pipeline, needs) => port.observe(pipeline, needs),
        setOffsets: async () => {
          throw stoppedHere;
        },
      },
      pollIntervalMs: 0,
      resyncPeriodMs: 0,
      log: () => {},
    });
    await waitFor("the operator to reach setting the offsets", async () => {
      try {
        await stopping.reconcile("default/from-earliest");
        return false;
      } catch (error) {
        if (error === stoppedHere) return true;
        throw error;
      }
    });
    const planned = replay("from-earliest");
    expect(planned?.status?.phase).to.equal("Resetting");
    expect(planned?.status?.partitions?.map((p) => [p.previousOffset, p.resetOffset])).to.deep.equal(
      before.map((offset) => [offset, "0"]),
    );
    expect(await committedOffsets(), "no offset set yet").to.deep.equal(before);

    operator = await runOperator(cluster.kubeconfigPath);
    const done = await inPhase("from-earliest", "Done");
    expect(done.status).to.deep.include({ toReplay: 40, remaining: 0 });
    // Every request answered once more: once per reset.
    await answeredAll(ids("before"), 2);
    await answeredAll(ids("after"), 3);
    expect(reader?.on(topics.responses).length).to.equal(20 * 2 + 20 * 3);
  });

  it("runs a second replay of a pipeline only after the first, which waits for the group to empty", async () => {
    // From here on no request is answered: the group's members are the test's own.
    await fleet?.stop();
    fleet = undefined;
    const holding = await blocker();
    const now = new Date().toISOString();
    k.apply(replayManifest("first", { from: { timestamp: now } }));
    await inPhase("first", "Pausing");
    k.apply(replayManifest("second", { from: { timestamp: now } }));
    const waiting = await waitFor("second waiting for first", () => {
      const found = replay("second");
      return conditionOf(found, "Waiting")?.reason === "WaitingForReplay" ? found : undefined;
    });
    expect(waiting.status?.phase).to.equal("Pending");
    expect(conditionOf(waiting, "Waiting")?.message).to.contain("waits for SentimentReplay first (Pausing)");
    await waitFor("first naming the member it waits for", () =>
      conditionOf(replay("first"), "Waiting")?.message.includes('client id "replay-blocker"'),
    );

    await holding.disconnect();
    const first = await inPhase("first", "Done");
    const second = await inPhase("second", "Done");
    expect(new Date(second.status?.startTime ?? 0).getTime()).to.be.at.least(
      new Date(first.status?.completionTime ?? Number.POSITIVE_INFINITY).getTime(),
    );
  });

  it("fails GroupNotEmpty, naming the member, when the group cannot be emptied, and sets no offset", async () => {
    const holding = await blocker();
    const before = await committedOffsets();
    k.apply(replayManifest("stuck", { from: { earliest: true }, groupEmptyTimeoutSeconds: 2 }));
    const failed = await inPhase("stuck", "Failed");
    const condition = conditionOf(failed, "Failed");
    expect(condition).to.deep.include({ status: "True", reason: "GroupNotEmpty" });
    expect(condition?.message).to.match(/client id "replay-blocker" on host \/\S+/);
    expect(condition?.message).to.contain(`consumer group ${consumerGroup} still had`);
    expect(await committedOffsets()).to.deep.equal(before);
    expect(replayHolds(replays(), "default", "replayed"), "the hold released").to.deep.equal([]);
    await holding.disconnect();
  });
});
