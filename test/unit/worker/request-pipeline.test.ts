// The consume loop with fakes for kafkajs and the model: which records are written, when offsets are committed,
// when fetching pauses and what the health probes say, in an order each test sets by hand.
import { expect } from "chai";
import type { ProducerBatch, RecordMetadata } from "kafkajs";
import winston from "winston";
import {
  heartbeatIntervalMs as heartbeatIntervalMsOf,
  parseWorkerConfig,
  type WorkerConfig,
} from "../../../worker/src/config.ts";
import type { FetchBudget } from "../../../worker/src/consume/memory-budget.ts";
import {
  type RequestConsumer,
  RequestPipeline,
  rejoinGraceMs,
} from "../../../worker/src/consume/request-pipeline.ts";
import { createWorkerMetrics } from "../../../worker/src/metrics.ts";
import type { OffsetToCommit } from "../../../worker/src/offsets/commit-tracker.ts";
import { ManualTimers, settle } from "./manual-timers.ts";

function configWith(env: Record<string, string>): WorkerConfig {
  const parsed = parseWorkerConfig({
    KAFKA_BOOTSTRAP_SERVERS: "broker:9092",
    KAFKA_GROUP_ID: "group",
    TOPIC_REQUESTS: "req",
    TOPIC_RESPONSES: "res",
    TOPIC_DEAD_LETTER: "dlq",
    ...env,
  });
  if (!parsed.ok) throw new Error(parsed.problems.join("; "));
  return parsed.config;
}

type Listener = (event: { payload: unknown }) => void;
type EachBatch = (payload: object) => Promise<void>;

/** The kafkajs consumer as the pipeline sees it: events the test emits, and a log of what it was asked. */
class FakeConsumer {
  readonly events = {
    GROUP_JOIN: "consumer.group_join",
    CRASH: "consumer.crash",
    REBALANCING: "consumer.rebalancing",
  };
  /** Pauses and resumes, in order. */
  readonly fetching: string[] = [];
  /** Each commit request, as topic/partition@offset. */
  readonly commits: string[][] = [];
  readonly #listeners = new Map<string, Listener[]>();
  #eachBatch: EachBatch | undefined;

  on(name: string, listener: Listener): () => void {
    this.#listeners.set(name, [...(this.#listeners.get(name) ?? []), listener]);
    return () => {};
  }

  async subscribe(): Promise<void> {}

  async run(config: { eachBatch: EachBatch }): Promise<void> {
    this.#eachBatch = config.eachBatch;
  }

  pause(topics: { topic: string }[]): void {
    this.fetching.push(`pause ${topics.map((t) => t.topic).join()}`);
  }

  resume(topics: { topic: string }[]): void {
    this.fetching.push(`resume ${topics.map((t) => t.topic).join()}`);
  }

  async commitOffsets(offsets: OffsetToCommit[]): Promise<void> {
    this.commits.push(offsets.map((o) => `${o.topic}/${o.partition}@${o.offset}`));
  }

  rebalancing(): void {
    this.#emit(this.events.REBALANCING, { groupId: "group", memberId: "member" });
  }

  joined(assignment: Record<string, number[]>): void {
    this.#emit(this.events.GROUP_JOIN, { memberId: "member", memberAssignment: assignment });
  }

  crashed(restart: boolean): void {
    this.#emit(this.events.CRASH, { error: new Error("crash"), restart });
  }

  eachBatch(payload: object): Promise<void> {
    if (this.#eachBatch === undefined) throw new Error("the pipeline has not started");
    return this.#eachBatch(payload);
  }

  #emit(name: string, payload: unknown): void {
    for (const listener of this.#listeners.get(name) ?? []) listener({ payload });
  }
}

/** A producer whose writes succeed at once, wait for release(), or fail. */
class FakeProducer {
  /** Every record written, as "topic key" or "topic key code" for a dead letter. */
  readonly records: string[] = [];
  hold = false;
  failure: Error | undefined;
  /** Kafka refuses every record for this topic for good, as it does records over max.message.bytes. */
  refusedTopic: string | undefined;
  readonly #held: { resolve: () => void; reject: (error: Error) => void }[] = [];

  async sendBatch(batch: ProducerBatch): Promise<RecordMetadata[]> {
    for (const { topic, messages } of batch.topicMessages ?? []) {
      for (const message of messages) {
        const code = message.headers?.["kubesentiment-error-code"];
        this.records.push(
          [topic, String(message.key), ...(code === undefined ? [] : [String(code)])].join(" "),
        );
      }
    }
    if (this.failure !== undefined) throw this.failure;
    if (batch.topicMessages?.some(({ topic }) => topic === this.refusedTopic)) {
      throw Object.assign(new Error("too large"), { type: "MESSAGE_TOO_LARGE" });
    }
    if (this.hold) await new Promise<void>((resolve, reject) => this.#held.push({ resolve, reject }));
    return [];
  }

  /** Knows no partitions: every record takes the one lane of records not yet placed. */
  place(): undefined {
    return undefined;
  }

  partitionOf(): number | undefined {
    return 0;
  }

  release(): void {
    this.hold = false;
    for (const { resolve } of this.#held.splice(0)) resolve();
  }

  /** The writes waiting for release() fail instead. */
  failHeld(error: Error): void {
    this.hold = false;
    for (const { reject } of this.#held.splice(0)) reject(error);
  }
}

/** A model that fails every run containing a text `fails` picks; `runs` lists the texts of each run. */
function fakeModel(fails: (text: string) => boolean = () => false) {
  const runs: string[][] = [];
  const prediction = { label: "positive", score: 0.9, scores: { positive: 0.9, negative: 0.1 } };
  return {
    runs,
    classifier: {
      name: "model",
      version: "1",
      async classify(texts: readonly string[]) {
        runs.push([...texts]);
        if (texts.some(fails)) throw new Error("model failed");
        return texts.map(() => prediction);
      },
    },
  };
}

/** A model whose runs each wait until the test opens the gate; `runs` lists the texts of each run begun. */
function gatedModel() {
  const runs: string[][] = [];
  const waiting: (() => void)[] = [];
  let open = false;
  const prediction = { label: "positive", score: 0.9, scores: { positive: 0.9, negative: 0.1 } };
  return {
    runs,
    open(): void {
      open = true;
      for (const run of waiting.splice(0)) run();
    },
    classifier: {
      name: "model",
      version: "1",
      async classify(texts: readonly string[]) {
        runs.push([...texts]);
        if (!open) await new Promise<void>((resolve) => waiting.push(resolve));
        return texts.map(() => prediction);
      },
    },
  };
}

const request = (id: string, text = "good") => JSON.stringify({ id, text });

/** The group is rebalancing: what the coordinator answers a heartbeat with meanwhile, as kafkajs throws it. */
const rebalanceInProgress = () =>
  Object.assign(new Error("The group is rebalancing, so a rejoin is needed"), {
    type: "REBALANCE_IN_PROGRESS",
  });

/** One fetched batch of partition `partition` starting at `firstOffset`, and what the pipeline did with it. */
function fetched(partition: number, firstOffset: number, values: (string | null)[]) {
  const messages = values.map((value, index) => ({
    key: Buffer.from(`k${firstOffset + index}`),
    value: value === null ? null : Buffer.from(value),
    offset: String(firstOffset + index),
    timestamp: "0",
    attributes: 0,
    headers: {},
  }));
  const seen = { heartbeats: 0, resolved: [] as string[] };
  const payload = {
    batch: {
      topic: "req",
      partition,
      messages,
      isEmpty: () => messages.length === 0,
      offsetLag: () => "0",
      lastOffset: () => messages.at(-1)?.offset ?? String(firstOffset - 1),
    },
    resolveOffset: (offset: string) => seen.resolved.push(offset),
    heartbeat: async () => {
      seen.heartbeats++;
    },
    isRunning: () => true,
    isStale: () => false,
  };
  return { payload, seen };
}

async function setUp(
  env: Record<string, string> = {},
  model: Pick<ReturnType<typeof fakeModel>, "runs" | "classifier"> = fakeModel(),
  budget?: FetchBudget,
) {
  const timers = new ManualTimers();
  const consumer = new FakeConsumer();
  const producer = new FakeProducer();
  const config = configWith(env);
  const metrics = createWorkerMetrics();
  const pipeline = new RequestPipeline({
    config,
    consumer: consumer as unknown as RequestConsumer,
    producer,
    classifier: model.classifier,
    metrics,
    logger: winston.createLogger({ silent: true }),
    timers,
    ...(budget === undefined ? {} : { budget }),
  });
  await pipeline.start();
  consumer.joined({ req: [0, 1] });
  return { timers, consumer, producer, pipeline, model, config, metrics };
}

/**
 * A pipeline with model batches of one that has answered r0 (t-a) of partition 0, its commit waiting for the
 * timer; every later model run waits until `stuck.open()`.
 */
async function answeredOneThenStuck() {
  const model = gatedModel();
  const pipeline = await setUp({ BATCH_MAX_SIZE: "1" }, model);
  model.open();
  await pipeline.consumer.eachBatch(fetched(0, 0, [request("r0", "t-a")]).payload);
  await settle();
  const stuck = gatedModel();
  model.classifier.classify = stuck.classifier.classify;
  return { ...pipeline, stuck };
}

describe("RequestPipeline", () => {
  it("commits a batch's offsets only after the producer acknowledged its responses", async () => {
    const { timers, consumer, producer } = await setUp();
    producer.hold = true;
    const { payload, seen } = fetched(0, 10, [request("a"), request("b")]);
    await consumer.eachBatch(payload);
    expect(seen.resolved).to.deep.equal(["11"], "kafkajs fetches on from the batch's end at once");
    await timers.advance(1_000);
    expect(producer.records).to.deep.equal(["res a", "res b"]);
    expect(consumer.commits).to.deep.equal([], "nothing is committed before the write is acknowledged");
    producer.release();
    await timers.advance(1_000);
    expect(consumer.commits).to.deep.equal([["req/0@12"]]);
  });

  it("counts each request by outcome, and times it, only once its record is acknowledged", async () => {
    const { timers, consumer, producer, metrics } = await setUp();
    const counted = async () => {
      const processed = await metrics.processed.get();
      const latency = await metrics.endToEndLatency.get();
      return {
        processed: processed.values.map(({ labels, value }) => `${labels.outcome} ${value}`),
        timed: latency.values.find((sample) => sample.metricName?.endsWith("_count"))?.value ?? 0,
      };
    };
    producer.hold = true;
    await consumer.eachBatch(fetched(0, 0, ["not json", request("a"), request("b")]).payload);
    await timers.advance(1_000);
    expect(await counted()).to.deep.equal({ processed: [], timed: 0 });
    producer.release();
    await timers.advance(1_000);
    expect(await counted()).to.deep.equal({ processed: ["dead_lettered 1", "classified 2"], timed: 3 });
  });

  it("dead-letters a response Kafka refuses for good, stays live, commits past it and counts a dead letter", async () => {
    const { timers, consumer, producer, pipeline, metrics } = await setUp();
    producer.refusedTopic = "res";
    await consumer.eachBatch(fetched(0, 0, [request("a")]).payload);
    await timers.advance(1_000);
    expect(producer.records).to.deep.equal(["res a", "dlq k0 RESPONSE_REFUSED"]);
    expect(pipeline.health.live()).to.equal(true);
    expect(consumer.commits).to.deep.equal([["req/0@1"]]);
    const deadLettered = await metrics.deadLettered.get();
    expect(deadLettered.values.map(({ labels, value }) => `${labels.reason} ${value}`)).to.deep.equal([
      "RESPONSE_REFUSED 1",
    ]);
  });

  it("dead-letters an invalid request without running the model, and commits past it", async () => {
    const { timers, consumer, producer, model } = await setUp();
    await consumer.eachBatch(fetched(1, 0, ["not json", request("a")]).payload);
    await timers.advance(1_000);
    expect(producer.records).to.deep.equal(["dlq k0 INVALID_JSON", "res a"]);
    expect(model.runs).to.deep.equal([["good"]]);
    expect(consumer.commits).to.deep.equal([["req/1@2"]]);
  });

  it("retries an input the model fails on, then dead-letters it; its batchmate is answered", async () => {
    const model = fakeModel((text) => text === "poison");
    const { timers, consumer, producer } = await setUp({ RETRY_MAX_ATTEMPTS: "3" }, model);
    await consumer.eachBatch(fetched(0, 0, [request("a"), request("p", "poison")]).payload);
    await timers.advance(60_000);
    expect(model.runs).to.deep.equal([["good", "poison"], ["good"], ["poison"], ["poison"], ["poison"]]);
    expect(producer.records).to.deep.equal(["res a", "dlq k1 INFERENCE_FAILED"]);
    expect(consumer.commits).to.deep.equal([["req/0@2"]]);
  });

  it("pauses fetching and leaves readiness while the breaker is open; a good trial resumes both", async () => {
    let down = true;
    const model = fakeModel(() => down);
    const { timers, consumer, producer, pipeline } = await setUp(
      { BREAKER_FAILURE_THRESHOLD: "1", BREAKER_RESET_TIMEOUT_MS: "1000" },
      model,
    );
    await consumer.eachBatch(fetched(0, 0, [request("a"), request("b")]).payload);
    await settle();
    expect(consumer.fetching).to.deep.equal(["pause req"]);
    expect(pipeline.health.ready()).to.equal(false);
    expect(pipeline.health.live()).to.equal(true);
    down = false;
    await timers.advance(1_000);
    expect(consumer.fetching).to.deep.equal(["pause req", "resume req"]);
    expect(pipeline.health.ready()).to.equal(true);
    expect(producer.records).to.deep.equal(["res a", "res b"], "an outage dead-letters nothing");
  });

  it("keeps making progress when an outage outlasts every input's attempts: half-open fetches a trial", async () => {
    let down = true;
    const model = fakeModel(() => down);
    const { timers, consumer, producer, pipeline } = await setUp(
      { BREAKER_FAILURE_THRESHOLD: "1", BREAKER_RESET_TIMEOUT_MS: "1000", RETRY_MAX_ATTEMPTS: "2" },
      model,
    );
    await consumer.eachBatch(fetched(0, 0, [request("a"), request("b")]).payload);
    await timers.advance(10_000);
    expect(producer.records).to.deep.equal(["dlq k0 INFERENCE_FAILED", "dlq k1 INFERENCE_FAILED"]);
    expect(consumer.commits).to.deep.equal([["req/0@2"]]);
    await timers.advance(1_000);
    expect(consumer.fetching.at(-1)).to.equal("resume req", "with nothing left in memory, fetch a trial");
    expect([pipeline.health.live(), pipeline.health.ready()]).to.deep.equal([true, false]);
    down = false;
    await consumer.eachBatch(fetched(0, 2, [request("c")]).payload);
    await timers.advance(1_000);
    expect(producer.records.at(-1)).to.equal("res c");
    expect([pipeline.health.live(), pipeline.health.ready()]).to.deep.equal([true, true]);
  });

  it("checks the deadline again just before inference: one that passed while the breaker was open is dead-lettered", async () => {
    let down = true;
    const model = fakeModel(() => down);
    const { timers, consumer, producer } = await setUp(
      { BREAKER_FAILURE_THRESHOLD: "1", BREAKER_RESET_TIMEOUT_MS: "10000" },
      model,
    );
    timers.now = Date.now();
    const deadline = new Date(timers.now + 5_000).toISOString();
    const late = JSON.stringify({ id: "late", text: "good", deadline });
    await consumer.eachBatch(fetched(0, 0, [late, request("b")]).payload);
    await settle();
    down = false;
    await timers.advance(10_000);
    expect(model.runs).to.deep.equal([["good", "good"], ["good"], ["good"], ["good"]]);
    expect(producer.records).to.deep.equal(["dlq k0 DEADLINE_EXCEEDED", "res b"]);
  });

  it("takes one fetch as the half-open trial: the next fetch waits until the trial's inputs are answered", async () => {
    const model = fakeModel(() => true);
    const { timers, consumer, producer } = await setUp(
      { BREAKER_FAILURE_THRESHOLD: "1", BREAKER_RESET_TIMEOUT_MS: "1000", RETRY_MAX_ATTEMPTS: "1" },
      model,
    );
    await consumer.eachBatch(fetched(0, 0, [request("a")]).payload);
    await timers.advance(1_000);
    expect(consumer.fetching).to.deep.equal(["pause req", "resume req"]);
    producer.hold = true;
    let returned = false;
    const trial = consumer.eachBatch(fetched(0, 1, [request("b")]).payload).then(() => {
      returned = true;
    });
    await timers.advance(0);
    expect(consumer.fetching).to.deep.equal(["pause req", "resume req", "pause req"], "the trial failed");
    expect(returned).to.equal(false, "a closed breaker would have let the next fetch go at once");
    producer.release();
    await trial;
    expect(producer.records).to.deep.equal(["dlq k0 INFERENCE_FAILED", "dlq k1 INFERENCE_FAILED"]);
  });

  it("does not resume fetching when the breaker closes after a write failed for good", async () => {
    let down = false;
    const model = fakeModel(() => down);
    const { timers, consumer, producer, pipeline } = await setUp(
      { BREAKER_FAILURE_THRESHOLD: "1", BREAKER_RESET_TIMEOUT_MS: "1000" },
      model,
    );
    producer.hold = true;
    await consumer.eachBatch(fetched(0, 0, [request("a")]).payload);
    await settle();
    down = true;
    await consumer.eachBatch(fetched(1, 0, [request("b")]).payload);
    await settle();
    producer.failHeld(new Error("refused"));
    await settle();
    expect(pipeline.health.live()).to.equal(false);
    down = false;
    await timers.advance(1_000);
    expect(model.runs.at(-1)).to.deep.equal(["good"], "b's trial closed the breaker");
    expect(consumer.fetching.at(-1)).to.equal("pause req", "a worker that stopped must not refetch");
  });

  it("heartbeats while it waits for room, and returns once a write makes room", async () => {
    const { timers, consumer, producer, config } = await setUp();
    producer.hold = true;
    const values = Array.from({ length: 1025 }, (_, index) => request(`r${index}`));
    const { payload, seen } = fetched(0, 0, values);
    let returned = false;
    const handOff = consumer.eachBatch(payload).then(() => {
      returned = true;
    });
    const heartbeatIntervalMs = heartbeatIntervalMsOf(config.kafka);
    await timers.advance(2 * heartbeatIntervalMs);
    expect([seen.heartbeats, returned]).to.deep.equal([3, false]);
    producer.release();
    await handOff;
    expect(seen.heartbeats).to.equal(4);
  });

  it("holds the next fetch while the bytes in flight leave no room for a whole fetch within the budget", async () => {
    const budget = { inFlightBytes: 10_000, maxBytes: 4_000, maxBytesPerPartition: 4_000 };
    const { timers, consumer, producer } = await setUp({}, fakeModel(), budget);
    producer.hold = true;
    const big = (id: string) => JSON.stringify({ id, text: "good", metadata: { pad: "x".repeat(3_000) } });
    await consumer.eachBatch(fetched(0, 0, [big("a")]).payload);
    let returned = false;
    const held = consumer.eachBatch(fetched(1, 0, [big("b"), big("c")]).payload).then(() => {
      returned = true;
    });
    await timers.advance(1_000);
    expect(returned).to.equal(false, "about 9,000 bytes held: another fetch of 4,000 would pass 10,000");
    producer.release();
    await held;
    expect(producer.records).to.have.length(3);
  });

  it("stops fetching and fails liveness when a write fails for good; nothing after it is taken or committed", async () => {
    const { timers, consumer, producer, pipeline } = await setUp();
    producer.failure = new Error("refused");
    await consumer.eachBatch(fetched(0, 0, [request("a")]).payload);
    await timers.advance(1_000);
    expect(consumer.fetching).to.deep.equal(["pause req"]);
    expect(pipeline.health.live()).to.equal(false);
    const later = fetched(0, 1, [request("b")]);
    await consumer.eachBatch(later.payload);
    await timers.advance(1_000);
    expect(later.seen.resolved).to.deep.equal([]);
    expect(producer.records).to.deep.equal(["res a"]);
    expect(consumer.commits).to.deep.equal([]);
  });

  it("drains: leaves readiness, stops fetching, lets the batch in flight finish and commits it at once", async () => {
    const { timers, consumer, producer, pipeline } = await setUp();
    producer.hold = true;
    await consumer.eachBatch(fetched(0, 0, [request("a")]).payload);
    await settle();
    let drained = false;
    const draining = pipeline.drain().then(() => {
      drained = true;
    });
    expect(pipeline.health.ready()).to.equal(false);
    expect(consumer.fetching).to.deep.equal(["pause req"]);
    await settle();
    expect(drained).to.equal(false);
    producer.release();
    await draining;
    expect(consumer.commits).to.deep.equal([["req/0@1"]]);
    expect(timers.pending).to.deep.equal([], "the drain commits without waiting for the timer");
  });

  it("writes nothing for a batch whose partition was revoked while it was classified", async () => {
    const { timers, consumer, producer } = await setUp();
    await consumer.eachBatch(fetched(0, 0, [request("a")]).payload);
    consumer.joined({ req: [1] });
    await timers.advance(1_000);
    expect(producer.records).to.deep.equal([]);
    expect(consumer.commits).to.deep.equal([]);
  });

  it("commits a large batch a model batch at a time: what a drain stops in the middle of is committed up to there", async () => {
    const model = gatedModel();
    const { consumer, producer, pipeline } = await setUp({ BATCH_MAX_SIZE: "1" }, model);
    const texts = ["t-a", "t-b", "t-c", "t-d", "t-e"];
    await consumer.eachBatch(
      fetched(
        0,
        0,
        texts.map((text, i) => request(`r${i}`, text)),
      ).payload,
    );
    await settle();
    const draining = pipeline.drain();
    model.open();
    await draining;
    expect(model.runs.flat()).to.deep.equal(["t-a", "t-b"], "chunks not started when the drain began");
    expect(producer.records).to.deep.equal(["res r0", "res r1"]);
    expect(consumer.commits).to.deep.equal([["req/0@2"]]);
  });

  it("told by a heartbeat that the group rebalances: starts no further chunk, writes and commits the started ones, then lets kafkajs rejoin", async () => {
    const model = gatedModel();
    const { consumer, producer } = await setUp({ BATCH_MAX_SIZE: "1" }, model);
    const texts = ["t-a", "t-b", "t-c", "t-d"];
    const { payload } = fetched(
      0,
      0,
      texts.map((text, i) => request(`r${i}`, text)),
    );
    let heartbeats = 0;
    const handOff = consumer.eachBatch({
      ...payload,
      heartbeat: async () => {
        heartbeats += 1;
        throw rebalanceInProgress();
      },
    });
    let rejoined = false;
    const rejoin = handOff.catch((error: Error & { type?: string }) => {
      rejoined = error.type === "REBALANCE_IN_PROGRESS";
    });
    await settle();
    expect([heartbeats, rejoined]).to.deep.equal([1, false], "kafkajs waits for the started chunks");
    model.open();
    await rejoin;
    expect(rejoined).to.equal(true);
    expect(model.runs.flat()).to.deep.equal(["t-a"], "the chunk started before the heartbeat");
    expect(producer.records).to.deep.equal(["res r0"]);
    expect(consumer.commits).to.deep.equal([["req/0@1"]], "committed before the rejoin, without the timer");
  });

  it("told by a heartbeat that the group rebalances while the model is stuck: rejoins after the grace, commits what was answered, writes nothing of the stuck chunk", async () => {
    const { timers, consumer, producer, stuck } = await answeredOneThenStuck();
    const { payload } = fetched(1, 0, [request("s0", "t-b"), request("s1", "t-c")]);
    let rejoined = false;
    const handOff = consumer
      .eachBatch({
        ...payload,
        heartbeat: async () => {
          throw rebalanceInProgress();
        },
      })
      .catch((error: Error & { type?: string }) => {
        rejoined = error.type === "REBALANCE_IN_PROGRESS";
      });
    await timers.advance(rejoinGraceMs - 1);
    expect(rejoined).to.equal(false, "the started chunks get their grace");
    await timers.advance(1);
    expect(rejoined).to.equal(true, "kafkajs rejoins though the model has not answered");
    expect(consumer.commits).to.deep.equal([["req/0@1"]], "what was answered is committed before the rejoin");
    stuck.open();
    await timers.advance(1_000);
    expect(stuck.runs.flat()).to.deep.equal(["t-b"], "the chunk started before the heartbeat");
    expect(producer.records).to.deep.equal(["res r0"], "the stuck chunk's partition is for its next owner");
    expect(consumer.commits).to.deep.equal([["req/0@1"]]);
    await handOff;
  });

  it("told by a heartbeat that it was dropped from the group: rejoins at once, without waiting or committing", async () => {
    const { timers, consumer, producer, stuck } = await answeredOneThenStuck();
    const { payload } = fetched(1, 0, [request("s0", "t-b")]);
    let rejoined = false;
    const handOff = consumer
      .eachBatch({
        ...payload,
        heartbeat: async () => {
          throw Object.assign(new Error("The provided generation id is not the current generation"), {
            type: "ILLEGAL_GENERATION",
          });
        },
      })
      .catch((error: Error & { type?: string }) => {
        rejoined = error.type === "ILLEGAL_GENERATION";
      });
    await settle();
    expect(rejoined).to.equal(true, "a commit would be refused: nothing is worth waiting for");
    stuck.open();
    await timers.advance(1_000);
    expect(producer.records).to.deep.equal(["res r0"]);
    expect(consumer.commits).to.deep.equal([], "the dropped member commits nothing");
    await handOff;
  });

  it("told of a rebalance by kafkajs's event: commits what is acknowledged at once, then writes nothing of the batches in flight", async () => {
    const { timers, consumer, producer, stuck: closed } = await answeredOneThenStuck();
    expect([producer.records, consumer.commits]).to.deep.equal(
      [["res r0"], []],
      "the commit waits its timer",
    );
    const texts = ["t-b", "t-c", "t-d", "t-e"];
    await consumer.eachBatch(
      fetched(
        1,
        0,
        texts.map((text, i) => request(`s${i}`, text)),
      ).payload,
    );
    await settle();
    consumer.rebalancing();
    expect(consumer.commits).to.deep.equal([["req/0@1"]]);
    closed.open();
    await timers.advance(1_000);
    expect(closed.runs.flat()).to.deep.equal(["t-b", "t-c"]);
    expect(producer.records).to.deep.equal(["res r0"], "the rejoined group answers partition 1 again");
    expect(consumer.commits).to.deep.equal([["req/0@1"]]);

    consumer.joined({ req: [1] });
    await consumer.eachBatch(fetched(1, 0, [request("s0", "t-b")]).payload);
    await timers.advance(1_000);
    expect(producer.records).to.deep.equal(["res r0", "res s0"]);
    expect(consumer.commits).to.deep.equal([["req/0@1"], ["req/1@1"]]);
  });

  it("answers the health probes from the consumer's group membership and crashes", async () => {
    const { consumer, pipeline } = await setUp();
    expect([pipeline.health.live(), pipeline.health.ready()]).to.deep.equal([true, true]);
    consumer.crashed(true);
    expect([pipeline.health.live(), pipeline.health.ready()]).to.deep.equal([true, false]);
    consumer.joined({ req: [0] });
    expect(pipeline.health.ready()).to.equal(true);
    consumer.crashed(false);
    expect([pipeline.health.live(), pipeline.health.ready()]).to.deep.equal([false, false]);
  });
});
