// The worker's Prometheus metrics, served on /metrics: requests by outcome, dead letters by code, retries, batch
// size, inference and end-to-end latency, lag per partition and the circuit breaker's state.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { DeadLetterCode } from "./contract/dead-letter-codes.ts";
import type { BreakerState } from "./resilience/breaker-transitions.ts";

const breakerStateValue: Record<BreakerState, number> = { closed: 0, "half-open": 1, open: 2 };

/** Every metric the worker exports, on a registry of its own (so tests can run several workers in one process). */
export function createWorkerMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const metrics = {
    registry,
    processed: new Counter({
      name: "kubesentiment_worker_messages_processed_total",
      help: "Requests handled, by outcome: classified (a response was written) or dead_lettered.",
      labelNames: ["outcome"] as const,
      registers: [registry],
    }),
    deadLettered: new Counter({
      name: "kubesentiment_worker_dead_letter_total",
      help: "Requests written to the dead-letter topic, by reason code.",
      labelNames: ["reason"] as const,
      registers: [registry],
    }),
    retries: new Counter({
      name: "kubesentiment_worker_inference_retries_total",
      help: "Inputs scheduled for another inference attempt after a failure.",
      registers: [registry],
    }),
    processingDuration: new Histogram({
      name: "kubesentiment_worker_processing_duration_seconds",
      help: "Tokenization plus model run of one batch.",
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    batchSize: new Histogram({
      name: "kubesentiment_worker_batch_size",
      help: "Requests per model run.",
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512],
      registers: [registry],
    }),
    endToEndLatency: new Histogram({
      name: "kubesentiment_worker_end_to_end_latency_seconds",
      help: "From the request's Kafka timestamp until its response or dead-letter record was acknowledged.",
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    consumerLag: new Gauge({
      name: "kubesentiment_worker_consumer_lag",
      help: "Messages behind the partition's end, as of this worker's last fetch.",
      labelNames: ["topic", "partition"] as const,
      registers: [registry],
    }),
    breakerState: new Gauge({
      name: "kubesentiment_worker_circuit_breaker_state",
      help: "Circuit breaker around the model: 0 closed, 1 half-open, 2 open.",
      registers: [registry],
    }),
    recordBreaker(state: BreakerState) {
      metrics.breakerState.set(breakerStateValue[state]);
    },
    /** A request whose response (no code) or dead letter Kafka acknowledged `latencyMs` after its timestamp. */
    recordAnswered(deadLetter: DeadLetterCode | undefined, latencyMs: number) {
      if (deadLetter === undefined) metrics.processed.inc({ outcome: "classified" });
      else {
        metrics.deadLettered.inc({ reason: deadLetter });
        metrics.processed.inc({ outcome: "dead_lettered" });
      }
      metrics.endToEndLatency.observe(Math.max(0, latencyMs) / 1000);
    },
  };
  metrics.breakerState.set(0);
  return metrics;
}

export type WorkerMetrics = ReturnType<typeof createWorkerMetrics>;
