import { setTimeout as sleep } from "node:timers/promises";
import { Kafka, logLevel } from "kafkajs";

/**
 * Creates a topic (if absent) and waits until its metadata shows every partition with a leader: createTopics
 * answers once the controller has the topic, and a broker may still say it does not host a partition for a
 * moment after. kafkajs's own waitForLeaders gives up on the first such answer.
 */
export async function createTopic(servers: string[], topic: string, partitions: number, replicas: number) {
  const admin = new Kafka({
    clientId: "kubesentiment-harness",
    brokers: servers,
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
  try {
    await admin.createTopics({
      topics: [{ topic, numPartitions: partitions, replicationFactor: replicas }],
      waitForLeaders: false,
    });
    await eventually(`topic ${topic} to have a leader for each partition`, async () => {
      const [metadata] = (await admin.fetchTopicMetadata({ topics: [topic] })).topics;
      const led = metadata?.partitions.filter((partition) => partition.leader >= 0) ?? [];
      return led.length === partitions;
    });
  } finally {
    await admin.disconnect();
  }
}

/** Polls `check` (errors count as not yet) for up to a minute; fails naming what never happened. */
export async function eventually(what: string, check: () => Promise<boolean>): Promise<void> {
  let last = "";
  for (let attempt = 0; attempt < 120; attempt++) {
    try {
      if (await check()) return;
    } catch (error) {
      last = `: ${error instanceof Error ? error.message : String(error)}`;
    }
    await sleep(500);
  }
  throw new Error(`waited in vain for ${what}${last}`);
}
