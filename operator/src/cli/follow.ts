// Follows a pipeline's responses and/or dead-letter topics from their ends as they are now, decoding each
// record. The ends are read first and the consumer seeks to them once it has joined its group, so a record
// written after follow() returns is never missed (a fresh group would otherwise start at whatever "latest" is
// when its first fetch happens, which may be after a request's response). The group is this process's own,
// commits nothing, and Kafka forgets it once it is gone.
import { randomUUID } from "node:crypto";
import type { Consumer } from "kafkajs";
import { registerLz4Codec } from "../../../common/src/lz4-codec.ts";
import { TopicAdmin } from "../kafka/admin.ts";
import { type KafkaConnection, kafkaClient } from "../kafka/client.ts";
import { CliError } from "./errors.ts";
import { decodeResult, type PipelineResult } from "./results.ts";

export const pluginClientId = "kubesentiment-kubectl-plugin";

export interface FollowedTopic {
  topic: string;
  role: "response" | "deadLetter";
}

export interface Following {
  /** Rejects when the consumer fails for good. */
  readonly failed: Promise<never>;
  stop(): Promise<void>;
}

export async function followFromEnd(
  connection: KafkaConnection,
  topics: readonly FollowedTopic[],
  onResult: (result: PipelineResult) => void,
): Promise<Following> {
  registerLz4Codec();
  const admin = new TopicAdmin({ ...connection, clientId: pluginClientId });
  const ends = await (async () => {
    try {
      return await Promise.all(
        topics.map(async ({ topic }) => ({ topic, ends: await admin.logEndOffsets(topic) })),
      );
    } finally {
      await admin.close();
    }
  })();
  const consumer: Consumer = kafkaClient({ ...connection, clientId: pluginClientId }).consumer({
    groupId: `${pluginClientId}-${randomUUID()}`,
    retry: { retries: 2, restartOnFailure: async () => false },
  });
  let fail: (error: Error) => void = () => {};
  const failed = new Promise<never>((_, reject) => {
    fail = reject;
  });
  failed.catch(() => {});
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    fail(
      new CliError(`reading ${topics.map(({ topic }) => topic).join(", ")} failed: ${payload.error.message}`),
    );
  });
  await consumer.connect();
  await consumer.subscribe({ topics: topics.map(({ topic }) => topic) });
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ topic, partition, message }) => {
      const role = topics.find((followed) => followed.topic === topic)?.role ?? "response";
      onResult(
        decodeResult(role, {
          topic,
          partition,
          offset: message.offset,
          key: message.key,
          value: message.value,
        }),
      );
    },
  });
  // run() returns once the group is joined, before any fetch has come back, and kafkajs drops what comes back
  // for a partition with a seek pending: reading starts at the recorded ends.
  for (const { topic, ends: partitions } of ends) {
    for (const { partition, logEndOffset } of partitions) {
      consumer.seek({ topic, partition, offset: String(logEndOffset) });
    }
  }
  return { failed, stop: () => consumer.disconnect() };
}
