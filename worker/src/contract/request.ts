// The request contract at the worker's door: a Kafka record value becomes a request valid against
// schemas/request.schema.json, or the dead-letter code and message that say why not; and whether its deadline
// has passed.
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import type { DeadLetterCode } from "./dead-letter-codes.ts";
import { describeSchemaError } from "./describe-schema-error.ts";
import requestSchema from "./schemas/request.schema.json" with { type: "json" };

export interface SentimentRequest {
  id: string;
  text: string;
  metadata?: Record<string, unknown>;
  deadline?: string;
}

export interface RequestLimits {
  /** Largest record value accepted, in bytes; larger ones are refused unparsed. */
  maxMessageBytes: number;
  /** Longest text accepted, in Unicode code points. */
  maxTextLength: number;
}

export interface Rejection {
  code: DeadLetterCode;
  message: string;
  /** The request id, when the bytes got far enough to carry one. */
  id?: string;
}

export type DecodedRequest = { ok: true; request: SentimentRequest } | { ok: false; rejection: Rejection };

const ajv = new Ajv2020({ allErrors: false, strict: true, verbose: true });
addFormats.default(ajv, ["date-time"]);
const validateRequest = ajv.compile<SentimentRequest>(requestSchema);
const utf8 = new TextDecoder("utf-8", { fatal: true });

function codePointLength(text: string, atMost: number): number {
  // UTF-16 length bounds the code-point count from above, so the exact count is needed only past the limit.
  if (text.length <= atMost) return text.length;
  let count = 0;
  for (const _ of text) count++;
  return count;
}

function idOf(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const id = (value as { id?: unknown }).id;
  return typeof id === "string" && id.length > 0 ? id.slice(0, 128) : undefined;
}

function reject(code: DeadLetterCode, message: string, id?: string): DecodedRequest {
  return { ok: false, rejection: id === undefined ? { code, message } : { code, message, id } };
}

/** Bytes of one Kafka record value → a valid request, or the dead-letter code and a message naming the problem. */
export function decodeRequest(value: Uint8Array | null, limits: RequestLimits): DecodedRequest {
  if (value === null || value.byteLength === 0) return reject("INVALID_JSON", "the record has no value");
  if (value.byteLength > limits.maxMessageBytes) {
    return reject(
      "MESSAGE_TOO_LARGE",
      `the record value is ${value.byteLength} bytes; the limit is ${limits.maxMessageBytes} bytes`,
    );
  }
  let json: string;
  try {
    json = utf8.decode(value);
  } catch {
    return reject("INVALID_ENCODING", "the record value is not valid UTF-8");
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (error) {
    return reject("INVALID_JSON", `the record value is not JSON: ${(error as Error).message}`);
  }
  if (!validateRequest(parsed)) {
    const [first] = validateRequest.errors ?? [];
    const message =
      first === undefined ? "the request is invalid" : describeSchemaError(first, "the request");
    return reject("SCHEMA_VIOLATION", message, idOf(parsed));
  }
  const length = codePointLength(parsed.text, limits.maxTextLength);
  if (length > limits.maxTextLength) {
    return reject(
      "TEXT_TOO_LONG",
      `field 'text' has ${length} characters; the limit is ${limits.maxTextLength}`,
      parsed.id,
    );
  }
  return { ok: true, request: parsed };
}

/** True once the request's deadline (if it has one) is at or before `nowMs`. */
export function isExpired(request: SentimentRequest, nowMs: number): boolean {
  return request.deadline !== undefined && Date.parse(request.deadline) <= nowMs;
}
