// The latency scenario's client side, on a thread of its own (see latency.ts): it offers requests at a fixed rate
// and reads the responses back. On the worker's own event loop this work would delay the worker's, which in a
// deployment never shares a process with its clients.
import { once } from "node:events";
import { readlinkSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { parentPort, workerData } from "node:worker_threads";
import { kafkaClient } from "../harness/kafka-client.ts";
import {
  type LatencySample,
  latencySummary,
  percentiles,
  type ResponseTiming,
  timingParts,
} from "./latency-summary.ts";
import { partitions, request } from "./workload.ts";

export interface OfferedLoad {
  servers: string[];
  topics: { requests: string; responses: string };
  /** Requests per second. */
  rate: number;
  /** Requests sent before the measured ones, and not measured. */
  warmUpCount: number;
  total: number;
  /** A response not read within this many milliseconds of the last request sent is left unmeasured. */
  drainMs: number;
}

export interface OfferedLoadResult {
  /** Only the warm-up's percentiles are reported, not where its time went. */
  warmUp: ReturnType<typeof percentiles>;
  measured: ReturnType<typeof latencySummary>;
}

/**
 * What the thread posts: once, as the first measured request is sent, "measuring" with its own thread id (so its
 * CPU is told apart from the worker's; undefined off Linux); at the end, the result, after which it waits for the
 * parent to terminate it.
 */
export type OfferedLoadMessage =
  | { kind: "measuring"; threadId: number | undefined }
  | { kind: "result"; result: OfferedLoadResult };

/** This thread's id as Linux numbers it ("<pid>/task/<tid>"), or undefined without /proc. */
function linuxThreadId(): number | undefined {
  try {
    return Number(readlinkSync("/proc/thread-self").split("/").at(-1));
  } catch {
    return undefined;
  }
}

const port = parentPort;
if (port === null) throw new Error("offered-load runs as a worker thread only");
const load = workerData as OfferedLoad;
const kafka = kafkaClient(load.servers);
// Index i is request b-i's send time (epoch ms).
const sentAt = new Float64Array(load.total);
// What each response says, in columns indexed by request (NaN until it is read). A sample object per request, held
// to the end, kept this thread's heap growing (84 MB still live near the end at 21,000 msg/s, against 12 MB), and
// marking it again and again took the cores the worker is measured on. A request answered twice is counted once.
const totalMs = new Float64Array(load.total).fill(Number.NaN);
const timings = Object.fromEntries(
  timingParts.map((part) => [part, new Float64Array(load.total).fill(Number.NaN)]),
) as Record<(typeof timingParts)[number], Float64Array>;
/** Request `index`'s timing, as its response carried it. */
const timingOf = (index: number): ResponseTiming =>
  Object.fromEntries(timingParts.map((part) => [part, timings[part][index] as number])) as ResponseTiming;
let read = 0;
// A response's latency ends at its timestamp, not when it is read: the reader takes few, large fetches, which cost
// the broker and this thread less of the cores the worker is measured on.
const reader = kafka.consumer({
  groupId: `${load.topics.responses}-reader`,
  minBytes: 1 << 20,
  maxWaitTimeInMs: 200,
});
await reader.connect();
await reader.subscribe({ topic: load.topics.responses, fromBeginning: true });
await reader.run({
  // The reader only times responses: committing after every fetch would load the broker it measures.
  autoCommit: false,
  eachBatch: async ({ batch }) => {
    for (const message of batch.messages) {
      const index = Number(message.key?.toString().slice(2));
      const sent = sentAt[index];
      if (sent === undefined || sent === 0 || !Number.isNaN(totalMs[index])) continue;
      totalMs[index] = Number(message.timestamp) - sent;
      read += 1;
      if (index < load.warmUpCount) continue;
      const { timing } = JSON.parse(message.value?.toString() ?? "{}") as { timing: ResponseTiming };
      for (const part of timingParts) timings[part][index] = timing[part];
    }
  },
});
const producer = kafka.producer();
await producer.connect();
const tickMs = 10;
const perTick = Math.max(1, Math.round((load.rate * tickMs) / 1000));
const started = performance.now();
let measuring = false;
for (let sent = 0; sent < load.total; ) {
  if (!measuring && sent >= load.warmUpCount) {
    measuring = true;
    port.postMessage({ kind: "measuring", threadId: linuxThreadId() } satisfies OfferedLoadMessage);
  }
  const size = Math.min(perTick, load.total - sent);
  const now = Date.now();
  sentAt.fill(now, sent, sent + size);
  void producer.send({
    topic: load.topics.requests,
    acks: -1,
    // Spread over the partitions in turn: kafkajs's murmur2 of each key would cost the client more than its send.
    messages: Array.from({ length: size }, (_, i) => ({
      key: `b-${sent + i}`,
      value: request(sent + i),
      partition: (sent + i) % partitions,
    })),
  });
  sent += size;
  const due = started + (sent / load.rate) * 1000;
  await sleep(Math.max(0, due - performance.now()));
}
const deadline = Date.now() + load.drainMs;
while (read < load.total && Date.now() < deadline) await sleep(100);
await producer.disconnect();
await reader.disconnect();
const warmUpMs: number[] = [];
const measured: LatencySample[] = [];
for (const [index, total] of totalMs.entries()) {
  if (Number.isNaN(total)) continue;
  if (index < load.warmUpCount) warmUpMs.push(total);
  else measured.push({ totalMs: total, ...timingOf(index) });
}
port.postMessage({
  kind: "result",
  result: { warmUp: percentiles(warmUpMs), measured: latencySummary(measured) },
} satisfies OfferedLoadMessage);
// The parent reads this thread's CPU time from /proc on the result, and a thread that has ended is gone from there:
// the port, listened to, keeps the thread alive until the parent terminates it.
await once(port, "message");
