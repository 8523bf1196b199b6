// Throughput of (a) the worker with no inference, (b) the worker, (c) the seed's style, each draining the same
// pre-produced requests into a sink of its own.
import { availableParallelism } from "node:os";
import { type Admin, type Kafka, Partitioners } from "kafkajs";
import { parseWorkerConfig, type WorkerConfig } from "../../worker/src/config.ts";
import { loadClassifier } from "../../worker/src/model/classifier.ts";
import { startWorker } from "../../worker/src/worker.ts";
import { HarnessError } from "../harness/cli.ts";
import { localWorkerEnv, type WorkerTopics } from "../harness/local-worker.ts";
import { type CpuSnapshot, cpuSnapshot, cpuSplit } from "./cpu-split.ts";
import { awaitCommitted, writeRate } from "./progress.ts";
import type { Drain } from "./rounds.ts";

/**
 * Enough for a drain to measure a warm worker: 60,000 took about 2 s, mostly before V8, ONNX Runtime and the broker
 * had warmed up, and read (b) 26.5-32.5k msg/s where 300,000 read 38.7-41.2k on the same day (and 600,000 44.0k).
 * Half of (b) is the latency scenario's "half saturation", so a cold (b) put that at a third of the worker's rate.
 */
export const messages = Number(process.env.BENCH_MESSAGES ?? 300_000);
export const seedStyleSeconds = Number(process.env.BENCH_SEED_SECONDS ?? 15);

/** The worker's configuration for one sink; the sinks share the requests topic, so the group follows the responses. */
export function workerConfig(bootstrap: string[], topics: WorkerTopics) {
  const parsed = parseWorkerConfig(localWorkerEnv(bootstrap, topics, `bench-${topics.responses}`));
  if (!parsed.ok) throw new HarnessError(parsed.problems.join("; "));
  return parsed.config;
}

/** (a) or (b): the drain's rate, and where its CPU went (undefined where /proc is not Linux's). */
export async function workerRate(
  kafka: Kafka,
  admin: Admin,
  config: WorkerConfig,
  passThrough: boolean,
  brokerPid: number,
): Promise<Drain> {
  // Both drains are timed from their first batch handed to the model (see writeRate), so (a), which routes a
  // whole fetched chunk before its first write, is timed as (b) is.
  let startedAt: number | undefined;
  const worker = await startWorker(config, {
    wrapClassifier: (model) => ({
      ...model,
      classify: async (texts) => {
        startedAt ??= Date.now();
        return passThrough
          ? texts.map(() => ({ label: "positive", score: 1, scores: { positive: 1 } }))
          : model.classify(texts);
      },
    }),
  });
  const before = cpuSnapshot(brokerPid);
  let after: CpuSnapshot | undefined;
  try {
    await awaitCommitted(admin, config.kafka.groupId, config.topics.requests, messages, 300);
    after = cpuSnapshot(brokerPid);
  } finally {
    await worker.stop();
  }
  const rate = await writeRate(kafka, admin, config.topics.responses, startedAt);
  const cpu =
    before === undefined || after === undefined
      ? undefined
      : cpuSplit(before, after, { mainThreadId: process.pid, messages, cores: availableParallelism() });
  return { rate, cpu };
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
