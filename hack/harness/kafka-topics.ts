import { type Admin, Kafka, logLevel } from "kafkajs";
import { waitFor } from "./wait.ts";

/**
 * Creates a topic (if absent) and waits until every broker's own metadata shows every partition with a leader:
 * createTopics answers once the controller has the topic, and a broker may still say it does not host a
 * partition for a moment after (a client that asks that broker then fails). kafkajs's own waitForLeaders gives
 * up on the first such answer and asks whichever broker it likes.
 */
export async function createTopic(servers: string[], topic: string, partitions: number, replicas: number) {
  const admin = harnessAdmin(servers);
  await admin.connect();
  try {
    await admin.createTopics({
      topics: [{ topic, numPartitions: partitions, replicationFactor: replicas }],
      waitForLeaders: false,
    });
  } finally {
    await admin.disconnect();
  }
  await waitFor(`topic ${topic} to have a leader for each partition on every broker`, async () => {
    for (const server of servers) {
      if ((await ledPartitions(server, topic)) < partitions) return false;
    }
    return true;
  });
}

function harnessAdmin(servers: string[]) {
  return new Kafka({
    clientId: "kubesentiment-harness",
    brokers: servers,
    logLevel: logLevel.NOTHING,
  }).admin();
}

/** Partitions of `topic` with a leader, as `server` itself sees them (a fresh client asks its seed broker). */
async function ledPartitions(server: string, topic: string): Promise<number> {
  const admin = harnessAdmin([server]);
  await admin.connect();
  try {
    const [metadata] = (await admin.fetchTopicMetadata({ topics: [topic] })).topics;
    return metadata?.partitions.filter((partition) => partition.leader >= 0).length ?? 0;
  } finally {
    await admin.disconnect();
  }
}

/** Records on `topic` now: the sum over its partitions of high watermark minus log start. */
export async function recordCount(admin: Admin, topic: string): Promise<number> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
}
