// The SentimentReplay resource as the operator sees it: the stored object's shape (crds/ holds the schema), the
// phases, and which replays of a pipeline hold it paused or wait for one another.
import type { V1ObjectMeta } from "@kubernetes/client-node";
import type { ConditionOf } from "../controller/conditions.ts";
import { AspectChanges } from "../kube/aspect-changes.ts";

export const replayPlural = "sentimentreplays";
export const replayKind = "SentimentReplay";

export interface ReplaySpec {
  pipeline: string;
  from: {
    timestamp?: string;
    earliest?: boolean;
    offsets?: { partition: number; offset: number }[];
  };
  groupEmptyTimeoutSeconds?: number;
}

export type ReplayPhase = "Pending" | "Pausing" | "Resetting" | "Running" | "Done" | "Failed";

export type ReplayConditionType = "Waiting" | "Complete" | "Failed";

export type ReplayCondition = ConditionOf<ReplayConditionType>;

/** One partition the replay resets; offsets as decimal strings, as the dead letter writes them. */
export interface ReplayPartition {
  partition: number;
  /** The group's committed offset before the reset; absent when it had none. */
  previousOffset?: string;
  resetOffset: string;
  /** The log end at the reset: the replay is done when the group has committed up to here. */
  endOffset: string;
  committedOffset?: string;
}

export interface ReplayStatus {
  phase?: ReplayPhase;
  observedGeneration?: number;
  conditions?: ReplayCondition[];
  partitions?: ReplayPartition[];
  toReplay?: number;
  remaining?: number;
  startTime?: string;
  completionTime?: string;
}

export interface SentimentReplay {
  apiVersion: string;
  kind: string;
  metadata: V1ObjectMeta;
  spec: ReplaySpec;
  status?: ReplayStatus;
}

export const defaultGroupEmptyTimeoutSeconds = 120;

/** Phases in which the replay holds its pipeline paused: until the offsets are set, no worker may consume. */
const holdingPhases: ReadonlySet<ReplayPhase> = new Set(["Pausing", "Resetting"]);
const finishedPhases: ReadonlySet<ReplayPhase> = new Set(["Done", "Failed"]);

export function phaseOf(replay: SentimentReplay): ReplayPhase {
  return replay.status?.phase ?? "Pending";
}

export function isFinished(replay: SentimentReplay): boolean {
  return finishedPhases.has(phaseOf(replay));
}

function replaysOf(replays: readonly SentimentReplay[], namespace: string, pipeline: string) {
  return replays.filter(
    (replay) => replay.metadata.namespace === namespace && replay.spec.pipeline === pipeline,
  );
}

/**
 * What holds the pipeline paused besides its spec (ReconcilerDeps.pauseHolds): its replays in Pausing or
 * Resetting, e.g. ["SentimentReplay nightly"].
 */
export function replayHolds(
  replays: readonly SentimentReplay[],
  namespace: string,
  pipeline: string,
): string[] {
  return replaysOf(replays, namespace, pipeline)
    .filter((replay) => holdingPhases.has(phaseOf(replay)))
    .map((replay) => `${replayKind} ${replay.metadata.name}`);
}

/** Older first: by creationTimestamp, then by name, so two created in the same second still have an order. */
function olderFirst(a: SentimentReplay, b: SentimentReplay): number {
  const at = (replay: SentimentReplay) => new Date(replay.metadata.creationTimestamp ?? 0).getTime();
  return at(a) - at(b) || (a.metadata.name ?? "").localeCompare(b.metadata.name ?? "");
}

/**
 * The replay of the same pipeline `replay` must wait for, if any: one already under way (left Pending), else
 * the oldest unfinished one older than it. One replay of a pipeline runs at a time, oldest first.
 */
export function replayAhead(
  replay: SentimentReplay,
  replays: readonly SentimentReplay[],
): SentimentReplay | undefined {
  const others = replaysOf(replays, replay.metadata.namespace ?? "", replay.spec.pipeline).filter(
    (other) => other.metadata.name !== replay.metadata.name && !isFinished(other),
  );
  const underWay = others.find((other) => phaseOf(other) !== "Pending");
  if (underWay !== undefined) return underWay;
  return others.filter((other) => olderFirst(other, replay) < 0).sort(olderFirst)[0];
}

/**
 * The replays to look at when `replay` changes: itself, and the unfinished replays of the same pipeline, one of
 * which may have waited for it.
 */
export function replaysToLookAt(
  replay: SentimentReplay,
  replays: readonly SentimentReplay[],
): SentimentReplay[] {
  const others = replaysOf(replays, replay.metadata.namespace ?? "", replay.spec.pipeline).filter(
    (other) => other.metadata.name !== replay.metadata.name && !isFinished(other),
  );
  return [replay, ...others];
}

/**
 * Tells a replay's phase change (or its arrival or deletion), which concerns its pipeline (the hold) and the
 * replays waiting for it, from progress within a phase (a Running replay's counts, written every poll), which
 * concerns nobody else.
 */
export class ReplayPhaseChanges extends AspectChanges<SentimentReplay> {
  constructor() {
    super(phaseOf);
  }
}
