// What `status` reports of a pipeline, from its resource and two samples of its topics' offsets a short window
// apart: the throughput is how far the log end offsets moved in between. Pure.
import type { ConsumerLag } from "../kafka/lag.ts";
import type { Condition, ResolvedPipeline, SentimentPipeline } from "../pipeline.ts";

/** One look at the pipeline's topics. */
export interface OffsetSample {
  atMs: number;
  /** The group's lag on the requests topic; its logEndOffset is the requests topic's, summed. */
  lag: ConsumerLag;
  responsesEnd: number;
  deadLetterEnd: number;
}

export interface StatusReport {
  pipeline: { namespace: string; name: string };
  ready: string;
  paused: boolean;
  conditions: Pick<Condition, "type" | "status" | "reason" | "message" | "lastTransitionTime">[];
  replicas: { desired: number | undefined; current: number | undefined; ready: number | undefined };
  topics: { requests: string; responses: string; deadLetter: string; partitions: number };
  consumerGroup: string;
  lag: { total: number; partitions: { partition: number; lag: number }[]; partitionsWithoutCommit: number[] };
  /** Records per second over the window, from the topics' log end offsets. */
  throughput: {
    windowSeconds: number;
    requestsPerSecond: number;
    responsesPerSecond: number;
    deadLettersPerSecond: number;
  };
}

/** Per second, to two decimals: more reads as precision the window does not have. */
function rate(from: number, to: number, seconds: number): number {
  return seconds <= 0 ? 0 : Math.round((Math.max(0, to - from) / seconds) * 100) / 100;
}

export function statusReport(
  pipeline: SentimentPipeline,
  resolved: ResolvedPipeline,
  first: OffsetSample,
  last: OffsetSample,
): StatusReport {
  const seconds = (last.atMs - first.atMs) / 1000;
  const conditions = (pipeline.status?.conditions ?? []).map(
    ({ type, status, reason, message, lastTransitionTime }) => ({
      type,
      status,
      reason,
      message,
      lastTransitionTime,
    }),
  );
  const status = pipeline.status;
  return {
    pipeline: { namespace: resolved.namespace, name: resolved.name },
    ready: conditions.find(({ type }) => type === "Ready")?.status ?? "Unknown",
    paused: (pipeline.spec as { paused?: boolean }).paused === true,
    conditions,
    replicas: { desired: status?.desiredReplicas, current: status?.replicas, ready: status?.readyReplicas },
    topics: {
      requests: resolved.topics.requests,
      responses: resolved.topics.responses,
      deadLetter: resolved.topics.deadLetter,
      partitions: resolved.topics.partitions,
    },
    consumerGroup: resolved.consumerGroup,
    lag: {
      total: last.lag.total,
      partitions: last.lag.partitions,
      partitionsWithoutCommit: last.lag.partitionsWithoutCommit,
    },
    throughput: {
      windowSeconds: Math.round(seconds * 10) / 10,
      requestsPerSecond: rate(first.lag.logEndOffset, last.lag.logEndOffset, seconds),
      responsesPerSecond: rate(first.responsesEnd, last.responsesEnd, seconds),
      deadLettersPerSecond: rate(first.deadLetterEnd, last.deadLetterEnd, seconds),
    },
  };
}
