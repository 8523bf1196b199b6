// End-to-end latency of the worker at a fixed offered load, and where the time went.
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { type Kafka, Partitioners } from "kafkajs";
import { startWorker } from "../../worker/src/worker.ts";
import { workerConfig } from "./throughput.ts";
import { createTopics, request } from "./workload.ts";

export const offeredSeconds = Number(process.env.BENCH_OFFERED_SECONDS ?? 15);
/** Offered load before the measured seconds: V8 and the broker's JIT take about 20 s to settle (p99 falls
 * from over 500 ms in the first second to under 100 ms), and a worker runs for hours, not seconds. */
export const warmUpSeconds = Number(process.env.BENCH_WARM_UP_SECONDS ?? 20);

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

export const describeBreakdown = (b: ReturnType<typeof breakdown>) =>
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
export async function latencyAtLoad(kafka: Kafka, bootstrap: string[], offeredRate: number) {
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
