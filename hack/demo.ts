// `npm run demo`: a real Kafka broker, the worker with its default model, the sample requests in
// hack/demo/requests.jsonl (some deliberately bad) produced to the requests topic, and what comes back printed.
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Kafka, logLevel } from "kafkajs";
import { parseWorkerConfig } from "../worker/src/config.ts";
import { startWorker } from "../worker/src/worker.ts";
import { findKafka, startKafka } from "./lib/kafka-cluster.ts";
import { createTopic } from "./lib/kafka-topics.ts";
import { HarnessError, repoRoot, runCli } from "./lib/proc.ts";

const topics = { requests: "demo-requests", responses: "demo-responses", deadLetter: "demo-dead-letter" };
const timeoutMs = 60_000;

function sampleLines(): string[] {
  return readFileSync(join(repoRoot, "hack", "demo", "requests.jsonl"), "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "");
}

/** The dev cluster when `npm run kafka:up` already runs one, else a cluster of the demo's own, stopped at the end. */
async function kafkaForDemo() {
  const running = findKafka("dev");
  if (running?.isBrokerRunning(0))
    return { bootstrapServers: running.bootstrapServers, stop: async () => {} };
  console.log("starting a local Kafka broker (first run: Maven resolves the jars)…");
  const started = await startKafka({
    name: "demo",
    portBase: Number(process.env.KAFKA_PORT_BASE ?? 9092),
    log: (line) => console.log(`  ${line}`),
  });
  return started;
}

function shorten(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, width - 1)}…`;
}

runCli(async () => {
  const kafka = await kafkaForDemo();
  try {
    const client = new Kafka({
      clientId: "kubesentiment-demo",
      brokers: kafka.bootstrapServers,
      logLevel: logLevel.NOTHING,
    });
    for (const topic of Object.values(topics)) await createTopic(kafka.bootstrapServers, topic, 8, 1);

    const parsed = parseWorkerConfig({
      KAFKA_BOOTSTRAP_SERVERS: kafka.bootstrapServers.join(","),
      KAFKA_GROUP_ID: "kubesentiment-demo",
      TOPIC_REQUESTS: topics.requests,
      TOPIC_RESPONSES: topics.responses,
      TOPIC_DEAD_LETTER: topics.deadLetter,
      HTTP_PORT: "0",
      LOG_LEVEL: "error",
      // MODEL_DIR swaps in another model (a DistilBERT export, say); the built-in one otherwise.
      ...(process.env.MODEL_DIR === undefined ? {} : { MODEL_DIR: process.env.MODEL_DIR }),
    });
    if (!parsed.ok) throw new HarnessError(parsed.problems.join("; "));
    const worker = await startWorker(parsed.config);

    const lines = sampleLines();
    const runId = randomUUID().slice(0, 8);
    const texts = new Map<string, string>();
    const producer = client.producer();
    await producer.connect();
    await producer.send({
      topic: topics.requests,
      acks: -1,
      messages: lines.map((line, index) => {
        // Ids get a per-run suffix so results from an earlier run on the same cluster are not counted; lines that
        // are not JSON go as they are, keyed by their line number.
        let request: { id?: unknown; text?: unknown } | undefined;
        try {
          request = JSON.parse(line);
        } catch {
          request = undefined;
        }
        const id = `${typeof request?.id === "string" ? request.id : `line-${index + 1}`}@${runId}`;
        texts.set(id, typeof request?.text === "string" ? request.text : line);
        return { key: id, value: request === undefined ? line : JSON.stringify({ ...request, id }) };
      }),
    });
    await producer.disconnect();
    console.log(`\nproduced ${lines.length} requests to ${topics.requests}; waiting for the worker…\n`);

    const results = new Map<string, string>();
    const reader = client.consumer({ groupId: `kubesentiment-demo-reader-${runId}` });
    await reader.connect();
    await reader.subscribe({ topics: [topics.responses, topics.deadLetter], fromBeginning: true });
    const done = new Promise<void>((resolve) => {
      void reader.run({
        eachMessage: async ({ topic, message }) => {
          const record = JSON.parse(message.value?.toString() ?? "{}");
          const id = message.key?.toString() ?? record.id;
          if (!texts.has(id)) return;
          results.set(
            id,
            topic === topics.responses
              ? `${record.label.padEnd(8)} ${record.score.toFixed(3)}  batch of ${record.timing.batchSize}`
              : `DEAD LETTER ${record.code}: ${record.message}`,
          );
          if (results.size === texts.size) resolve();
        },
      });
    });
    const timer = new Promise<void>((_, reject) =>
      setTimeout(
        () =>
          reject(new HarnessError(`only ${results.size} of ${texts.size} results within ${timeoutMs} ms`)),
        timeoutMs,
      ).unref(),
    );
    await Promise.race([done, timer]);
    await reader.disconnect();
    await worker.stop();

    for (const [id, text] of texts) {
      console.log(`${id.split("@")[0]?.padEnd(10)} ${shorten(text, 62).padEnd(62)} → ${results.get(id)}`);
    }
    console.log(
      `\n${results.size} of ${texts.size} requests answered: responses on ${topics.responses}, refusals on ${topics.deadLetter}`,
    );
  } finally {
    await kafka.stop();
  }
});
