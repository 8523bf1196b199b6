// The worker against a real Kafka broker and the real default model: answers, dead letters, injected inference
// failures and the circuit breaker. Worker crashes and broker failures are in worker-faults.test.ts.
import { expect } from "chai";
import { ConfigResourceTypes, type Kafka } from "kafkajs";
import { kafkaClient } from "../../hack/harness/kafka-client.ts";
import type { KafkaCluster } from "../../hack/harness/kafka-cluster.ts";
import { defaultWorkerGroupId, localWorkerEnv } from "../../hack/harness/local-worker.ts";
import { waitFor } from "../../hack/harness/wait.ts";
import { parseWorkerConfig, type WorkerConfig } from "../../worker/src/config.ts";
import type { Classifier } from "../../worker/src/model/classifier.ts";
import { type RunningWorker, startWorker } from "../../worker/src/worker.ts";
import { startKafkaOnFreePorts } from "../support/kafka.ts";
import { createPipelineTopics, type PipelineTopics, ResultReader } from "../support/pipeline-topics.ts";

function configFor(
  cluster: KafkaCluster,
  topics: PipelineTopics,
  env: Record<string, string> = {},
): WorkerConfig {
  const parsed = parseWorkerConfig({
    ...localWorkerEnv(cluster.bootstrapServers, topics),
    ...env,
  });
  if (!parsed.ok) throw new Error(parsed.problems.join("; "));
  return parsed.config;
}

async function produce(kafka: Kafka, topic: string, messages: { key: string; value: string | Buffer }[]) {
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic, acks: -1, messages });
  await producer.disconnect();
}

/** Each request as JSON, keyed by its id. */
function produceRequests(kafka: Kafka, topic: string, requests: { id: string }[]) {
  return produce(
    kafka,
    topic,
    requests.map((r) => ({ key: r.id, value: JSON.stringify(r) })),
  );
}

async function metricsOf(worker: RunningWorker): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${worker.httpPort}/metrics`);
  return response.text();
}

function metricValue(metrics: string, name: string): number {
  const line = metrics.split("\n").find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line === undefined ? Number.NaN : Number(line.split(" ").pop());
}

describe("worker on a real broker", function () {
  this.timeout(240_000);
  let cluster: KafkaCluster;
  let kafka: Kafka;
  const cleanups: (() => Promise<void>)[] = [];

  before(async () => {
    cluster = await startKafkaOnFreePorts({
      name: "test-worker",
    });
    kafka = kafkaClient(cluster.bootstrapServers);
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  after(async () => {
    await cluster?.stop();
  });

  async function setUp(env: Record<string, string> = {}, wrapClassifier?: (c: Classifier) => Classifier) {
    const topics = await createPipelineTopics(cluster.bootstrapServers);
    const worker = await startWorker(
      configFor(cluster, topics, env),
      wrapClassifier ? { wrapClassifier } : {},
    );
    cleanups.push(() => worker.stop());
    const reader = await ResultReader.start(kafka, topics);
    cleanups.push(() => reader.close());
    return { topics, worker, reader };
  }

  it("answers N requests with exactly N responses: matching ids, the obvious labels, metadata echoed", async () => {
    const { topics, reader } = await setUp();
    const obvious: [string, string][] = [
      ["an absolute delight", "positive"],
      ["a tedious, joyless mess", "negative"],
      ["one of the best films of the year", "positive"],
      ["a boring, pointless waste of time", "negative"],
    ];
    const requests = Array.from({ length: 400 }, (_, i) => {
      const [text, label] = obvious[i % obvious.length] as [string, string];
      return { id: `r-${i}`, text, metadata: { index: i, expected: label, nested: { ok: true } } };
    });
    await produceRequests(kafka, topics.requests, requests);
    await reader.waitFor(
      () => reader.on(topics.responses).length >= requests.length,
      () => `${reader.on(topics.responses).length} of ${requests.length} responses`,
    );
    const responses = reader.on(topics.responses);
    expect(responses).to.have.length(requests.length);
    expect(reader.on(topics.deadLetter)).to.have.length(0);
    expect(reader.idsOn(topics.responses)).to.deep.equal(new Set(requests.map((r) => r.id)));
    for (const { key, value } of responses) {
      const metadata = value.metadata as { index: number; expected: string };
      expect(key).to.equal(value.id);
      expect(value.label, `${value.id}`).to.equal(metadata.expected);
      expect(metadata).to.deep.equal(requests[metadata.index]?.metadata);
      expect(value.model).to.have.keys("name", "version");
    }
    const batchSizes = responses.map((r) => (r.value.timing as { batchSize: number }).batchSize);
    expect(Math.max(...batchSizes)).to.be.greaterThan(1, "requests fetched together share a model run");
  });

  it("dead-letters every bad-input class with its code and original bytes; good messages beside them are answered", async () => {
    const { topics, reader } = await setUp({ MAX_MESSAGE_BYTES: "2048", MAX_TEXT_LENGTH: "300" });
    const invalidUtf8 = Buffer.concat([
      Buffer.from('{"id":"u","text":"'),
      Buffer.from([0xc3, 0x28]),
      Buffer.from('"}'),
    ]);
    const bad: [string, string | Buffer, string, RegExp][] = [
      ["bad-json", '{"id":"bad-json","text":"unclosed"', "INVALID_JSON", /not JSON/],
      ["bad-utf8", invalidUtf8, "INVALID_ENCODING", /UTF-8/],
      ["not-object", "[1,2,3]", "SCHEMA_VIOLATION", /must be an object, not an array/],
      ["no-id", '{"text":"hello"}', "SCHEMA_VIOLATION", /field 'id' is required/],
      ["no-text", '{"id":"no-text"}', "SCHEMA_VIOLATION", /field 'text' is required/],
      ["text-type", '{"id":"text-type","text":42}', "SCHEMA_VIOLATION", /field 'text' must be a string/],
      ["empty-text", '{"id":"empty-text","text":""}', "SCHEMA_VIOLATION", /field 'text' must not be empty/],
      [
        "long-text",
        JSON.stringify({ id: "long-text", text: "good ".repeat(80) }),
        "TEXT_TOO_LONG",
        /limit is 300/,
      ],
      [
        "oversized",
        JSON.stringify({ id: "oversized", text: "x".repeat(3000) }),
        "MESSAGE_TOO_LARGE",
        /limit is 2048 bytes/,
      ],
      [
        "expired",
        '{"id":"expired","text":"fine","deadline":"2001-01-01T00:00:00Z"}',
        "DEADLINE_EXCEEDED",
        /deadline/,
      ],
    ];
    // One key, so every message lands on one partition, good ones between the bad.
    const messages = bad.flatMap(([name, value], i) => [
      { key: "same-partition", value: JSON.stringify({ id: `good-${i}`, text: "a warm and lovely film" }) },
      { key: "same-partition", value, name },
    ]);
    await produce(
      kafka,
      topics.requests,
      messages.map(({ key, value }) => ({ key, value })),
    );
    await reader.waitFor(
      () => reader.records.length >= messages.length,
      () => `${reader.records.length} of ${messages.length} records`,
    );
    expect(reader.on(topics.responses).map((r) => r.value.id)).to.have.members(
      bad.map((_, i) => `good-${i}`),
    );
    const letters = reader.on(topics.deadLetter);
    expect(letters).to.have.length(bad.length);
    for (const [index, [name, value, code, message]] of bad.entries()) {
      const letter = letters[index];
      expect(letter?.value.code, name).to.equal(code);
      expect(letter?.value.message, name).to.match(message);
      expect(letter?.headers["kubesentiment-error-code"]).to.equal(code);
      expect(letter?.key).to.equal("same-partition");
      const original = letter?.value.value as { encoding: "utf8" | "base64"; data: string };
      expect(
        Buffer.from(original.data, original.encoding === "utf8" ? "utf8" : "base64"),
        name,
      ).to.deep.equal(Buffer.from(value));
      expect(letter?.value.source).to.include({ topic: topics.requests });
      expect(letter?.value.attempts).to.equal(0);
    }
  });

  it("retries an input the model fails on, then dead-letters it; its batchmates are answered", async () => {
    const { topics, reader, worker } = await setUp(
      {
        RETRY_MAX_ATTEMPTS: "3",
        RETRY_INITIAL_BACKOFF_MS: "10",
        RETRY_MAX_BACKOFF_MS: "50",
        BATCH_MAX_WAIT_MS: "50",
      },
      (model) => ({
        ...model,
        classify: async (texts) => {
          if (texts.some((text) => text.includes("POISON")))
            throw new Error("injected failure on a poison input");
          return model.classify(texts);
        },
      }),
    );
    const requests = Array.from({ length: 30 }, (_, i) => ({
      id: `p-${i}`,
      text: i === 7 ? "POISON pill" : "a thoroughly enjoyable ride",
    }));
    await produce(
      kafka,
      topics.requests,
      requests.map((r) => ({ key: "one", value: JSON.stringify(r) })),
    );
    await reader.waitFor(
      () => reader.records.length >= requests.length,
      () => `${reader.records.length} of ${requests.length}`,
    );
    expect(reader.on(topics.responses)).to.have.length(29);
    const [letter] = reader.on(topics.deadLetter);
    expect(letter?.value).to.include({ code: "INFERENCE_FAILED", id: "p-7", attempts: 3 });
    expect(letter?.value.message).to.match(/injected failure/);
    const metrics = await metricsOf(worker);
    expect(metricValue(metrics, "kubesentiment_worker_inference_retries_total")).to.equal(2);
    expect(metricValue(metrics, "kubesentiment_worker_circuit_breaker_state")).to.equal(0);
  });

  it("opens the breaker when the model fails everything, pauses without dead-lettering, then recovers", async () => {
    let modelDown = true;
    const { topics, reader, worker } = await setUp(
      {
        BREAKER_FAILURE_THRESHOLD: "2",
        BREAKER_RESET_TIMEOUT_MS: "500",
        RETRY_INITIAL_BACKOFF_MS: "10",
        RETRY_MAX_BACKOFF_MS: "20",
        RETRY_MAX_ATTEMPTS: "2",
      },
      (model) => ({
        ...model,
        classify: async (texts) => {
          if (modelDown) throw new Error("injected outage");
          return model.classify(texts);
        },
      }),
    );
    const requests = Array.from({ length: 50 }, (_, i) => ({ id: `o-${i}`, text: "a fine film" }));
    await produceRequests(kafka, topics.requests, requests);
    const deadline = Date.now() + 60_000;
    while (metricValue(await metricsOf(worker), "kubesentiment_worker_circuit_breaker_state") !== 2) {
      if (Date.now() > deadline) throw new Error("the breaker never opened");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const ready = await fetch(`http://127.0.0.1:${worker.httpPort}/readyz`);
    expect(ready.status).to.equal(503, "an open breaker takes the worker out of readiness");
    expect(reader.on(topics.deadLetter)).to.have.length(0, "an outage does not flood the dead letter");
    expect(reader.on(topics.responses)).to.have.length(0);
    modelDown = false;
    await reader.waitFor(
      () => reader.on(topics.responses).length >= requests.length,
      () => `${reader.on(topics.responses).length} of ${requests.length} after recovery`,
    );
    expect(reader.idsOn(topics.responses)).to.deep.equal(new Set(requests.map((r) => r.id)));
    expect(metricValue(await metricsOf(worker), "kubesentiment_worker_circuit_breaker_state")).to.equal(0);
  });

  it("loses nothing when a second worker joins mid-stream and partitions move with batches in flight", async () => {
    // The first worker answers a first lot, then its model is held until the joiner is in the group: every
    // partition the joiner takes over has batches in flight on the first worker, however slow the machine.
    // Its wait for room must heartbeat, or the group would wait for its work (or evict it after the session
    // timeout) instead of rebalancing at once.
    let held: Promise<void> | undefined;
    let release = () => {};
    let heldRuns = 0;
    const holdable = (model: Classifier): Classifier => ({
      ...model,
      classify: async (texts) => {
        if (held !== undefined) {
          heldRuns += 1;
          await held;
        }
        return model.classify(texts);
      },
    });
    // Small batches and a short session (heartbeats every 0.6 s) keep the test quick.
    const env = { BATCH_MAX_SIZE: "16", KAFKA_SESSION_TIMEOUT_MS: "6000" };
    const { topics, reader } = await setUp(env, holdable);
    cleanups.push(async () => release());
    const requests = Array.from({ length: 4000 }, (_, i) => ({ id: `j-${i}`, text: "a fine film" }));
    const firstLot = requests.slice(0, 100);
    await produceRequests(kafka, topics.requests, firstLot);
    await reader.waitFor(
      () => reader.on(topics.responses).length >= firstLot.length,
      () => `the first worker answered ${reader.on(topics.responses).length} of ${firstLot.length}`,
    );
    held = new Promise<void>((resolve) => {
      release = resolve;
    });
    await produceRequests(kafka, topics.requests, requests.slice(firstLot.length));
    await waitFor("the first worker to fetch the second lot", () => heldRuns > 0);
    const joiner = await startWorker(configFor(cluster, topics, env));
    cleanups.push(() => joiner.stop());
    const admin = kafka.admin();
    await admin.connect();
    cleanups.push(() => admin.disconnect());
    const {
      groups: [group],
    } = await admin.describeGroups([defaultWorkerGroupId(topics)]);
    expect(group?.members, "both workers are members while the first one's model is held").to.have.length(2);
    release();
    await reader.waitFor(
      () => reader.idsOn(topics.responses).size >= requests.length,
      () => `${reader.idsOn(topics.responses).size} of ${requests.length} answered after the join`,
    );
    expect(reader.idsOn(topics.responses)).to.deep.equal(new Set(requests.map((r) => r.id)));
    expect(reader.on(topics.deadLetter)).to.have.length(0);
    const joinerAnswered = metricValue(
      await metricsOf(joiner),
      "kubesentiment_worker_messages_processed_total",
    );
    expect(joinerAnswered).to.be.greaterThan(0, "the joiner took over partitions and answered from them");
  });

  /** Sets `max.message.bytes` of each topic named. */
  async function limitTopics(limits: Record<string, number>) {
    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.alterConfigs({
        validateOnly: false,
        resources: Object.entries(limits).map(([name, bytes]) => ({
          type: ConfigResourceTypes.TOPIC,
          name,
          configEntries: [{ name: "max.message.bytes", value: String(bytes) }],
        })),
      });
    } finally {
      await admin.disconnect();
    }
  }

  it("dead-letters responses Kafka refuses for good with RESPONSE_REFUSED, stays live and moves on", async () => {
    const { topics, reader, worker } = await setUp();
    // Smaller than any response: the broker refuses each with an error no retry can cure.
    await limitTopics({ [topics.responses]: 64 });
    const requests = Array.from({ length: 40 }, (_, i) => ({ id: `w-${i}`, text: "a fine film" }));
    await produceRequests(kafka, topics.requests, requests);
    await reader.waitFor(
      () => reader.on(topics.deadLetter).length >= requests.length,
      () => `${reader.on(topics.deadLetter).length} of ${requests.length} dead letters`,
    );
    expect(reader.on(topics.responses)).to.have.length(0);
    expect(reader.idsOn(topics.deadLetter)).to.deep.equal(new Set(requests.map((r) => r.id)));
    for (const letter of reader.on(topics.deadLetter)) {
      expect(letter.value).to.include({ code: "RESPONSE_REFUSED", attempts: 1 });
      expect(letter.value.message).to.match(/^Kafka refused the response for good: MESSAGE_TOO_LARGE: /);
    }
    expect((await fetch(`http://127.0.0.1:${worker.httpPort}/healthz`)).status).to.equal(200);
    const metrics = await metricsOf(worker);
    expect(metrics).to.include(
      `kubesentiment_worker_dead_letter_total{reason="RESPONSE_REFUSED"} ${requests.length}`,
    );
  });

  it("stops consuming and fails liveness only when even a minimal dead letter is refused; a restarted worker answers all", async () => {
    const topics = await createPipelineTopics(cluster.bootstrapServers);
    // No record fits either topic: that is the topics' configuration, which no single request causes.
    await limitTopics({ [topics.responses]: 64, [topics.deadLetter]: 64 });
    const config = configFor(cluster, topics);
    const failing = await startWorker(config);
    let failingStopped = false;
    cleanups.push(async () => {
      if (!failingStopped) await failing.stop();
    });
    const reader = await ResultReader.start(kafka, topics);
    cleanups.push(() => reader.close());
    const requests = Array.from({ length: 40 }, (_, i) => ({ id: `w-${i}`, text: "a fine film" }));
    await produceRequests(kafka, topics.requests, requests);
    await waitFor(
      "the worker to fail liveness after a write failed for good",
      async () => (await fetch(`http://127.0.0.1:${failing.httpPort}/healthz`)).status === 503,
    );
    const admin = kafka.admin();
    await admin.connect();
    cleanups.push(() => admin.disconnect());
    const [committed] = await admin.fetchOffsets({
      groupId: config.kafka.groupId,
      topics: [topics.requests],
    });
    expect(committed?.partitions.map((p) => p.offset)).to.deep.equal(
      Array.from({ length: 8 }, () => "-1"),
      "no offset is committed past a batch whose outcomes were refused",
    );
    expect(reader.records).to.have.length(0);
    await failing.stop();
    failingStopped = true;

    await limitTopics({ [topics.responses]: 1_048_588, [topics.deadLetter]: 1_048_588 });
    const restarted = await startWorker(config);
    cleanups.push(() => restarted.stop());
    await reader.waitFor(
      () => reader.on(topics.responses).length >= requests.length,
      () => `${reader.on(topics.responses).length} of ${requests.length} after the restart`,
    );
    expect(reader.idsOn(topics.responses)).to.deep.equal(new Set(requests.map((r) => r.id)));
    expect(reader.on(topics.deadLetter)).to.have.length(0);
  });
});
