// A replay's pure parts: which replays hold a pipeline or wait for one another (replay.ts), where the offsets
// go (plan.ts), and the phase machine (phases.ts), each step given the world it sees.
import { expect } from "chai";
import type { PartitionOffsets } from "../../../operator/src/kafka/lag.ts";
import { resolvePipeline } from "../../../operator/src/pipeline.ts";
import {
  type KafkaView,
  kafkaNeeds,
  nextStep,
  type ReplayWorld,
} from "../../../operator/src/replay/phases.ts";
import { planReset } from "../../../operator/src/replay/plan.ts";
import {
  ReplayPhaseChanges,
  type ReplaySpec,
  type ReplayStatus,
  replayAhead,
  replayHolds,
  replaysToLookAt,
  type SentimentReplay,
} from "../../../operator/src/replay/replay.ts";
import { now, pipelineObject } from "./fake-cluster.ts";

const pipeline = resolvePipeline(pipelineObject());
const topic = "shop.reviews-requests";
const group = "kubesentiment.shop.reviews";

function replay(
  name: string,
  status?: ReplayStatus,
  spec: Partial<ReplaySpec> = {},
  createdAt = "2026-12-01T07:00:00Z",
): SentimentReplay {
  return {
    apiVersion: "kubesentiment.io/v1alpha1",
    kind: "SentimentReplay",
    metadata: { name, namespace: "shop", generation: 1, creationTimestamp: new Date(createdAt) },
    spec: { pipeline: "reviews", from: { earliest: true }, ...spec },
    ...(status === undefined ? {} : { status }),
  };
}

const log = (committed: (number | null)[], start = 0, end = 100): PartitionOffsets[] =>
  committed.map((committedOffset, partition) => ({
    partition,
    logStartOffset: start,
    logEndOffset: end,
    committedOffset,
  }));

const seconds = (count: number) => new Date(now.getTime() + count * 1000);

function world(
  subject: SentimentReplay,
  kafka?: KafkaView,
  others: SentimentReplay[] = [],
  at: Date = now,
): ReplayWorld {
  return { replay: subject, pipeline, replays: [subject, ...others], kafka, now: at };
}

const conditionOf = (status: ReplayStatus, type: string) =>
  status.conditions?.find((condition) => condition.type === type);

describe("replay: holds and order", () => {
  it("holds its pipeline paused while Pausing or Resetting, and only then", () => {
    const replays = [
      replay("a", { phase: "Pausing" }),
      replay("b", { phase: "Resetting" }),
      replay("c", { phase: "Running" }),
      replay("d", { phase: "Done" }),
      replay("e"),
      replay("f", { phase: "Pausing" }, { pipeline: "orders" }),
    ];
    expect(replayHolds(replays, "shop", "reviews")).to.deep.equal(["SentimentReplay a", "SentimentReplay b"]);
    expect(replayHolds(replays, "other", "reviews")).to.deep.equal([]);
  });

  it("lets the oldest unfinished replay of a pipeline go first, and one under way before any", () => {
    const older = replay("zeta", undefined, {}, "2026-12-01T06:00:00Z");
    const newer = replay("alpha", undefined, {}, "2026-12-01T07:00:00Z");
    expect(replayAhead(newer, [older, newer])?.metadata.name).to.equal("zeta");
    expect(replayAhead(older, [older, newer])).to.equal(undefined);
    // Created in the same second: the name decides.
    const twin = replay("beta", undefined, {}, "2026-12-01T07:00:00Z");
    expect(replayAhead(twin, [newer, twin])?.metadata.name).to.equal("alpha");
    // Under way wins whatever its age; finished ones and other pipelines count for nothing.
    const running = replay("late", { phase: "Running" }, {}, "2026-12-01T09:00:00Z");
    expect(replayAhead(older, [older, running])?.metadata.name).to.equal("late");
    const done = replay("old-done", { phase: "Done" }, {}, "2026-12-01T05:00:00Z");
    const elsewhere = replay("elsewhere", undefined, { pipeline: "orders" }, "2026-12-01T05:00:00Z");
    expect(replayAhead(older, [done, elsewhere, older])).to.equal(undefined);
  });

  it("looks at the replay that changed and at the unfinished replays of its pipeline", () => {
    const changed = replay("a", { phase: "Done" });
    const keys = replaysToLookAt(changed, [changed, replay("b"), replay("c", { phase: "Failed" })]).map(
      (one) => one.metadata.name,
    );
    expect(keys).to.deep.equal(["a", "b"]);
  });
});

describe("replay: phase changes", () => {
  it("tells a new phase, an arrival and a deletion from progress within a phase", () => {
    const changes = new ReplayPhaseChanges();
    expect(changes.changed(replay("a"), true), "arrived").to.equal(true);
    expect(changes.changed(replay("a"), true), "the same").to.equal(false);
    expect(changes.changed(replay("a", { phase: "Running", remaining: 9 }), true), "Running").to.equal(true);
    expect(changes.changed(replay("a", { phase: "Running", remaining: 3 }), true), "progress").to.equal(
      false,
    );
    expect(changes.changed(replay("a", { phase: "Running" }), false), "deleted").to.equal(true);
    expect(changes.changed(replay("a", { phase: "Running" }), true), "created again").to.equal(true);
  });
});

describe("replay: the reset plan", () => {
  it("from the earliest offsets: each partition's log start", () => {
    const plan = planReset({ earliest: true }, topic, log([40, null], 10, 50), undefined);
    expect(plan).to.deep.equal({
      ok: true,
      partitions: [
        { partition: 0, previousOffset: "40", resetOffset: "10", endOffset: "50" },
        { partition: 1, resetOffset: "10", endOffset: "50" },
      ],
      toReplay: 80,
    });
  });

  it("from a time: the offsets Kafka gives for it", () => {
    const plan = planReset({ timestamp: "2026-12-01T07:00:00Z" }, topic, log([100, 100]), [
      { partition: 0, offset: 70 },
      { partition: 1, offset: 100 },
    ]);
    expect(plan.ok && plan.partitions.map((p) => p.resetOffset)).to.deep.equal(["70", "100"]);
    expect(plan.ok && plan.toReplay).to.equal(30);
  });

  it("from given offsets: only the partitions listed", () => {
    const plan = planReset({ offsets: [{ partition: 1, offset: 5 }] }, topic, log([100, 100]), undefined);
    expect(plan).to.deep.equal({
      ok: true,
      partitions: [{ partition: 1, previousOffset: "100", resetOffset: "5", endOffset: "100" }],
      toReplay: 95,
    });
  });

  it("refuses a partition the topic lacks and an offset outside the log, naming the field", () => {
    const plan = planReset(
      {
        offsets: [
          { partition: 0, offset: 3 },
          { partition: 1, offset: 200 },
          { partition: 7, offset: 0 },
        ],
      },
      topic,
      log([100, 100], 10, 100),
      undefined,
    );
    expect(plan.ok).to.equal(false);
    const message = plan.ok ? "" : plan.message;
    expect(message).to.contain(
      `spec.from.offsets[0].offset 3 is outside partition 0 of topic ${topic}, whose log holds offsets 10 to 100`,
    );
    expect(message).to.contain("spec.from.offsets[1].offset 200 is outside partition 1");
    expect(message).to.contain(`spec.from.offsets[2].partition 7: topic ${topic} has partitions 0 to 1`);
  });
});

describe("replay: the phase machine", () => {
  const empty = (offsets: PartitionOffsets[], atTimestamp?: KafkaView["atTimestamp"]): KafkaView => ({
    members: [],
    offsets,
    ...(atTimestamp === undefined ? {} : { atTimestamp }),
  });
  const member = { clientId: "kubesentiment-worker-1", clientHost: "/10.0.0.7" };
  const pausing = (spec: Partial<ReplaySpec> = {}) =>
    replay("nightly", { phase: "Pausing", startTime: now.toISOString() }, spec);
  const planned = {
    phase: "Resetting" as const,
    startTime: now.toISOString(),
    partitions: [
      { partition: 0, previousOffset: "100", resetOffset: "10", endOffset: "100" },
      { partition: 1, previousOffset: "100", resetOffset: "40", endOffset: "100" },
    ],
    toReplay: 150,
    remaining: 150,
  };

  it("asks Kafka for nothing while Pending or finished, for offsets by time only while Pausing", () => {
    expect(kafkaNeeds(replay("a"))).to.equal(undefined);
    expect(kafkaNeeds(replay("a", { phase: "Done" }))).to.equal(undefined);
    const at = "2026-12-01T07:00:00Z";
    expect(kafkaNeeds(pausing({ from: { timestamp: at } }))).to.deep.equal({
      readThroughTails: false,
      timestamp: at,
    });
    expect(kafkaNeeds(replay("a", planned, { from: { timestamp: at } }))).to.deep.equal({
      readThroughTails: false,
      timestamp: undefined,
    });
    expect(kafkaNeeds(replay("a", { ...planned, phase: "Running" }))?.readThroughTails).to.equal(true);
  });

  it("starts a replay nothing waits ahead of: Pausing, which holds the pipeline, from now", () => {
    const step = nextStep(world(replay("nightly")));
    expect(step.status).to.deep.include({ phase: "Pausing", startTime: now.toISOString() });
    expect(step.lookAgain).to.equal("now");
    expect(step.event).to.deep.include({ type: "Normal", reason: "Pausing" });
  });

  it("keeps a later replay Pending, naming the one it waits for", () => {
    const first = replay("first", { phase: "Running" });
    const step = nextStep(world(replay("second"), undefined, [first]));
    expect(step.status.phase).to.equal("Pending");
    expect(conditionOf(step.status, "Waiting")).to.deep.include({
      status: "True",
      reason: "WaitingForReplay",
      message:
        "waits for SentimentReplay first (Running) of the same pipeline: one replay of a pipeline runs at a time, oldest first",
    });
    expect(step.lookAgain).to.equal("resync");
  });

  it("waits Pending for a pipeline that does not exist, and fails one deleted mid-way", () => {
    const pending = nextStep({ ...world(replay("nightly")), pipeline: undefined });
    expect(pending.status.phase).to.equal("Pending");
    expect(conditionOf(pending.status, "Waiting")?.message).to.equal(
      "spec.pipeline names SentimentPipeline shop/reviews, which does not exist; create it, or delete this replay",
    );
    const running = nextStep({
      ...world(replay("nightly", { ...planned, phase: "Running" })),
      pipeline: undefined,
    });
    expect(running.status.phase).to.equal("Failed");
    expect(conditionOf(running.status, "Failed")?.reason).to.equal("PipelineNotFound");
  });

  it("waits while the group has members, naming them, and fails GroupNotEmpty past the timeout", () => {
    const waiting = nextStep(
      world(pausing(), { members: [member], offsets: log([100, 100]) }, [], seconds(119)),
    );
    expect(waiting.status.phase).to.equal("Pausing");
    expect(waiting.lookAgain).to.equal("poll");
    expect(conditionOf(waiting.status, "Waiting")).to.deep.include({
      status: "True",
      reason: "GroupNotEmpty",
    });
    expect(conditionOf(waiting.status, "Waiting")?.message).to.contain(
      'client id "kubesentiment-worker-1" on host /10.0.0.7',
    );

    const failed = nextStep(
      world(pausing(), { members: [member], offsets: log([100, 100]) }, [], seconds(120)),
    );
    expect(failed.status).to.deep.include({ phase: "Failed", completionTime: seconds(120).toISOString() });
    expect(failed.lookAgain).to.equal("never");
    const condition = conditionOf(failed.status, "Failed");
    expect(condition).to.deep.include({ status: "True", reason: "GroupNotEmpty" });
    expect(condition?.message).to.contain(
      `consumer group ${group} still had 1 member(s) 120 s (spec.groupEmptyTimeoutSeconds) after the replay began: client id "kubesentiment-worker-1" on host /10.0.0.7`,
    );
    expect(failed.event).to.deep.include({ type: "Warning", reason: "GroupNotEmpty" });
    // A Failed replay holds nothing.
    expect(replayHolds([replay("nightly", failed.status)], "shop", "reviews")).to.deep.equal([]);
  });

  it("records the plan once the group is empty, before setting any offset", () => {
    const step = nextStep(
      world(
        pausing({ from: { timestamp: "2026-12-01T07:00:00Z" } }),
        empty(log([100, 100], 10), [
          { partition: 0, offset: 10 },
          { partition: 1, offset: 40 },
        ]),
      ),
    );
    expect(step.setOffsets).to.equal(undefined);
    expect(step.status).to.deep.include({ phase: "Resetting", toReplay: 150, remaining: 150 });
    expect(step.status.partitions).to.deep.equal(planned.partitions);
    expect(step.lookAgain).to.equal("now");
  });

  it("fails InvalidOffsets, naming the field, when given offsets are outside the log", () => {
    const step = nextStep(
      world(pausing({ from: { offsets: [{ partition: 0, offset: 500 }] } }), empty(log([100]))),
    );
    expect(step.status.phase).to.equal("Failed");
    expect(conditionOf(step.status, "Failed")?.message).to.contain("spec.from.offsets[0].offset 500");
  });

  it("sets the planned offsets while Resetting, then runs", () => {
    const step = nextStep(world(replay("nightly", planned), empty(log([100, 100]))));
    expect(step.setOffsets).to.deep.equal([
      { partition: 0, offset: 10 },
      { partition: 1, offset: 40 },
    ]);
    expect(step.status.phase).to.equal("Running");
    expect(step.event?.message).to.equal(
      `set the offsets of consumer group ${group} on topic ${topic}: partition 0 100 → 10, partition 1 100 → 40`,
    );
  });

  it("never sets them twice: a group already at the plan (an operator stopped after setting it) just runs", () => {
    const step = nextStep(world(replay("nightly", planned), empty(log([10, 40]))));
    expect(step.setOffsets).to.equal(undefined);
    expect(step.status.phase).to.equal("Running");
  });

  it("does not set offsets while a member is back in the group: it waits, within the same timeout", () => {
    const step = nextStep(world(replay("nightly", planned), { members: [member], offsets: log([100, 100]) }));
    expect(step.setOffsets).to.equal(undefined);
    expect(step.status.phase).to.equal("Resetting");
    expect(conditionOf(step.status, "Waiting")?.reason).to.equal("GroupNotEmpty");
  });

  it("counts what is left while Running, and is Done when the group has committed up to the recorded ends", () => {
    const running = replay("nightly", { ...planned, phase: "Running" });
    const midway = nextStep(world(running, empty(log([60, 100], 0, 130))));
    expect(midway.status).to.deep.include({ phase: "Running", remaining: 40, toReplay: 150 });
    expect(midway.status.partitions?.map((p) => p.committedOffset)).to.deep.equal(["60", "100"]);
    expect(midway.lookAgain).to.equal("poll");

    // New requests past the recorded ends are the pipeline's ordinary work, not the replay's.
    const done = nextStep(world(running, empty(log([100, 120], 0, 130)), [], seconds(30)));
    expect(done.status).to.deep.include({
      phase: "Done",
      remaining: 0,
      completionTime: seconds(30).toISOString(),
    });
    expect(conditionOf(done.status, "Complete")).to.deep.include({ status: "True", reason: "Replayed" });
    expect(conditionOf(done.status, "Complete")?.message).to.equal(
      "replayed 150 requests of pipeline shop/reviews from the earliest offsets",
    );
    expect(done.lookAgain).to.equal("never");
  });

  it("leaves a finished replay as it is", () => {
    const finished = replay("nightly", { phase: "Done" });
    expect(nextStep(world(finished))).to.deep.equal({ status: finished.status, lookAgain: "never" });
  });
});
