/**
 * The fixed set of reasons a request ends in the dead-letter topic. Stable strings: users filter and alert on them.
 * The descriptions are the documentation (README and the dead-letter schema point here).
 */
const deadLetterCodes = {
  MESSAGE_TOO_LARGE: "The record value is larger than the worker's maximum message size; it was not parsed.",
  INVALID_ENCODING: "The record value is not valid UTF-8.",
  INVALID_JSON: "The record value is not JSON.",
  SCHEMA_VIOLATION: "The JSON does not match the request schema; the message names the field.",
  TEXT_TOO_LONG: "The text is longer than the worker's maximum text length.",
  DEADLINE_EXCEEDED:
    "The request's deadline had passed before it could be classified; it was not classified.",
  INFERENCE_FAILED: "The model failed on this request on every attempt.",
} as const;

export type DeadLetterCode = keyof typeof deadLetterCodes;
