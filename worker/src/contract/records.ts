// Pure builders of the records the worker produces: a response per classified request, a dead-letter record per
// request that could not be classified. Shapes are those of schemas/response.schema.json and dead-letter.schema.json.
import type { RedriveOrigin } from "../../../common/src/redrive-headers.ts";
import type { Prediction } from "../model/preprocess.ts";
import type { DeadLetterCode } from "./dead-letter-codes.ts";
import type { SentimentRequest } from "./request.ts";

export interface SourceRecord {
  topic: string;
  partition: number;
  offset: string;
  /** Kafka timestamp, epoch ms as a decimal string (kafkajs's form). */
  timestamp?: string;
  key: Buffer | null;
  value: Buffer | null;
  /** Set when the request was redriven from a dead letter (its headers): carried into its own dead letter. */
  redrive?: RedriveOrigin;
}

export interface OutgoingRecord {
  key: Buffer | string | null;
  value: string;
  /**
   * Only what a consumer may want before parsing the value. Every record is JSON, as its topic's schema says: a
   * content-type header on each response cost kafkajs about 2 µs to encode, near half of the record's encoding.
   */
  headers?: Record<string, string>;
}

export interface Timing {
  queueMs: number;
  batchWaitMs: number;
  inferenceMs: number;
  batchSize: number;
  attempts: number;
}

// ignoreBOM: a leading byte-order mark is part of the original bytes, which a dead letter keeps exactly.
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

interface Transportable {
  encoding: "utf8" | "base64";
  data: string;
}

function asTransportable(bytes: Buffer | null): Transportable | null {
  if (bytes === null) return null;
  try {
    return { encoding: "utf8", data: utf8.decode(bytes) };
  } catch {
    return { encoding: "base64", data: bytes.toString("base64") };
  }
}

const roundMs = (ms: number) => Math.round(ms * 1000) / 1000;

export function buildResponse(
  request: SentimentRequest,
  prediction: Prediction,
  model: { name: string; version: string },
  timing: Timing,
  now: Date,
): OutgoingRecord {
  const response = {
    id: request.id,
    label: prediction.label,
    score: prediction.score,
    scores: prediction.scores,
    model,
    ...(request.metadata === undefined ? {} : { metadata: request.metadata }),
    completedAt: now.toISOString(),
    timing: {
      queueMs: roundMs(timing.queueMs),
      batchWaitMs: roundMs(timing.batchWaitMs),
      inferenceMs: roundMs(timing.inferenceMs),
      batchSize: timing.batchSize,
      attempts: timing.attempts,
    },
  };
  return { key: request.id, value: JSON.stringify(response) };
}

export interface Failure {
  code: DeadLetterCode;
  message: string;
  id?: string;
  attempts: number;
}

/** The dead-letter record: original key and bytes, why, and where they came from; the code also as a header. */
export function buildDeadLetter(source: SourceRecord, failure: Failure, now: Date): OutgoingRecord {
  return deadLetterRecord(source.key, source, failure, now, {
    key: asTransportable(source.key),
    value: asTransportable(source.value),
  });
}

/** Original keys up to this size key a minimal dead letter too; a longer one may be why the full one was refused. */
const minimalKeyMaxBytes = 1024;

/**
 * The dead letter to write when Kafka refused the full one for good (`refusal`): the code, the message, the id and
 * where the request came from, without its key and value. Keyed by the original key when it has one of at most
 * 1 KiB, else by `topic/partition/offset` (a compacted topic refuses records without a key).
 */
export function buildMinimalDeadLetter(
  source: SourceRecord,
  failure: Failure,
  refusal: string,
  now: Date,
): OutgoingRecord {
  const keptKey =
    source.key !== null && source.key.byteLength > 0 && source.key.byteLength <= minimalKeyMaxBytes
      ? source.key
      : `${source.topic}/${source.partition}/${source.offset}`;
  const message = `${failure.message}; Kafka refused the full dead letter (${refusal}), so the original key and value are left out`;
  return deadLetterRecord(keptKey, source, { ...failure, message }, now, {
    key: null,
    value: null,
    originalOmitted: true,
  });
}

function deadLetterRecord(
  key: Buffer | string | null,
  source: SourceRecord,
  failure: Failure,
  now: Date,
  original: { key: Transportable | null; value: Transportable | null; originalOmitted?: true },
): OutgoingRecord {
  // Any int64 a producer chose: one outside Date's range has no RFC 3339 form and is left out.
  const timestamp = source.timestamp === undefined ? undefined : new Date(Number(source.timestamp));
  const record = {
    code: failure.code,
    message: failure.message,
    ...(failure.id === undefined ? {} : { id: failure.id }),
    attempts: failure.attempts,
    source: {
      topic: source.topic,
      partition: source.partition,
      offset: source.offset,
      ...(timestamp === undefined || Number.isNaN(timestamp.getTime())
        ? {}
        : { timestamp: timestamp.toISOString() }),
    },
    key: original.key,
    value: original.value,
    failedAt: now.toISOString(),
    ...(original.originalOmitted ? { originalOmitted: true } : {}),
    ...(source.redrive === undefined ? {} : { redrive: source.redrive }),
  };
  return {
    key,
    value: JSON.stringify(record),
    headers: { "kubesentiment-error-code": failure.code },
  };
}
