// Test plumbing for the worker against a real broker: fresh topics per test, and a reader that gathers every
// response and dead-letter record so tests can assert on exactly what came back.
import { randomUUID } from "node:crypto";
import type { Consumer, Kafka } from "kafkajs";
import { createTopic, recordCount } from "../../hack/harness/kafka-client.ts";
import type { KafkaSecurity } from "../../hack/harness/kafka-config.ts";
import { defaultWorkerGroupId, type WorkerTopics } from "../../hack/harness/local-worker.ts";
import { waitFor } from "../../hack/harness/wait.ts";

export type PipelineTopics = WorkerTopics;

export async function createPipelineTopics(
  bootstrapServers: string[],
  options: { partitions?: number; replicationFactor?: number; security?: KafkaSecurity | undefined } = {},
): Promise<PipelineTopics> {
  const run = randomUUID().slice(0, 8);
  const topics = { requests: `req-${run}`, responses: `res-${run}`, deadLetter: `dlq-${run}` };
  for (const topic of Object.values(topics)) {
    await createTopic(
      bootstrapServers,
      topic,
      options.partitions ?? 8,
      options.replicationFactor ?? 1,
      options.security,
    );
  }
  return topics;
}

export interface Received {
  topic: string;
  partition: number;
  offset: string;
  key: string | undefined;
  value: Record<string, unknown>;
  headers: Record<string, string>;
}

/** Reads responses and dead letters from the beginning into `records` until closed. */
export class ResultReader {
  readonly records: Received[] = [];
  readonly #consumer: Consumer;
  readonly #kafka: Kafka;
  readonly #topics: PipelineTopics;

  private constructor(consumer: Consumer, kafka: Kafka, topics: PipelineTopics) {
    this.#consumer = consumer;
    this.#kafka = kafka;
    this.#topics = topics;
  }

  static async start(kafka: Kafka, topics: PipelineTopics): Promise<ResultReader> {
    const consumer = kafka.consumer({ groupId: `reader-${randomUUID()}` });
    const reader = new ResultReader(consumer, kafka, topics);
    await consumer.connect();
    await consumer.subscribe({ topics: [topics.responses, topics.deadLetter], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ topic, partition, message }) => {
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(message.headers ?? {})) headers[name] = String(value);
        reader.records.push({
          topic,
          partition,
          offset: message.offset,
          key: message.key?.toString(),
          value: JSON.parse(message.value?.toString() ?? "null"),
          headers,
        });
      },
    });
    return reader;
  }

  on(topic: string): Received[] {
    return this.records.filter((record) => record.topic === topic);
  }

  /** Distinct request ids seen on `topic` (responses carry `id`; dead letters their original key). */
  idsOn(topic: string): Set<string> {
    return new Set(this.on(topic).map((record) => String(record.value.id ?? record.key)));
  }

  /**
   * Waits until `done` holds, failing with `describe()` after `timeoutMs` and with what Kafka itself holds, so
   * a failure says whether the workers stalled or this reader did.
   */
  async waitFor(done: () => boolean, describe: () => string, timeoutMs = 90_000): Promise<void> {
    try {
      await waitFor("the expected records", done, { timeoutMs, describe });
    } catch (error) {
      const account = await this.#kafkaAccount().catch(
        (e: Error) => `Kafka could not be asked: ${e.message}`,
      );
      throw new Error(`${(error as Error).message}; ${account}`);
    }
  }

  /** Records on the request and response topics, and how many requests the workers' group has committed. */
  async #kafkaAccount(): Promise<string> {
    const admin = this.#kafka.admin();
    await admin.connect();
    try {
      const { requests, responses } = this.#topics;
      const groupId = defaultWorkerGroupId(this.#topics);
      const [committed] = await admin.fetchOffsets({ groupId, topics: [requests] });
      const committedCount = (committed?.partitions ?? []).reduce(
        (sum, p) => sum + Math.max(0, Number(p.offset)),
        0,
      );
      return (
        `Kafka holds ${await recordCount(admin, responses)} responses (this reader saw ${this.on(responses).length}) ` +
        `for ${await recordCount(admin, requests)} requests, of which ${groupId} committed ${committedCount}`
      );
    } finally {
      await admin.disconnect();
    }
  }

  async close(): Promise<void> {
    await this.#consumer.disconnect();
  }
}
