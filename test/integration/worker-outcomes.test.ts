// Every request gets exactly one outcome, whatever it holds, and the worker stays live: thousands of generated
// requests (valid, invalid and hostile; see test/support/hostile-requests.ts) through a real broker and a real
// worker with the real model, on topics set up so Kafka refuses some outcomes for good: responses over 4 KiB,
// dead letters over 16 KiB, and a compacted dead-letter topic (which refuses records without a key).
import { get } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { expect } from "chai";
import fc from "fast-check";
import { ConfigResourceTypes, type Kafka } from "kafkajs";
import { kafkaClient } from "../../hack/harness/kafka-client.ts";
import type { KafkaCluster } from "../../hack/harness/kafka-cluster.ts";
import { localWorkerEnv } from "../../hack/harness/local-worker.ts";
import { parseWorkerConfig } from "../../worker/src/config.ts";
import deadLetterSchema from "../../worker/src/contract/schemas/dead-letter.schema.json" with {
  type: "json",
};
import responseSchema from "../../worker/src/contract/schemas/response.schema.json" with { type: "json" };
import { type RunningWorker, startWorker } from "../../worker/src/worker.ts";
import { type RequestRecord, requestRecord } from "../support/hostile-requests.ts";
import { exactProducer, startTestKafka } from "../support/kafka.ts";
import { createPipelineTopics, type PipelineTopics, ResultReader } from "../support/pipeline-topics.ts";

const partitions = 4;
const generated = Number(process.env.OUTCOMES_RUNS ?? 2_000);
const goodAfter = 200;
const seed = Number(process.env.OUTCOMES_SEED ?? 20261203);

const ajv = new Ajv2020({ strict: true, allErrors: true });
addFormats.default(ajv, ["date-time"]);
const validResponse = ajv.compile(responseSchema);
const validDeadLetter = ajv.compile(deadLetterSchema);

async function configure(kafka: Kafka, topics: PipelineTopics) {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const topic = (name: string, entries: Record<string, string>) => ({
      type: ConfigResourceTypes.TOPIC,
      name,
      configEntries: Object.entries(entries).map(([entry, value]) => ({ name: entry, value })),
    });
    await admin.alterConfigs({
      validateOnly: false,
      resources: [
        topic(topics.responses, { "max.message.bytes": "4096" }),
        topic(topics.deadLetter, { "max.message.bytes": "16384", "cleanup.policy": "compact" }),
      ],
    });
  } finally {
    await admin.disconnect();
  }
}

/** Produces `records` in order, in sends of at most 256 KiB; returns each record's offset, in the same order. */
async function produceAll(servers: string[], topic: string, records: RequestRecord[]): Promise<string[]> {
  const producer = await exactProducer(servers);
  const offsets: string[] = [];
  try {
    let start = 0;
    while (start < records.length) {
      let end = start;
      let bytes = 0;
      while (end < records.length && (end === start || bytes < 256 * 1024)) {
        bytes += (records[end] as RequestRecord).value?.length ?? 0;
        end++;
      }
      const chunk = records.slice(start, end);
      const results = await producer.send({ topic, acks: -1, messages: chunk });
      const next = new Map(results.map((r) => [r.partition, BigInt(r.baseOffset ?? "0")]));
      for (const record of chunk) {
        const offset = next.get(record.partition) as bigint;
        offsets.push(String(offset));
        next.set(record.partition, offset + 1n);
      }
      start = end;
    }
  } finally {
    await producer.disconnect();
  }
  return offsets;
}

/** The request's id if its value is JSON with a string id (the id a response to it carries). */
function idOf(record: RequestRecord): string | undefined {
  try {
    const parsed = JSON.parse(record.value?.toString() ?? "") as { id?: unknown };
    return typeof parsed?.id === "string" ? parsed.id : undefined;
  } catch {
    return undefined;
  }
}

/** The status /healthz answers, on a connection of its own (a reused idle one may be reset under load). */
function healthz(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    get({ host: "127.0.0.1", port, path: "/healthz", agent: false }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    }).on("error", reject);
  });
}

/** Polls the worker's /healthz until stopped; every status it answered. */
function watchLiveness(worker: RunningWorker) {
  const statuses: number[] = [];
  let watching = true;
  const done = (async () => {
    while (watching) {
      statuses.push(await healthz(worker.httpPort));
      await sleep(100);
    }
  })();
  return {
    statuses,
    stop: async () => {
      watching = false;
      await done;
    },
  };
}

const count = <T>(items: T[]) => {
  const counts = new Map<T, number>();
  for (const item of items) counts.set(item, (counts.get(item) ?? 0) + 1);
  return counts;
};

describe("worker outcomes: every generated request gets exactly one, and the worker stays live", function () {
  this.timeout(300_000);
  let cluster: KafkaCluster;
  let worker: RunningWorker | undefined;
  let reader: ResultReader | undefined;

  before(async () => {
    cluster = await startTestKafka(1);
  });
  after(async () => {
    await reader?.close();
    await worker?.stop();
    await cluster?.stop();
  });

  it(`answers ${generated} generated requests and ${goodAfter} good ones after them (seed ${seed})`, async () => {
    const kafka = kafkaClient(cluster.bootstrapServers);
    const topics = await createPipelineTopics(cluster.bootstrapServers, { partitions });
    await configure(kafka, topics);
    const parsed = parseWorkerConfig({
      ...localWorkerEnv(cluster.bootstrapServers, topics),
      MAX_MESSAGE_BYTES: "65536",
      LOG_LEVEL: process.env.WORKER_TEST_LOG_LEVEL ?? "error",
    });
    if (!parsed.ok) throw new Error(parsed.problems.join("; "));
    worker = await startWorker(parsed.config);
    const liveness = watchLiveness(worker);
    reader = await ResultReader.start(kafka, topics);

    const hostile = fc.sample(requestRecord(partitions), { seed, numRuns: generated });
    const good: RequestRecord[] = Array.from({ length: goodAfter }, (_, i) => ({
      partition: i % partitions,
      key: `good-${i}`,
      value: JSON.stringify({ id: `good-${i}`, text: "a warm and lovely film" }),
    }));
    const records = [...hostile, ...good];
    const offsets = await produceAll(cluster.bootstrapServers, topics.requests, records);
    const results = reader;
    await results.waitFor(
      () => results.records.length >= records.length,
      () => `${results.records.length} outcomes of ${records.length} requests (seed ${seed})`,
      180_000,
    );
    await liveness.stop();
    const context = `seed ${seed}; reproduce with OUTCOMES_SEED=${seed}`;

    expect(
      liveness.statuses.filter((status) => status !== 200),
      `liveness throughout (${context})`,
    ).to.deep.equal([]);
    expect(results.records, context).to.have.length(records.length);

    const letters = results.on(topics.deadLetter);
    const responses = results.on(topics.responses);
    for (const letter of letters)
      expect(validDeadLetter(letter.value), JSON.stringify(validDeadLetter.errors)).to.equal(true);
    for (const response of responses)
      expect(validResponse(response.value), JSON.stringify(validResponse.errors)).to.equal(true);

    // Dead letters name their source: exactly one per dead-lettered offset.
    const sourceOf = (letter: (typeof letters)[number]) => {
      const source = letter.value.source as { topic: string; partition: number; offset: string };
      expect(source.topic).to.equal(topics.requests);
      return `${source.partition}/${source.offset}`;
    };
    const lettered = count(letters.map(sourceOf));
    expect(
      [...lettered].filter(([, n]) => n > 1),
      `offsets dead-lettered twice (${context})`,
    ).to.deep.equal([]);
    const requestAt = new Map(records.map((record, i) => [`${record.partition}/${offsets[i]}`, record]));
    for (const where of lettered.keys()) expect(requestAt.has(where), `${where} was produced`).to.equal(true);

    // Every other request got a response: responses carry the id, which may repeat, so compare as multisets.
    const answered = records.filter((record, i) => !lettered.has(`${record.partition}/${offsets[i]}`));
    expect(count(responses.map((r) => r.value.id as string)), context).to.deep.equal(
      count(answered.map(idOf)),
    );
    for (const i of good.keys())
      expect(
        responses.some((r) => r.value.id === `good-${i}`),
        `good-${i}`,
      ).to.equal(true);

    // The inputs reached each class of refusal this test is about.
    const codes = count(letters.map((letter) => letter.value.code as string));
    for (const code of [
      "RESPONSE_REFUSED",
      "RESPONSE_UNSERIALIZABLE",
      "MESSAGE_TOO_LARGE",
      "SCHEMA_VIOLATION",
      "INVALID_JSON",
    ]) {
      expect(
        codes.get(code) ?? 0,
        `${code} dead letters (${context}); codes: ${JSON.stringify([...codes])}`,
      ).to.be.greaterThan(0);
    }
    const minimal = letters.filter((letter) => letter.value.originalOmitted === true);
    expect(minimal.length, `minimal dead letters (${context})`).to.be.greaterThan(0);
    for (const letter of minimal) expect(letter.value).to.include({ key: null, value: null });
  });
});
