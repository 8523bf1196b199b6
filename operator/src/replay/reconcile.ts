// Replays of a pipeline's requests (SentimentReplay). What it owns: nothing but the replay's status and Events;
// it moves the pipeline's consumer group offsets, and holds the pipeline paused through the pipeline reconcile's
// pauseHolds (replay.ts: replayHolds) while the phase is Pausing or Resetting. Its states are in phases.ts.
// Failure modes: Kafka unreachable (retried with backoff, an Event on the replay; the group-empty timeout keeps
// counting), a group that does not empty (Failed GroupNotEmpty, the hold released), offsets outside the log
// (Failed InvalidOffsets), the pipeline deleted mid-way (Failed PipelineNotFound). An operator that stops at any
// point resumes from the status: the plan is written before the offsets are set, and a Resetting replay whose
// group already has the planned offsets goes on without setting them again. Deleting a replay ends its hold; no
// finalizer, nothing to clean up.
//
// The replay itself is read from the API server, not the cache, on each reconcile: a phase written a moment ago
// must never be seen as the one before (a stale Pausing would plan the reset again).
import { isDeepStrictEqual } from "node:util";
import type { CustomObjectsApi, ObjectCache } from "@kubernetes/client-node";
import type { ReconcileResult } from "../controller/reconcile.ts";
import { KafkaAdminError } from "../kafka/errors.ts";
import { applyStatusOf } from "../kube/apply.ts";
import type { EventRecorder, EventType } from "../kube/events.ts";
import { readCustomObject } from "../kube/read.ts";
import { resolvePipelineOrRefusal, type SentimentPipeline } from "../pipeline.ts";
import type { ReplayKafka } from "./kafka-port.ts";
import { type KafkaView, kafkaNeeds, type LookAgain, nextStep } from "./phases.ts";
import { replayKind, replayPlural, type SentimentReplay } from "./replay.ts";

export interface ReplayReconcilerDeps {
  /** The replays the operator sees: which of them go before which. */
  replays: Pick<ObjectCache<SentimentReplay>, "list">;
  pipelines: Pick<ObjectCache<SentimentPipeline>, "get">;
  customObjects: Pick<CustomObjectsApi, "getNamespacedCustomObject" | "patchNamespacedCustomObjectStatus">;
  events: Pick<EventRecorder, "record">;
  kafka: ReplayKafka;
  /** How often an active replay looks at its consumer group again. */
  pollIntervalMs: number;
  /** How often a waiting replay is looked at again without any event. */
  resyncPeriodMs: number;
  log: (message: string, fields?: Record<string, unknown>) => void;
  now?: () => Date;
}

export class ReplayReconciler {
  constructor(private readonly deps: ReplayReconcilerDeps) {}

  async reconcile(key: string): Promise<ReconcileResult> {
    const [namespace = "", name = ""] = key.split("/");
    const replay = await readCustomObject<SentimentReplay>(
      this.deps.customObjects,
      replayPlural,
      namespace,
      name,
    );
    if (replay === undefined) return { kind: "forget" };
    const object = this.deps.pipelines.get(replay.spec.pipeline, namespace);
    const pipeline = object === undefined ? undefined : resolvePipelineOrRefusal(object).pipeline;
    const needs = kafkaNeeds(replay);
    let kafka: KafkaView | undefined;
    if (needs !== undefined && pipeline !== undefined) {
      try {
        kafka = await this.deps.kafka.observe(pipeline, needs);
      } catch (error) {
        return this.#kafkaFailed(replay, error);
      }
    }
    const step = nextStep({
      replay,
      pipeline,
      replays: this.deps.replays.list(namespace),
      kafka,
      now: this.deps.now?.() ?? new Date(),
    });
    if (step.setOffsets !== undefined && pipeline !== undefined) {
      try {
        await this.deps.kafka.setOffsets(pipeline, step.setOffsets);
      } catch (error) {
        return this.#kafkaFailed(replay, error);
      }
    }
    if (!isDeepStrictEqual(step.status, replay.status)) {
      await applyStatusOf(
        this.deps.customObjects,
        { plural: replayPlural, kind: replayKind },
        namespace,
        name,
        step.status,
      );
    }
    if (step.event !== undefined) {
      await this.#event(replay, step.event.type, step.event.reason, step.event.message);
    }
    return this.#after(step.lookAgain);
  }

  /** Kafka could not be asked or refused: said on the replay, and tried again (no retry cures a refused login). */
  async #kafkaFailed(replay: SentimentReplay, error: unknown): Promise<ReconcileResult> {
    if (!(error instanceof KafkaAdminError)) throw error;
    await this.#event(replay, "Warning", error.reason, error.message);
    return error.retriable
      ? { kind: "retry", reason: error.reason }
      : { kind: "terminal", reason: error.reason, afterMs: this.deps.resyncPeriodMs };
  }

  #after(lookAgain: LookAgain): ReconcileResult {
    switch (lookAgain) {
      case "now":
        return { kind: "resync", afterMs: 0 };
      case "poll":
        return { kind: "resync", afterMs: this.deps.pollIntervalMs };
      case "resync":
        return { kind: "resync", afterMs: this.deps.resyncPeriodMs };
      case "never":
        return { kind: "forget" };
    }
  }

  async #event(replay: SentimentReplay, type: EventType, reason: string, message: string) {
    await this.deps.events.record(replay, type, reason, message).catch((error: unknown) => {
      this.deps.log("writing an event failed", { reason, error: String(error) });
    });
  }
}
