// The worker's consume loop. kafkajs hands each fetched batch to #handOff, which tracks its offsets and returns
// (so the next fetch overlaps this one's work); the batch's messages are routed to responses and dead letters a
// chunk at a time, written, and each chunk's offsets committed only once Kafka has acknowledged every record of it
// and of the chunks before it (at-least-once). A chunk not yet started when the member stops or rejoins its group
// is never started: its partition's next owner answers it. This class only connects the pieces, each a module of
// its own:
//   back-pressure.ts       how far fetching runs ahead, heartbeating while it waits for room
//   memory-budget.ts       how many bytes of fetched records may be held, and how much one fetch may bring
//   group-rejoin.ts        which errors mean the member is about to rejoin (and so give up its partitions)
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
import { mayCommitBeforeRejoin, meansRejoin } from "./group-rejoin.ts";
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

/** Consecutive messages of one fetched batch, answered and committed together. */
interface Chunk {
  messages: FetchedBatch["batch"]["messages"];
  ticket: Ticket;
}

/**
 * Chunks of one batch being routed at once: the next is queued for the model while the one before is classified,
 * so the model never waits on one partition's routing; yet what is not started when the member gives up its
 * partitions is never classified.
 */
const chunksRoutedAtOnce = 2;

/**
 * How long a member told to rejoin waits for the chunks it had started before it rejoins all the same. The whole
 * group stops meanwhile, and a member that outwaits the rebalance timeout (the session timeout, 6 s at least) is
 * dropped from the group, its commits refused and its answers given again by others. A started chunk is a model
 * batch or two a partition and normally finishes well within this; one that does not (a slow or stuck model)
 * writes nothing, and its partition's next owner answers it.
 */
export const rejoinGraceMs = 1_000;

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
  /** Between learning that the group rebalances and joining it again: every partition is being given up. */
  #rejoining = false;
  /** This rebalance's wait for the started chunks, shared by every batch told of it by a heartbeat. */
  #beforeRejoin: Promise<void> | undefined;
  readonly #timers: Timers;

  constructor(deps: RequestPipelineDependencies) {
    this.#deps = deps;
    const { config, consumer, producer, classifier, metrics, logger } = deps;
    const timers = deps.timers ?? realTimers;
    this.#timers = timers;
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
        this.#consuming() &&
        !this.#rejoining,
      heartbeatIntervalMs(config.kafka),
      timers.schedule,
    );
  }

  /** Joins the consumer group and processes until the consumer is stopped. */
  async start(): Promise<void> {
    const { consumer, config, logger } = this.#deps;
    consumer.on(consumer.events.REBALANCING, () => this.#giveUpPartitions());
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      const assignment = payload.memberAssignment;
      this.#rejoining = false;
      this.#beforeRejoin = undefined;
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
    await this.#allInFlightSettled();
    await this.#commits.flush();
  }

  #consuming(): boolean {
    return !this.health.stopping && this.health.failure === undefined;
  }

  async #handOff({ batch, resolveOffset, heartbeat, isRunning, isStale }: FetchedBatch): Promise<void> {
    // A batch fetched before the pause is left uncommitted for the next owner of its partition.
    if (!this.#consuming() || this.#rejoining || batch.isEmpty() || !isRunning() || isStale()) return;
    this.#deps.metrics.consumerLag.set(
      { topic: batch.topic, partition: String(batch.partition) },
      Number(batch.offsetLag()),
    );
    const chunks = this.#chunksOf(batch);
    // With autoCommit off a resolved offset only moves kafkajs's next fetch: the commits are #commits'.
    resolveOffset(batch.lastOffset());
    const bytes = batch.messages.reduce((sum, message) => sum + recordBytes(message), 0);
    this.#inFlightBytes += bytes;
    const answered: Promise<void> = this.#answerInChunks(batch, chunks).finally(() => {
      this.#inFlight.delete(answered);
      this.#inFlightBytes -= bytes;
      this.#backPressure.wake();
    });
    this.#inFlight.add(answered);
    await this.#backPressure.waitForRoom(() => this.#heartbeat(heartbeat));
  }

  /**
   * The batch in chunks of a model batch each, tracked in order. One fetch brings up to a megabyte a partition
   * (thousands of requests): committed whole, a rebalance or a stop in the middle would have its next owner
   * answer all of it again.
   */
  #chunksOf(batch: FetchedBatch["batch"]): Chunk[] {
    const size = this.#deps.config.batch.maxSize;
    const chunks: Chunk[] = [];
    for (let start = 0; start < batch.messages.length; start += size) {
      const messages = batch.messages.slice(start, start + size);
      const end = start + size >= batch.messages.length;
      // The last chunk ends where the batch does, past any control records kafkajs filtered out.
      const lastOffset = end ? batch.lastOffset() : (messages.at(-1)?.offset as string);
      const ticket = this.#tracker.track(batch.topic, batch.partition, lastOffset, messages.length);
      chunks.push({ messages, ticket });
    }
    return chunks;
  }

  /**
   * Answers the chunks in order, chunksRoutedAtOnce at a time, each acknowledged once Kafka has its records. A
   * chunk is started only while this member consumes and still owns its partition; the rest are abandoned
   * unanswered, so nothing after them is committed and the partition's next owner answers them.
   */
  async #answerInChunks(batch: FetchedBatch["batch"], chunks: Chunk[]): Promise<void> {
    const routings: Promise<unknown>[] = [];
    const answers: Promise<void>[] = [];
    for (const [index, { messages, ticket }] of chunks.entries()) {
      await routings[index - chunksRoutedAtOnce];
      if (!this.#consuming() || this.#rejoining || !this.#tracker.owns(ticket)) {
        for (const rest of chunks.slice(index)) this.#tracker.abandon(rest.ticket);
        break;
      }
      const routing = this.#route(batch, messages);
      routings.push(routing);
      answers.push(
        routing
          .then((routed) => this.#write(messages, routed, ticket))
          .then(
            () => {
              this.#tracker.acknowledge(ticket);
              this.#commits.soon();
            },
            (error: Error) => {
              this.#tracker.abandon(ticket);
              this.#fail(error);
            },
          ),
      );
    }
    await Promise.all(answers);
  }

  /**
   * kafkajs's heartbeat, which is how a member learns that its group rebalances. kafkajs rejoins once this batch's
   * eachBatch returns: while this member's generation still may commit, what is being answered is finished and
   * committed first, but for rejoinGraceMs at most, since the whole group waits for this member meanwhile.
   */
  async #heartbeat(heartbeat: () => Promise<void>): Promise<void> {
    try {
      await heartbeat();
    } catch (error) {
      if (mayCommitBeforeRejoin(error)) {
        this.#beforeRejoin ??= this.#finishStartedChunks();
        await this.#beforeRejoin;
      } else if (meansRejoin(error)) {
        this.#forgetPartitions();
      }
      throw error;
    }
  }

  /**
   * Waits rejoinGraceMs at most for the chunks in flight and the commit of what they answered (one commit in
   * flight is waited for, not raced), then gives up every partition: a chunk still unfinished writes nothing.
   */
  async #finishStartedChunks(): Promise<void> {
    this.#rejoining = true;
    this.#backPressure.wake();
    const startedAt = this.#timers.clock();
    let cancelGrace = () => {};
    const graceOver = new Promise<void>((resolve) => {
      cancelGrace = this.#timers.schedule(resolve, rejoinGraceMs);
    });
    const committed = this.#allInFlightSettled()
      .then(() => this.#commits.flush())
      .then(() => cancelGrace());
    await Promise.race([committed, graceOver]);
    const unfinished = this.#inFlight.size;
    // Unless kafkajs, told of the rebalance elsewhere, has rejoined meanwhile: the partitions held then are the new
    // generation's.
    if (!this.#rejoining) return;
    this.#giveUpPartitions();
    this.#deps.logger.info("rejoining the consumer group", {
      waitedMs: this.#timers.clock() - startedAt,
      batchesUnfinished: unfinished,
    });
  }

  async #allInFlightSettled(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  /**
   * The member rejoins its group, giving up every partition (kafkajs's protocol is eager): no further chunk is
   * started, what is acknowledged is committed now (racing the rejoin when kafkajs learnt of it elsewhere than in
   * #heartbeat), and the partitions are forgotten, so a chunk still in flight writes and commits nothing; the
   * partitions' next owners, this member among them, fetch from the committed offsets.
   */
  #giveUpPartitions(): void {
    void this.#commits.flush();
    this.#forgetPartitions();
  }

  /** No further chunk is started, and nothing of the partitions held is written or committed any more. */
  #forgetPartitions(): void {
    this.#rejoining = true;
    this.#backPressure.wake();
    this.#tracker.retain(() => false);
  }

  /** Routes each message of a chunk to its response or dead letter. */
  #route(batch: FetchedBatch["batch"], messages: Chunk["messages"]): Promise<Routed[]> {
    const fetched = { at: performance.now(), wallMs: Date.now() };
    return Promise.all(
      messages.map((message) =>
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
  }

  /** Writes a chunk's results; resolves once Kafka acknowledged them all. */
  async #write(messages: Chunk["messages"], routed: Routed[], ticket: Ticket): Promise<void> {
    // The partition moved to another member meanwhile, which answers these again: writing them would only
    // add duplicates.
    if (!this.#tracker.owns(ticket)) return;
    await this.#writer.submit(routed);
    const { metrics } = this.#deps;
    const acknowledgedAt = Date.now();
    for (const [index, message] of messages.entries()) {
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
