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

/** What every phase's step is made with: the world, and the two ways a step ends. */
interface Context {
  world: ReplayWorld;
  before: ReplayStatus;
  /** "namespace/name" of the pipeline the replay names. */
  pipelineName: string;
  step(
    phase: ReplayPhase,
    conditions: Conditions,
    lookAgain: LookAgain,
    fields?: Omit<ReplayStatus, "phase" | "conditions" | "observedGeneration">,
    extra?: Pick<ReplayStep, "setOffsets" | "event">,
  ): ReplayStep;
  fail(reason: string, message: string): ReplayStep;
}

/** The context of the phases that work on the consumer group: the pipeline exists and Kafka was asked. */
interface GroupContext extends Context {
  group: string;
  topic: string;
  kafka: KafkaView;
  /** The group's committed offsets by partition; a partition without one is absent. */
  committed: Map<number, number>;
  /** Waits for the members to leave, or fails GroupNotEmpty once the timeout has passed. */
  untilEmpty(): ReplayStep;
}

function contextOf(world: ReplayWorld): Context {
  const { replay, now } = world;
  const before = replay.status ?? {};
  const generation = replay.metadata.generation ?? 0;
  const step: Context["step"] = (phase, conditions, lookAgain, fields = {}, extra = {}) => ({
    status: {
      ...before,
      ...fields,
      phase,
      observedGeneration: generation,
      conditions: mergeConditions(before.conditions ?? [], conditions, generation, now),
    },
    lookAgain,
    ...extra,
  });
  return {
    world,
    before,
    pipelineName: `${replay.metadata.namespace ?? ""}/${replay.spec.pipeline}`,
    step,
    fail: (reason, message) =>
      step(
        "Failed",
        [...notWaiting("Failed", "the replay failed"), { type: "Failed", status: "True", reason, message }],
        "never",
        { completionTime: now.toISOString() },
        { event: { type: "Warning", reason, message } },
      ),
  };
}

function groupContextOf(context: Context, pipeline: ResolvedPipeline, kafka: KafkaView): GroupContext {
  const { world, before, step, fail } = context;
  const { replay, now } = world;
  const group = pipeline.consumerGroup;
  const timeoutSeconds = replay.spec.groupEmptyTimeoutSeconds ?? defaultGroupEmptyTimeoutSeconds;
  const startedAt = new Date(before.startTime ?? now.toISOString()).getTime();
  const givesUpAt = new Date(startedAt + timeoutSeconds * 1000);
  const members = describeMembers(kafka.members);
  return {
    ...context,
    group,
    topic: pipeline.topics.requests,
    kafka,
    committed: new Map(
      kafka.offsets.flatMap(({ partition, committedOffset }) =>
        committedOffset === null || committedOffset < 0 ? [] : [[partition, committedOffset] as const],
      ),
    ),
    untilEmpty: () =>
      now.getTime() >= givesUpAt.getTime()
        ? fail(
            "GroupNotEmpty",
            `consumer group ${group} still had ${kafka.members.length} member(s) ${timeoutSeconds} s (spec.groupEmptyTimeoutSeconds) after the replay began: ${members}. Kafka resets a group's offsets only while it has no members: stop those consumers (the pipeline's own workers stop while a replay holds it paused), then create the replay again`,
          )
        : step(
            phaseOf(replay),
            waiting(
              "GroupNotEmpty",
              `waiting for consumer group ${group} to have no members, until ${givesUpAt.toISOString()}: ${members}`,
            ),
            "poll",
          ),
  };
}

export function nextStep(world: ReplayWorld): ReplayStep {
  const { replay, pipeline } = world;
  const context = contextOf(world);
  const phase = phaseOf(replay);
  if (phase === "Done" || phase === "Failed") return { status: context.before, lookAgain: "never" };
  if (pipeline === undefined) return pipelineMissing(context);
  if (phase === "Pending") return pending(context);
  if (world.kafka === undefined) throw new Error(`the ${phase} phase needs what Kafka reports (kafkaNeeds)`);
  const active = groupContextOf(context, pipeline, world.kafka);
  if (phase === "Pausing") return pausing(active);
  if (phase === "Resetting") return resetting(active);
  return running(active);
}

function pipelineMissing({ world, pipelineName, step, fail }: Context): ReplayStep {
  const missing = `spec.pipeline names SentimentPipeline ${pipelineName}, which does not exist`;
  if (phaseOf(world.replay) !== "Pending") {
    return fail("PipelineNotFound", `${missing} any more: it was deleted during the replay`);
  }
  return step(
    "Pending",
    waiting("PipelineNotFound", `${missing}; create it, or delete this replay`),
    "resync",
  );
}

function pending({ world, pipelineName, step }: Context): ReplayStep {
  const { replay, now } = world;
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
    notWaiting("Pausing", `holding pipeline ${pipelineName} paused until its consumer group has no members`),
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

function pausing({ world, group, topic, kafka, step, fail, untilEmpty }: GroupContext): ReplayStep {
  if (kafka.members.length > 0) return untilEmpty();
  const plan = planReset(world.replay.spec.from, topic, kafka.offsets, kafka.atTimestamp);
  if (!plan.ok) return fail(plan.reason, plan.message);
  return step(
    "Resetting",
    notWaiting("Resetting", `setting the offsets of consumer group ${group} on topic ${topic}`),
    "now",
    { partitions: plan.partitions, toReplay: plan.toReplay, remaining: plan.toReplay },
  );
}

function resetting({ before, group, topic, kafka, committed, step, untilEmpty }: GroupContext): ReplayStep {
  const planned = before.partitions ?? [];
  const toRunning = (extra: Pick<ReplayStep, "setOffsets" | "event"> = {}) =>
    step("Running", notWaiting("Running", `${before.toReplay ?? 0} requests to replay`), "now", {}, extra);
  if (planned.every(({ partition, resetOffset }) => committed.get(partition) === Number(resetOffset))) {
    // Set before, by an operator that stopped before it could write Running: never set twice.
    return toRunning();
  }
  if (kafka.members.length > 0) return untilEmpty();
  return toRunning({
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

function running({ world, before, pipelineName, committed, step }: GroupContext): ReplayStep {
  const partitions = (before.partitions ?? []).map((partition) => {
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
  const message = `replayed ${before.toReplay ?? 0} requests of pipeline ${pipelineName} ${describeFrom(world.replay.spec.from)}`;
  return step(
    "Done",
    [
      ...notWaiting("Done", "the replay is complete"),
      { type: "Complete", status: "True", reason: "Replayed", message },
    ],
    "never",
    { partitions, remaining, completionTime: world.now.toISOString() },
    { event: { type: "Normal", reason: "Replayed", message } },
  );
}
