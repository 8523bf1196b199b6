import type { V1Deployment, V2HorizontalPodAutoscaler } from "@kubernetes/client-node";
import { expect } from "chai";
import { mergeConditions } from "../../../operator/src/controller/conditions.ts";
import { computeStatus, type Observation, workersShort } from "../../../operator/src/controller/status.ts";
import { resolvePipeline } from "../../../operator/src/pipeline.ts";

const pipeline = resolvePipeline({
  apiVersion: "kubesentiment.io/v1alpha1",
  kind: "SentimentPipeline",
  metadata: { name: "reviews", namespace: "default", generation: 3, uid: "u" },
  spec: {
    kafka: { bootstrapServers: ["k:9092"] },
    topics: { partitions: 4 },
    autoscaling: { maxReplicas: 4 },
  },
});

function deployment(replicas: number, available: number, updated = replicas): V1Deployment {
  return {
    metadata: { name: "reviews-worker" },
    spec: { replicas, selector: {}, template: {} },
    status: { replicas, readyReplicas: available, availableReplicas: available, updatedReplicas: updated },
  };
}

function hpa(active: "True" | "False", reason: string, limited = false): V2HorizontalPodAutoscaler {
  return {
    spec: { maxReplicas: 4, scaleTargetRef: { kind: "Deployment", name: "reviews-worker" } },
    status: {
      desiredReplicas: 4,
      conditions: [
        { type: "ScalingActive", status: active, reason, message: `hpa says ${reason}` },
        ...(limited
          ? [{ type: "ScalingLimited", status: "True", reason: "TooManyReplicas", message: "" }]
          : []),
      ],
    },
  };
}

const healthy: Observation = {
  pipeline,
  pause: { bySpec: false, holds: [] },
  topics: { state: "ready" },
  acls: undefined,
  deployment: deployment(2, 2),
  podFailure: undefined,
  hpa: hpa("True", "ValidMetricFound"),
  keda: undefined,
  cappedByPartitions: false,
  workloadError: undefined,
  lag: { value: 17, total: 17, saturatedPartitions: [] },
  activity: undefined,
  createdTopics: ["default.reviews-requests"],
  grantedAcls: undefined,
};
const now = new Date("2026-11-29T05:00:00Z");
const byType = (observation: Observation) =>
  Object.fromEntries((computeStatus(observation, [], now).conditions ?? []).map((c) => [c.type, c]));

describe("operator status", () => {
  it("is Ready when topics exist and a worker is available, with the figures filled in", () => {
    const status = computeStatus(healthy, [], now);
    expect(status).to.deep.include({
      observedGeneration: 3,
      replicas: 2,
      readyReplicas: 2,
      desiredReplicas: 4,
      consumerLag: 17,
      topics: {
        requests: "default.reviews-requests",
        responses: "default.reviews-responses",
        deadLetter: "default.reviews-dlq",
        partitions: 4,
        created: ["default.reviews-requests"],
      },
    });
    const conditions = byType(healthy);
    expect(conditions.Ready).to.include({ status: "True", reason: "PipelineReady", observedGeneration: 3 });
    expect(conditions.TopicsReady?.message).to.include("default.reviews-requests");
    expect(conditions.WorkersAvailable?.message).to.equal("2 of 2 workers available");
    expect(conditions.AutoscalingActive).to.include({ status: "True", reason: "ValidMetricFound" });
  });

  it("carries a topic failure into Ready with its reason and message", () => {
    const conditions = byType({
      ...healthy,
      topics: {
        state: "failed",
        reason: "KafkaUnreachable",
        message: "no broker at k:9092 answered",
        exist: false,
      },
    });
    expect(conditions.TopicsReady).to.include({ status: "False", reason: "KafkaUnreachable" });
    expect(conditions.Ready).to.include({
      status: "False",
      reason: "KafkaUnreachable",
      message: "no broker at k:9092 answered",
    });
  });

  it("is not Ready without an available worker, and says a rollout is under way", () => {
    const conditions = byType({ ...healthy, deployment: deployment(2, 0, 1) });
    expect(conditions.WorkersAvailable).to.include({ status: "False", reason: "NoWorkerAvailable" });
    expect(conditions.WorkersAvailable?.message).to.include("1 of 2 updated");
    expect(conditions.Ready?.status).to.equal("False");
  });

  describe("a failing worker pod", () => {
    const podFailure = {
      pod: "reviews-worker-7c9d-x2x",
      container: "fetch-model",
      reason: "CrashLoopBackOff",
      message:
        "init container fetch-model failed (exit 1; now CrashLoopBackOff): SHA-256 mismatch for https://m/x",
    };
    const named =
      "pod reviews-worker-7c9d-x2x: init container fetch-model failed (exit 1; now CrashLoopBackOff): SHA-256 mismatch for https://m/x";

    it("is why no worker is available, and so why the pipeline is not Ready", () => {
      const conditions = byType({ ...healthy, deployment: deployment(2, 0), podFailure });
      const expected = {
        status: "False",
        reason: "WorkerPodFailing",
        message: `0 of 2 workers of Deployment reviews-worker available; ${named}`,
      };
      expect(conditions.WorkersAvailable).to.include(expected);
      expect(conditions.Ready).to.include(expected);
    });

    it("comes after a stalled roll-out's own word", () => {
      const stalled = deployment(2, 0, 1);
      stalled.status = {
        ...stalled.status,
        conditions: [
          {
            type: "Progressing",
            status: "False",
            reason: "ProgressDeadlineExceeded",
            message: 'ReplicaSet "reviews-worker-7c9d" has timed out progressing.',
          },
        ],
      };
      expect(byType({ ...healthy, deployment: stalled, podFailure }).WorkersAvailable).to.include({
        status: "False",
        reason: "WorkerPodFailing",
        message: `0 of 2 workers of Deployment reviews-worker available: ReplicaSet "reviews-worker-7c9d" has timed out progressing.; ${named}`,
      });
    });

    it("is told beside the workers that answer while a roll-out's new pods fail", () => {
      const conditions = byType({ ...healthy, deployment: deployment(2, 2, 1), podFailure });
      expect(conditions.WorkersAvailable).to.include({
        status: "True",
        reason: "WorkersAvailable",
        message: `2 of 2 workers available; rolling out a new configuration: 1 of 2 updated; ${named}`,
      });
      expect(conditions.Ready?.status).to.equal("True");
    });

    it("names a new pod's failure while the old pod it would replace still answers", () => {
      // maxSurge 1, maxUnavailable 0: the updated pod fails, so the old one stays; every count but the total is met.
      const stuck = deployment(1, 1);
      stuck.status = { ...stuck.status, replicas: 2 };
      const conditions = byType({ ...healthy, deployment: stuck, podFailure });
      expect(conditions.WorkersAvailable).to.include({
        status: "True",
        message: `1 of 1 workers available; rolling out a new configuration: 1 old pod still running until the new ones are ready; ${named}`,
      });
      expect(workersShort(stuck)).to.equal(true);
    });
  });

  it("looks for failing pods only while workers are missing or not yet updated", () => {
    expect(workersShort(deployment(2, 2))).to.equal(false);
    expect(workersShort(deployment(0, 0))).to.equal(false);
    expect(workersShort(undefined)).to.equal(false);
    expect(workersShort(deployment(2, 1))).to.equal(true);
    expect(workersShort(deployment(2, 2, 1))).to.equal(true);
  });

  it("reports a missing Deployment and an apply failure", () => {
    expect(byType({ ...healthy, deployment: undefined }).WorkersAvailable?.reason).to.equal(
      "DeploymentMissing",
    );
    const failed = byType({ ...healthy, workloadError: { reason: "ApplyFailed", message: "forbidden" } });
    expect(failed.Ready).to.include({ status: "False", reason: "ApplyFailed", message: "forbidden" });
  });

  it("stays Ready while autoscaling is inactive, and says why autoscaling is", () => {
    const conditions = byType({ ...healthy, hpa: hpa("False", "FailedGetExternalMetric") });
    expect(conditions.AutoscalingActive).to.include({ status: "False", reason: "FailedGetExternalMetric" });
    expect(conditions.AutoscalingActive?.message).to.equal("hpa says FailedGetExternalMetric");
    expect(conditions.Ready?.status).to.equal("True");
    expect(byType({ ...healthy, hpa: undefined }).AutoscalingActive?.reason).to.equal(
      "HorizontalPodAutoscalerMissing",
    );
    expect(
      byType({ ...healthy, hpa: { ...hpa("True", "x"), status: { desiredReplicas: 1 } } }).AutoscalingActive,
    ).to.include({ status: "Unknown", reason: "AwaitingMetrics" });
  });

  it("says when the partition count is what holds the replicas", () => {
    const conditions = byType({ ...healthy, hpa: hpa("True", "ValidMetricFound", true) });
    expect(conditions.AutoscalingActive?.message).to.include(
      "at most 4 replicas: the requests topic has 4 partitions",
    );
    expect(byType(healthy).AutoscalingActive?.message).to.not.include("at most");
    const saturated = { value: 400, total: 9000, saturatedPartitions: [0, 1, 2, 3] };
    expect(byType({ ...healthy, lag: saturated }).AutoscalingActive?.message).to.include(
      "at most 4 replicas: the requests topic has 4 partitions",
    );
  });

  it("names skewed or stuck partitions that count as one worker each", () => {
    const skewed = { value: 1100, total: 50_100, saturatedPartitions: [2] };
    expect(byType({ ...healthy, lag: skewed }).AutoscalingActive?.message).to.include(
      "partition(s) 2 are more than 1000 messages behind and count as one worker each",
    );
  });

  it("says the pipeline is not paused", () => {
    expect(byType(healthy).Paused).to.include({
      status: "False",
      reason: "NotPaused",
      message: "autoscaling sets the workers' replicas",
    });
  });

  describe("while paused", () => {
    const paused = (pause: Observation["pause"]) =>
      byType({ ...healthy, pause, deployment: deployment(0, 0) });

    it("is Paused by its spec and not Ready, saying how to resume", () => {
      const conditions = paused({ bySpec: true, holds: [] });
      const message =
        "spec.paused is true: the workers are held at 0 replicas and requests wait in " +
        "default.reviews-requests; set spec.paused to false to resume";
      expect(conditions.Paused).to.include({ status: "True", reason: "PausedBySpec", message });
      expect(conditions.Ready).to.include({ status: "False", reason: "Paused", message });
      expect(conditions.WorkersAvailable).to.include({ status: "True", reason: "ScaledToZero" });
    });

    it("is held by a replay, naming it, and names the hold beside a paused spec", () => {
      const held = paused({ bySpec: false, holds: ["SentimentReplay nightly"] });
      expect(held.Paused).to.include({
        status: "True",
        reason: "HeldByReplay",
        message:
          "held by SentimentReplay nightly: the workers are held at 0 replicas and requests wait in " +
          "default.reviews-requests until it lets go",
      });
      expect(held.Ready).to.include({ status: "False", reason: "Paused" });
      const both = paused({ bySpec: true, holds: ["SentimentReplay nightly"] });
      expect(both.Paused?.reason).to.equal("PausedBySpec");
      expect(both.Paused?.message).to.match(/; also held by SentimentReplay nightly$/);
    });

    it("names a failure in Ready before the pause: that is what needs a person", () => {
      const conditions = byType({
        ...healthy,
        pause: { bySpec: true, holds: [] },
        topics: { state: "failed", reason: "KafkaUnreachable", message: "no broker answered", exist: false },
      });
      expect(conditions.Ready).to.include({ status: "False", reason: "KafkaUnreachable" });
      expect(conditions.Paused?.status).to.equal("True");
    });
  });

  it("moves lastTransitionTime only when a condition's status changes", () => {
    const earlier = new Date("2026-11-29T04:00:00Z");
    const first = mergeConditions(
      [],
      [{ type: "Ready", status: "True", reason: "A", message: "a" }],
      1,
      earlier,
    );
    const same = mergeConditions(
      first,
      [{ type: "Ready", status: "True", reason: "B", message: "b" }],
      2,
      now,
    );
    expect(same[0]).to.include({
      lastTransitionTime: earlier.toISOString(),
      reason: "B",
      observedGeneration: 2,
    });
    const flipped = mergeConditions(
      same,
      [{ type: "Ready", status: "False", reason: "C", message: "c" }],
      2,
      now,
    );
    expect(flipped[0]?.lastTransitionTime).to.equal(now.toISOString());
  });

  it("drops AclsReady once the spec has the operator neither manage nor check ACLs, and keeps it otherwise", () => {
    const said = computeStatus(
      { ...healthy, acls: { status: "False", reason: "AclsMissing", message: "m" } },
      [],
      now,
    ).conditions;
    expect(computeStatus(healthy, said ?? [], now).conditions?.map((c) => c.type)).to.not.include(
      "AclsReady",
    );
    const checking = resolvePipeline({
      apiVersion: "kubesentiment.io/v1alpha1",
      kind: "SentimentPipeline",
      metadata: { name: "reviews", namespace: "default", generation: 3 },
      spec: { kafka: { bootstrapServers: ["k:9092"], admin: { sasl: { secretRef: { name: "op" } } } } },
    });
    const kept = computeStatus({ ...healthy, pipeline: checking }, said ?? [], now).conditions;
    expect(kept?.find((c) => c.type === "AclsReady")).to.include({ reason: "AclsMissing" });
  });

  it("is unchanged when nothing changed, so reconcile writes no status", () => {
    const first = computeStatus(healthy, [], now);
    const again = computeStatus(healthy, first.conditions ?? [], new Date("2026-11-29T06:00:00Z"));
    expect(again).to.deep.equal(first);
  });
});
