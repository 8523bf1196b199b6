// A replay's phase machine, pure: given the replay, its pipeline, the other replays and what Kafka reports, the
// next status, whether to set the group's offsets, and when to look again. The reconcile (reconcile.ts) reads
// the world, calls nextStep, and carries the step out: set the offsets first, then write the status.
//
//   Pending ──► Pausing ──► Resetting ──► Running ──► Done
//      │           │            │            │
//      └───────────┴────────────┴────────────┴──────► Failed
//
// Pending: waits for the pipeline to exist and for the replays of it ahead of this one (replay.ts).
// Pausing: holds the pipeline paused (pauseHolds) and waits for its consumer group to have no members; past
//   spec.groupEmptyTimeoutSeconds it fails (GroupNotEmpty), naming the members. Once empty, the plan (plan.ts)
//   goes into status: Resetting.
// Resetting: still holding, sets the offsets the status records, unless the group's committed offsets already
//   are those (an operator that stopped after setting them): the offsets are set at most once per replay.
// Running: the hold is released and the workers resume; done when the group has committed up to the end offsets
//   recorded at the reset.
import { type ConditionInput, mergeConditions } from "../controller/conditions.ts";
import type { PartitionOffsets } from "../kafka/lag.ts";
import type { ResolvedPipeline } from "../pipeline.ts";
import { type OffsetAt, planReset, remainingOf } from "./plan.ts";
import {
  defaultGroupEmptyTimeoutSeconds,
  phaseOf,
  type ReplayConditionType,
  type ReplayPhase,
  type ReplayStatus,
  replayAhead,
  replayKind,
  type SentimentReplay,
} from "./replay.ts";

export interface GroupMember {
  clientId: string;
  clientHost: string;
}

/** What Kafka reports of the pipeline's requests topic and consumer group. */
export interface KafkaView {
  members: GroupMember[];
  /**
   * Per partition: log start and end, and the group's committed offset. As stored while Pausing and Resetting
   * (`readThroughTails` false); while Running, as lag counts it (past tails no consumer is given, lag-tail.ts).
   */
  offsets: PartitionOffsets[];
  /** Per partition, the first offset at or after spec.from.timestamp (the log end when none); only when asked. */
  atTimestamp?: OffsetAt[];
}

/** What the reconcile must read from Kafka before nextStep, in the replay's phase; undefined: nothing. */
export function kafkaNeeds(
  replay: SentimentReplay,
): { readThroughTails: boolean; timestamp: string | undefined } | undefined {
  const phase = phaseOf(replay);
  if (phase !== "Pausing" && phase !== "Resetting" && phase !== "Running") return undefined;
  return {
    readThroughTails: phase === "Running",
    timestamp: phase === "Pausing" ? replay.spec.from.timestamp : undefined,
  };
}

export interface ReplayWorld {
  replay: SentimentReplay;
  /** Undefined when spec.pipeline names no pipeline. */
  pipeline: ResolvedPipeline | undefined;
  /** Every replay known, this one included. */
  replays: readonly SentimentReplay[];
  /** Present whenever kafkaNeeds asked for it. */
  kafka: KafkaView | undefined;
  now: Date;
}

/** When to look again: at once (the next phase has work), after the poll interval or resync period, or never. */
export type LookAgain = "now" | "poll" | "resync" | "never";

export interface ReplayStep {
  status: ReplayStatus;
  /** Offsets to set before writing `status`. */
  setOffsets?: OffsetAt[];
  event?: { type: "Normal" | "Warning"; reason: string; message: string };
  lookAgain: LookAgain;
}

type Conditions = ConditionInput<ReplayConditionType>[];

function waiting(reason: string, message: string): Conditions {
  return [{ type: "Waiting", status: "True", reason, message }];
}

function notWaiting(phase: ReplayPhase, message: string): Conditions {
  return [{ type: "Waiting", status: "False", reason: phase, message }];
}

function describeFrom(from: SentimentReplay["spec"]["from"]): string {
  if (from.timestamp !== undefined) return `from ${from.timestamp}`;
  if (from.earliest === true) return "from the earliest offsets";
  return `from ${(from.offsets ?? []).map(({ partition, offset }) => `offset ${offset} of partition ${partition}`).join(", ")}`;
}

function describeMembers(members: readonly GroupMember[]): string {
  return members
    .map(({ clientId, clientHost }) => `client id "${clientId}" on host ${clientHost}`)
    .join(", ");
}

export function nextStep(world: ReplayWorld): ReplayStep {
  const { replay, pipeline, now } = world;
  const before = replay.status ?? {};
  const step = (
    phase: ReplayPhase,
    conditions: Conditions,
    lookAgain: LookAgain,
    fields: Omit<ReplayStatus, "phase" | "conditions" | "observedGeneration"> = {},
    extra: Pick<ReplayStep, "setOffsets" | "event"> = {},
  ): ReplayStep => ({
    status: {
      ...before,
      ...fields,
      phase,
      observedGeneration: replay.metadata.generation ?? 0,
      conditions: mergeConditions(before.conditions ?? [], conditions, replay.metadata.generation ?? 0, now),
    },
    lookAgain,
    ...extra,
  });
  const fail = (reason: string, message: string): ReplayStep =>
    step(
      "Failed",
      [...notWaiting("Failed", "the replay failed"), { type: "Failed", status: "True", reason, message }],
      "never",
      { completionTime: now.toISOString() },
      { event: { type: "Warning", reason, message } },
    );
  const phase = phaseOf(replay);
  const namespace = replay.metadata.namespace ?? "";
  const pipelineName = `${namespace}/${replay.spec.pipeline}`;

  if (phase === "Done" || phase === "Failed") return { status: before, lookAgain: "never" };
  if (pipeline === undefined) {
    const missing = `spec.pipeline names SentimentPipeline ${pipelineName}, which does not exist`;
    if (phase !== "Pending")
      return fail("PipelineNotFound", `${missing} any more: it was deleted during the replay`);
    return step(
      "Pending",
      waiting("PipelineNotFound", `${missing}; create it, or delete this replay`),
      "resync",
    );
  }
  if (phase === "Pending") {
    const ahead = replayAhead(replay, world.replays);
    if (ahead !== undefined) {
      return step(
        "Pending",
        waiting(
          "WaitingForReplay",
          `waits for ${replayKind} ${ahead.metadata.name} (${phaseOf(ahead)}) of the same pipeline: one replay of a pipeline runs at a time, oldest first`,
        ),
        "resync",
      );
    }
    return step(
      "Pausing",
      notWaiting(
        "Pausing",
        `holding pipeline ${pipelineName} paused until its consumer group has no members`,
      ),
      "now",
      { startTime: now.toISOString() },
      {
        event: {
          type: "Normal",
          reason: "Pausing",
          message: `holding pipeline ${pipelineName} paused to replay its requests ${describeFrom(replay.spec.from)}`,
        },
      },
    );
  }

  const kafka = world.kafka;
  if (kafka === undefined) throw new Error(`the ${phase} phase needs what Kafka reports (kafkaNeeds)`);
  const group = pipeline.consumerGroup;
  const topic = pipeline.topics.requests;
  const timeoutSeconds = replay.spec.groupEmptyTimeoutSeconds ?? defaultGroupEmptyTimeoutSeconds;
  const startedAt = new Date(before.startTime ?? now.toISOString()).getTime();
  const givesUpAt = new Date(startedAt + timeoutSeconds * 1000);
  const untilEmpty = (): ReplayStep =>
    now.getTime() >= givesUpAt.getTime()
      ? fail(
          "GroupNotEmpty",
          `consumer group ${group} still had ${kafka.members.length} member(s) ${timeoutSeconds} s (spec.groupEmptyTimeoutSeconds) after the replay began: ${describeMembers(kafka.members)}. Kafka resets a group's offsets only while it has no members: stop those consumers (the pipeline's own workers stop while a replay holds it paused), then create the replay again`,
        )
      : step(
          phase,
          waiting(
            "GroupNotEmpty",
            `waiting for consumer group ${group} to have no members, until ${givesUpAt.toISOString()}: ${describeMembers(kafka.members)}`,
          ),
          "poll",
        );
  const committed = new Map(
    kafka.offsets.flatMap(({ partition, committedOffset }) =>
      committedOffset === null || committedOffset < 0 ? [] : [[partition, committedOffset] as const],
    ),
  );

  if (phase === "Pausing") {
    if (kafka.members.length > 0) return untilEmpty();
    const plan = planReset(replay.spec.from, topic, kafka.offsets, kafka.atTimestamp);
    if (!plan.ok) return fail(plan.reason, plan.message);
    return step(
      "Resetting",
      notWaiting("Resetting", `setting the offsets of consumer group ${group} on topic ${topic}`),
      "now",
      { partitions: plan.partitions, toReplay: plan.toReplay, remaining: plan.toReplay },
    );
  }

  const planned = before.partitions ?? [];
  if (phase === "Resetting") {
    const running = (extra: Pick<ReplayStep, "setOffsets" | "event"> = {}) =>
      step("Running", notWaiting("Running", `${before.toReplay ?? 0} requests to replay`), "now", {}, extra);
    if (planned.every(({ partition, resetOffset }) => committed.get(partition) === Number(resetOffset))) {
      // Set before, by an operator that stopped before it could write Running: never set twice.
      return running();
    }
    if (kafka.members.length > 0) return untilEmpty();
    return running({
      setOffsets: planned.map(({ partition, resetOffset }) => ({ partition, offset: Number(resetOffset) })),
      event: {
        type: "Normal",
        reason: "OffsetsReset",
        message: `set the offsets of consumer group ${group} on topic ${topic}: ${planned
          .map(
            ({ partition, previousOffset, resetOffset }) =>
              `partition ${partition} ${previousOffset ?? "(none)"} → ${resetOffset}`,
          )
          .join(", ")}`,
      },
    });
  }

  const partitions = planned.map((partition) => {
    const offset = committed.get(partition.partition);
    return offset === undefined ? partition : { ...partition, committedOffset: String(offset) };
  });
  const remaining = remainingOf(partitions, committed);
  if (remaining > 0) {
    return step(
      "Running",
      notWaiting("Running", `${remaining} of ${before.toReplay ?? 0} requests left to replay`),
      "poll",
      { partitions, remaining },
    );
  }
  const message = `replayed ${before.toReplay ?? 0} requests of pipeline ${pipelineName} ${describeFrom(replay.spec.from)}`;
  return step(
    "Done",
    [
      ...notWaiting("Done", "the replay is complete"),
      { type: "Complete", status: "True", reason: "Replayed", message },
    ],
    "never",
    { partitions, remaining, completionTime: now.toISOString() },
    { event: { type: "Normal", reason: "Replayed", message } },
  );
}
