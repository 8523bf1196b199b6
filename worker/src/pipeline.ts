// The worker's data plane: fetch request batches from Kafka, validate, batch across partitions, classify with
// retry and a circuit breaker, write responses and dead letters, and only then commit the offsets.
import { setTimeout as sleep } from "node:timers/promises";
import {
  CompressionTypes,
  type Consumer,
  type EachBatchPayload,
  type KafkaMessage,
  type Producer,
} from "kafkajs";
import type winston from "winston";
import { Batcher } from "./batching/batcher.ts";
import type { WorkerConfig } from "./config.ts";
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
import { produceRequests } from "./produce-requests.ts";
import { CircuitBreaker } from "./resilience/breaker.ts";
import { type RunOutcome, runWithRetry } from "./resilience/retry.ts";

/** Values per produce request: well under the broker's default 1 MiB message.max.bytes, even uncompressed. */
const maxProduceRequestBytes = 512 * 1024;

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
  producer: Producer;
  classifier: Pick<Classifier, "name" | "version" | "classify">;
  metrics: WorkerMetrics;
  logger: winston.Logger;
}

export class Pipeline {
  readonly breaker: CircuitBreaker;
  readonly #deps: PipelineDependencies;
  readonly #batcher: Batcher<Queued, Classified>;
  readonly #inFlight = new Set<Promise<void>>();
  #draining = false;

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
  }

  /** Joins the consumer group and processes until the consumer is stopped. */
  async start(): Promise<void> {
    const { consumer, config } = this.#deps;
    await consumer.subscribe({ topic: config.topics.requests, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      // Every assigned partition feeds the shared batcher at once; the model batch fills across partitions.
      partitionsConsumedConcurrently: 64,
      eachBatch: (payload) => this.#track(payload),
    });
  }

  /**
   * Stops taking new batches and waits for those in flight to write their results and commit, while this
   * member still owns their partitions; the caller disconnects afterwards.
   */
  async drain(): Promise<void> {
    this.#draining = true;
    try {
      this.#deps.consumer.pause([{ topic: this.#deps.config.topics.requests }]);
    } catch {
      // The consumer crashed for good or never ran: there is nothing to stop fetching.
    }
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  #track(payload: EachBatchPayload): Promise<void> {
    // A batch fetched before the pause is left uncommitted for the next owner of its partition.
    if (this.#draining) return Promise.resolve();
    const handled = this.#handlePartitionBatch(payload);
    this.#inFlight.add(handled);
    return handled.finally(() => this.#inFlight.delete(handled));
  }

  async #handlePartitionBatch({
    batch,
    resolveOffset,
    heartbeat,
    isRunning,
    isStale,
  }: EachBatchPayload): Promise<void> {
    const { metrics, producer, consumer } = this.#deps;
    if (batch.isEmpty()) return;
    metrics.consumerLag.set(
      { topic: batch.topic, partition: String(batch.partition) },
      Number(batch.offsetLag()),
    );
    const fetched = { at: performance.now(), wallMs: Date.now() };
    const routed = await Promise.all(
      batch.messages.map((message) => this.#route(batch.topic, batch.partition, message, fetched)),
    );
    if (!isRunning() || isStale()) return; // the partition moved on; another member will redo these: at-least-once
    for (const topicMessages of produceRequests(routed, maxProduceRequestBytes)) {
      await producer.sendBatch({ acks: -1, compression: CompressionTypes.LZ4, topicMessages });
    }
    const acknowledgedAt = Date.now();
    for (const [index, message] of batch.messages.entries()) {
      const outcome = routed[index] as Routed;
      if (outcome.deadLetter === undefined) metrics.processed.inc({ outcome: "classified" });
      else metrics.recordDeadLetter(outcome.deadLetter);
      metrics.endToEndLatency.observe(Math.max(0, acknowledgedAt - Number(message.timestamp)) / 1000);
    }
    const lastOffset = batch.lastOffset();
    resolveOffset(lastOffset);
    await consumer.commitOffsets([
      { topic: batch.topic, partition: batch.partition, offset: (BigInt(lastOffset) + 1n).toString() },
    ]);
    await heartbeat();
    this.#deps.logger.debug("committed", {
      topic: batch.topic,
      partition: batch.partition,
      offset: lastOffset,
    });
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
