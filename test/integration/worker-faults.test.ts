// At-least-once through failures, on real brokers and real worker processes: a worker SIGKILLed mid-stream,
// and a broker of three killed mid-stream (under the worker, and under its producer's write alone). Every
// request must be answered; duplicates are allowed, loss is not.
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { expect } from "chai";
import type { Kafka } from "kafkajs";
import { createTopic, kafkaClient, recordCount } from "../../hack/harness/kafka-client.ts";
import type { KafkaCluster } from "../../hack/harness/kafka-cluster.ts";
import { localWorkerEnv, startWorkerProcess, workerArgs } from "../../hack/harness/local-worker.ts";
import { freePortBase } from "../../hack/harness/ports.ts";
import { stopChild } from "../../hack/harness/processes.ts";
import { waitFor } from "../../hack/harness/wait.ts";
import { ResilientProducer } from "../../worker/src/resilient-producer.ts";
import { consume, startKafkaOnFreePorts } from "../support/kafka.ts";
import { createPipelineTopics, type PipelineTopics, ResultReader } from "../support/pipeline-topics.ts";

const texts = ["a gorgeous, witty film", "a dreary, lifeless slog", "sharp and heartfelt", "clumsy and dull"];

/** A worker as Kubernetes runs it: its own process, configured by environment variables. */
function spawnWorker(cluster: KafkaCluster, topics: PipelineTopics): ChildProcess {
  return startWorkerProcess(
    {
      ...localWorkerEnv(cluster.bootstrapServers, topics),
      KAFKA_SESSION_TIMEOUT_MS: "6000",
      LOG_LEVEL: process.env.WORKER_TEST_LOG_LEVEL ?? "error",
    },
    "inherit",
  );
}

/** The worker's own producer, which rides out a broker's death without leaving records unsent. */
function resilientProducer(kafka: Kafka, onResend: (messages: number) => void = () => {}) {
  return ResilientProducer.start({
    connect: async (config) => {
      const producer = kafka.producer(config);
      await producer.connect();
      return producer;
    },
    backoff: { initialBackoffMs: 100, maxBackoffMs: 1_000 },
    onResend,
    onReplace: () => {},
  });
}

/** Produces `total` requests in rounds, calling `midway` once half are sent; returns every id produced. */
async function produceSteadily(kafka: Kafka, topic: string, total: number, midway: () => Promise<void>) {
  // kafkajs's own producer can lose records when a leader dies (see ResilientProducer); a request lost here
  // would look like one the worker never answered.
  const producer = await resilientProducer(kafka);
  const ids: string[] = [];
  const round = 100;
  for (let sent = 0; sent < total; sent += round) {
    if (sent === total / 2) await midway();
    const messages = Array.from({ length: round }, (_, i) => {
      const id = `m-${sent + i}`;
      ids.push(id);
      return { key: id, value: JSON.stringify({ id, text: texts[(sent + i) % texts.length] }) };
    });
    await producer.sendBatch({ acks: -1, topicMessages: [{ topic, messages }] });
    await sleep(50);
  }
  await producer.disconnect();
  return ids;
}

function expectEveryIdAnswered(reader: ResultReader, topics: PipelineTopics, ids: string[]) {
  const answered = reader.idsOn(topics.responses);
  const missing = ids.filter((id) => !answered.has(id));
  expect(missing, `${missing.length} requests never answered`).to.deep.equal([]);
  expect(reader.on(topics.deadLetter)).to.have.length(0);
}

describe("worker fault tolerance", function () {
  this.timeout(300_000);

  describe("a worker SIGKILLed mid-stream", () => {
    let cluster: KafkaCluster;
    const workers: ChildProcess[] = [];
    before(async () => {
      cluster = await startKafkaOnFreePorts({
        name: "test-worker-kill",
      });
    });
    after(async () => {
      await Promise.all(workers.map((worker) => stopChild(worker)));
      await cluster?.stop();
    });

    it("loses nothing: the surviving worker answers what the killed one had not committed", async () => {
      const kafka = kafkaClient(cluster.bootstrapServers);
      const topics = await createPipelineTopics(cluster.bootstrapServers);
      const reader = await ResultReader.start(kafka, topics);
      workers.push(spawnWorker(cluster, topics), spawnWorker(cluster, topics));
      const [victim] = workers;
      const ids = await produceSteadily(kafka, topics.requests, 3000, async () => {
        await reader.waitFor(
          () => reader.on(topics.responses).length > 200,
          () => "the workers never answered",
        );
        victim?.kill("SIGKILL");
      });
      await reader.waitFor(
        () => reader.idsOn(topics.responses).size >= ids.length,
        () => `${reader.idsOn(topics.responses).size} of ${ids.length} answered after the kill`,
        120_000,
      );
      expect(victim?.signalCode).to.equal("SIGKILL");
      expectEveryIdAnswered(reader, topics, ids);
      await reader.close();
    });
    it("shuts down cleanly on SIGTERM: exit 0, everything answered is committed, so a successor repeats nothing", async () => {
      const kafka = kafkaClient(cluster.bootstrapServers);
      const topics = await createPipelineTopics(cluster.bootstrapServers);
      const reader = await ResultReader.start(kafka, topics);
      const first = spawnWorker(cluster, topics);
      workers.push(first);
      const exit = new Promise<number | null>((resolve) => first.once("exit", (code) => resolve(code)));
      const ids = await produceSteadily(kafka, topics.requests, 2000, async () => {
        await reader.waitFor(
          () => reader.on(topics.responses).length > 200,
          () => "the worker never answered",
        );
        first.kill("SIGTERM");
        expect(await exit).to.equal(0);
      });
      const answeredBeforeExit = reader.on(topics.responses).length;
      workers.push(spawnWorker(cluster, topics));
      await reader.waitFor(
        () => reader.idsOn(topics.responses).size >= ids.length,
        () => `${reader.idsOn(topics.responses).size} of ${ids.length} answered by the successor`,
        120_000,
      );
      expectEveryIdAnswered(reader, topics, ids);
      expect(answeredBeforeExit).to.be.greaterThan(0);
      expect(reader.on(topics.responses).length).to.equal(ids.length, "no request was answered twice");
      await reader.close();
    });
  });

  describe("a broker of three killed mid-stream", () => {
    let cluster: KafkaCluster;
    let worker: ChildProcess | undefined;
    before(async () => {
      cluster = await startKafkaOnFreePorts({
        name: "test-worker-brokers",
        brokers: 3,
      });
    });
    after(async () => {
      if (worker !== undefined) await stopChild(worker);
      await cluster?.stop();
    });

    it("loses nothing with replication factor 3 and min.insync.replicas 2", async () => {
      const kafka = kafkaClient(cluster.bootstrapServers);
      const topics = await createPipelineTopics(cluster.bootstrapServers, { replicationFactor: 3 });
      const reader = await ResultReader.start(kafka, topics);
      worker = spawnWorker(cluster, topics);
      const ids = await produceSteadily(kafka, topics.requests, 3000, async () => {
        await cluster.stopBroker(1, { hard: true });
      });
      await reader.waitFor(
        () => reader.idsOn(topics.responses).size >= ids.length,
        () => `${reader.idsOn(topics.responses).size} of ${ids.length} answered with a broker down`,
        120_000,
      );
      expect(cluster.isBrokerRunning(1)).to.equal(false);
      expectEveryIdAnswered(reader, topics, ids);
      await reader.close();
    });

    it("writes every record of a write whose partition leader died, which kafkajs alone leaves partly unsent", async () => {
      if (!cluster.isBrokerRunning(1)) await cluster.startBroker(1);
      const kafka = kafkaClient(cluster.bootstrapServers);
      const topic = `writes-${Date.now()}`;
      await createTopic(cluster.bootstrapServers, topic, 12, 3);
      let resent = 0;
      const producer = await resilientProducer(kafka, (messages) => {
        resent += messages;
      });
      const write = (from: number, count: number) =>
        producer.sendBatch({
          acks: -1,
          topicMessages: [
            {
              topic,
              messages: Array.from({ length: count }, (_, i) => ({ key: `k-${from + i}`, value: "x" })),
            },
          ],
        });
      // Writes back to back, so that one is in flight at the kill; with twelve partitions every broker leads
      // some, so the victim's partitions move to brokers that had answered that write's first try.
      let killed: Promise<void> | undefined;
      for (let written = 0; written < 1200; written += 20) {
        if (written === 200) killed = cluster.stopBroker(1, { hard: true });
        await write(written, 20);
      }
      await killed;
      await producer.disconnect();

      const admin = kafka.admin();
      await admin.connect();
      const held = await recordCount(admin, topic);
      await admin.disconnect();
      const keys = new Set((await consume(cluster.bootstrapServers, topic, held)).map((m) => m.key));
      const missing = Array.from({ length: 1200 }, (_, i) => `k-${i}`).filter((key) => !keys.has(key));
      expect(missing, `${missing.length} of 1200 records never written (${resent} sent again)`).to.deep.equal(
        [],
      );
    });
  });
  describe("a worker SIGTERMed while it starts, as PID 1 of its own PID namespace (as in a container)", () => {
    let unshare: ChildProcess | undefined;
    after(async () => {
      if (unshare !== undefined) await stopChild(unshare);
    });

    it("exits 0 once its model has loaded, rather than finishing its start and consuming until SIGKILL", async function () {
      if (process.getuid?.() !== 0) {
        console.log("    skipped: a PID namespace of its own needs root");
        this.skip();
      }
      // No broker answers there, so the worker is still starting (connecting with retries) when it is told to
      // stop: what a pod scaled back to zero a moment after it was created sees. Its model is loading by then; a
      // process that exited at once ended the classifier thread under ONNX Runtime's load, and one run in eight
      // aborted ("terminate called after throwing an instance of 'Napi::Error'", no exit code).
      const nowhere = [`127.0.0.1:${await freePortBase(1)}`];
      const topics = { requests: "r", responses: "s", deadLetter: "d" };
      const started = spawn("unshare", ["--pid", "--fork", "--kill-child", process.execPath, ...workerArgs], {
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, ...localWorkerEnv(nowhere, topics), LOG_LEVEL: "warn" },
      });
      unshare = started;
      let output = "";
      for (const stream of [started.stdout, started.stderr]) stream?.on("data", (chunk) => (output += chunk));
      const exited = new Promise<number | null>((resolve) => started.once("exit", (code) => resolve(code)));
      await waitFor("the worker's word that Kafka did not answer its start-up check", () =>
        output.includes("Kafka did not answer the start-up check"),
      );
      // The worker is the child of unshare, PID 1 inside; the signal comes from outside, as the kubelet's does.
      const worker = Number(readFileSync(`/proc/${started.pid}/task/${started.pid}/children`, "utf8").trim());
      process.kill(worker, "SIGTERM");
      const code = await Promise.race([exited, sleep(60_000).then(() => "still running 60 s after SIGTERM")]);
      expect(code, output.slice(-2000)).to.equal(0);
      expect(output).to.include(
        "SIGTERM while starting; exiting without committing anything once the model has loaded",
      );
      expect(output).not.to.include("terminate called");
    });
  });
});
