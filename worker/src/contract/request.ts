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

/**
 * Why JSON.parse refused the value, without quoting it: V8's own message can carry an excerpt of the request,
 * and reasons end up in logs.
 */
function describeJsonError(error: SyntaxError): string {
  if (error.message.includes("Unexpected end of JSON input"))
    return "the record value is not JSON: it ends early";
  const position = /at position (\d+)/.exec(error.message)?.[1];
  return position === undefined
    ? "the record value is not JSON"
    : `the record value is not JSON: it goes wrong at character ${position}`;
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
    return reject("INVALID_JSON", describeJsonError(error as SyntaxError));
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

/**
 * RFC 3339 as ajv-formats' `date-time` accepts it: `t` or any whitespace between date and time, either case,
 * fractions of any length, offsets with or without their colon or minutes, and a leap second (`:60`).
 */
const dateTimePattern =
  /^(\d{4})-(\d\d)-(\d\d)(?:t|\s)(\d\d):(\d\d):(\d\d)(?:\.(\d+))?(?:z|([+-])(\d\d)(?::?(\d\d))?)$/i;

/**
 * The instant of a `date-time` the request schema accepted, in epoch ms. Date.parse refuses leap seconds
 * (and some offset forms); here `23:59:60.x` is the first second of the next minute, as POSIX time has no
 * 61st second.
 */
export function deadlineMs(deadline: string): number {
  const match = dateTimePattern.exec(deadline);
  if (match === null) throw new Error(`'${deadline.slice(0, 40)}' is not an RFC 3339 date-time`);
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const [fraction, sign, offsetHours, offsetMinutes] = match.slice(7);
  // setUTCFullYear, unlike Date.UTC, keeps years 0-99 as they are; a second of 60 rolls into the next minute.
  const instant = new Date(0);
  instant.setUTCFullYear(year, month - 1, day);
  instant.setUTCHours(hour, minute, second, 0);
  const offsetMs = (Number(offsetHours ?? 0) * 60 + Number(offsetMinutes ?? 0)) * 60_000;
  return (
    instant.getTime() +
    (fraction === undefined ? 0 : Number(`0.${fraction}`) * 1000) -
    (sign === "-" ? -offsetMs : offsetMs)
  );
}

/** True once the request's deadline (if it has one) is at or before `nowMs`. */
export function isExpired(request: SentimentRequest, nowMs: number): boolean {
  return request.deadline !== undefined && deadlineMs(request.deadline) <= nowMs;
}
