// A redrive's progress, as pure functions: the partitions and offsets it covers (fixed when it starts), where
// each stands (the redrive group's committed offsets, with the counts committed beside them), whether it is
// done, and the status that says so.
import { type ConditionInput, mergeConditions } from "../controller/conditions.ts";
import type {
  RedriveConditionType,
  RedrivePartition,
  RedrivePhase,
  RedriveStatus,
  ResolvedRedrive,
} from "./redrive.ts";
import type { CommittedOffset, PartitionBounds } from "./redrive-kafka.ts";
import { decodeCounts, type PartitionCounts, totalCounts } from "./selection.ts";

export interface PartitionProgress extends RedrivePartition {
  counts: PartitionCounts;
}

const max = (a: string, b: string) => (BigInt(a) >= BigInt(b) ? a : b);

/**
 * Each partition's range and position. The range is the one status recorded when the redrive started, or, the
 * first time, from the committed offset (or the log start) to the log end now: dead letters written after the
 * start are never part of it. The position is the committed offset; records the log no longer holds (retention)
 * are passed over, and a partition the topic gained later is not part of the redrive.
 */
export function partitionProgress(
  recorded: readonly RedrivePartition[] | undefined,
  bounds: readonly PartitionBounds[],
  committed: readonly CommittedOffset[],
): PartitionProgress[] {
  const committedAt = new Map(committed.map((entry) => [entry.partition, entry]));
  const ranges =
    recorded ??
    bounds.map(({ partition, low, high }) => {
      const start = committedAt.get(partition)?.offset ?? low;
      return { partition, startOffset: start, endOffset: high, nextOffset: start };
    });
  const lowOf = new Map(bounds.map(({ partition, low }) => [partition, low]));
  return ranges.map(({ partition, startOffset, endOffset }) => {
    const entry = committedAt.get(partition);
    const position = max(entry?.offset ?? startOffset, lowOf.get(partition) ?? startOffset);
    const nextOffset = BigInt(position) > BigInt(endOffset) ? endOffset : position;
    return { partition, startOffset, endOffset, nextOffset, counts: decodeCounts(entry?.metadata) };
  });
}

export function partitionDone(progress: RedrivePartition): boolean {
  return BigInt(progress.nextOffset) >= BigInt(progress.endOffset);
}

/** Every partition considered to its end, or the limit reached. */
export function redriveDone(progress: readonly PartitionProgress[], redrive: ResolvedRedrive): boolean {
  const { sent } = totalCounts(progress.map((partition) => partition.counts));
  return progress.every(partitionDone) || (redrive.limit !== undefined && sent >= redrive.limit);
}

export interface RedriveState {
  phase: RedrivePhase;
  /** Why, for the conditions: CamelCase, and a sentence a person can act on. */
  reason: string;
  message: string;
  progress?: readonly PartitionProgress[];
}

function conditionsOf(state: RedriveState): ConditionInput<RedriveConditionType>[] {
  const { phase, reason, message } = state;
  return [
    { type: "Complete", status: phase === "Done" ? "True" : "False", reason, message },
    phase === "Failed"
      ? { type: "Failed", status: "True", reason, message }
      : { type: "Failed", status: "False", reason: "NotFailed", message: "the redrive has not failed" },
  ];
}

/** The status for `state`; counts and partitions stay as they were when the state carries no progress. */
export function redriveStatus(
  previous: RedriveStatus | undefined,
  state: RedriveState,
  generation: number,
  now: Date,
): RedriveStatus {
  const progress = state.progress;
  const counts =
    progress === undefined ? undefined : totalCounts(progress.map((partition) => partition.counts));
  const finished = state.phase === "Done" || state.phase === "Failed";
  return {
    ...previous,
    observedGeneration: generation,
    phase: state.phase,
    conditions: mergeConditions<RedriveConditionType>(
      previous?.conditions ?? [],
      conditionsOf(state),
      generation,
      now,
    ),
    ...(progress === undefined
      ? {}
      : {
          partitions: progress.map(({ partition, startOffset, endOffset, nextOffset }) => ({
            partition,
            startOffset,
            endOffset,
            nextOffset,
          })),
        }),
    ...(counts === undefined ? {} : counts),
    ...(previous?.startTime === undefined && state.phase === "Running"
      ? { startTime: now.toISOString() }
      : {}),
    ...(finished && previous?.completionTime === undefined ? { completionTime: now.toISOString() } : {}),
  };
}
