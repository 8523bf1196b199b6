// A consumer group's lag on a topic, from offsets read by admin.ts. Pure, so the rules below are tested alone
// and the status, the HPA's external metric and the tests all count lag the same way.

/**
 * One partition's offsets. Kafka offsets are 64-bit; kafkajs hands them over as strings and admin.ts turns
 * them into numbers, exact up to 2^53, far beyond any offset a topic reaches.
 */
export interface PartitionOffsets {
  partition: number;
  /** The first offset still in the log (retention may have removed earlier records). */
  logStartOffset: number;
  /** The offset the next record will get. */
  logEndOffset: number;
  /** The group's committed offset (the next record it will read); null or negative when it has none. */
  committedOffset: number | null;
}

export interface ConsumerLag {
  /** Records the group has yet to process, over all partitions. */
  total: number;
  partitions: { partition: number; lag: number }[];
  /** Sum of the partitions' log end offsets: it moves whenever a record is written (see scale-to-zero.ts). */
  logEndOffset: number;
  /** Partitions without a committed offset, counted as wholly unread: worth showing, not hiding. */
  partitionsWithoutCommit: number[];
}

/**
 * Lag per partition, in partition order, never negative:
 * - no committed offset: the whole log (end - start) is lag, because the worker consumes from the beginning,
 *   so every record still in the log is ahead of it. (Counting it as zero is how a group that never
 *   committed looks idle while it has everything to do.)
 * - committed below the log start (retention removed records the group had not read): the worker's next fetch
 *   is out of range and it resets to the beginning, so again end - start.
 * - committed above the log end: the two offsets are read in separate requests, so a group that keeps up can
 *   commit past the end read a moment earlier; that is no lag, so 0.
 */
export function consumerLag(offsets: readonly PartitionOffsets[]): ConsumerLag {
  const partitions = [...offsets]
    .sort((a, b) => a.partition - b.partition)
    .map((offset) => ({ partition: offset.partition, lag: partitionLag(offset) }));
  return {
    total: partitions.reduce((sum, { lag }) => sum + lag, 0),
    partitions,
    logEndOffset: offsets.reduce((sum, offset) => sum + offset.logEndOffset, 0),
    partitionsWithoutCommit: offsets
      .filter((offset) => !hasCommit(offset))
      .map((offset) => offset.partition)
      .sort((a, b) => a - b),
  };
}

function hasCommit(offset: PartitionOffsets): boolean {
  return offset.committedOffset !== null && offset.committedOffset >= 0;
}

function partitionLag(offset: PartitionOffsets): number {
  const from =
    offset.committedOffset === null || offset.committedOffset < offset.logStartOffset
      ? offset.logStartOffset
      : offset.committedOffset;
  return Math.max(0, offset.logEndOffset - from);
}
