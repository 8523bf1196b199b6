// Dead-letter redrive: one runner per active SentimentRedrive, in the operator, on the leader only.
//
// Why the operator and not a Job: a redrive is small, steady I/O (read dead letters, re-produce them at a bounded
// rate), which the operator already has the clients, the pipelines' Kafka settings and Secrets, and the status
// writer for; a Job would need an image, a ServiceAccount and its own status reporting per redrive. Why the
// leader only: the operator's one-actor-at-a-time guarantee is its Lease, so a redrive follows the leader like
// every reconcile; a runner is stopped when its redrive is deleted or finished and when leadership is lost. The
// never-twice guarantee does not rest on the Lease, though: each redrive has a transactional id of its own, and
// a runner that starts fences any predecessor (see redrive-kafka.ts), so even two leaders at once could not send
// one dead letter twice.
//
// A run: fence, read the committed offsets (and the counts committed with them), record the range in status if
// this is the first run, then consume the dead-letter topic from there, one transaction per chunk, at the
// redrive's rate. Counts stay exact across restarts because they are committed in the same transactions as the
// offsets (the group's offset metadata) and status is rebuilt from them. Any failure ends the run; the next one
// starts afresh from what Kafka committed, after a backoff.
import { setTimeout as sleep } from "node:timers/promises";
import type { CustomObjectsApi, ObjectCache } from "@kubernetes/client-node";
import type { KafkaLogEntry } from "../kafka/client.ts";
import type { SecretReader } from "../kafka/credentials.ts";
import { KafkaAdminError } from "../kafka/errors.ts";
import { pipelineConnection } from "../kafka/pipeline-connection.ts";
import { applyStatusOf } from "../kube/apply.ts";
import {
  group,
  InvalidPipelineError,
  resolvePipeline,
  type SentimentPipeline,
  version,
} from "../pipeline.ts";
import { chunkSizeFor, Pacer } from "./pacing.ts";
import {
  type PartitionProgress,
  partitionDone,
  partitionProgress,
  type RedriveState,
  redriveDone,
  redriveStatus,
} from "./progress.ts";
import {
  isFinished,
  type RedriveStatus,
  type ResolvedRedrive,
  redriveKind,
  redrivePlural,
  resolveRedrive,
  type SentimentRedrive,
} from "./redrive.ts";
import { RedriveKafka } from "./redrive-kafka.ts";
import { type DeadLetterRecord, encodeCounts, planChunks, totalCounts } from "./selection.ts";

export interface RunnerDeps {
  customObjects: Pick<CustomObjectsApi, "getNamespacedCustomObject" | "patchNamespacedCustomObjectStatus">;
  pipelines: Pick<ObjectCache<SentimentPipeline>, "get">;
  readSecret: SecretReader;
  log: (level: "info" | "warn" | "error", message: string, fields?: Record<string, unknown>) => void;
  onKafkaLog?: (entry: KafkaLogEntry, redrive: string) => void;
}

/** Status is written at most this often while dead letters flow (and at every change of phase). */
const statusIntervalMs = 1_000;
/** Shortest and longest pause before a failed run is tried again (doubling in between). */
const retryDelayMs = { min: 1_000, max: 60_000 };

/** A run that ends without finishing the redrive, with the state to show until the next run. */
class RunEnded extends Error {
  constructor(readonly state: RedriveState) {
    super(state.message);
  }
}

export class RedriveRunner {
  readonly #stop = new AbortController();
  readonly #running: Promise<void>;
  #kafka: RedriveKafka | undefined;
  /** The status last written or read, which the next write builds on. */
  #statusBase: RedriveStatus | undefined;

  constructor(
    private readonly redrive: SentimentRedrive,
    private readonly deps: RunnerDeps,
  ) {
    this.#running = this.#loop();
  }

  /** Resolves when the redrive is finished (Done or Failed) or the runner stopped. */
  get finished(): Promise<void> {
    return this.#running;
  }

  /** Stops at once: an open transaction is left for the next runner's fencing to abort. */
  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#kafka?.close();
    await this.#running;
  }

  get #key(): string {
    return `${this.redrive.metadata.namespace}/${this.redrive.metadata.name}`;
  }

  async #loop(): Promise<void> {
    const { min, max } = retryDelayMs;
    for (let attempt = 0; !this.#stop.signal.aborted; attempt++) {
      try {
        if (await this.#run()) return;
      } catch (error) {
        if (this.#stop.signal.aborted) return;
        const state =
          error instanceof RunEnded
            ? error.state
            : {
                phase: "Running" as const,
                reason: "Retrying",
                message: `the redrive failed and will be retried: ${String(error)}`,
              };
        this.deps.log("warn", "redrive run ended; it will be tried again", {
          redrive: this.#key,
          reason: state.message,
        });
        await this.#writeStatus(state).catch(() => {});
      } finally {
        await this.#kafka?.close();
        this.#kafka = undefined;
      }
      await sleep(Math.min(max, min * 2 ** attempt), undefined, { signal: this.#stop.signal }).catch(
        () => {},
      );
    }
  }

  /** The redrive as stored now (not the watch's copy, which can be a write behind). */
  async #current(): Promise<SentimentRedrive | undefined> {
    const { namespace = "", name = "" } = this.redrive.metadata;
    const current = (await this.deps.customObjects
      .getNamespacedCustomObject({ group, version, namespace, plural: redrivePlural, name })
      .catch((error: { code?: number }) => {
        if (error.code === 404) return undefined;
        throw error;
      })) as SentimentRedrive | undefined;
    return current?.metadata.uid === this.redrive.metadata.uid ? current : undefined;
  }

  async #writeStatus(state: RedriveState): Promise<void> {
    if (this.#stop.signal.aborted) return;
    const { namespace = "", name = "" } = this.redrive.metadata;
    const status = redriveStatus(this.#statusBase, state, this.redrive.metadata.generation ?? 0, new Date());
    await applyStatusOf(
      this.deps.customObjects,
      { plural: redrivePlural, kind: redriveKind },
      namespace,
      name,
      status,
    );
    this.#statusBase = status;
  }

  /** One run; true when the redrive is finished (nothing more to do, ever). */
  async #run(): Promise<boolean> {
    const current = await this.#current();
    if (current === undefined || isFinished(current)) return true;
    this.#statusBase = current.status;
    const redrive = resolveRedrive(current);
    const started = current.status?.partitions !== undefined;
    const pipelineObject = this.deps.pipelines.get(redrive.pipeline, redrive.namespace);
    if (pipelineObject === undefined) {
      const where = `SentimentPipeline ${redrive.namespace}/${redrive.pipeline}`;
      if (started) {
        await this.#writeStatus({
          phase: "Failed",
          reason: "PipelineNotFound",
          message: `${where} was deleted during the redrive; create another SentimentRedrive once it exists again`,
        });
        return true;
      }
      throw new RunEnded({
        phase: "Pending",
        reason: "PipelineNotFound",
        message: `waiting for ${where}, which does not exist`,
      });
    }
    let pipeline: ReturnType<typeof resolvePipeline>;
    try {
      pipeline = resolvePipeline(pipelineObject);
    } catch (error) {
      if (!(error instanceof InvalidPipelineError)) throw error;
      await this.#writeStatus({
        phase: "Failed",
        reason: "PipelineInvalid",
        message: `SentimentPipeline ${redrive.namespace}/${redrive.pipeline}: ${error.message}`,
      });
      return true;
    }
    const connection = await pipelineConnection(pipeline, this.deps.readSecret).catch((error: unknown) => {
      if (!(error instanceof KafkaAdminError)) throw error;
      throw new RunEnded({
        phase: started ? "Running" : "Pending",
        reason: error.reason,
        message: error.message,
      });
    });
    const onKafkaLog = this.deps.onKafkaLog;
    const kafka = new RedriveKafka(
      {
        ...connection,
        ...(onKafkaLog === undefined
          ? {}
          : { onLog: (entry: KafkaLogEntry) => onKafkaLog(entry, this.#key) }),
      },
      redrive,
      { deadLetter: pipeline.topics.deadLetter, requests: pipeline.topics.requests },
    );
    this.#kafka = kafka;
    await kafka.connect();
    const { bounds, committed } = await kafka.offsets();
    const progress = partitionProgress(current.status?.partitions, bounds, committed);
    // The range is recorded before anything is sent, so a restarted run redrives the same dead letters.
    if (redriveDone(progress, redrive)) {
      await this.#writeStatus({ phase: "Done", ...doneState(progress) });
      return true;
    }
    await this.#writeStatus(runningState(progress));
    await this.#consume(kafka, redrive, progress);
    if (this.#stop.signal.aborted) return true;
    await this.#writeStatus({ phase: "Done", ...doneState(progress) });
    return true;
  }

  /** Consumes until every partition is done or the limit is reached; rejects when the consumer fails. */
  async #consume(
    kafka: RedriveKafka,
    redrive: ResolvedRedrive,
    progress: PartitionProgress[],
  ): Promise<void> {
    const byPartition = new Map(progress.map((entry) => [entry.partition, entry]));
    const pacer = new Pacer(redrive.ratePerSecond, Date.now());
    const chunkSize = chunkSizeFor(redrive.ratePerSecond);
    let lastStatusMs = Date.now();
    let finish: () => void = () => {};
    const finished = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const stopped = new Promise<void>((resolve) =>
      this.#stop.signal.addEventListener("abort", () => resolve()),
    );
    const onBatch = async (partition: number, letters: DeadLetterRecord[], fetchedTo: string) => {
      const entry = byPartition.get(partition);
      if (entry === undefined || partitionDone(entry) || redriveDone(progress, redrive)) {
        kafka.pause(partition);
        return;
      }
      const end = BigInt(entry.endOffset);
      const next = BigInt(entry.nextOffset);
      const considered = letters.filter(({ offset }) => BigInt(offset) >= next && BigInt(offset) < end);
      const sentSoFar = totalCounts(progress.map((one) => one.counts)).sent;
      const chunks = planChunks(considered, redrive, entry.counts, sentSoFar, chunkSize);
      // Past the range with nothing left in it (compacted or expired records): the end is committed as reached.
      const last = chunks.at(-1);
      if (BigInt(fetchedTo) >= end && (last === undefined || !last.limitReached)) {
        const counts = last?.counts ?? entry.counts;
        if (last === undefined)
          chunks.push({ sends: [], counts, nextOffset: entry.endOffset, limitReached: false });
        else last.nextOffset = entry.endOffset;
      }
      for (const chunk of chunks) {
        if (this.#stop.signal.aborted) return;
        const wait = pacer.delayMs(chunk.sends.length, Date.now());
        if (wait > 0) await sleep(wait, undefined, { signal: this.#stop.signal }).catch(() => {});
        if (this.#stop.signal.aborted) return;
        await kafka.commit(partition, chunk, encodeCounts(chunk.counts));
        pacer.sent(chunk.sends.length);
        entry.nextOffset = chunk.nextOffset;
        entry.counts = chunk.counts;
        if (Date.now() - lastStatusMs >= statusIntervalMs) {
          lastStatusMs = Date.now();
          await this.#writeStatus(runningState(progress));
        }
      }
      if (partitionDone(entry)) kafka.pause(partition);
      if (redriveDone(progress, redrive)) finish();
    };
    await Promise.race([kafka.consume(onBatch), finished, stopped]);
  }
}

function runningState(progress: readonly PartitionProgress[]): RedriveState {
  return {
    phase: "Running",
    reason: "Redriving",
    message: "sending the selected dead letters back to the requests topic",
    progress,
  };
}

function doneState(progress: readonly PartitionProgress[]): Omit<RedriveState, "phase"> {
  const { sent, skipped, skippedAtBound } = totalCounts(progress.map((partition) => partition.counts));
  return {
    reason: "Redriven",
    message: `sent ${sent} dead letters back; skipped ${skipped} outside the selection and ${skippedAtBound} at the redrive bound`,
    progress,
  };
}
