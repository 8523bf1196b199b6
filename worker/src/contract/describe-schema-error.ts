// An ajv schema error as the sentence a dead letter carries, naming the field and what is wrong with it, so
// whoever sent the request can fix it without reading the schema.
import type { ErrorObject } from "ajv";

/** A field name as a message quotes it: a name of any length is the document's content, not a description. */
const shortened = (name: string) => (name.length > 64 ? `${name.slice(0, 61)}...` : name);

/** JSON pointer "/metadata/a~1b" → dotted field path "metadata.a/b"; the root is "" . */
function fieldPath(instancePath: string): string {
  return instancePath
    .split("/")
    .slice(1)
    .map((part) => shortened(part.replaceAll("~1", "/").replaceAll("~0", "~")))
    .join(".");
}

const withArticle = (noun: string) => `${/^[aeiou]/.test(noun) ? "an" : "a"} ${noun}`;

function typeOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}

/**
 * One sentence a person can act on, naming the field and the problem, for the first of ajv's errors.
 * `subject` names the document ("the request", "spec") for errors about the whole of it. Needs ajv's `verbose`
 * option, which puts the offending value on the error.
 */
export function describeSchemaError(error: ErrorObject, subject: string): string {
  const path = fieldPath(error.instancePath);
  const field = path === "" ? subject : `field '${path}'`;
  const child = (name: string) => `field '${path === "" ? name : `${path}.${name}`}'`;
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case "required":
      return `${child(String(params.missingProperty))} is required`;
    case "additionalProperties":
      return `${child(shortened(String(params.additionalProperty)))} is not allowed here`;
    case "type":
      return `${field} must be ${withArticle(String(params.type))}, not ${withArticle(typeOf(error.data))}`;
    case "minLength":
      return params.limit === 1
        ? `${field} must not be empty`
        : `${field} must have at least ${params.limit} characters`;
    case "maxLength":
      return `${field} must have at most ${params.limit} characters`;
    case "pattern":
      return params.pattern === "\\S"
        ? `${field} must contain a non-whitespace character`
        : `${field} must match ${String(params.pattern)}`;
    case "format":
      return params.format === "date-time"
        ? `${field} must be an RFC 3339 date-time such as 2026-01-31T12:00:00Z`
        : `${field} must be a valid ${String(params.format)}`;
    case "enum":
      return `${field} must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}`;
    default:
      return `${field} ${error.message ?? "is invalid"}`;
  }
}
