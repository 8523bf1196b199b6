// The cost of scaling: a backlog drained while worker processes are added one scaling step after another, as an
// HPA adds pods (1 → 2 → 4 → 8), then stopped back down to 1 with SIGTERM, as the kubelet stops pods. Every step
// rebalances the consumer group; what each costs is read afterwards from the timestamps of the responses.
import type { ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { Admin, Kafka } from "kafkajs";
import { HarnessError } from "../harness/cli.ts";
import { recordCount } from "../harness/kafka-client.ts";
import {
  defaultWorkerGroupId,
  localWorkerEnv,
  startWorkerProcess,
  workerArgs,
} from "../harness/local-worker.ts";
import { stopChild } from "../harness/processes.ts";
import { awaitCommitted, committed } from "./progress.ts";
import { createTopics, produceAll } from "./workload.ts";

export const scaleMessages = Number(process.env.BENCH_SCALE_MESSAGES ?? 500_000);
/** The group's size after each step; the first is the start. */
export const scaleSteps = [1, 2, 4, 8, 4, 2, 1];
/**
 * Step k is taken once the group is stable and k / (steps + 1) of the backlog is committed, whatever the
 * machine's speed: every step happens under load, and the last size drains the rest.
 */
const shareBeforeStep = (step: number) => (step * scaleMessages) / (scaleSteps.length + 1);

/** One step: when it began (wall clock, as record timestamps), and when the group was stable at its size again. */
interface Step {
  size: number;
  startedAt: number;
  stableAfterMs: number;
  backlogLeft: number;
}

export interface ScaleFigures {
  drainSeconds: number;
  /** Per step, the longest time between two consecutive responses that began during it. */
  stepPauses: { size: number; from: number; pauseMs: number; stableAfterMs: number; backlogLeft: number }[];
  maxPauseMs: number;
  duplicates: number;
  lost: number;
  answered: number;
}

/** A consumer group as the scenario checks it between steps. */
export interface GroupState {
  stable: boolean;
  /** How the client names the state, for the error when it never settles. */
  state: string;
  members: number;
}

/** What the scenario's workers run on: the worker process's command, and how their group is read. */
export interface ScaleClient {
  /** Node's arguments that start one worker. */
  workerArgs: readonly string[];
  /** Added to every worker's environment. */
  env: Record<string, string>;
  describeGroup(groupId: string): Promise<GroupState>;
}

/** The product's worker, on kafkajs. */
export function kafkajsScaleClient(admin: Admin): ScaleClient {
  return {
    workerArgs,
    env: {},
    async describeGroup(groupId) {
      const {
        groups: [group],
      } = await admin.describeGroups([groupId]);
      const state = group?.state ?? "Unknown";
      return { stable: state === "Stable", state, members: group?.members.length ?? 0 };
    },
  };
}

/** Waits until the group has exactly `size` members and is not rebalancing. */
async function awaitStableGroup(client: ScaleClient, groupId: string, size: number): Promise<void> {
  const deadline = Date.now() + 180_000;
  for (;;) {
    const group = await client.describeGroup(groupId);
    if (group.stable && group.members === size) return;
    if (Date.now() > deadline) {
      throw new HarnessError(
        `${groupId} never became stable with ${size} members (${group.state}, ${group.members} members)`,
      );
    }
    await sleep(100);
  }
}

/** Every record on `topics` as (key, timestamp), read from the beginning. */
async function readAll(kafka: Kafka, admin: Admin, topics: string[]) {
  let total = 0;
  for (const topic of topics) total += await recordCount(admin, topic);
  const records: { id: string; at: number }[] = [];
  const reader = kafka.consumer({ groupId: `bench-scale-reader-${randomUUID()}`, maxBytes: 16 << 20 });
  await reader.connect();
  await reader.subscribe({ topics, fromBeginning: true });
  await new Promise<void>((resolve) => {
    if (total === 0) resolve();
    void reader.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const message of batch.messages) {
          records.push({ id: message.key?.toString() ?? "", at: Number(message.timestamp) });
        }
        if (records.length >= total) resolve();
      },
    });
  });
  await reader.disconnect();
  return records;
}

/** The figures from the responses and dead letters written (`records`) and the steps taken. */
export function scaleFigures(
  records: { id: string; at: number }[],
  steps: Step[],
  expected: number,
): ScaleFigures {
  const times = records.map((r) => r.at).sort((a, b) => a - b);
  const ids = new Set(records.map((r) => r.id));
  let lost = 0;
  for (let index = 0; index < expected; index++) if (!ids.has(`b-${index}`)) lost += 1;
  const first = steps[0]?.startedAt ?? 0;
  const stepPauses = steps.map((step, index) => {
    const end = steps[index + 1]?.startedAt ?? Number.POSITIVE_INFINITY;
    let pauseMs = 0;
    for (let i = 1; i < times.length; i++) {
      const from = times[i - 1] as number;
      if (from >= step.startedAt && from < end) pauseMs = Math.max(pauseMs, (times[i] as number) - from);
    }
    return {
      size: step.size,
      from: index === 0 ? 0 : (steps[index - 1] as Step).size,
      pauseMs,
      stableAfterMs: step.stableAfterMs,
      backlogLeft: step.backlogLeft,
    };
  });
  return {
    drainSeconds: ((times.at(-1) ?? first) - first) / 1000,
    // The first step starts the group from nothing: its longest gap is the workers' start, not a rebalance.
    stepPauses,
    maxPauseMs: Math.max(0, ...stepPauses.slice(1).map((s) => s.pauseMs)),
    duplicates: records.length - ids.size,
    lost,
    answered: ids.size,
  };
}

/** Runs the scenario on its own topics of `kafka` with workers on `client`; `say` prints progress for a person. */
export async function scaleScenario(
  kafka: Kafka,
  admin: Admin,
  bootstrap: string[],
  client: ScaleClient,
  say: (line: string) => void,
): Promise<ScaleFigures> {
  const run = randomUUID().slice(0, 8);
  const topics = {
    requests: `scale-req-${run}`,
    responses: `scale-res-${run}`,
    deadLetter: `scale-dlq-${run}`,
  };
  const groupId = defaultWorkerGroupId(topics);
  await createTopics(bootstrap, Object.values(topics));
  say(`producing ${scaleMessages} requests to ${topics.requests}…`);
  await produceAll(kafka, topics.requests, scaleMessages);
  const env = { ...localWorkerEnv(bootstrap, topics), ...client.env };
  const workers: ChildProcess[] = [];
  const steps: Step[] = [];
  try {
    for (const size of scaleSteps) {
      while (
        (await committed(admin, groupId, topics.requests).catch(() => 0)) < shareBeforeStep(steps.length)
      ) {
        await sleep(200);
      }
      const startedAt = Date.now();
      // Before the first step the group does not exist yet (its offsets cannot be asked for).
      const backlogLeft =
        scaleMessages - (steps.length === 0 ? 0 : await committed(admin, groupId, topics.requests));
      while (workers.length < size) workers.push(startWorkerProcess(env, "ignore", client.workerArgs));
      // The kubelet stops the pods of one scale-down decision together.
      await Promise.all(workers.splice(size).map((worker) => stopChild(worker)));
      await awaitStableGroup(client, groupId, size);
      const stableAfterMs = Date.now() - startedAt;
      steps.push({ size, startedAt, stableAfterMs, backlogLeft });
      say(
        `  ${size} worker(s): group stable after ${(stableAfterMs / 1000).toFixed(1)} s, ${backlogLeft} left`,
      );
    }
    await awaitCommitted(admin, groupId, topics.requests, scaleMessages, 600);
  } finally {
    await Promise.all(workers.map((worker) => stopChild(worker)));
  }
  const records = await readAll(kafka, admin, [topics.responses, topics.deadLetter]);
  return scaleFigures(records, steps, scaleMessages);
}

export function describeScale(figures: ScaleFigures): string[] {
  return [
    `scaling ${scaleSteps.join(" → ")} workers over a backlog of ${scaleMessages}: drained in ` +
      `${figures.drainSeconds.toFixed(1)} s; ${figures.duplicates} answered twice, ${figures.lost} lost`,
    ...figures.stepPauses.map(
      (step, index) =>
        `  ${index === 0 ? `start at ${step.size}` : `${step.from} → ${step.size}`}: longest gap in responses ` +
        `${step.pauseMs} ms; group stable after ${(step.stableAfterMs / 1000).toFixed(1)} s; ` +
        `${step.backlogLeft} requests left at the step`,
    ),
    `  worst pause of a scaling step: ${figures.maxPauseMs} ms`,
  ];
}
