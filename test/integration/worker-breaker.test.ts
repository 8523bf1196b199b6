// The circuit breaker always makes progress, on a real broker with the real model made to fail: the worker's
// test-only MODEL_FAULT_FILE makes ONNX Runtime's own runs fail while the file exists. An outage that outlasts
// every input's attempts, and one the model recovers from, both end with the worker consuming, and the probes say
// the truth throughout: not ready while the breaker is not closed, live all along.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import type { Kafka } from "kafkajs";
import { kafkaClient } from "../../hack/harness/kafka-client.ts";
import type { KafkaCluster } from "../../hack/harness/kafka-cluster.ts";
import { localWorkerEnv } from "../../hack/harness/local-worker.ts";
import { waitFor } from "../../hack/harness/wait.ts";
import { parseWorkerConfig } from "../../worker/src/config.ts";
import { type RunningWorker, startWorker } from "../../worker/src/worker.ts";
import { startKafkaOnFreePorts } from "../support/kafka.ts";
import { createPipelineTopics, type PipelineTopics, ResultReader } from "../support/pipeline-topics.ts";

async function produceRequests(kafka: Kafka, topic: string, ids: string[]) {
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({
    topic,
    acks: -1,
    messages: ids.map((id) => ({ key: id, value: JSON.stringify({ id, text: "a fine film" }) })),
  });
  await producer.disconnect();
}

/** /healthz and /readyz status codes. */
async function probes(worker: RunningWorker): Promise<{ live: number; ready: number }> {
  const status = async (path: string) => (await fetch(`http://127.0.0.1:${worker.httpPort}${path}`)).status;
  return { live: await status("/healthz"), ready: await status("/readyz") };
}

async function breakerState(worker: RunningWorker): Promise<number> {
  const metrics = await (await fetch(`http://127.0.0.1:${worker.httpPort}/metrics`)).text();
  const line = metrics.split("\n").find((l) => l.startsWith("kubesentiment_worker_circuit_breaker_state "));
  return Number(line?.split(" ").pop());
}

const ids = (prefix: string, count: number) => Array.from({ length: count }, (_, i) => `${prefix}-${i}`);

describe("circuit breaker on a real broker and a failing real model", function () {
  this.timeout(120_000);
  let cluster: KafkaCluster;
  let kafka: Kafka;
  let faultDir: string;
  const cleanups: (() => Promise<void>)[] = [];

  before(async () => {
    cluster = await startKafkaOnFreePorts({
      name: "test-worker-breaker",
    });
    kafka = kafkaClient(cluster.bootstrapServers);
    faultDir = await mkdtemp(join(tmpdir(), "kubesentiment-fault-"));
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  after(async () => {
    await cluster?.stop();
    if (faultDir !== undefined) await rm(faultDir, { recursive: true, force: true });
  });

  /** A worker whose model fails while its fault file exists; it starts failing. */
  async function setUp(env: Record<string, string>) {
    const topics: PipelineTopics = await createPipelineTopics(cluster.bootstrapServers);
    const faultFile = join(faultDir, topics.requests);
    await writeFile(faultFile, "fail");
    const parsed = parseWorkerConfig({
      ...localWorkerEnv(cluster.bootstrapServers, topics),
      BREAKER_FAILURE_THRESHOLD: "2",
      BREAKER_RESET_TIMEOUT_MS: "300",
      RETRY_INITIAL_BACKOFF_MS: "10",
      RETRY_MAX_BACKOFF_MS: "20",
      MODEL_FAULT_FILE: faultFile,
      ...env,
    });
    if (!parsed.ok) throw new Error(parsed.problems.join("; "));
    const worker = await startWorker(parsed.config);
    cleanups.push(() => worker.stop());
    const reader = await ResultReader.start(kafka, topics);
    cleanups.push(() => reader.close());
    return { topics, worker, reader, heal: () => rm(faultFile) };
  }

  it("keeps consuming after an outage that outlasts every input's attempts: half-open fetches new input", async () => {
    const { topics, worker, reader, heal } = await setUp({ RETRY_MAX_ATTEMPTS: "2" });
    const lost = ids("lost", 20);
    await produceRequests(kafka, topics.requests, lost);
    await reader.waitFor(
      () => reader.on(topics.deadLetter).length >= lost.length,
      () => `${reader.on(topics.deadLetter).length} of ${lost.length} dead-lettered`,
    );
    expect(reader.on(topics.deadLetter).map((r) => r.value.code)).to.deep.equal(
      lost.map(() => "INFERENCE_FAILED"),
    );
    expect(reader.idsOn(topics.deadLetter)).to.deep.equal(new Set(lost));
    expect(reader.on(topics.deadLetter)[0]?.value.message, "ONNX Runtime refused the run").to.match(/int64/);
    // Nothing is left in memory to trial: the breaker turns half-open and stays there until input arrives.
    await waitFor("the breaker to turn half-open", async () => (await breakerState(worker)) === 1);
    expect(await probes(worker)).to.deep.equal(
      { live: 200, ready: 503 },
      "an untried model is not ready; an outage is no reason to restart",
    );
    await heal();
    const later = ids("later", 10);
    await produceRequests(kafka, topics.requests, later);
    await reader.waitFor(
      () => reader.idsOn(topics.responses).size >= later.length,
      () => `${reader.idsOn(topics.responses).size} of ${later.length} requests after the outage answered`,
      30_000,
    );
    expect(reader.idsOn(topics.responses)).to.deep.equal(new Set(later));
    expect(await breakerState(worker)).to.equal(0);
    expect(await probes(worker)).to.deep.equal({ live: 200, ready: 200 });
  });

  it("answers everything when the model recovers during the outage, but what outlived its deadline meanwhile", async () => {
    const { topics, worker, reader, heal } = await setUp({ RETRY_MAX_ATTEMPTS: "100" });
    const requests = ids("held", 20);
    // Fetched long before its deadline, which passes while the breaker holds it.
    const deadline = Date.now() + 8_000;
    const late = { id: "late", text: "a fine film", deadline: new Date(deadline).toISOString() };
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: topics.requests,
      acks: -1,
      messages: [late, ...requests.map((id) => ({ id, text: "a fine film" }))].map((request) => ({
        key: "one-partition",
        value: JSON.stringify(request),
      })),
    });
    await producer.disconnect();
    await waitFor("the breaker to open", async () => (await breakerState(worker)) !== 0);
    expect(await probes(worker)).to.deep.equal({ live: 200, ready: 503 });
    await waitFor("the late request's deadline to pass", () => Date.now() > deadline, { timeoutMs: 20_000 });
    await heal();
    await reader.waitFor(
      () => reader.records.length >= requests.length + 1,
      () => `${reader.records.length} of ${requests.length + 1} answered after recovery`,
      30_000,
    );
    expect(reader.idsOn(topics.responses)).to.deep.equal(new Set(requests));
    const [letter, ...more] = reader.on(topics.deadLetter);
    expect(more).to.have.length(0);
    expect(letter?.value).to.include({ id: "late", code: "DEADLINE_EXCEEDED" });
    expect(letter?.value.message).to.match(/waited for the model/);
    expect(await probes(worker)).to.deep.equal({ live: 200, ready: 200 });
  });
});
