// The value the HPA scales on: the pipeline's consumer lag, with each partition counted up to one worker's
// worth (lagThreshold). Kafka gives each partition to one consumer of a group, so a partition can never use
// more than one worker however far behind it is. Counting it whole is how KEDA users see one hot or stuck
// (poison) partition pin the replicas at max while the extra workers sit idle; capped, a skewed or stuck
// partition asks for at most the one worker it can use, and N lagging partitions for at most N workers.
// Its name and selector labels live here too: the HPA asks for it by them, and the metrics API answers to them.
import type { ConsumerLag } from "../kafka/lag.ts";

/** The External metric's name. */
export const lagMetricName = "kubesentiment_consumer_lag";
/** With pipelineLabel, selects one pipeline's lag; the namespace makes the selector explicit on its own. */
export const namespaceLabel = "kubesentiment.io/namespace";

export interface LagMetric {
  /** What the HPA sees: sum over partitions of min(lag, lagThreshold). */
  value: number;
  /** The plain sum, for status and people. */
  total: number;
  /** Partitions whose lag exceeds one worker's worth: more workers cannot drain them faster. */
  saturatedPartitions: number[];
}

export function lagMetric(lag: ConsumerLag, lagThreshold: number): LagMetric {
  let value = 0;
  const saturatedPartitions: number[] = [];
  for (const { partition, lag: partitionLag } of lag.partitions) {
    value += Math.min(partitionLag, lagThreshold);
    if (partitionLag > lagThreshold) saturatedPartitions.push(partition);
  }
  return { value, total: lag.total, saturatedPartitions };
}
