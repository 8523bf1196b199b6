import { expect } from "chai";
import {
  type DesiredTopics,
  deadLetterMaxMessageBytes,
  isEmptyPlan,
  type KafkaObservation,
  managedConfigs,
  planTopics,
  type TopicState,
  topicNames,
  topicsToAwait,
} from "../../../operator/src/kafka/topic-plan.ts";
import { buildDeadLetter } from "../../../worker/src/contract/records.ts";

const fourMiB = 4 * 1_048_576;

function desired(overrides: Partial<DesiredTopics> = {}): DesiredTopics {
  return {
    requests: "p-requests",
    responses: "p-responses",
    deadLetter: "p-dlq",
    partitions: 8,
    replicationFactor: 3,
    config: { "retention.ms": "86400000" },
    deletionPolicy: "Retain",
    ...overrides,
  };
}

/** Kafka as it is once the operator has done its work for `topics`. */
function converged(topics: DesiredTopics, brokers = 3): KafkaObservation {
  const observed: KafkaObservation = { brokers, topics: {} };
  for (const [topic, configs] of managedConfigs(topics)) {
    observed.topics[topic] = {
      partitions: topics.partitions,
      replicationFactor: topics.replicationFactor,
      configs: { ...configs },
    };
  }
  return observed;
}

function withTopic(observed: KafkaObservation, topic: string, change: Partial<TopicState>): KafkaObservation {
  const current = observed.topics[topic];
  if (current === undefined) throw new Error(`no topic ${topic} in the fixture`);
  return { ...observed, topics: { ...observed.topics, [topic]: { ...current, ...change } } };
}

describe("topic plan", () => {
  it("creates all three topics with partitions, replication factor and the managed configs", () => {
    const plan = planTopics(desired(), { brokers: 3, topics: {} });
    expect(plan.create).to.deep.equal([
      { topic: "p-requests", partitions: 8, replicationFactor: 3, configs: { "retention.ms": "86400000" } },
      { topic: "p-responses", partitions: 8, replicationFactor: 3, configs: { "retention.ms": "86400000" } },
      {
        topic: "p-dlq",
        partitions: 8,
        replicationFactor: 3,
        configs: { "retention.ms": "86400000", "max.message.bytes": String(fourMiB) },
      },
    ]);
    expect(plan.raisePartitions).to.deep.equal([]);
    expect(plan.restoreConfigs).to.deep.equal([]);
    expect(plan.refusals).to.deep.equal([]);
    expect(topicsToAwait(plan)).to.deep.equal([
      { topic: "p-requests", partitions: 8 },
      { topic: "p-responses", partitions: 8 },
      { topic: "p-dlq", partitions: 8 },
    ]);
  });

  it("creates only the topics that are missing", () => {
    const observed = converged(desired());
    delete observed.topics["p-responses"];
    const plan = planTopics(desired(), observed);
    expect(plan.create.map(({ topic }) => topic)).to.deep.equal(["p-responses"]);
    expect(isEmptyPlan(plan)).to.equal(false);
  });

  it("plans nothing for topics that are as asked", () => {
    const plan = planTopics(desired(), converged(desired()));
    expect(isEmptyPlan(plan)).to.equal(true);
    expect(topicsToAwait(plan)).to.deep.equal([]);
  });

  it("raises partitions of a topic that has fewer", () => {
    const observed = withTopic(converged(desired()), "p-requests", { partitions: 4 });
    const plan = planTopics(desired(), observed);
    expect(plan.raisePartitions).to.deep.equal([{ topic: "p-requests", from: 4, to: 8 }]);
    expect(plan.create).to.deep.equal([]);
    expect(topicsToAwait(plan)).to.deep.equal([{ topic: "p-requests", partitions: 8 }]);
  });

  it("puts back a managed config that drifted or went missing, naming its current value", () => {
    let observed = withTopic(converged(desired()), "p-requests", {
      configs: { "retention.ms": "1000" },
    });
    observed = withTopic(observed, "p-dlq", { configs: { "retention.ms": "86400000" } });
    const plan = planTopics(desired(), observed);
    expect(plan.restoreConfigs).to.deep.equal([
      { topic: "p-requests", drift: [{ key: "retention.ms", current: "1000", desired: "86400000" }] },
      {
        topic: "p-dlq",
        drift: [{ key: "max.message.bytes", current: undefined, desired: String(fourMiB) }],
      },
    ]);
  });

  it("leaves configs it does not manage alone", () => {
    const observed = withTopic(converged(desired()), "p-responses", {
      configs: { "retention.ms": "86400000", "cleanup.policy": "compact", "segment.ms": "600000" },
    });
    expect(isEmptyPlan(planTopics(desired(), observed))).to.equal(true);
  });

  it("both raises partitions and puts back configs of one topic", () => {
    const observed = withTopic(converged(desired()), "p-responses", { partitions: 2, configs: {} });
    const plan = planTopics(desired(), observed);
    expect(plan.raisePartitions).to.deep.equal([{ topic: "p-responses", from: 2, to: 8 }]);
    expect(plan.restoreConfigs.map(({ topic }) => topic)).to.deep.equal(["p-responses"]);
  });

  it("refuses to decrease partitions, naming topic, current and asked counts, and does nothing else there", () => {
    const observed = withTopic(converged(desired()), "p-requests", { partitions: 12, configs: {} });
    const plan = planTopics(desired(), observed);
    expect(plan.refusals).to.have.length(1);
    const [refusal] = plan.refusals;
    expect(refusal).to.include({
      topic: "p-requests",
      field: "topics.partitions",
      reason: "PartitionDecreaseRefused",
    });
    expect(refusal?.message)
      .to.include('"p-requests"')
      .and.include("12 partitions")
      .and.include("asks for 8");
    expect(refusal?.message).to.include("spec.topics.partitions to 12 or more");
    expect(plan.restoreConfigs).to.deep.equal([]);
    expect(plan.raisePartitions).to.deep.equal([]);
  });

  it("refuses a replication factor change, naming both factors, and does nothing else there", () => {
    const observed = withTopic(converged(desired()), "p-dlq", { replicationFactor: 1, partitions: 4 });
    const plan = planTopics(desired(), observed);
    expect(plan.refusals).to.have.length(1);
    const [refusal] = plan.refusals;
    expect(refusal).to.include({
      topic: "p-dlq",
      field: "topics.replicationFactor",
      reason: "ReplicationFactorChangeRefused",
    });
    expect(refusal?.message)
      .to.include('"p-dlq"')
      .and.include("replication factor 1")
      .and.include("asks for 3");
    expect(plan.raisePartitions).to.deep.equal([]);
  });

  it("reports both refusals of a topic that has more partitions and another replication factor", () => {
    const observed = withTopic(converged(desired()), "p-requests", { partitions: 9, replicationFactor: 2 });
    expect(planTopics(desired(), observed).refusals.map(({ reason }) => reason)).to.deep.equal([
      "PartitionDecreaseRefused",
      "ReplicationFactorChangeRefused",
    ]);
  });

  it("refuses to create topics with more replicas than the cluster has brokers", () => {
    const observed = converged(desired(), 1);
    delete observed.topics["p-dlq"];
    const plan = planTopics(desired(), observed);
    expect(plan.create).to.deep.equal([]);
    expect(plan.refusals).to.have.length(1);
    expect(plan.refusals[0]).to.include({
      topic: "p-dlq",
      field: "topics.replicationFactor",
      reason: "NotEnoughBrokers",
    });
    expect(plan.refusals[0]?.message).to.include("replication factor 3").and.include("1 broker(s)");
  });

  it("gives two roles that share a name one topic with both roles' configs", () => {
    const topics = desired({ deadLetter: "p-requests" });
    expect(topicNames(topics)).to.deep.equal(["p-requests", "p-responses"]);
    const plan = planTopics(topics, { brokers: 3, topics: {} });
    expect(plan.create.map(({ topic }) => topic)).to.deep.equal(["p-requests", "p-responses"]);
    expect(plan.create[0]?.configs["max.message.bytes"]).to.equal(String(fourMiB));
  });
});

describe("dead-letter max.message.bytes", () => {
  it("is 4 MiB while the requests topic takes Kafka's default 1 MiB", () => {
    expect(deadLetterMaxMessageBytes({})).to.equal(fourMiB);
    expect(deadLetterMaxMessageBytes({ "max.message.bytes": "not a number" })).to.equal(fourMiB);
  });

  it("is twice the requests topic's limit plus 64 KiB when that is more", () => {
    expect(deadLetterMaxMessageBytes({ "max.message.bytes": "10485760" })).to.equal(2 * 10_485_760 + 65_536);
  });

  it("overrides a max.message.bytes from spec.topics.config on the dead-letter topic only", () => {
    const managed = managedConfigs(desired({ config: { "max.message.bytes": "3000000" } }));
    expect(managed.get("p-requests")).to.deep.equal({ "max.message.bytes": "3000000" });
    expect(managed.get("p-responses")).to.deep.equal({ "max.message.bytes": "3000000" });
    expect(managed.get("p-dlq")).to.deep.equal({ "max.message.bytes": String(2 * 3_000_000 + 65_536) });
  });

  for (const [kind, value] of [
    ["not UTF-8 (base64)", Buffer.alloc(1_048_588, 0xff)],
    ["UTF-8 of quotes (escaped)", Buffer.alloc(1_048_588, '"')],
  ] as const) {
    it(`holds the worker's dead-letter record of the largest request the requests topic takes: ${kind}`, () => {
      const record = buildDeadLetter(
        {
          topic: "p-requests",
          partition: 7,
          offset: "123456789",
          timestamp: "1767225600000",
          key: null,
          value,
        },
        { code: "MESSAGE_TOO_LARGE", message: "the record value is too large", attempts: 1 },
        new Date("2026-01-01T00:00:00Z"),
      );
      expect(Buffer.byteLength(record.value)).to.be.below(deadLetterMaxMessageBytes({}));
    });
  }
});
