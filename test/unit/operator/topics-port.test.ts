import { expect } from "chai";
import type { TopicAdmin } from "../../../operator/src/kafka/admin.ts";
import { AdminPool } from "../../../operator/src/kafka/admin-pool.ts";
import type { KafkaLogEntry } from "../../../operator/src/kafka/client.ts";
import { type TopicPlan, topicNames } from "../../../operator/src/kafka/topic-plan.ts";
import { resolvePipeline } from "../../../operator/src/pipeline.ts";
import { describeChanges, KafkaTopicsPort, outcomeOf } from "../../../operator/src/topics-port.ts";

const empty: TopicPlan = { create: [], raisePartitions: [], restoreConfigs: [], refusals: [] };
const names = ["a-requests", "a-responses", "a-dlq"];
const allExist = {
  brokers: 1,
  topics: Object.fromEntries(
    names.map((name) => [name, { partitions: 8, replicationFactor: 1, configs: {} }]),
  ),
};

describe("operator topics outcome", () => {
  it("describes each change for an Event", () => {
    const plan: TopicPlan = {
      ...empty,
      create: [{ topic: "a-requests", partitions: 8, replicationFactor: 3, configs: {} }],
      raisePartitions: [{ topic: "a-responses", from: 8, to: 12 }],
      restoreConfigs: [
        {
          topic: "a-dlq",
          drift: [
            { key: "retention.ms", current: "1", desired: "604800000" },
            { key: "max.message.bytes", current: undefined, desired: "4194304" },
          ],
        },
      ],
    };
    expect(describeChanges(plan)).to.deep.equal([
      "created topic a-requests with 8 partitions and replication factor 3",
      "raised the partitions of topic a-responses from 8 to 12",
      "put back the config of topic a-dlq: retention.ms=604800000 (was 1), max.message.bytes=4194304 (was unset)",
    ]);
    expect(describeChanges(empty)).to.deep.equal([]);
  });

  it("is ready without refusals", () => {
    expect(outcomeOf(empty, allExist, names)).to.deep.equal({ state: "ready" });
  });

  it("fails with the first refusal's reason and every refusal's message, saying whether the topics exist", () => {
    const plan: TopicPlan = {
      ...empty,
      refusals: [
        {
          topic: "a-requests",
          field: "topics.partitions",
          reason: "PartitionDecreaseRefused",
          message: "one",
        },
        {
          topic: "a-dlq",
          field: "topics.replicationFactor",
          reason: "ReplicationFactorChangeRefused",
          message: "two",
        },
      ],
    };
    expect(outcomeOf(plan, allExist, names)).to.deep.equal({
      state: "failed",
      reason: "PartitionDecreaseRefused",
      message: "one; two",
      exist: true,
    });
    expect(outcomeOf(plan, { brokers: 1, topics: {} }, names)).to.include({ exist: false });
  });
});

describe("operator topics port: failures no retry cures", () => {
  const pipeline = resolvePipeline({
    apiVersion: "kubesentiment.io/v1alpha1",
    kind: "SentimentPipeline",
    metadata: { name: "a", namespace: "team" },
    // Nothing listens here; the Secret is missing, so nothing tries to.
    spec: { kafka: { bootstrapServers: ["127.0.0.1:1"], sasl: { secretRef: { name: "kafka-user" } } } },
  });

  it("reports a missing Secret as terminal: the same Secrets give the same answer until one changes", async () => {
    const port = new KafkaTopicsPort(async () => undefined);
    expect(await port.ensure(pipeline, { wereReady: false })).to.deep.equal({
      outcome: {
        state: "failed",
        reason: "SecretNotFound",
        message: "spec.kafka.sasl.secretRef names Secret team/kafka-user, which does not exist",
        exist: false,
      },
      changes: [],
      lag: undefined,
      terminal: true,
      created: [],
    });
  });
});

describe("operator topics port: kafkajs's own log", () => {
  it("hands kafkajs's errors and warnings on, with the Kafka they come from", async () => {
    const lines: [KafkaLogEntry, string][] = [];
    const port = new KafkaTopicsPort(
      async () => undefined,
      new AdminPool({ onLog: (entry, kafka) => lines.push([entry, kafka]) }),
    );
    const unreachable = resolvePipeline({
      apiVersion: "kubesentiment.io/v1alpha1",
      kind: "SentimentPipeline",
      metadata: { name: "a", namespace: "team" },
      // Port 1: nothing listens, so the connection is refused at once and kafkajs logs why.
      spec: { kafka: { bootstrapServers: ["127.0.0.1:1"] } },
    });
    const { outcome, terminal } = await port.ensure(unreachable, { wereReady: false });
    expect(outcome).to.include({ state: "failed", reason: "KafkaUnreachable" });
    expect(terminal).to.equal(false);
    expect(lines.length).to.be.above(0);
    expect(lines.every(([, kafka]) => kafka === "127.0.0.1:1")).to.equal(true);
    expect(lines.map(([entry]) => entry.message).join("\n")).to.include("ECONNREFUSED");
  });
});

describe("operator topics port: the lag", () => {
  /** A pool whose every lease is `admin`: Kafka as a test wants it, with no broker. */
  class PoolOf extends AdminPool {
    constructor(private readonly admin: Partial<TopicAdmin>) {
      super();
    }
    override lease(): TopicAdmin {
      return this.admin as TopicAdmin;
    }
  }
  const pipeline = resolvePipeline({
    apiVersion: "kubesentiment.io/v1alpha1",
    kind: "SentimentPipeline",
    metadata: { name: "a", namespace: "team" },
    spec: { kafka: { bootstrapServers: ["127.0.0.1:1"] } },
  });
  const topicsThere: Partial<TopicAdmin> = {
    describeTopics: async () => ({
      brokers: 1,
      topics: Object.fromEntries(
        topicNames(pipeline.topics).map((name) => [
          name,
          {
            partitions: pipeline.topics.partitions,
            replicationFactor: pipeline.topics.replicationFactor,
            configs: {},
          },
        ]),
      ),
    }),
    applyPlan: async () => {},
    waitUntilUsable: async () => {},
    close: async () => {},
  };

  it("says why it could not be read while the topics are ready", async () => {
    const port = new KafkaTopicsPort(
      async () => undefined,
      new PoolOf({
        ...topicsThere,
        partitionOffsets: async () => {
          throw new Error("Not authorized to access group");
        },
      }),
    );
    const ensured = await port.ensure(pipeline, { wereReady: false });
    expect(ensured.outcome).to.deep.equal({ state: "ready" });
    expect(ensured).to.include({ lag: undefined, lagUnknown: "Not authorized to access group" });
  });
});
