// In-flight memory is bounded in bytes: a worker process with a small V8 heap drains a backlog of records near
// MAX_MESSAGE_BYTES from a real broker, where holding a message count's worth of them would exhaust its heap.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { expect } from "chai";
import type { Kafka } from "kafkajs";
import { kafkaClient, recordCount } from "../../hack/harness/kafka-client.ts";
import type { KafkaCluster } from "../../hack/harness/kafka-cluster.ts";
import { localWorkerEnv, startWorkerProcess } from "../../hack/harness/local-worker.ts";
import { stopChild } from "../../hack/harness/processes.ts";
import { waitFor } from "../../hack/harness/wait.ts";
import { startKafkaOnFreePorts } from "../support/kafka.ts";
import { createPipelineTopics } from "../support/pipeline-topics.ts";

/** Records of the backlog, and each one's size: a short text and metadata (echoed in the response) near 1 MiB. */
const backlog = 100;
const metadataBytes = 900 * 1024;
/** The worker's V8 heap: far less than the backlog, and than 1,024 of its records. */
const heapMiB = 96;

async function produceBacklog(kafka: Kafka, topic: string): Promise<void> {
  const producer = kafka.producer();
  await producer.connect();
  // One record per write: a write of several would exceed the broker's 1 MiB message.max.bytes.
  const parallel = 8;
  for (let sent = 0; sent < backlog; sent += parallel) {
    await Promise.all(
      Array.from({ length: Math.min(parallel, backlog - sent) }, (_, i) => {
        const id = `big-${sent + i}`;
        const blob = randomBytes((metadataBytes * 3) / 4).toString("base64");
        return producer.send({
          topic,
          acks: -1,
          messages: [{ key: id, value: JSON.stringify({ id, text: "a fine film", metadata: { blob } }) }],
        });
      }),
    );
  }
  await producer.disconnect();
}

/** The process's peak resident memory (VmHWM), in MiB. */
function peakRssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8")
    .split("\n")
    .find((l) => l.startsWith("VmHWM:"));
  return Math.round(Number(line?.match(/\d+/)?.[0]) / 1024);
}

describe("worker memory under a backlog of near-maximum records", function () {
  this.timeout(180_000);
  let cluster: KafkaCluster;

  before(async () => {
    cluster = await startKafkaOnFreePorts({
      name: "test-worker-memory",
    });
  });
  after(async () => {
    await cluster?.stop();
  });

  it(`drains ${backlog} records of ~${metadataBytes >> 10} KiB with a ${heapMiB} MiB heap`, async () => {
    const kafka = kafkaClient(cluster.bootstrapServers);
    const topics = await createPipelineTopics(cluster.bootstrapServers, { partitions: 16 });
    await produceBacklog(kafka, topics.requests);
    const worker = startWorkerProcess(
      {
        ...localWorkerEnv(cluster.bootstrapServers, topics),
        NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --max-old-space-size=${heapMiB}`,
      },
      "ignore",
    );
    const admin = kafka.admin();
    await admin.connect();
    try {
      let answered = 0;
      await waitFor(
        "the worker to answer the whole backlog",
        async () => {
          answered = await recordCount(admin, topics.responses);
          return answered >= backlog;
        },
        {
          timeoutMs: 120_000,
          describe: () => `${answered} of ${backlog} answered`,
          abort: () =>
            worker.exitCode !== null || worker.signalCode !== null
              ? new Error(
                  `the worker died (${worker.exitCode ?? worker.signalCode}) after ${answered} answers`,
                )
              : undefined,
        },
      );
      console.log(`      worker peak RSS ${peakRssMiB(worker.pid as number)} MiB`);
      expect(await recordCount(admin, topics.responses)).to.equal(backlog);
      expect(await recordCount(admin, topics.deadLetter)).to.equal(0);
    } finally {
      await admin.disconnect();
      await stopChild(worker);
    }
  });
});
