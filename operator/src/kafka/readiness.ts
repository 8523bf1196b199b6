// Whether a topic is usable, from its metadata: createTopics and createPartitions answer once the controller
// has recorded the change, before every partition has a leader and enough in-sync replicas to take an acks=all
// write. A worker started then fails its first produce; so the operator waits for this before it says so.

export interface PartitionMetadata {
  partitionId: number;
  /** The leader's broker id; negative when the partition has none. */
  leader: number;
  replicas: number[];
  isr: number[];
}

/**
 * What still keeps a topic from being usable, one sentence each; empty when usable. A partition needs a leader
 * and at least min(its replicas, min.insync.replicas) in-sync replicas: fewer and acks=all writes are refused
 * (NOT_ENOUGH_REPLICAS); a topic with fewer replicas than min.insync.replicas can never do better than all.
 */
export function unusableBecause(
  topic: string,
  partitions: readonly PartitionMetadata[],
  expectedPartitions: number,
  minInsyncReplicas: number,
): string[] {
  const problems: string[] = [];
  if (partitions.length < expectedPartitions) {
    problems.push(`topic "${topic}" shows ${partitions.length} of ${expectedPartitions} partitions`);
  }
  for (const partition of [...partitions].sort((a, b) => a.partitionId - b.partitionId)) {
    const needed = Math.min(partition.replicas.length, minInsyncReplicas);
    if (partition.leader < 0) {
      problems.push(`partition ${topic}-${partition.partitionId} has no leader`);
    } else if (partition.isr.length < needed) {
      problems.push(
        `partition ${topic}-${partition.partitionId} has ${partition.isr.length} in-sync replica(s), needs ${needed}`,
      );
    }
  }
  return problems;
}
