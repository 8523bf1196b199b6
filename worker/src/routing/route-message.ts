// Where one fetched message ends: a response, or a dead letter when it cannot be decoded, its deadline has passed,
// the model failed on it on every attempt, its response cannot be serialized or anything else failed on it.
// Every message gets exactly one of the two, serialized for the writer, with the stand-in to write should Kafka
// refuse it for good: nothing one message does can fail the worker.
import type winston from "winston";
import type { WorkerConfig } from "../config.ts";
import {
  buildDeadLetter,
  buildMinimalDeadLetter,
  buildResponse,
  type Failure,
  type OutgoingRecord,
  type SourceRecord,
} from "../contract/records.ts";
import { deadlineMs, decodeRequest, isExpired, type SentimentRequest } from "../contract/request.ts";
import type { Classifier } from "../model/classifier.ts";
import type { Classify } from "./batched-inference.ts";

export interface Routed {
  topic: string;
  record: OutgoingRecord;
  /** Set when the record is a dead letter: its code. */
  deadLetter?: Failure["code"];
  /**
   * What to write instead when Kafka refuses this record for good (`refusal` is Kafka's reason): a dead letter
   * for a response, a minimal dead letter for a dead letter; absent on a minimal dead letter, the last resort.
   */
  ifRefused?: (refusal: string) => Routed;
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
  logger: Pick<winston.Logger, "warn" | "debug" | "isDebugEnabled">;
}

/** Routes one message; never rejects: whatever fails on this message becomes its dead letter. */
export async function routeMessage(
  source: SourceRecord,
  fetched: FetchTime,
  deps: RouteDependencies,
): Promise<Routed> {
  try {
    return await route(source, fetched, deps);
  } catch (error) {
    return deadLetter(source, deps, {
      code: "INTERNAL_ERROR",
      message: `the worker failed on this request: ${(error as Error)?.message ?? String(error)}`,
      attempts: 0,
    });
  }
}

/** The request's deadline as the instant it means, never the raw field (a message must not quote request text). */
function deadlineInstant(request: SentimentRequest): string {
  return new Date(deadlineMs(request.deadline as string)).toISOString();
}

async function route(source: SourceRecord, fetched: FetchTime, deps: RouteDependencies): Promise<Routed> {
  const { config, model, classify, logger } = deps;
  const decoded = decodeRequest(source.value, config.limits);
  if (!decoded.ok) return deadLetter(source, deps, { ...decoded.rejection, attempts: 0 });
  const { request } = decoded;
  if (isExpired(request, fetched.wallMs)) {
    return deadLetter(source, deps, {
      code: "DEADLINE_EXCEEDED",
      message: `the deadline ${deadlineInstant(request)} had passed when the request was fetched`,
      id: request.id,
      attempts: 0,
    });
  }
  const classified = await classify(request, fetched.at);
  if (!classified.outcome.ok && classified.outcome.expired === true) {
    return deadLetter(source, deps, {
      code: "DEADLINE_EXCEEDED",
      message: `the deadline ${deadlineInstant(request)} passed while the request waited for the model`,
      id: request.id,
      attempts: classified.outcome.attempts,
    });
  }
  if (!classified.outcome.ok) {
    return deadLetter(source, deps, {
      code: "INFERENCE_FAILED",
      message: `inference failed after ${classified.outcome.attempts} attempts: ${classified.outcome.error.message}`,
      id: request.id,
      attempts: classified.outcome.attempts,
    });
  }
  const { result, attempts } = classified.outcome;
  let record: OutgoingRecord;
  try {
    record = buildResponse(
      request,
      result,
      { name: model.name, version: model.version },
      {
        queueMs: Math.max(0, fetched.wallMs - Number(source.timestamp)),
        batchWaitMs: classified.batchWaitMs,
        inferenceMs: classified.inferenceMs,
        batchSize: classified.batchSize,
        attempts,
      },
      new Date(),
    );
  } catch (error) {
    // JSON.stringify recurses: metadata nested some thousands deep overflows the stack (a RangeError), though
    // JSON.parse took it. Anything else is no serialization problem, and ends as INTERNAL_ERROR.
    if (!(error instanceof RangeError)) throw error;
    return deadLetter(source, deps, {
      code: "RESPONSE_UNSERIALIZABLE",
      message: `the response could not be serialized: ${(error as Error).message}`,
      id: request.id,
      attempts,
    });
  }
  // winston builds and streams a line even for a level it then drops: a few µs of the main thread per response.
  if (logger.isDebugEnabled()) {
    logger.debug("request classified", { correlationId: request.id, label: result.label });
  }
  return {
    topic: config.topics.responses,
    record,
    ifRefused: (refusal) =>
      deadLetter(source, deps, {
        code: "RESPONSE_REFUSED",
        message: `Kafka refused the response for good: ${refusal}`,
        id: request.id,
        attempts,
      }),
  };
}

/** The dead letter of `source`, logged without the request's contents, with its minimal stand-in. */
function deadLetter(source: SourceRecord, deps: RouteDependencies, failure: Failure): Routed {
  const { config, logger } = deps;
  const where = { topic: source.topic, partition: source.partition, offset: source.offset };
  logger.warn("request dead-lettered", {
    correlationId: failure.id,
    code: failure.code,
    reason: failure.message,
    ...where,
  });
  return {
    topic: config.topics.deadLetter,
    record: buildDeadLetter(source, failure, new Date()),
    deadLetter: failure.code,
    ifRefused: (refusal) => {
      logger.warn("dead letter refused by Kafka; writing a minimal one without the original key and value", {
        correlationId: failure.id,
        code: failure.code,
        refusal,
        ...where,
      });
      return {
        topic: config.topics.deadLetter,
        record: buildMinimalDeadLetter(source, failure, refusal, new Date()),
        deadLetter: failure.code,
      };
    },
  };
}
