// Throughput of (a) the worker with no inference, (b) the worker, (c) the seed's style, each draining the same
// pre-produced requests into a sink of its own.
import { type Admin, type Kafka, Partitioners } from "kafkajs";
import { parseWorkerConfig, type WorkerConfig } from "../../worker/src/config.ts";
import { loadClassifier } from "../../worker/src/model/classifier.ts";
import { startWorker } from "../../worker/src/worker.ts";
import { HarnessError } from "../harness/cli.ts";
import { localWorkerEnv, type WorkerTopics } from "../harness/local-worker.ts";
import { awaitCommitted, writeRate } from "./progress.ts";

export const messages = Number(process.env.BENCH_MESSAGES ?? 60_000);
export const seedStyleSeconds = Number(process.env.BENCH_SEED_SECONDS ?? 15);

/** The worker's configuration for one sink; the sinks share the requests topic, so the group follows the responses. */
export function workerConfig(bootstrap: string[], topics: WorkerTopics) {
  const parsed = parseWorkerConfig(localWorkerEnv(bootstrap, topics, `bench-${topics.responses}`));
  if (!parsed.ok) throw new HarnessError(parsed.problems.join("; "));
  return parsed.config;
}

export async function workerRate(kafka: Kafka, admin: Admin, config: WorkerConfig, passThrough: boolean) {
  const worker = await startWorker(
    config,
    passThrough
      ? {
          wrapClassifier: (model) => ({
            ...model,
            classify: async (texts) =>
              texts.map(() => ({ label: "positive", score: 1, scores: { positive: 1 } })),
          }),
        }
      : {},
  );
  try {
    await awaitCommitted(admin, config.kafka.groupId, config.topics.requests, messages, 300);
  } finally {
    await worker.stop();
  }
  return writeRate(kafka, admin, config.topics.responses);
}

/** The seed's way: eachMessage, one inference, one produce and one synchronous commit per message. */
export async function seedStyleRate(kafka: Kafka, admin: Admin, config: WorkerConfig): Promise<number> {
  const classifier = await loadClassifier(config.model.dir, {
    maxSequenceLength: config.model.maxSequenceLength,
  });
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  const consumer = kafka.consumer({ groupId: config.kafka.groupId });
  await Promise.all([producer.connect(), consumer.connect()]);
  await consumer.subscribe({ topic: config.topics.requests, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ topic, partition, message }) => {
      const parsed = JSON.parse(message.value?.toString() ?? "{}");
      const [prediction] = await classifier.classify([parsed.text]);
      await producer.send({
        topic: config.topics.responses,
        acks: -1,
        messages: [{ key: parsed.id, value: JSON.stringify({ id: parsed.id, ...prediction }) }],
      });
      await consumer.commitOffsets([{ topic, partition, offset: (BigInt(message.offset) + 1n).toString() }]);
    },
  });
  try {
    await awaitCommitted(admin, config.kafka.groupId, config.topics.requests, messages, seedStyleSeconds);
  } finally {
    await consumer.disconnect();
    await producer.disconnect();
    await classifier.close();
  }
  return writeRate(kafka, admin, config.topics.responses);
}
