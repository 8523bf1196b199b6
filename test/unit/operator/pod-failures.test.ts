import type { V1ContainerStatus, V1ObjectMeta, V1Pod, V1PodCondition } from "@kubernetes/client-node";
import { expect } from "chai";
import {
  lastMeaningfulLine,
  maxDetailLength,
  mostTellingPodFailure,
} from "../../../operator/src/controller/pod-failures.ts";

const url = "https://models.example/sentiment.tar.gz";
const mismatch = `fetch-model: SHA-256 mismatch for ${url}: expected ${"a".repeat(64)}, got ${"b".repeat(64)}; the archive was not unpacked`;
/** The tail of a worker's log refused by Kafka: JSON lines, then the line main.ts prints before exit 1. */
const refusedWorkerLog = [
  '{"level":"info","message":"loading the model","service":"kubesentiment-worker"}',
  '{"level":"error","message":"connecting to Kafka failed","error":"SASL authentication failed","service":"kubesentiment-worker"}',
  "worker: failed to start: SASL authentication failed for user alice",
  "",
].join("\n");

function pod(
  name: string,
  status: NonNullable<V1Pod["status"]>,
  metadata: Partial<V1ObjectMeta> = {},
): V1Pod {
  return {
    metadata: { name, namespace: "shop", creationTimestamp: new Date("2026-12-01T08:00:00Z"), ...metadata },
    status: { phase: "Pending", ...status },
  };
}

const notReady: V1PodCondition[] = [{ type: "Ready", status: "False" }];
const ready: V1PodCondition[] = [{ type: "Ready", status: "True" }];

function container(name: string, state: Partial<V1ContainerStatus>): V1ContainerStatus {
  return { name, image: "example/worker:1", imageID: "", ready: false, restartCount: 0, ...state };
}

const crashLoop = {
  waiting: { reason: "CrashLoopBackOff", message: "back-off 5m0s restarting failed container" },
};
const exited = (message: string, exitCode = 1) => ({ terminated: { exitCode, reason: "Error", message } });
const initializing = container("worker", { state: { waiting: { reason: "PodInitializing" } } });

describe("worker pod failures", () => {
  it("names an init container in a crash loop by its last exit and the last line of its log", () => {
    const failing = pod("reviews-worker-a", {
      conditions: notReady,
      initContainerStatuses: [
        container("fetch-model", {
          state: crashLoop,
          lastState: exited(`downloading ${url}\n${mismatch}\n`),
        }),
      ],
      containerStatuses: [initializing],
    });
    expect(mostTellingPodFailure([failing])).to.deep.equal({
      pod: "reviews-worker-a",
      container: "fetch-model",
      reason: "CrashLoopBackOff",
      message: `init container fetch-model failed (exit 1; now CrashLoopBackOff): ${mismatch.slice("fetch-model: ".length)}`,
    });
  });

  it("names a worker refused by Kafka by the line it printed last, after its JSON log lines", () => {
    const failing = pod("reviews-worker-a", {
      phase: "Running",
      conditions: notReady,
      containerStatuses: [container("worker", { state: crashLoop, lastState: exited(refusedWorkerLog) })],
    });
    expect(mostTellingPodFailure([failing])?.message).to.equal(
      "container worker failed (exit 1; now CrashLoopBackOff): failed to start: SASL authentication failed for user alice",
    );
  });

  it("says why a container cannot be created or pulled, in the kubelet's words", () => {
    const cases: [string, string][] = [
      ["CreateContainerConfigError", "couldn't find key password in Secret shop/kafka-login"],
      ["ErrImageNeverPull", 'Container image "example/worker:9" is not present with pull policy of Never'],
      ["ImagePullBackOff", 'Back-off pulling image "example/worker:9"'],
    ];
    for (const [reason, message] of cases) {
      const waiting = pod("reviews-worker-a", {
        conditions: notReady,
        containerStatuses: [container("worker", { state: { waiting: { reason, message } } })],
      });
      expect(mostTellingPodFailure([waiting]), reason).to.deep.equal({
        pod: "reviews-worker-a",
        container: "worker",
        reason,
        message: `container worker cannot start (${reason}): ${message}`,
      });
    }
  });

  it("names a container that exited non-zero, with Kubernetes' reason when it is not a plain error", () => {
    const killed = pod("reviews-worker-a", {
      phase: "Running",
      conditions: notReady,
      containerStatuses: [
        container("worker", { state: { terminated: { exitCode: 137, reason: "OOMKilled" } } }),
      ],
    });
    expect(mostTellingPodFailure([killed])).to.include({
      reason: "OOMKilled",
      message: "container worker failed (exit 137, OOMKilled)",
    });
    const restarted = pod("reviews-worker-b", {
      phase: "Running",
      conditions: notReady,
      containerStatuses: [
        container("worker", {
          state: { running: {} },
          lastState: exited("worker: failed to start: the broker's TLS certificate is not trusted"),
        }),
      ],
    });
    expect(mostTellingPodFailure([restarted])?.message).to.equal(
      "container worker failed (exit 1; restarted): failed to start: the broker's TLS certificate is not trusted",
    );
  });

  it("names a pod no node can take, in the scheduler's words", () => {
    const message = "0/3 nodes are available: 3 Insufficient cpu.";
    const unscheduled = pod("reviews-worker-a", {
      conditions: [{ type: "PodScheduled", status: "False", reason: "Unschedulable", message }],
    });
    expect(mostTellingPodFailure([unscheduled])).to.deep.equal({
      pod: "reviews-worker-a",
      container: undefined,
      reason: "Unschedulable",
      message: `cannot be scheduled: ${message}`,
    });
  });

  it("finds nothing in pods that are ready or on their normal way there", () => {
    const pods = [
      pod("ready", {
        phase: "Running",
        conditions: ready,
        containerStatuses: [container("worker", { ready: true, state: { running: {} } })],
      }),
      pod("scheduling", {}),
      pod("creating", {
        conditions: notReady,
        containerStatuses: [container("worker", { state: { waiting: { reason: "ContainerCreating" } } })],
      }),
      pod("initializing", {
        conditions: notReady,
        initContainerStatuses: [container("fetch-model", { state: { running: {} } })],
        containerStatuses: [initializing],
      }),
      pod("fetched", {
        conditions: notReady,
        initContainerStatuses: [
          container("fetch-model", {
            ready: true,
            state: { terminated: { exitCode: 0, reason: "Completed" } },
          }),
        ],
        containerStatuses: [container("worker", { state: { running: {} } })],
      }),
    ];
    expect(mostTellingPodFailure(pods)).to.equal(undefined);
    expect(mostTellingPodFailure([])).to.equal(undefined);
  });

  it("passes over a ready pod, even one whose worker once failed, to the failing one", () => {
    const once = container("worker", { ready: true, state: { running: {} }, lastState: exited("boom") });
    const pods = [
      pod("a-ready", { phase: "Running", conditions: ready, containerStatuses: [once] }),
      pod("b-failing", {
        conditions: notReady,
        containerStatuses: [container("worker", { state: { waiting: { reason: "ErrImageNeverPull" } } })],
      }),
    ];
    expect(mostTellingPodFailure(pods)).to.include({ pod: "b-failing", reason: "ErrImageNeverPull" });
  });

  it("prefers the newest failing pod, an init container's failure within a pod, and skips pods on their way out", () => {
    const failing = (
      name: string,
      created: string,
      metadata: Partial<V1ObjectMeta> = {},
      phase = "Pending",
    ) =>
      pod(
        name,
        {
          phase,
          conditions: notReady,
          initContainerStatuses: [
            container("fetch-model", { state: crashLoop, lastState: exited(mismatch) }),
          ],
          containerStatuses: [container("worker", { state: { waiting: { reason: "ImagePullBackOff" } } })],
        },
        { creationTimestamp: new Date(created), ...metadata },
      );
    const pods = [
      failing("old", "2026-12-01T08:00:00Z"),
      failing("new", "2026-12-01T09:00:00Z"),
      failing("deleting", "2026-12-01T10:00:00Z", { deletionTimestamp: new Date("2026-12-01T10:05:00Z") }),
      failing("evicted", "2026-12-01T10:00:00Z", {}, "Failed"),
    ];
    expect(mostTellingPodFailure(pods)).to.include({ pod: "new", container: "fetch-model" });
  });

  it(`cuts a long reason to ${maxDetailLength} characters`, () => {
    const long = `worker: failed to start: ${"x".repeat(1000)}`;
    const failing = pod("reviews-worker-a", {
      conditions: notReady,
      containerStatuses: [container("worker", { state: exited(long) })],
    });
    const message = mostTellingPodFailure([failing])?.message ?? "";
    const detail = message.slice("container worker failed (exit 1): ".length);
    expect(detail).to.have.length(maxDetailLength);
    expect(detail).to.match(/^failed to start: x+…$/);
  });

  describe("the meaningful line of a log tail", () => {
    it("is the last line that is not blank", () => {
      expect(lastMeaningfulLine("first\nsecond\n\n  \n")).to.equal("second");
      expect(lastMeaningfulLine("\n \n")).to.equal(undefined);
      expect(lastMeaningfulLine("worker: failed to start: x\nat least one broker is down\n")).to.equal(
        "at least one broker is down",
      );
    });

    it("is a JSON log line's message and error", () => {
      expect(
        lastMeaningfulLine('{"level":"error","message":"consumer crashed","error":"ECONNRESET"}'),
      ).to.equal("consumer crashed: ECONNRESET");
      expect(lastMeaningfulLine('{"level":"error","message":"consumer crashed"}')).to.equal(
        "consumer crashed",
      );
      expect(lastMeaningfulLine('{"level":"error"}')).to.equal('{"level":"error"}');
      expect(lastMeaningfulLine("{not json")).to.equal("{not json");
    });

    it("is an uncaught exception's own line, not its stack or Node's version", () => {
      const uncaught = [
        "file:///app/worker/src/main.js:12",
        "    throw new Error('boom');",
        "    ^",
        "",
        "Error: boom",
        "    at main (file:///app/worker/src/main.js:12:11)",
        "    at process.processTicksAndRejections (node:internal/process/task_queues:105:5)",
        "",
        "Node.js v22.11.0",
      ].join("\n");
      expect(lastMeaningfulLine(uncaught)).to.equal("Error: boom");
    });
  });
});
