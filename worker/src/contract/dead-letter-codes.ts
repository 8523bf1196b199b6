/**
 * The fixed set of reasons a request ends in the dead-letter topic. Stable strings: users filter and alert on them.
 * The descriptions are the documentation (README and the dead-letter schema point here).
 */
export const deadLetterCodes = {
  MESSAGE_TOO_LARGE: "The record value is larger than the worker's maximum message size; it was not parsed.",
  INVALID_ENCODING: "The record value is not valid UTF-8.",
  INVALID_JSON: "The record value is not JSON.",
  SCHEMA_VIOLATION: "The JSON does not match the request schema; the message names the field.",
  TEXT_TOO_LONG: "The text is longer than the worker's maximum text length.",
  DEADLINE_EXCEEDED:
    "The request's deadline had passed before it could be classified; it was not classified.",
  INFERENCE_FAILED: "The model failed on this request on every attempt.",
  RESPONSE_UNSERIALIZABLE:
    "The request was classified, but its response could not be serialized (its metadata nests too deeply).",
  RESPONSE_REFUSED:
    "The request was classified, but Kafka refused its response for good (such as one larger than the responses topic's max.message.bytes); the message gives Kafka's reason.",
  INTERNAL_ERROR: "The worker failed unexpectedly on this request; the message says how. Please report it.",
} as const;

export type DeadLetterCode = keyof typeof deadLetterCodes;
