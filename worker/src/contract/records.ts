// Pure builders of the records the worker produces: a response per classified request, a dead-letter record per
// request that could not be classified. Shapes are those of schemas/response.schema.json and dead-letter.schema.json.
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
}

export interface OutgoingRecord {
  key: Buffer | string | null;
  value: string;
  headers: Record<string, string>;
}

export interface Timing {
  queueMs: number;
  batchWaitMs: number;
  inferenceMs: number;
  batchSize: number;
  attempts: number;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

function asTransportable(bytes: Buffer | null): { encoding: "utf8" | "base64"; data: string } | null {
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
  return {
    key: request.id,
    value: JSON.stringify(response),
    headers: { "content-type": "application/json" },
  };
}

export interface Failure {
  code: DeadLetterCode;
  message: string;
  id?: string;
  attempts: number;
}

/** The dead-letter record: original key and bytes, why, and where they came from; the code also as a header. */
export function buildDeadLetter(source: SourceRecord, failure: Failure, now: Date): OutgoingRecord {
  const timestamp = source.timestamp === undefined ? undefined : Number(source.timestamp);
  const record = {
    code: failure.code,
    message: failure.message,
    ...(failure.id === undefined ? {} : { id: failure.id }),
    attempts: failure.attempts,
    source: {
      topic: source.topic,
      partition: source.partition,
      offset: source.offset,
      ...(timestamp === undefined || !Number.isFinite(timestamp)
        ? {}
        : { timestamp: new Date(timestamp).toISOString() }),
    },
    key: asTransportable(source.key),
    value: asTransportable(source.value),
    failedAt: now.toISOString(),
  };
  return {
    key: source.key,
    value: JSON.stringify(record),
    headers: { "content-type": "application/json", "kubesentiment-error-code": failure.code },
  };
}
