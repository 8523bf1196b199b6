// `npm run bench [-- --json]`: throughput of (a) the worker's consume+produce path with no inference, (b) the
// worker, (c) the seed's style (eachMessage, one inference and one synchronous commit per message), all on the
// same broker and the same pre-produced requests; then end-to-end latency of (b) at a fixed offered load.
// Prints figures and asserts nothing.
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { type Admin, type Kafka, Partitioners } from "kafkajs";
import { parseWorkerConfig, type WorkerConfig } from "../worker/src/config.ts";
import { loadClassifier } from "../worker/src/model/classifier.ts";
import { startWorker } from "../worker/src/worker.ts";
import { HarnessError, runCli } from "./harness/cli.ts";
import { createTopic, kafkaClient, recordCount } from "./harness/kafka-client.ts";
import { startKafka } from "./harness/kafka-cluster.ts";
import { localWorkerEnv, type WorkerTopics } from "./harness/local-worker.ts";

const messages = Number(process.env.BENCH_MESSAGES ?? 60_000);
const seedStyleSeconds = Number(process.env.BENCH_SEED_SECONDS ?? 15);
const offeredRate = Number(process.env.BENCH_OFFERED_RATE ?? 2_000);
const offeredSeconds = Number(process.env.BENCH_OFFERED_SECONDS ?? 15);
/** Offered load before the measured seconds: V8 and the broker's JIT take about 20 s to settle (p99 falls
 * from over 500 ms in the first second to under 100 ms), and a worker runs for hours, not seconds. */
const warmUpSeconds = Number(process.env.BENCH_WARM_UP_SECONDS ?? 20);
const partitions = 8;

const sampleTexts = [
  "an absolute delight from start to finish",
  "a tedious, joyless mess",
  "the performances are wonderful and the script is sharp and funny",
  "i wanted my two hours back before the first act was over",
  "a moving, beautifully shot film that stays with you",
  "dull, predictable and far too long",
];

function request(index: number): string {
  return JSON.stringify({ id: `b-${index}`, text: sampleTexts[index % sampleTexts.length] });
}

async function createTopics(servers: string[], names: string[]): Promise<void> {
  for (const topic of names) await createTopic(servers, topic, partitions, 1);
}

async function produceAll(kafka: Kafka, topic: string, count: number): Promise<void> {
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const chunk = 2_000;
  for (let start = 0; start < count; start += chunk) {
    const size = Math.min(chunk, count - start);
    await producer.send({
      topic,
      acks: -1,
      messages: Array.from({ length: size }, (_, i) => ({
        key: `b-${start + i}`,
        value: request(start + i),
      })),
    });
  }
  await producer.disconnect();
}

async function committed(admin: Admin, groupId: string, topic: string): Promise<number> {
  const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return (offsets?.partitions ?? []).reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
}

/** Waits until the group has committed `target` messages of `topic`, or `limitSeconds` pass. */
async function awaitCommitted(
  admin: Admin,
  groupId: string,
  topic: string,
  target: number,
  limitSeconds: number,
) {
  const deadline = Date.now() + limitSeconds * 1000;
  for (;;) {
    const count = await committed(admin, groupId, topic);
    if (count >= target || Date.now() >= deadline) {
      if (count === 0) throw new HarnessError(`${groupId} never committed anything`);
      return;
    }
    await sleep(100);
  }
}

/**
 * Messages per second written to `topic`, from the create timestamps of its first and last records: what a
 * pipeline produced, timed without joining its group or the poll that noticed it was done. (A backlog is
 * fetched a megabyte per partition at a time, so commits come in a few large steps: too coarse to time by.)
 */
async function writeRate(kafka: Kafka, admin: Admin, topic: string): Promise<number> {
  const total = await recordCount(admin, topic);
  let first = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  let seen = 0;
  const reader = kafka.consumer({ groupId: `bench-rate-${randomUUID()}` });
  await reader.connect();
  await reader.subscribe({ topic, fromBeginning: true });
  await new Promise<void>((resolve) => {
    void reader.run({
      eachBatch: async ({ batch }) => {
        for (const message of batch.messages) {
          const at = Number(message.timestamp);
          first = Math.min(first, at);
          last = Math.max(last, at);
        }
        seen += batch.messages.length;
        if (seen >= total) resolve();
      },
    });
  });
  await reader.disconnect();
  if (last <= first) throw new HarnessError(`${topic}: too few records (${seen}) to time`);
  return ((seen - 1) / (last - first)) * 1000;
}

/** The worker's configuration for one sink; the sinks share the requests topic, so the group follows the responses. */
function workerConfig(bootstrap: string[], topics: WorkerTopics) {
  const parsed = parseWorkerConfig(localWorkerEnv(bootstrap, topics, `bench-${topics.responses}`));
  if (!parsed.ok) throw new HarnessError(parsed.problems.join("; "));
  return parsed.config;
}

async function workerRate(kafka: Kafka, admin: Admin, config: WorkerConfig, passThrough: boolean) {
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
async function seedStyleRate(kafka: Kafka, admin: Admin, config: WorkerConfig): Promise<number> {
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

const timingParts = ["queueMs", "batchWaitMs", "inferenceMs"] as const;
type ResponseTiming = Record<(typeof timingParts)[number], number>;

/** One answered request: its end-to-end latency and the timing its response carries. */
interface LatencySample extends ResponseTiming {
  totalMs: number;
}

/** The median of each part over `samples`; the rest of the total is the wait for the writer (the response
 * timestamp is taken when its produce request is made). */
function breakdown(samples: LatencySample[]): ResponseTiming & { writeMs: number } {
  const median = (values: number[]) =>
    percentile(
      values.sort((a, b) => a - b),
      50,
    );
  const parts = Object.fromEntries(timingParts.map((part) => [part, median(samples.map((s) => s[part]))]));
  const writeMs = median(
    samples.map((s) => s.totalMs - s.queueMs - s.batchWaitMs - s.inferenceMs).map((ms) => Math.max(0, ms)),
  );
  return { ...(parts as ResponseTiming), writeMs };
}

const describeBreakdown = (b: ReturnType<typeof breakdown>) =>
  `${b.queueMs.toFixed(1)} ms in Kafka before the fetch, ${b.batchWaitMs.toFixed(1)} ms waiting for its batch, ` +
  `${b.inferenceMs.toFixed(1)} ms of inference, ${b.writeMs.toFixed(1)} ms waiting to be written`;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** p50/p95/p99 of the end-to-end latencies in `samples`, and where the time went. */
function latencySummary(samples: LatencySample[]) {
  const sorted = samples.map((s) => s.totalMs).sort((a, b) => a - b);
  const p99 = percentile(sorted, 99);
  return {
    // Where the time went, from the timing each response carries: for the median request, and for the slowest 1%.
    median: breakdown(samples),
    slowest: breakdown(samples.filter((s) => s.totalMs >= p99)),
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99,
  };
}

/**
 * End-to-end latency of the worker at a fixed offered load: request sent → response written (its timestamp).
 * The load runs warmUpSeconds unmeasured, then offeredSeconds measured.
 */
async function latencyAtLoad(kafka: Kafka, bootstrap: string[]) {
  const run = randomUUID().slice(0, 8);
  const topics = { requests: `lat-req-${run}`, responses: `lat-res-${run}`, deadLetter: `lat-dlq-${run}` };
  await createTopics(bootstrap, Object.values(topics));
  const config = workerConfig(bootstrap, topics);
  const worker = await startWorker(config);
  const warmUpCount = offeredRate * warmUpSeconds;
  const total = warmUpCount + offeredRate * offeredSeconds;
  const sentAt = new Map<string, number>();
  const warmUp: LatencySample[] = [];
  const measured: LatencySample[] = [];
  const reader = kafka.consumer({ groupId: `lat-reader-${run}`, maxWaitTimeInMs: 50 });
  await reader.connect();
  await reader.subscribe({ topic: topics.responses, fromBeginning: true });
  await reader.run({
    // The reader only times responses: committing after every fetch would load the broker it measures.
    autoCommit: false,
    eachMessage: async ({ message }) => {
      const id = message.key?.toString() ?? "";
      const sent = sentAt.get(id);
      if (sent === undefined) return;
      const { timing } = JSON.parse(message.value?.toString() ?? "{}") as { timing: ResponseTiming };
      const sample = { totalMs: Number(message.timestamp) - sent, ...timing };
      (Number(id.slice(2)) < warmUpCount ? warmUp : measured).push(sample);
    },
  });
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const tickMs = 10;
  const perTick = Math.max(1, Math.round((offeredRate * tickMs) / 1000));
  const started = performance.now();
  for (let sent = 0; sent < total; ) {
    const batch = Array.from({ length: Math.min(perTick, total - sent) }, (_, i) => sent + i);
    const now = Date.now();
    for (const index of batch) sentAt.set(`b-${index}`, now);
    void producer.send({
      topic: topics.requests,
      acks: -1,
      messages: batch.map((index) => ({ key: `b-${index}`, value: request(index) })),
    });
    sent += batch.length;
    const due = started + (sent / offeredRate) * 1000;
    await sleep(Math.max(0, due - performance.now()));
  }
  const deadline = Date.now() + 60_000;
  while (warmUp.length + measured.length < total && Date.now() < deadline) await sleep(100);
  await producer.disconnect();
  await reader.disconnect();
  await worker.stop();
  return { warmUp: latencySummary(warmUp), measured: latencySummary(measured) };
}

runCli(async (args) => {
  const json = args.includes("--json");
  const say = (line: string) => {
    if (!json) console.log(line);
  };
  const cluster = await startKafka({
    name: "bench",
    portBase: Number(process.env.KAFKA_PORT_BASE ?? 39_092),
  });
  try {
    const kafka = kafkaClient(cluster.bootstrapServers);
    const admin = kafka.admin();
    await admin.connect();
    const requests = "bench-requests";
    const sinks = ["passthrough", "worker", "seed"].map((name) => ({
      requests,
      responses: `bench-${name}-responses`,
      deadLetter: `bench-${name}-dead-letter`,
    }));
    await createTopics(cluster.bootstrapServers, [
      requests,
      ...sinks.flatMap((s) => [s.responses, s.deadLetter]),
    ]);
    say(`producing ${messages} requests to ${requests} (${partitions} partitions)…`);
    await produceAll(kafka, requests, messages);

    const [passSink, workerSink, seedSink] = sinks as [
      (typeof sinks)[0],
      (typeof sinks)[0],
      (typeof sinks)[0],
    ];
    const passthrough = await workerRate(
      kafka,
      admin,
      workerConfig(cluster.bootstrapServers, passSink),
      true,
    );
    say(`(a) pass-through (no inference):  ${passthrough.toFixed(0)} msg/s`);
    const worker = await workerRate(kafka, admin, workerConfig(cluster.bootstrapServers, workerSink), false);
    say(`(b) worker:                       ${worker.toFixed(0)} msg/s`);
    const seed = await seedStyleRate(kafka, admin, workerConfig(cluster.bootstrapServers, seedSink));
    say(`(c) seed style (per message):     ${seed.toFixed(0)} msg/s (over ${seedStyleSeconds} s)`);
    say(`b/a = ${(worker / passthrough).toFixed(2)}   b/c = ${(worker / seed).toFixed(1)}`);

    const { warmUp, measured: latency } = await latencyAtLoad(kafka, cluster.bootstrapServers);
    say(
      `(b) end-to-end latency at ${offeredRate} msg/s offered for ${offeredSeconds} s, after ${warmUpSeconds} s ` +
        `of the same load: p50 ${latency.p50} ms, p95 ${latency.p95} ms, p99 ${latency.p99} ms`,
    );
    say(`    median request: ${describeBreakdown(latency.median)}`);
    say(`    slowest 1% (median of each part): ${describeBreakdown(latency.slowest)}`);
    say(
      `    during the warm-up (a freshly started worker): p50 ${warmUp.p50} ms, p95 ${warmUp.p95} ms, ` +
        `p99 ${warmUp.p99} ms`,
    );
    await admin.disconnect();
    if (json) {
      console.log(
        JSON.stringify({
          passthrough_msgs_per_s: Math.round(passthrough),
          worker_msgs_per_s: Math.round(worker),
          seed_style_msgs_per_s: Math.round(seed),
          p50_ms: latency.p50,
          p95_ms: latency.p95,
          p99_ms: latency.p99,
          offered_msgs_per_s: offeredRate,
          messages,
        }),
      );
    }
  } finally {
    await cluster.stop();
  }
});
