// The operator's own Prometheus metrics: how reconciles go, how long they take, how much work waits.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

export interface OperatorMetrics {
  registry: Registry;
  reconciles: Counter<"kind" | "result">;
  reconcileDuration: Histogram<"kind">;
  queueDepth: Gauge<"kind">;
  leader: Gauge;
  pipelineLag: Gauge<"pipeline_namespace" | "pipeline">;
}

export function createOperatorMetrics(): OperatorMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    reconciles: new Counter({
      name: "kubesentiment_operator_reconciles_total",
      help: "Reconciles by kind (pipeline: SentimentPipeline, replay: SentimentReplay) and result: resync (healthy, or look again soon), retry (will back off), terminal (waits for a change), forget (gone or finished), error",
      labelNames: ["kind", "result"],
      registers: [registry],
    }),
    reconcileDuration: new Histogram({
      name: "kubesentiment_operator_reconcile_duration_seconds",
      help: "Wall time of one reconcile, Kafka and API server calls included, by kind",
      labelNames: ["kind"],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    queueDepth: new Gauge({
      name: "kubesentiment_operator_queue_depth",
      help: "Objects waiting to be reconciled, by kind",
      labelNames: ["kind"],
      registers: [registry],
    }),
    pipelineLag: new Gauge({
      name: "kubesentiment_pipeline_consumer_lag",
      help: "Messages on a pipeline's requests topic its consumer group has not committed, as of the last reconcile (also while no worker runs)",
      labelNames: ["pipeline_namespace", "pipeline"],
      registers: [registry],
    }),
    leader: new Gauge({
      name: "kubesentiment_operator_leader",
      help: "1 while this replica holds the leader Lease and acts, else 0",
      registers: [registry],
    }),
  };
}
