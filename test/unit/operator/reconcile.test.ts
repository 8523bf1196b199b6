import { expect } from "chai";
import {
  Reconciler,
  skipTopicDeletionAnnotation,
  topicsFinalizer,
} from "../../../operator/src/controller/reconcile.ts";
import { KafkaAdminError } from "../../../operator/src/kafka/errors.ts";
import type { PipelineStatus } from "../../../operator/src/pipeline.ts";
import { conditionOf, FakeCluster, now, pipelineObject, resyncPeriodMs } from "./fake-cluster.ts";

const unreachable = {
  state: "failed",
  reason: "KafkaUnreachable",
  message: "no Kafka broker answered at k:9092 (spec.kafka.bootstrapServers) while connecting",
  exist: false,
} as const;

/** The worker's objects, applied in this order by every reconcile that has topics to run on. */
const workloadsApplied = [
  "apply Deployment shop/reviews-worker",
  "apply Service shop/reviews-worker",
  "apply HorizontalPodAutoscaler shop/reviews-worker",
];

describe("operator reconcile", () => {
  let cluster: FakeCluster;
  beforeEach(() => {
    cluster = new FakeCluster();
  });
  const reconcile = (key: string) => new Reconciler(cluster.deps()).reconcile(key);

  it("brings a new pipeline up in order: topics, Deployment, Service, HPA, then the status, written once", async () => {
    const key = cluster.add(pipelineObject());
    cluster.kafka.ensured = {
      outcome: { state: "ready" },
      changes: ["created topic reviews-requests with 4 partitions and replication factor 1"],
      lag: undefined,
      terminal: false,
    };

    expect(await reconcile(key)).to.deep.equal({ kind: "resync", afterMs: resyncPeriodMs });
    expect(cluster.did).to.deep.equal([
      "ensure topics of reviews",
      "event Normal TopicsReconciled",
      ...workloadsApplied,
      "write status of reviews",
      "event Normal PipelineReady",
    ]);
    const [status] = cluster.statuses;
    expect(status?.observedGeneration).to.equal(1);
    expect(conditionOf(status, "TopicsReady")).to.include({ status: "True", observedGeneration: 1 });
    expect(conditionOf(status, "Ready")).to.include({
      status: "True",
      reason: "PipelineReady",
      lastTransitionTime: now.toISOString(),
    });
  });

  it("writes no status when it already says what the reconcile sees (idempotent)", async () => {
    const key = cluster.add(pipelineObject());
    await reconcile(key);
    cluster.add(pipelineObject({}, {}, cluster.statuses[0]));
    cluster.did.length = 0;

    expect(await reconcile(key)).to.deep.equal({ kind: "resync", afterMs: resyncPeriodMs });
    expect(cluster.did).to.deep.equal(["ensure topics of reviews", ...workloadsApplied]);
  });

  it("says Kafka is unreachable in TopicsReady and Ready, applies nothing without topics, and retries", async () => {
    const key = cluster.add(pipelineObject());
    cluster.kafka.ensured = { outcome: unreachable, changes: [], lag: undefined, terminal: false };

    expect(await reconcile(key)).to.deep.equal({ kind: "retry", reason: "KafkaUnreachable" });
    expect(cluster.did).to.deep.equal([
      "ensure topics of reviews",
      "event Warning KafkaUnreachable",
      "write status of reviews",
    ]);
    const [status] = cluster.statuses;
    for (const type of ["TopicsReady", "Ready"]) {
      expect(conditionOf(status, type), type).to.include({
        status: "False",
        reason: "KafkaUnreachable",
        message: unreachable.message,
      });
    }
  });

  it("stops retrying a rejected SASL login: terminal until something changes, and the condition says why", async () => {
    const key = cluster.add(pipelineObject());
    const message =
      "Kafka at k:9092 (spec.kafka.bootstrapServers) rejected the SASL login while connecting: check the " +
      "username and password in the Secret named by spec.kafka.sasl.secretRef";
    cluster.kafka.ensured = {
      outcome: { state: "failed", reason: "KafkaAuthenticationFailed", message, exist: false },
      changes: [],
      lag: undefined,
      terminal: true,
    };

    expect(await reconcile(key)).to.deep.equal({
      kind: "terminal",
      reason: "KafkaAuthenticationFailed",
      afterMs: resyncPeriodMs,
    });
    for (const type of ["TopicsReady", "Ready"]) {
      expect(conditionOf(cluster.statuses[0], type), type).to.include({
        status: "False",
        reason: "KafkaAuthenticationFailed",
        message,
      });
    }
    expect(cluster.events).to.deep.equal([`Warning KafkaAuthenticationFailed: ${message}`]);
  });

  it("keeps the workers running on topics that exist while a change to them is refused", async () => {
    const key = cluster.add(pipelineObject());
    cluster.kafka.ensured = {
      outcome: { state: "failed", reason: "PartitionDecreaseRefused", message: "refused", exist: true },
      changes: [],
      lag: undefined,
      terminal: true,
    };

    await reconcile(key);
    expect(cluster.did).to.include.members(workloadsApplied);
    expect(conditionOf(cluster.statuses[0], "Ready")).to.include({ reason: "PartitionDecreaseRefused" });
  });

  it("says an apply the API server refused in WorkersAvailable, and retries", async () => {
    const key = cluster.add(pipelineObject());
    const deps = cluster.deps({
      objects: {
        patch: async () => {
          throw new Error("admission webhook denied the request");
        },
      },
    });

    expect(await new Reconciler(deps).reconcile(key)).to.deep.equal({ kind: "retry", reason: "ApplyFailed" });
    expect(conditionOf(cluster.statuses[0], "WorkersAvailable")).to.include({
      status: "False",
      reason: "ApplyFailed",
      message: "applying the worker Deployment, Service and HPA failed: admission webhook denied the request",
    });
  });

  it("scales an idle pipeline with minReplicas 0 to zero once the cooldown has passed without lag", async () => {
    const cooldownMs = 300_000;
    const lastActiveTime = new Date(now.getTime() - cooldownMs).toISOString();
    const key = cluster.add(
      pipelineObject(
        { autoscaling: { minReplicas: 0 } },
        {},
        { lastActiveTime, requestsLogEndOffset: 40, conditions: [] },
      ),
    );
    cluster.kafka.ensured = {
      outcome: { state: "ready" },
      changes: [],
      lag: { total: 0, logEndOffset: 40, partitions: [], partitionsWithoutCommit: [] },
      terminal: false,
    };

    await reconcile(key);
    expect(cluster.did.slice(3)).to.deep.equal([
      "apply HorizontalPodAutoscaler shop/reviews-worker",
      "scale shop/reviews-worker to 0",
      "event Normal ScaledToZero",
      "write status of reviews",
      "event Normal PipelineReady",
    ]);
    expect(conditionOf(cluster.statuses[0], "WorkersAvailable")).to.include({ reason: "ScaledToZero" });
    expect(cluster.statuses[0]?.lastActiveTime).to.equal(lastActiveTime);
  });

  describe("scale to zero over successive reconciles", () => {
    /**
     * Reconciles a pipeline with minReplicas 0 once per resync period, each time with the status the previous
     * one wrote (as the cache would show it) and the Kafka sample `sample(i)` gives; returns the scale changes.
     */
    async function resyncs(
      count: number,
      sample: (i: number) => { lag: number; logEndOffset: number },
    ): Promise<string[]> {
      let status: PipelineStatus | undefined;
      for (let i = 0; i < count; i++) {
        const key = cluster.add(pipelineObject({ autoscaling: { minReplicas: 0 } }, {}, status));
        const { lag, logEndOffset } = sample(i);
        cluster.kafka.ensured = {
          outcome: { state: "ready" },
          changes: [],
          lag: { total: lag, logEndOffset, partitions: [], partitionsWithoutCommit: [] },
          terminal: false,
        };
        const at = new Date(now.getTime() + i * resyncPeriodMs);
        await new Reconciler(cluster.deps({ now: () => at })).reconcile(key);
        status = cluster.statuses.at(-1) ?? status;
      }
      return cluster.did.filter((line) => line.startsWith("scale "));
    }

    it("never scales a steady trickle to zero, though every sample sees no lag", async () => {
      // One request between each pair of samples, each consumed before the next sample: lag 0 throughout.
      expect(await resyncs(40, (i) => ({ lag: 0, logEndOffset: 100 + i }))).to.deep.equal([]);
    });

    it("scales to zero once no record has arrived for the cooldown", async () => {
      // Requests arrive during the first 5 samples, then none: the cooldown (300 s) counts from the last one.
      const scaled = await resyncs(20, (i) => ({ lag: 0, logEndOffset: 100 + Math.min(i, 4) }));
      expect(scaled).to.deep.equal(["scale shop/reviews-worker to 0"]);
    });
  });

  describe("deletion", () => {
    const deleting = (annotations: Record<string, string> = {}) =>
      pipelineObject(
        { topics: { partitions: 4, replicationFactor: 1, deletionPolicy: "Delete" } },
        { deletionTimestamp: now, finalizers: [topicsFinalizer], annotations },
      );

    it("holds the finalizer only under deletionPolicy Delete, before it touches Kafka", async () => {
      const key = cluster.add(
        pipelineObject({ topics: { partitions: 4, replicationFactor: 1, deletionPolicy: "Delete" } }),
      );
      await reconcile(key);
      expect(cluster.did.slice(0, 2)).to.deep.equal([
        `apply finalizers [${topicsFinalizer}] to reviews`,
        "ensure topics of reviews",
      ]);

      cluster.did.length = 0;
      cluster.add(pipelineObject({}, { finalizers: [topicsFinalizer] }));
      await reconcile(key);
      expect(cluster.did[0]).to.equal("apply finalizers [] to reviews");
    });

    it("deletes the topics under Delete, then lets the pipeline go", async () => {
      const key = cluster.add(deleting());
      expect(await reconcile(key)).to.deep.equal({ kind: "forget" });
      expect(cluster.did).to.deep.equal([
        "delete topics of reviews",
        "event Normal TopicsDeleted",
        "apply finalizers [] to reviews",
      ]);
    });

    it("keeps a pipeline whose topics cannot be deleted, says how to release it, and retries", async () => {
      const key = cluster.add(deleting());
      cluster.kafka.deleteFailure = new KafkaAdminError("KafkaUnreachable", "no Kafka broker answered", true);

      expect(await reconcile(key)).to.deep.equal({ kind: "retry", reason: "TopicDeletionFailed" });
      expect(cluster.did).to.not.include("apply finalizers [] to reviews");
      expect(conditionOf(cluster.statuses[0], "Ready")?.message)
        .to.include("no Kafka broker answered")
        .and.include(`${skipTopicDeletionAnnotation}=true`);
    });

    it("waits for a change when the topics cannot be deleted for a reason no retry cures", async () => {
      const key = cluster.add(deleting());
      cluster.kafka.deleteFailure = new KafkaAdminError("KafkaAuthenticationFailed", "login rejected", false);

      expect(await reconcile(key)).to.deep.equal({
        kind: "terminal",
        reason: "TopicDeletionFailed",
        afterMs: resyncPeriodMs,
      });
      expect(conditionOf(cluster.statuses[0], "Ready")).to.include({ reason: "TopicDeletionFailed" });
    });

    it("releases a pipeline annotated to skip topic deletion without touching Kafka", async () => {
      const key = cluster.add(deleting({ [skipTopicDeletionAnnotation]: "true" }));
      expect(await reconcile(key)).to.deep.equal({ kind: "forget" });
      expect(cluster.did).to.deep.equal([
        "event Warning TopicDeletionSkipped",
        "apply finalizers [] to reviews",
      ]);
    });

    it("forgets a pipeline that is gone, and its lag", async () => {
      const forgotten: string[] = [];
      const deps = cluster.deps({ forgetLag: (namespace, name) => forgotten.push(`${namespace}/${name}`) });
      expect(await new Reconciler(deps).reconcile("shop/gone")).to.deep.equal({ kind: "forget" });
      expect(forgotten).to.deep.equal(["shop/gone"]);
      expect(cluster.did).to.deep.equal([]);
    });
  });
});
