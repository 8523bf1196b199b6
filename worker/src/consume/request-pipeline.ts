// The worker's consume loop. kafkajs hands each fetched batch to #handOff, which tracks its offsets and returns
// (so the next fetch overlaps this one's work); the batch's messages are routed to responses and dead letters,
// written, and their offsets committed only once Kafka has acknowledged every record (at-least-once). This class
// only connects the pieces, each a module of its own:
//   back-pressure.ts       how far fetching runs ahead, heartbeating while it waits for room
//   memory-budget.ts       how many bytes of fetched records may be held, and how much one fetch may bring
//   breaker-pause.ts       fetching pauses while the circuit breaker is open, and fetches a trial when half-open
//   ../offsets/            which offsets may be committed, and when
//   ../routing/            one message → a response or a dead letter, through batched, retried inference
//   ../output/             coalesced writes to Kafka, independent per destination leader
//   ../health/             liveness and readiness, from the facts reported here
import type { Batch, Consumer, EachBatchPayload, IHeaders } from "kafkajs";
import type winston from "winston";
import { parseRedriveHeaders, type RedriveOrigin } from "../../../common/src/redrive-headers.ts";
import { heartbeatIntervalMs, type WorkerConfig } from "../config.ts";
import { WorkerHealth } from "../health/worker-health.ts";
import type { WorkerMetrics } from "../metrics.ts";
import type { Classifier } from "../model/classifier.ts";
import { CommitScheduler } from "../offsets/commit-scheduler.ts";
import { CommitTracker, type Ticket } from "../offsets/commit-tracker.ts";
import { type ResultProducer, type ResultWriter, resultWriter } from "../output/write-results.ts";
import { CircuitBreaker } from "../resilience/circuit-breaker.ts";
import { batchedInference } from "../routing/batched-inference.ts";
import { type RouteDependencies, type Routed, routeMessage } from "../routing/route-message.ts";
import { realTimers, type Timers } from "../timers.ts";
import { BackPressure, fetchAheadLimit } from "./back-pressure.ts";
import { pauseWhileBreakerOpen } from "./breaker-pause.ts";
import { type FetchBudget, fetchBudget, readMemoryLimits, recordBytes } from "./memory-budget.ts";

/** What the pipeline uses of a kafkajs consumer. */
export type RequestConsumer = Pick<
  Consumer,
  "on" | "events" | "subscribe" | "run" | "pause" | "resume" | "commitOffsets"
>;

export interface RequestPipelineDependencies {
  config: WorkerConfig;
  consumer: RequestConsumer;
  producer: ResultProducer;
  classifier: Pick<Classifier, "name" | "version" | "classify">;
  metrics: WorkerMetrics;
  logger: winston.Logger;
  /** The real clock and timers unless a test drives them. */
  timers?: Timers;
  /** Bytes held and fetched; derived from the config and this process's memory limits unless given. */
  budget?: FetchBudget;
}

/** What #handOff uses of kafkajs's eachBatch payload. */
type FetchedBatch = Pick<EachBatchPayload, "resolveOffset" | "heartbeat" | "isRunning" | "isStale"> & {
  batch: Pick<Batch, "topic" | "partition" | "messages" | "isEmpty" | "offsetLag" | "lastOffset">;
};

export class RequestPipeline {
  /** The one source of the worker's liveness and readiness. */
  readonly health: WorkerHealth;
  readonly #deps: RequestPipelineDependencies;
  /** The requests topic, as pause and resume take it. */
  readonly #requests: { topic: string }[];
  readonly #tracker = new CommitTracker();
  readonly #commits: CommitScheduler;
  readonly #backPressure: BackPressure;
  readonly #routing: RouteDependencies;
  readonly #writer: ResultWriter;
  /** Handed-off batches still being classified and written. */
  readonly #inFlight = new Set<Promise<void>>();
  /** What was written instead of each record Kafka refused for good, until its batch is counted. */
  readonly #replacements = new WeakMap<Routed, Routed>();
  /** Bytes of the records of #inFlight. */
  #inFlightBytes = 0;

  constructor(deps: RequestPipelineDependencies) {
    this.#deps = deps;
    const { config, consumer, producer, classifier, metrics, logger } = deps;
    const timers = deps.timers ?? realTimers;
    this.#requests = [{ topic: config.topics.requests }];
    const breaker = new CircuitBreaker(config.circuitBreaker, timers);
    breaker.onChange(() => this.#backPressure.wake());
    this.health = new WorkerHealth(breaker);
    pauseWhileBreakerOpen(breaker, {
      // Called from the breaker's timer too, where a throw would end the process: a consumer that is not
      // running has nothing to pause or resume.
      pause: () => this.#stopFetching(),
      resume: () => {
        try {
          consumer.resume(this.#requests);
        } catch {}
      },
      mayResume: () => this.#consuming(),
      recordBreaker: (state) => metrics.recordBreaker(state),
      logger,
    });
    this.#routing = {
      config,
      model: classifier,
      classify: batchedInference({
        config,
        classifier,
        breaker,
        metrics,
        sleep: timers.sleep,
        clock: timers.clock,
      }),
      logger,
    };
    this.#writer = resultWriter(producer, (refused, replacement) =>
      this.#replacements.set(refused, replacement),
    );
    this.#commits = new CommitScheduler({
      tracker: this.#tracker,
      commitOffsets: (offsets) => consumer.commitOffsets(offsets),
      logger,
      schedule: timers.schedule,
    });
    const limit = fetchAheadLimit(config.batch.maxSize, config.model.threads);
    const budget =
      deps.budget ?? fetchBudget(config.maxInFlightBytes, config.limits.maxMessageBytes, readMemoryLimits());
    // The next fetch waits while it could take the bytes held past the budget. Unless the breaker is closed, one
    // fetch is the trial: the next waits until it is answered.
    const bytesBeforeFetch = budget.inFlightBytes - budget.maxBytes;
    this.#backPressure = new BackPressure(
      () =>
        (this.#tracker.unacknowledged > (breaker.state === "closed" ? limit : 0) ||
          this.#inFlightBytes > bytesBeforeFetch) &&
        this.#consuming(),
      heartbeatIntervalMs(config.kafka),
      timers.schedule,
    );
  }

  /** Joins the consumer group and processes until the consumer is stopped. */
  async start(): Promise<void> {
    const { consumer, config, logger } = this.#deps;
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      const assignment = payload.memberAssignment;
      this.health.joinedGroup();
      logger.info("joined consumer group", { memberId: payload.memberId, assignment });
      this.#tracker.retain((topic, partition) => assignment[topic]?.includes(partition) === true);
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      this.health.consumerCrashed(payload.restart);
      logger.log(payload.restart ? "warn" : "error", "consumer crashed", {
        error: payload.error.message,
        restart: payload.restart,
      });
    });
    await consumer.subscribe({ topic: config.topics.requests, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      // Every assigned partition feeds the shared batcher at once; the model batch fills across partitions.
      partitionsConsumedConcurrently: 64,
      eachBatch: (payload) => this.#handOff(payload),
    });
  }

  /**
   * Leaves readiness, stops taking new batches, waits for those handed off to write their results, and commits
   * them while this member still owns their partitions; the caller disconnects afterwards.
   */
  async drain(): Promise<void> {
    this.health.beginStopping();
    this.#stopFetching();
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
    await this.#commits.flush();
  }

  #consuming(): boolean {
    return !this.health.stopping && this.health.failure === undefined;
  }

  async #handOff({ batch, resolveOffset, heartbeat, isRunning, isStale }: FetchedBatch): Promise<void> {
    // A batch fetched before the pause is left uncommitted for the next owner of its partition.
    if (!this.#consuming() || batch.isEmpty() || !isRunning() || isStale()) return;
    this.#deps.metrics.consumerLag.set(
      { topic: batch.topic, partition: String(batch.partition) },
      Number(batch.offsetLag()),
    );
    const ticket = this.#tracker.track(
      batch.topic,
      batch.partition,
      batch.lastOffset(),
      batch.messages.length,
    );
    // With autoCommit off a resolved offset only moves kafkajs's next fetch: the commits are #commits'.
    resolveOffset(batch.lastOffset());
    const bytes = batch.messages.reduce((sum, message) => sum + recordBytes(message), 0);
    this.#inFlightBytes += bytes;
    const answered: Promise<void> = this.#answer(batch, ticket)
      .then(
        () => {
          this.#tracker.acknowledge(ticket);
          this.#commits.soon();
        },
        (error: Error) => {
          this.#tracker.abandon(ticket);
          this.#fail(error);
        },
      )
      .finally(() => {
        this.#inFlight.delete(answered);
        this.#inFlightBytes -= bytes;
        this.#backPressure.wake();
      });
    this.#inFlight.add(answered);
    await this.#backPressure.waitForRoom(heartbeat);
  }

  /** Routes every message of the batch and writes the results; resolves once Kafka acknowledged them all. */
  async #answer(batch: FetchedBatch["batch"], ticket: Ticket): Promise<void> {
    const { metrics } = this.#deps;
    const fetched = { at: performance.now(), wallMs: Date.now() };
    const routed = await Promise.all(
      batch.messages.map((message) =>
        routeMessage(
          {
            topic: batch.topic,
            partition: batch.partition,
            offset: message.offset,
            timestamp: message.timestamp,
            key: message.key,
            value: message.value,
            ...redriveOf(message.headers),
          },
          fetched,
          this.#routing,
        ),
      ),
    );
    // The partition moved to another member meanwhile, which answers these again: writing them would only
    // add duplicates.
    if (!this.#tracker.owns(ticket)) return;
    await this.#writer.submit(routed);
    const acknowledgedAt = Date.now();
    for (const [index, message] of batch.messages.entries()) {
      metrics.recordAnswered(
        this.#written(routed[index] as Routed).deadLetter,
        acknowledgedAt - Number(message.timestamp),
      );
    }
  }

  /** The record written for `routed`: itself, or the stand-in of its stand-in… when Kafka refused them. */
  #written(routed: Routed): Routed {
    const replacement = this.#replacements.get(routed);
    return replacement === undefined ? routed : this.#written(replacement);
  }

  /**
   * The idempotent producer retries what can be retried for ever, and a record Kafka refuses for good is
   * replaced by its dead letter, so a write that still fails is no single message's doing (authorization lost,
   * a dead-letter topic that refuses even a minimal dead letter) and cannot succeed by waiting. Fetching stops
   * and the liveness probe fails; nothing past the failed batch is committed, so the restarted worker (or
   * another member) answers it. Routing never rejects: whatever fails on one message is that message's dead
   * letter.
   */
  #fail(error: Error): void {
    if (this.health.failure !== undefined) return;
    this.health.writesFailed(error);
    this.#deps.logger.error("writing results failed; the worker stops consuming and must be restarted", {
      error: error.message,
    });
    this.#stopFetching();
  }

  /** Pauses the requests topic and releases any eachBatch waiting for room, which then returns at once. */
  #stopFetching(): void {
    try {
      this.#deps.consumer.pause(this.#requests);
    } catch {
      // The consumer crashed for good or never ran: there is nothing to stop fetching.
    }
    this.#backPressure.wake();
  }
}

/** The redrive a request's headers name, as the optional field of its SourceRecord. */
function redriveOf(headers: IHeaders | undefined): { redrive?: RedriveOrigin } {
  const redrive = parseRedriveHeaders(headers);
  return redrive === undefined ? {} : { redrive };
}
