// Where one fetched message ends: a response, or a dead letter when it cannot be decoded, its deadline has passed
// or the model failed on it on every attempt. Every message gets exactly one of the two, serialized for the writer.
import type winston from "winston";
import type { WorkerConfig } from "../config.ts";
import {
  buildDeadLetter,
  buildResponse,
  type Failure,
  type OutgoingRecord,
  type SourceRecord,
} from "../contract/records.ts";
import { decodeRequest, isExpired } from "../contract/request.ts";
import type { Classifier } from "../model/classifier.ts";
import type { Classify } from "./batched-inference.ts";

export interface Routed {
  topic: string;
  record: OutgoingRecord;
  /** Set when the record is a dead letter: its code. */
  deadLetter?: Failure["code"];
}

/** When the message's fetch arrived: `at` on performance.now()'s clock, `wallMs` on the wall clock. */
export interface FetchTime {
  at: number;
  wallMs: number;
}

export interface RouteDependencies {
  config: Pick<WorkerConfig, "topics" | "limits">;
  model: Pick<Classifier, "name" | "version">;
  classify: Classify;
  logger: Pick<winston.Logger, "warn" | "debug">;
}

export async function routeMessage(
  source: SourceRecord,
  fetched: FetchTime,
  deps: RouteDependencies,
): Promise<Routed> {
  const { config, model, classify, logger } = deps;
  const deadLetter = (failure: Failure): Routed => {
    logger.warn("request dead-lettered", {
      correlationId: failure.id,
      code: failure.code,
      reason: failure.message,
      topic: source.topic,
      partition: source.partition,
      offset: source.offset,
    });
    return {
      topic: config.topics.deadLetter,
      record: buildDeadLetter(source, failure, new Date()),
      deadLetter: failure.code,
    };
  };

  const decoded = decodeRequest(source.value, config.limits);
  if (!decoded.ok) return deadLetter({ ...decoded.rejection, attempts: 0 });
  const { request } = decoded;
  if (isExpired(request, fetched.wallMs)) {
    return deadLetter({
      code: "DEADLINE_EXCEEDED",
      message: `the deadline ${request.deadline} had passed when the request was fetched`,
      id: request.id,
      attempts: 0,
    });
  }
  const classified = await classify(request, fetched.at);
  if (!classified.outcome.ok && classified.outcome.expired === true) {
    return deadLetter({
      code: "DEADLINE_EXCEEDED",
      message: `the deadline ${request.deadline} passed while the request waited for the model`,
      id: request.id,
      attempts: classified.outcome.attempts,
    });
  }
  if (!classified.outcome.ok) {
    return deadLetter({
      code: "INFERENCE_FAILED",
      message: `inference failed after ${classified.outcome.attempts} attempts: ${classified.outcome.error.message}`,
      id: request.id,
      attempts: classified.outcome.attempts,
    });
  }
  logger.debug("request classified", { correlationId: request.id, label: classified.outcome.result.label });
  return {
    topic: config.topics.responses,
    record: buildResponse(
      request,
      classified.outcome.result,
      { name: model.name, version: model.version },
      {
        queueMs: Math.max(0, fetched.wallMs - Number(source.timestamp)),
        batchWaitMs: classified.batchWaitMs,
        inferenceMs: classified.inferenceMs,
        batchSize: classified.batchSize,
        attempts: classified.outcome.attempts,
      },
      new Date(),
    ),
  };
}
