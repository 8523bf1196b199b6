// The worker's data plane: fetch request batches from Kafka, validate, batch across partitions, classify with
// retry and a circuit breaker, write responses and dead letters, and only then commit the offsets.
import { setTimeout as sleep } from "node:timers/promises";
import {
  type Batch,
  CompressionTypes,
  type Consumer,
  type EachBatchPayload,
  type KafkaMessage,
  type Producer,
} from "kafkajs";
import type winston from "winston";
import { Batcher } from "./batching/batcher.ts";
import { heartbeatIntervalMs, type WorkerConfig } from "./config.ts";
import {
  buildDeadLetter,
  buildResponse,
  type Failure,
  type OutgoingRecord,
  type SourceRecord,
} from "./contract/records.ts";
import { decodeRequest, isExpired, type SentimentRequest } from "./contract/request.ts";
import type { WorkerMetrics } from "./metrics.ts";
import type { Classifier } from "./model/classifier.ts";
import type { Prediction } from "./model/preprocess.ts";
import { CommitTracker, type Ticket } from "./offsets/commit-tracker.ts";
import { CoalescingWriter } from "./output/coalescing-writer.ts";
import { produceRequests } from "./output/produce-requests.ts";
import { CircuitBreaker } from "./resilience/circuit-breaker.ts";
import { type RunOutcome, runWithRetry } from "./resilience/retry.ts";

/** Values per produce request: well under the broker's default 1 MiB message.max.bytes, even uncompressed. */
const maxProduceRequestBytes = 512 * 1024;

/**
 * Each commit is a write to Kafka's offsets topic on the broker that also serves the requests. Committing every
 * acknowledgement at once cost more broker time than the responses did; a crash repeats at most this much
 * work, and a graceful stop commits everything first.
 */
const commitIntervalMs = 100;

/** Handed-off messages above which eachBatch holds kafkajs's next fetch back (raised for large batches). */
const minUnacknowledged = 1024;

interface Queued {
  request: SentimentRequest;
  fetchedAt: number;
}

interface Classified {
  outcome: RunOutcome<Prediction>;
  batchWaitMs: number;
  inferenceMs: number;
  batchSize: number;
}

/** Where one message's result goes: a response or a dead letter, already serialized. */
interface Routed {
  topic: string;
  record: OutgoingRecord;
  deadLetter?: Failure["code"];
}

export interface PipelineDependencies {
  config: WorkerConfig;
  consumer: Consumer;
  producer: Pick<Producer, "sendBatch">;
  classifier: Pick<Classifier, "name" | "version" | "classify">;
  metrics: WorkerMetrics;
  logger: winston.Logger;
}

export class Pipeline {
  readonly breaker: CircuitBreaker;
  readonly #deps: PipelineDependencies;
  readonly #batcher: Batcher<Queued, Classified>;
  readonly #tracker = new CommitTracker();
  readonly #writer: CoalescingWriter<Routed>;
  /** Handed-off batches still being classified and written. */
  readonly #inFlight = new Set<Promise<void>>();
  readonly #roomWaiters = new Set<() => void>();
  readonly #maxUnacknowledged: number;
  #commitTimer: NodeJS.Timeout | undefined;
  #committing: Promise<void> | undefined;
  #commitAgain = false;
  #draining = false;
  #failure: Error | undefined;

  constructor(deps: PipelineDependencies) {
    this.#deps = deps;
    const { config, metrics, logger, consumer } = deps;
    this.breaker = new CircuitBreaker(config.circuitBreaker);
    this.breaker.onChange((from, to) => {
      metrics.recordBreaker(to);
      logger.warn("circuit breaker changed state", { from, to });
      // An open breaker stops fetching so requests wait in Kafka, not in memory or the dead letter.
      if (to === "open") consumer.pause([{ topic: config.topics.requests }]);
      if (to === "closed" && !this.#draining) consumer.resume([{ topic: config.topics.requests }]);
    });
    this.#batcher = new Batcher(
      // One in flight more than the model threads: while each runs a batch, the next is already handed over,
      // so no thread idles waiting for this one to form it.
      {
        maxSize: config.batch.maxSize,
        maxWaitMs: config.batch.maxWaitMs,
        parallel: config.model.threads,
        maxInFlight: config.model.threads + 1,
      },
      (items) => this.#classify(items),
    );
    this.#writer = new CoalescingWriter(async (routed) => {
      for (const topicMessages of produceRequests(routed, maxProduceRequestBytes)) {
        await deps.producer.sendBatch({ acks: -1, compression: CompressionTypes.LZ4, topicMessages });
      }
    });
    // Enough handed-off work to keep the model busy while the next fetch is on its way, and no more in memory.
    this.#maxUnacknowledged = Math.max(minUnacknowledged, 4 * config.batch.maxSize * config.model.threads);
  }

  /** Why the pipeline stopped for good, if it did: its process should be restarted. */
  get failure(): Error | undefined {
    return this.#failure;
  }

  /** Joins the consumer group and processes until the consumer is stopped. */
  async start(): Promise<void> {
    const { consumer, config } = this.#deps;
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      const assignment = payload.memberAssignment;
      this.#tracker.retain((topic, partition) => assignment[topic]?.includes(partition) === true);
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
   * Stops taking new batches, waits for those handed off to write their results, and commits them while
   * this member still owns their partitions; the caller disconnects afterwards.
   */
  async drain(): Promise<void> {
    this.#draining = true;
    this.#stopFetching();
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
    clearTimeout(this.#commitTimer);
    this.#commitTimer = undefined;
    await this.#commit();
  }

  /**
   * kafkajs fetches a partition again only when every batch of the last fetch has returned from eachBatch.
   * Returning once the batch is handed off lets the next fetch overlap its classification and writes, so a
   * request that arrives meanwhile waits for one fetch, not for a whole fetch-classify-write-commit cycle.
   */
  async #handOff({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    // A batch fetched before the pause is left uncommitted for the next owner of its partition.
    if (this.#draining || this.#failure !== undefined || batch.isEmpty() || !isRunning() || isStale()) return;
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
    // With autoCommit off a resolved offset only moves kafkajs's next fetch: the commits are #commit's.
    resolveOffset(batch.lastOffset());
    const written: Promise<void> = this.#write(batch, ticket)
      .then(
        () => {
          this.#tracker.acknowledge(ticket);
          this.#commitSoon();
        },
        (error: Error) => {
          this.#tracker.abandon(ticket);
          this.#fail(error);
        },
      )
      .finally(() => {
        this.#inFlight.delete(written);
        this.#wakeRoomWaiters();
      });
    this.#inFlight.add(written);
    await heartbeat();
    // kafkajs heartbeats only between batches, so the wait for room heartbeats itself: the member stays in
    // the group however long its model takes, and a rebalance (heartbeat throws) is joined at once instead
    // of after the work in memory is done.
    while (
      this.#tracker.unacknowledged > this.#maxUnacknowledged &&
      !this.#draining &&
      this.#failure === undefined
    ) {
      await this.#roomOrTimeout(heartbeatIntervalMs(this.#deps.config.kafka));
      await heartbeat();
    }
  }

  /** Resolves when a handed-off batch finishes, or after timeoutMs. */
  #roomOrTimeout(timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.#roomWaiters.delete(wake);
        resolve();
      }, timeoutMs);
      this.#roomWaiters.add(wake);
    });
  }

  async #write(batch: Batch, ticket: Ticket): Promise<void> {
    const { metrics } = this.#deps;
    const fetched = { at: performance.now(), wallMs: Date.now() };
    const routed = await Promise.all(
      batch.messages.map((message) => this.#route(batch.topic, batch.partition, message, fetched)),
    );
    // The partition moved to another member meanwhile, which answers these again: writing them would only
    // add duplicates.
    if (!this.#tracker.owns(ticket)) return;
    await this.#writer.submit(routed);
    const acknowledgedAt = Date.now();
    for (const [index, message] of batch.messages.entries()) {
      const outcome = routed[index] as Routed;
      if (outcome.deadLetter === undefined) metrics.processed.inc({ outcome: "classified" });
      else metrics.recordDeadLetter(outcome.deadLetter);
      metrics.endToEndLatency.observe(Math.max(0, acknowledgedAt - Number(message.timestamp)) / 1000);
    }
  }

  /** Acknowledgements of the next commitIntervalMs share one commit request. */
  #commitSoon(): void {
    this.#commitTimer ??= setTimeout(() => {
      this.#commitTimer = undefined;
      void this.#commit();
    }, commitIntervalMs);
  }

  /**
   * Commits every acknowledged prefix not yet committed, one commit request at a time: acknowledgements that
   * arrive while one is in flight go out together in the next. Resolves when nothing due is left.
   */
  #commit(): Promise<void> {
    this.#commitAgain = true;
    this.#committing ??= this.#commitWhileDue().finally(() => {
      this.#committing = undefined;
    });
    return this.#committing;
  }

  async #commitWhileDue(): Promise<void> {
    while (this.#commitAgain) {
      this.#commitAgain = false;
      const offsets = this.#tracker.due();
      if (offsets.length === 0) continue;
      try {
        await this.#deps.consumer.commitOffsets(offsets);
        this.#tracker.committed(offsets);
        this.#deps.logger.debug("committed", { offsets });
      } catch (error) {
        // Kafka keeps the older offsets, so at worst these requests are answered twice; the next
        // acknowledgement or the drain tries again.
        this.#deps.logger.warn("offset commit failed", { error: (error as Error).message, offsets });
      }
    }
  }

  /**
   * The idempotent producer retries what can be retried for ever, so a write that still fails cannot succeed
   * by waiting. Fetching stops and the liveness probe fails; nothing past the failed batch is committed, so
   * the restarted worker (or another member) answers it.
   */
  #fail(error: Error): void {
    if (this.#failure !== undefined) return;
    this.#failure = error;
    this.#deps.logger.error("writing results failed; the worker stops consuming and must be restarted", {
      error: error.message,
    });
    this.#stopFetching();
  }

  /** Pauses the requests topic and releases any eachBatch waiting for room, which then returns at once. */
  #stopFetching(): void {
    try {
      this.#deps.consumer.pause([{ topic: this.#deps.config.topics.requests }]);
    } catch {
      // The consumer crashed for good or never ran: there is nothing to stop fetching.
    }
    this.#wakeRoomWaiters();
  }

  #wakeRoomWaiters(): void {
    const waiters = [...this.#roomWaiters];
    this.#roomWaiters.clear();
    for (const wake of waiters) wake();
  }

  async #route(
    topic: string,
    partition: number,
    message: KafkaMessage,
    fetched: { at: number; wallMs: number },
  ): Promise<Routed> {
    const { config, classifier, logger } = this.#deps;
    const source: SourceRecord = {
      topic,
      partition,
      offset: message.offset,
      timestamp: message.timestamp,
      key: message.key,
      value: message.value,
    };
    const deadLetter = (failure: Failure): Routed => {
      logger.warn("request dead-lettered", {
        correlationId: failure.id,
        code: failure.code,
        reason: failure.message,
        topic,
        partition,
        offset: message.offset,
      });
      return {
        topic: config.topics.deadLetter,
        record: buildDeadLetter(source, failure, new Date()),
        deadLetter: failure.code,
      };
    };

    const decoded = decodeRequest(message.value, config.limits);
    if (!decoded.ok) return deadLetter({ ...decoded.rejection, attempts: 0 });
    const { request } = decoded;
    if (isExpired(request, fetched.wallMs)) {
      return deadLetter({
        code: "DEADLINE_EXCEEDED",
        message: `the deadline ${request.deadline} had passed when the request was fetched`,
        id: request.id,
        attempts: 0,
      });
    }
    const classified = await this.#batcher.submit({ request, fetchedAt: fetched.at });
    if (!classified.outcome.ok) {
      return deadLetter({
        code: "INFERENCE_FAILED",
        message: `inference failed after ${classified.outcome.attempts} attempts: ${classified.outcome.error.message}`,
        id: request.id,
        attempts: classified.outcome.attempts,
      });
    }
    logger.debug("request classified", { correlationId: request.id, label: classified.outcome.result.label });
    return {
      topic: config.topics.responses,
      record: buildResponse(
        request,
        classified.outcome.result,
        { name: classifier.name, version: classifier.version },
        {
          queueMs: Math.max(0, fetched.wallMs - Number(message.timestamp)),
          batchWaitMs: classified.batchWaitMs,
          inferenceMs: classified.inferenceMs,
          batchSize: classified.batchSize,
          attempts: classified.outcome.attempts,
        },
        new Date(),
      ),
    };
  }

  async #classify(items: Queued[]): Promise<Classified[]> {
    const { classifier, config, metrics } = this.#deps;
    const started = performance.now();
    const outcomes = await runWithRetry(
      items.map((item) => item.request.text),
      (texts) => classifier.classify(texts),
      {
        breaker: this.breaker,
        policy: config.retry,
        sleep,
        onRetry: (inputs) => metrics.retries.inc(inputs),
      },
    );
    const inferenceMs = performance.now() - started;
    metrics.processingDuration.observe(inferenceMs / 1000);
    metrics.batchSize.observe(items.length);
    return items.map((item, index) => ({
      outcome: outcomes[index] as RunOutcome<Prediction>,
      batchWaitMs: started - item.fetchedAt,
      inferenceMs,
      batchSize: items.length,
    }));
  }
}
