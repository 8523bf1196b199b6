// The worker's producer never creates a topic by writing to it, on a real broker that would (Kafka's default
// auto.create.topics.enable=true): a write to a missing responses topic fails and leaves no topic behind.
import { expect } from "chai";
import { kafkaClient } from "../../hack/harness/kafka-client.ts";
import type { KafkaCluster } from "../../hack/harness/kafka-cluster.ts";
import { ResilientProducer } from "../../worker/src/resilient-producer.ts";
import { startKafkaOnFreePorts } from "../support/kafka.ts";

describe("worker producer on a broker that auto-creates topics", function () {
  this.timeout(120_000);
  let cluster: KafkaCluster;

  before(async () => {
    cluster = await startKafkaOnFreePorts({
      name: "test-worker-producer",
      autoCreateTopics: true,
    });
  });
  after(async () => {
    await cluster?.stop();
  });

  it("fails a write to a missing topic instead of creating it", async () => {
    const kafka = kafkaClient(cluster.bootstrapServers);
    const admin = kafka.admin();
    await admin.connect();
    try {
      const producer = await ResilientProducer.start({
        // The worker's producer configuration, with few retries so that the refused write ends.
        connect: async (config) => {
          const made = kafka.producer({ ...config, retry: { retries: 2, initialRetryTime: 100 } });
          await made.connect();
          return made;
        },
        backoff: { initialBackoffMs: 100, maxBackoffMs: 1_000 },
        onResend: () => {},
        onReplace: () => {},
      });
      const written = await producer
        .sendBatch({ acks: -1, topicMessages: [{ topic: "res-missing", messages: [{ value: "{}" }] }] })
        .then(
          () => "written",
          (error: Error) => error.message,
        );
      await producer.disconnect();
      expect(written).to.not.equal("written");
      expect(await admin.listTopics()).to.not.include("res-missing");
    } finally {
      await admin.disconnect();
    }
  });
});
