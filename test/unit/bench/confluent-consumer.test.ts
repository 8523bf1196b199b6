import { expect } from "chai";
import type { ConsumerGroupJoinEvent, EachBatchPayload } from "kafkajs";
import type {
  ConfluentBatchPayload,
  ConfluentConsumer,
  ConfluentKafkaJS,
  ConfluentTopicPartition,
} from "../../../hack/bench/confluent-client.ts";
import {
  assignmentAfter,
  confluentConsumerConfig,
  confluentWorkerConsumer,
  type GroupProtocol,
} from "../../../hack/bench/confluent-consumer.ts";

const assign = -175;
const revoke = -174;

/** The client's module as far as the adapter uses it, recording the consumer's settings and calls. */
function fakeClient() {
  const made: { config: Record<string, unknown>; runs: Parameters<ConfluentConsumer["run"]>[0][] } = {
    config: {},
    runs: [],
  };
  const consumer: ConfluentConsumer = {
    connect: async () => {},
    disconnect: async () => {},
    subscribe: async () => {},
    run: async (config) => {
      made.runs.push(config);
    },
    pause: () => {},
    resume: () => {},
    commitOffsets: async () => {},
  };
  const client = {
    Kafka: class {
      consumer(config: Record<string, unknown>) {
        made.config = config;
        return consumer;
      }
      admin(): never {
        throw new Error("not used");
      }
    },
    logLevel: { NOTHING: 0, ERROR: 1, WARN: 2 },
    ErrorCodes: { ERR__ASSIGN_PARTITIONS: assign, ERR__REVOKE_PARTITIONS: revoke },
    ConsumerGroupStates: { STABLE: 3 },
    PartitionAssignors: { cooperativeSticky: "cooperative-sticky" },
  } as ConfluentKafkaJS;
  return { client, made };
}

/** The adapter on a fake client, and what that client was given. */
function workerConsumer(protocol: GroupProtocol) {
  const { client, made } = fakeClient();
  const consumer = confluentWorkerConsumer(client, { brokers: ["b:1"], clientId: "w" }, options, protocol, 8);
  return { consumer, made };
}

const options = {
  groupId: "g",
  maxBytes: 1_000,
  maxBytesPerPartition: 100,
  sessionTimeout: 30_000,
  heartbeatInterval: 3_000,
  allowAutoTopicCreation: false,
};

describe("the confluent client's consumer for the scaling bench", () => {
  it("adds and revokes partitions incrementally, per topic, dropping topics left empty", () => {
    const tp = (topic: string, partition: number): ConfluentTopicPartition => ({ topic, partition });
    const first = assignmentAfter({}, "assign", [tp("a", 3), tp("a", 1), tp("b", 0)]);
    expect(first).to.deep.equal({ a: [1, 3], b: [0] });
    expect(assignmentAfter(first, "assign", [tp("a", 2)])).to.deep.equal({ a: [1, 2, 3], b: [0] });
    expect(assignmentAfter(first, "revoke", [tp("b", 0), tp("a", 1)])).to.deep.equal({ a: [3] });
    expect(first, "the current assignment is not changed").to.deep.equal({ a: [1, 3], b: [0] });
  });

  it("asks for cooperative-sticky on the classic protocol, with the worker's session and fetch sizes", () => {
    const { client } = fakeClient();
    expect(confluentConsumerConfig(client, options, "cooperative", 64)).to.deep.equal({
      kafkaJS: {
        groupId: "g",
        maxBytes: 1_000,
        maxBytesPerPartition: 100,
        allowAutoTopicCreation: false,
        fromBeginning: true,
        autoCommit: false,
        sessionTimeout: 30_000,
        heartbeatInterval: 3_000,
        partitionAssigners: ["cooperative-sticky"],
      },
      "js.consumer.max.batch.size": 64,
    });
  });

  it("leaves session, heartbeats and assignment to the broker under KIP-848", () => {
    const { client } = fakeClient();
    const config = confluentConsumerConfig(client, options, "kip848", 64);
    expect(config["group.protocol"]).to.equal("consumer");
    expect(config.kafkaJS).to.not.have.any.keys("sessionTimeout", "heartbeatInterval", "partitionAssigners");
  });

  it("reports each rebalance as kafkajs's GROUP_JOIN with the whole assignment after it", () => {
    const { consumer, made } = workerConsumer("kip848");
    const joins: ConsumerGroupJoinEvent["payload"]["memberAssignment"][] = [];
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => joins.push(payload.memberAssignment));
    const rebalance = made.config.rebalance_cb as (
      error: { code: number },
      p: ConfluentTopicPartition[],
    ) => void;
    rebalance(
      { code: assign },
      [0, 1, 2, 3].map((partition) => ({ topic: "req", partition })),
    );
    rebalance({ code: revoke }, [{ topic: "req", partition: 2 }]);
    rebalance({ code: assign }, []);
    expect(joins).to.deep.equal([{ req: [0, 1, 2, 3] }, { req: [0, 1, 3] }, { req: [0, 1, 3] }]);
  });

  it("refuses the kafkajs events it cannot report, and accepts CRASH and REBALANCING, which it never emits", () => {
    const { consumer } = workerConsumer("cooperative");
    expect(() => consumer.on(consumer.events.CRASH, () => {})).to.not.throw();
    expect(() => consumer.on(consumer.events.REBALANCING, () => {})).to.not.throw();
    expect(() => consumer.on(consumer.events.HEARTBEAT, () => {})).to.throw(
      /cannot report consumer\.heartbeat/,
    );
  });

  it("runs the pipeline's eachBatch on the client's batches, with no kafkajs-only run options", async () => {
    const { consumer, made } = workerConsumer("cooperative");
    const seen: EachBatchPayload[] = [];
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 64,
      eachBatch: async (payload) => {
        seen.push(payload);
      },
    });
    const [run] = made.runs;
    expect(run).to.include({ eachBatchAutoResolve: false, partitionsConsumedConcurrently: 64 });
    expect(run).to.not.have.key("autoCommit");
    const batch = { topic: "req", partition: 1, messages: [] } as unknown as ConfluentBatchPayload["batch"];
    await run?.eachBatch({ batch } as ConfluentBatchPayload);
    expect(seen[0]?.batch).to.equal(batch);
    expect(() => seen[0]?.uncommittedOffsets()).to.throw(/no uncommittedOffsets/);
  });
});
