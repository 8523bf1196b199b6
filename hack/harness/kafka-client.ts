// Clients of a local Kafka for the scripts and tests: the one way to make a kafkajs client (quiet, able to read
// the LZ4 batches workers write, over SASL_SSL when the cluster is secured), topics created and awaited on
// every broker, and how many records a topic holds.
import { readFileSync } from "node:fs";
import { type Admin, Kafka, type KafkaConfig, logLevel } from "kafkajs";
import { registerLz4Codec } from "../../common/src/lz4-codec.ts";
import type { KafkaSecurity } from "./kafka-config.ts";
import { waitFor } from "./wait.ts";

export interface KafkaClientOptions {
  /** The cluster's security when it is secured: the client speaks SASL_SSL as the cluster's first user. */
  security?: KafkaSecurity | undefined;
  /** Timeouts and retries other than kafkajs's defaults. */
  tuning?: Pick<KafkaConfig, "connectionTimeout" | "requestTimeout" | "retry">;
}

/** A kafkajs client that logs nothing (its errors reach the caller anyway) and reads what workers write (LZ4). */
export function kafkaClient(servers: string[], options: KafkaClientOptions = {}): Kafka {
  registerLz4Codec();
  const { security } = options;
  return new Kafka({
    clientId: "kubesentiment-harness",
    brokers: servers,
    logLevel: logLevel.NOTHING,
    ...(security === undefined ? {} : saslSsl(security)),
    ...options.tuning,
  });
}

/** kafkajs's ssl and sasl options for a client of a SASL_SSL cluster, logging in as its first user. */
function saslSsl(security: KafkaSecurity): Required<Pick<KafkaConfig, "ssl" | "sasl">> {
  const [user] = security.users;
  const client = security.clientAuth;
  return {
    ssl: {
      ca: [readFileSync(security.caCertFile)],
      ...(client === undefined
        ? {}
        : { cert: readFileSync(client.certFile), key: readFileSync(client.keyFile) }),
    },
    sasl: { mechanism: "scram-sha-512", username: user.name, password: user.password },
  };
}

/**
 * Creates a topic (if absent) and waits until every broker's own metadata shows every partition with a leader:
 * createTopics answers once the controller has the topic, and a broker may still say it does not host a
 * partition for a moment after (a client that asks that broker then fails). kafkajs's own waitForLeaders gives
 * up on the first such answer and asks whichever broker it likes.
 */
export async function createTopic(
  servers: string[],
  topic: string,
  partitions: number,
  replicas: number,
  security?: KafkaSecurity,
) {
  const admin = kafkaClient(servers, { security }).admin();
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
      if ((await ledPartitions(server, topic, security)) < partitions) return false;
    }
    return true;
  });
}

/** Partitions of `topic` with a leader, as `server` itself sees them (a fresh client asks its seed broker). */
async function ledPartitions(server: string, topic: string, security: KafkaSecurity | undefined) {
  const admin = kafkaClient([server], { security }).admin();
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
