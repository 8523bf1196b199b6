// One worker: the model, Kafka clients, the consume loop and the HTTP endpoints, started and stopped together.
import { type Consumer, type ConsumerConfig, Kafka, logLevel as kafkaLogLevel } from "kafkajs";
import { createLogger } from "../../common/src/logger.ts";
import { registerLz4Codec } from "../../common/src/lz4-codec.ts";
import { startHttpServer } from "../../common/src/probe-server.ts";
import { heartbeatIntervalMs, rebalanceTimeoutMs, type WorkerConfig } from "./config.ts";
import { connectProducer } from "./connect-producer.ts";
import { fetchBudget, readMemoryLimits } from "./consume/memory-budget.ts";
import { type RequestConsumer, RequestPipeline } from "./consume/request-pipeline.ts";
import { checkKafkaAccess, kafkaSecurityOptions } from "./kafka-security.ts";
import { createWorkerMetrics } from "./metrics.ts";
import type { Classifier } from "./model/classifier.ts";
import { loadClassifierPool } from "./model/classifier-pool.ts";
import { ResilientProducer } from "./resilient-producer.ts";

/** How long a fetch waits for records before the broker answers (kafkajs's default is 5 s). */
const fetchMaxWaitMs = 500;

export interface RunningWorker {
  /** Stops fetching, lets the in-flight batch finish and commit, then disconnects. */
  stop(): Promise<void>;
  readonly httpPort: number;
}

/** What the worker uses of its consumer: the pipeline's part, and connecting and leaving. */
export type WorkerConsumer = RequestConsumer & Pick<Consumer, "connect" | "disconnect">;

export interface WorkerOptions {
  /** Wraps the loaded classifier: how tests inject inference failures around the real model. */
  wrapClassifier?: (classifier: Classifier) => Classifier;
  /**
   * Makes the consumer from the worker's kafkajs settings instead of kafkajs: how the scaling bench measures
   * another client's rebalancing under the same pipeline (hack/bench/confluent-worker.ts).
   */
  createConsumer?: (options: ConsumerConfig) => WorkerConsumer;
  /**
   * Called as the consumer begins to join its group, the last step of starting. From then on the group counts
   * this worker in: one that exits without leaving holds partitions until its session times out (main.ts).
   */
  onJoining?: () => void;
  /**
   * Called with the model's load as it begins, on the classifier threads. A thread ended while ONNX Runtime loads
   * the model in it can abort the whole process (an exception thrown as the thread is torn down), so a stop
   * during start waits for this to settle (main.ts).
   */
  onModelLoading?: (loading: Promise<unknown>) => void;
}

/** Starts a worker in this process; the caller owns its lifetime (main.ts, a test or the demo). */
export async function startWorker(config: WorkerConfig, options: WorkerOptions = {}): Promise<RunningWorker> {
  const logger = createLogger("kubesentiment-worker", config.logLevel, { groupId: config.kafka.groupId });
  const metrics = createWorkerMetrics();
  registerLz4Codec();
  const security = kafkaSecurityOptions(config.kafka);
  // Before the model loads: a login or certificate the broker refuses is the quicker thing to hear about.
  await checkKafkaAccess(config.kafka, security, logger);
  const loading = loadClassifierPool(
    config.model.dir,
    {
      maxSequenceLength: config.model.maxSequenceLength,
      intraOpNumThreads: config.model.intraOpThreads,
      ...(config.model.faultFile === undefined ? {} : { faultFile: config.model.faultFile }),
    },
    config.model.threads,
  );
  options.onModelLoading?.(loading);
  const model = await loading;
  const classifier = options.wrapClassifier?.(model) ?? model;
  logger.info("model loaded", {
    model: classifier.name,
    version: classifier.version,
    dir: config.model.dir,
    tokenization: classifier.tokenization,
  });

  const kafka = new Kafka({
    clientId: config.kafka.clientId,
    brokers: config.kafka.bootstrapServers,
    ...security,
    logLevel: kafkaLogLevel.WARN,
    // Enough retries to ride out a broker's death and the leader elections that follow it.
    retry: { initialRetryTime: 300, retries: 12, maxRetryTime: 10_000 },
    logCreator:
      () =>
      ({ log }) => {
        // kafkajs reports each retried request as an error; what is fatal reaches the consume loop's CRASH
        // handler.
        const { message, ...rest } = log;
        logger.warn(message, { kafkajs: rest });
      },
  });
  const limits = readMemoryLimits();
  const budget = fetchBudget(config.maxInFlightBytes, config.limits.maxMessageBytes, limits);
  logger.info("memory budget", { ...limits, ...budget });
  const createConsumer = options.createConsumer ?? ((settings: ConsumerConfig) => kafka.consumer(settings));
  const consumer = createConsumer({
    groupId: config.kafka.groupId,
    maxBytes: budget.maxBytes,
    maxBytesPerPartition: budget.maxBytesPerPartition,
    sessionTimeout: config.kafka.sessionTimeoutMs,
    rebalanceTimeout: rebalanceTimeoutMs(config.kafka),
    heartbeatInterval: heartbeatIntervalMs(config.kafka),
    // With every partition paused (a graceful stop) kafkajs's fetch loop sleeps this long before it sees the stop
    // and leaves the group, and the group's other members wait for that leave to rebalance.
    maxWaitTimeInMs: fetchMaxWaitMs,
    allowAutoTopicCreation: false,
  });

  const producer = await ResilientProducer.start({
    connect: (producerConfig) =>
      connectProducer(() => kafka.producer(producerConfig), {
        attempts: 10,
        backoff: { initialBackoffMs: 1_000, maxBackoffMs: 5_000 },
        onRetry: (error, attempt) =>
          logger.warn("producer could not connect; retrying with fresh metadata", {
            error: error.message,
            attempt,
          }),
      }),
    backoff: { initialBackoffMs: 100, maxBackoffMs: 1_000 },
    onResend: (messages, attempt) =>
      logger.warn("kafkajs left records of a write unsent; sending them again", { messages, attempt }),
    onReplace: (error) =>
      logger.warn("producer lost its idempotence state; replacing it", { error: error.message }),
  });
  await consumer.connect();
  const pipeline = new RequestPipeline({ config, consumer, producer, classifier, metrics, logger, budget });
  const server = await startHttpServer(config.httpPort, metrics.registry, pipeline.health);
  options.onJoining?.();
  await pipeline.start();
  const address = server.address();
  logger.info("worker started", { topic: config.topics.requests, httpPort: address });

  return {
    httpPort: typeof address === "object" && address !== null ? address.port : config.httpPort,
    async stop() {
      await pipeline.drain();
      await consumer.disconnect();
      await producer.disconnect();
      await model.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      logger.info("worker stopped");
    },
  };
}
