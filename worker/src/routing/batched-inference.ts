// Inference for one request at a time, run in batches: requests from every partition queue in one batcher, each
// batch runs with retries behind the circuit breaker, and each request gets its own outcome and where its time
// went (batch wait, inference, batch size).
import { Batcher } from "../batching/batcher.ts";
import type { WorkerConfig } from "../config.ts";
import { isExpired, type SentimentRequest } from "../contract/request.ts";
import type { WorkerMetrics } from "../metrics.ts";
import type { Classifier } from "../model/classifier.ts";
import type { Prediction } from "../model/preprocess.ts";
import type { CircuitBreaker } from "../resilience/circuit-breaker.ts";
import { type RunOutcome, runWithRetry } from "../resilience/retry.ts";

export interface Classified {
  outcome: RunOutcome<Prediction>;
  batchWaitMs: number;
  inferenceMs: number;
  batchSize: number;
}

/** Classifies a request; `fetchedAt` (performance.now()) is when its fetch arrived, for its batch wait. */
export type Classify = (request: SentimentRequest, fetchedAt: number) => Promise<Classified>;

export interface BatchedInferenceDependencies {
  config: Pick<WorkerConfig, "batch" | "model" | "retry">;
  classifier: Pick<Classifier, "classify">;
  breaker: CircuitBreaker;
  metrics: Pick<WorkerMetrics, "retries" | "processingDuration" | "batchSize">;
  /** Waits out a retry's backoff. */
  sleep: (ms: number) => Promise<unknown>;
  /** Wall-clock time (epoch ms), for the deadlines checked again just before each run. */
  clock: () => number;
}

interface Queued {
  request: SentimentRequest;
  fetchedAt: number;
}

export function batchedInference(deps: BatchedInferenceDependencies): Classify {
  const { config } = deps;
  const batcher = new Batcher<Queued, Classified>(
    // One in flight more than the model threads: while each runs a batch, the next is already handed over,
    // so no thread idles waiting for this one to form it.
    {
      maxSize: config.batch.maxSize,
      maxWaitMs: config.batch.maxWaitMs,
      parallel: config.model.threads,
      maxInFlight: config.model.threads + 1,
    },
    (items) => classifyBatch(items, deps),
  );
  return (request, fetchedAt) => batcher.submit({ request, fetchedAt });
}

async function classifyBatch(items: Queued[], deps: BatchedInferenceDependencies): Promise<Classified[]> {
  const { classifier, config, metrics, breaker, sleep, clock } = deps;
  const started = performance.now();
  const outcomes = await runWithRetry(
    items,
    (queued) => classifier.classify(queued.map((q) => q.request.text)),
    {
      breaker,
      policy: config.retry,
      sleep,
      onRetry: (inputs) => metrics.retries.inc(inputs),
      // A request can wait past its deadline for a batch, a backoff or an open breaker: checked at every run.
      expired: (item) => isExpired(item.request, clock()),
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
