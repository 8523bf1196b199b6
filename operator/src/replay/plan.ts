// Where a replay sets the consumer group's offsets, from its spec.from and what Kafka reports: pure, so each
// rule is tested alone. The plan is recorded in the replay's status before any offset is set.
import type { PartitionOffsets } from "../kafka/lag.ts";
import type { ReplayPartition, ReplaySpec } from "./replay.ts";

export interface OffsetAt {
  partition: number;
  offset: number;
}

export type ResetPlan =
  | { ok: true; partitions: ReplayPartition[]; toReplay: number }
  | { ok: false; reason: "InvalidOffsets"; message: string };

/** The offsets to set, per partition, or why spec.from.offsets cannot be carried out. */
export function planReset(
  from: ReplaySpec["from"],
  topic: string,
  log: readonly PartitionOffsets[],
  atTimestamp: readonly OffsetAt[] | undefined,
): ResetPlan {
  const byPartition = new Map(log.map((partition) => [partition.partition, partition]));
  const targets = resetTargets(from, log, atTimestamp);
  const problems = targets.flatMap(({ partition, offset }, index) => {
    const field = `spec.from.offsets[${index}]`;
    const found = byPartition.get(partition);
    if (found === undefined) {
      return [`${field}.partition ${partition}: topic ${topic} has partitions 0 to ${log.length - 1}`];
    }
    if (offset < found.logStartOffset || offset > found.logEndOffset) {
      return [
        `${field}.offset ${offset} is outside partition ${partition} of topic ${topic}, whose log holds offsets ` +
          `${found.logStartOffset} to ${found.logEndOffset} (earlier records were removed by retention)`,
      ];
    }
    return [];
  });
  if (problems.length > 0) {
    return {
      ok: false,
      reason: "InvalidOffsets",
      message: `${problems.join("; ")}; create a replay with offsets inside the log`,
    };
  }
  const partitions = targets
    .map(({ partition, offset }): ReplayPartition => {
      const found = byPartition.get(partition) as PartitionOffsets;
      return {
        partition,
        ...(found.committedOffset === null || found.committedOffset < 0
          ? {}
          : { previousOffset: String(found.committedOffset) }),
        resetOffset: String(offset),
        endOffset: String(found.logEndOffset),
      };
    })
    .sort((a, b) => a.partition - b.partition);
  return { ok: true, partitions, toReplay: remainingOf(partitions, new Map()) };
}

/** The offset to set per partition, in spec order for spec.from.offsets (so a problem names its index). */
function resetTargets(
  from: ReplaySpec["from"],
  log: readonly PartitionOffsets[],
  atTimestamp: readonly OffsetAt[] | undefined,
): OffsetAt[] {
  if (from.offsets !== undefined) return from.offsets;
  if (from.timestamp !== undefined) {
    if (atTimestamp === undefined) throw new Error("offsets at spec.from.timestamp were not read");
    return [...atTimestamp];
  }
  return log.map(({ partition, logStartOffset }) => ({ partition, offset: logStartOffset }));
}

/**
 * Requests still to replay: per partition, from what the group has committed (the offset set, before it has
 * committed anything) to the end recorded at the reset.
 */
export function remainingOf(
  partitions: readonly ReplayPartition[],
  committed: ReadonlyMap<number, number>,
): number {
  return partitions.reduce((sum, partition) => {
    const from = committed.get(partition.partition) ?? Number(partition.resetOffset);
    return sum + Math.max(0, Number(partition.endOffset) - from);
  }, 0);
}
