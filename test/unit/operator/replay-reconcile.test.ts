// The replay reconcile's I/O order with stand-ins for the API server and Kafka: it reads the replay afresh,
// sets offsets before it writes the status that says they are set, says a Kafka failure on the replay, and
// forgets a replay that is gone.
import { ApiException } from "@kubernetes/client-node";
import { expect } from "chai";
import { KafkaAdminError } from "../../../operator/src/kafka/errors.ts";
import type { ResolvedPipeline } from "../../../operator/src/pipeline.ts";
import type { KafkaNeeds, ReplayKafka } from "../../../operator/src/replay/kafka-port.ts";
import type { KafkaView } from "../../../operator/src/replay/phases.ts";
import type { OffsetAt } from "../../../operator/src/replay/plan.ts";
import { ReplayReconciler } from "../../../operator/src/replay/reconcile.ts";
import type { ReplayStatus, SentimentReplay } from "../../../operator/src/replay/replay.ts";
import { now, pipelineObject } from "./fake-cluster.ts";

class FakeReplayKafka implements ReplayKafka {
  view: KafkaView = { members: [], offsets: [] };
  failure: Error | undefined;
  constructor(private readonly did: string[]) {}

  async observe(_pipeline: ResolvedPipeline, needs: KafkaNeeds): Promise<KafkaView> {
    this.did.push(`observe readThroughTails=${needs.readThroughTails}`);
    if (this.failure !== undefined) throw this.failure;
    return this.view;
  }

  async setOffsets(_pipeline: ResolvedPipeline, offsets: readonly OffsetAt[]): Promise<void> {
    this.did.push(`setOffsets ${offsets.map(({ partition, offset }) => `${partition}:${offset}`).join(",")}`);
  }
}

describe("replay reconcile", () => {
  let did: string[];
  let stored: SentimentReplay | undefined;
  let kafka: FakeReplayKafka;
  let reconciler: ReplayReconciler;

  const replayWith = (status?: ReplayStatus): SentimentReplay => ({
    apiVersion: "kubesentiment.io/v1alpha1",
    kind: "SentimentReplay",
    metadata: { name: "nightly", namespace: "shop", generation: 1, creationTimestamp: now },
    spec: { pipeline: "reviews", from: { earliest: true } },
    ...(status === undefined ? {} : { status }),
  });

  beforeEach(() => {
    did = [];
    kafka = new FakeReplayKafka(did);
    stored = undefined;
    reconciler = new ReplayReconciler({
      replays: { list: () => (stored === undefined ? [] : [stored]) },
      pipelines: { get: (name) => (name === "reviews" ? pipelineObject() : undefined) },
      customObjects: {
        getNamespacedCustomObject: async ({ name }) => {
          did.push(`get ${name}`);
          if (stored === undefined) throw new ApiException(404, "not found", {}, {});
          return stored;
        },
        patchNamespacedCustomObjectStatus: async ({ body }) => {
          const status = (body as { status: ReplayStatus }).status;
          did.push(`status ${status.phase}`);
          if (stored !== undefined) stored = { ...stored, status };
          return {};
        },
      },
      events: {
        record: async (_object, type, reason) => {
          did.push(`event ${type} ${reason}`);
        },
      },
      kafka,
      pollIntervalMs: 1_000,
      resyncPeriodMs: 30_000,
      log: () => {},
      now: () => now,
    });
  });

  it("goes Pending → Pausing → Resetting → Running, setting the offsets only after the plan is written", async () => {
    stored = replayWith();
    kafka.view = {
      members: [],
      offsets: [{ partition: 0, logStartOffset: 0, logEndOffset: 20, committedOffset: 20 }],
    };
    expect(await reconciler.reconcile("shop/nightly")).to.deep.equal({ kind: "resync", afterMs: 0 });
    expect(await reconciler.reconcile("shop/nightly")).to.deep.equal({ kind: "resync", afterMs: 0 });
    expect(await reconciler.reconcile("shop/nightly")).to.deep.equal({ kind: "resync", afterMs: 0 });
    expect(did).to.deep.equal([
      "get nightly",
      "status Pausing",
      "event Normal Pausing",
      "get nightly",
      "observe readThroughTails=false",
      "status Resetting",
      "get nightly",
      "observe readThroughTails=false",
      "setOffsets 0:0",
      "status Running",
      "event Normal OffsetsReset",
    ]);
  });

  it("says a Kafka failure on the replay and retries, leaving the status as it was", async () => {
    stored = replayWith({ phase: "Pausing", startTime: now.toISOString() });
    kafka.failure = new KafkaAdminError("KafkaUnreachable", "no Kafka broker answered", true);
    expect(await reconciler.reconcile("shop/nightly")).to.deep.equal({
      kind: "retry",
      reason: "KafkaUnreachable",
    });
    expect(did).to.deep.equal([
      "get nightly",
      "observe readThroughTails=false",
      "event Warning KafkaUnreachable",
    ]);
  });

  it("forgets a replay that is gone", async () => {
    expect(await reconciler.reconcile("shop/nightly")).to.deep.equal({ kind: "forget" });
  });
});
