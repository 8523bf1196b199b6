// The worker HPA: scales the Deployment on the pipeline's consumer lag, an External metric the operator serves
// through external.metrics.k8s.io. Target type AverageValue: the HPA divides the pipeline's total lag by the
// current replicas and aims for lagThreshold messages per worker.
import type { V2HorizontalPodAutoscaler, V2HorizontalPodAutoscalerBehavior } from "@kubernetes/client-node";
import { lagMetricName, namespaceLabel } from "../autoscaling/lag-metric.ts";
import type { ResolvedPipeline } from "../pipeline.ts";
import { pipelineLabel, workerName, workerObjectMeta } from "./labels.ts";

export interface ReplicaBounds {
  minReplicas: number;
  maxReplicas: number;
  /** True when the partition count, not spec.autoscaling.maxReplicas, sets maxReplicas (worth a status line). */
  cappedByPartitions: boolean;
}

/**
 * A consumer beyond the requests topic's partition count would get no partition and sit idle, so the ceiling is
 * the smaller of maxReplicas and partitions. The floor is at least 1 (an HPA cannot hold 0; scale-to-zero is the
 * operator's job) and never above the ceiling, which the API server would refuse.
 */
export function replicaBounds(pipeline: ResolvedPipeline): ReplicaBounds {
  const { minReplicas, maxReplicas } = pipeline.autoscaling;
  const { partitions } = pipeline.topics;
  const max = Math.min(maxReplicas, partitions);
  return {
    minReplicas: Math.min(Math.max(1, minReplicas), max),
    maxReplicas: max,
    cappedByPartitions: partitions < maxReplicas,
  };
}

/**
 * Every change of the replica count is a rebalance of the consumer group, and kafkajs's eager protocol stops every
 * member for it; so each scaling decision goes where it is going in one step, instead of in several.
 * Up: the metric already says how many workers the lag needs (total lag / lagThreshold), so let one decision reach
 * it: up to maxReplicas pods may be added per 15 s (the HPA's sync period), which from any size is the ceiling.
 * The former "double or add 4 a period" took 1 → 5 → 8 for a backlog that needed 8 (two rebalances), and four
 * steps to reach 32. No stabilization window: while too few workers run, lag grows by the surplus rate every
 * second, so there is nothing to wait for.
 * Down: slowly, after stabilisation. Lag is bursty and a quiet minute is no reason to shed capacity, so the HPA
 * uses the highest recommendation of the last scaleDownStabilizationSeconds (5 minutes by default). Once that
 * window has held a lower size, removing the surplus in halves (8 → 4 → 2 → 1, a minute apart) only adds two
 * rebalances; all of it may go in one step, and then nothing more for a minute.
 */
export function behavior(pipeline: ResolvedPipeline, maxReplicas: number): V2HorizontalPodAutoscalerBehavior {
  return {
    scaleUp: {
      stabilizationWindowSeconds: 0,
      selectPolicy: "Max",
      policies: [{ type: "Pods", value: maxReplicas, periodSeconds: 15 }],
    },
    scaleDown: {
      stabilizationWindowSeconds: pipeline.autoscaling.scaleDownStabilizationSeconds,
      policies: [{ type: "Percent", value: 100, periodSeconds: 60 }],
    },
  };
}

export function renderWorkerHpa(pipeline: ResolvedPipeline): V2HorizontalPodAutoscaler {
  const { minReplicas, maxReplicas } = replicaBounds(pipeline);
  return {
    apiVersion: "autoscaling/v2",
    kind: "HorizontalPodAutoscaler",
    metadata: workerObjectMeta(pipeline),
    spec: {
      scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: workerName(pipeline) },
      minReplicas,
      maxReplicas,
      metrics: [
        {
          type: "External",
          external: {
            metric: {
              name: lagMetricName,
              selector: {
                matchLabels: { [pipelineLabel]: pipeline.name, [namespaceLabel]: pipeline.namespace },
              },
            },
            target: { type: "AverageValue", averageValue: String(pipeline.autoscaling.lagThreshold) },
          },
        },
      ],
      behavior: behavior(pipeline, maxReplicas),
    },
  };
}
