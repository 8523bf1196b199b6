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
 * Up fast: while too few workers run, lag grows by the surplus rate every second, so there is nothing to wait
 * for; double or add 4 pods (whichever is more) every 15 s, with no stabilization window.
 * Down slowly: every removal rebalances the whole consumer group (all members pause), and lag is bursty, so a
 * quiet minute is no reason to shed capacity; use the highest recommendation of the last
 * scaleDownStabilizationSeconds (5 minutes by default) and remove at most half the workers a minute.
 */
export function behavior(pipeline: ResolvedPipeline): V2HorizontalPodAutoscalerBehavior {
  return {
    scaleUp: {
      stabilizationWindowSeconds: 0,
      selectPolicy: "Max",
      policies: [
        { type: "Percent", value: 100, periodSeconds: 15 },
        { type: "Pods", value: 4, periodSeconds: 15 },
      ],
    },
    scaleDown: {
      stabilizationWindowSeconds: pipeline.autoscaling.scaleDownStabilizationSeconds,
      policies: [{ type: "Percent", value: 50, periodSeconds: 60 }],
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
      behavior: behavior(pipeline),
    },
  };
}
