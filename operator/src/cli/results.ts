// A record of a pipeline's responses or dead-letter topic, decoded. Pure. The shapes are the worker's schemas
// (worker/src/contract/schemas), read only as far as printing needs; the whole record is kept for -o json.

export interface ResponseRecord {
  id: string;
  label: string;
  score: number;
  [field: string]: unknown;
}

export interface DeadLetterRecord {
  code: string;
  message: string;
  id?: string;
  [field: string]: unknown;
}

interface Position {
  topic: string;
  partition: number;
  offset: string;
}

export type PipelineResult =
  | (Position & { kind: "response"; id: string; record: ResponseRecord })
  /** `id` is the request's id, else the record's key (the original request's key). */
  | (Position & { kind: "deadLetter"; id: string | undefined; record: DeadLetterRecord })
  | (Position & { kind: "unreadable"; id: string | undefined; problem: string });

export interface RawRecord extends Position {
  key: Buffer | null;
  value: Buffer | null;
}

function parsed(value: Buffer | null): { ok: true; json: unknown } | { ok: false; problem: string } {
  if (value === null) return { ok: false, problem: "the record has no value" };
  try {
    return { ok: true, json: JSON.parse(value.toString("utf8")) };
  } catch (error) {
    return { ok: false, problem: `the value is not JSON: ${(error as Error).message}` };
  }
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

export function decodeResult(role: "response" | "deadLetter", raw: RawRecord): PipelineResult {
  const position = { topic: raw.topic, partition: raw.partition, offset: raw.offset };
  const key = raw.key?.toString("utf8");
  const value = parsed(raw.value);
  if (!value.ok) return { ...position, kind: "unreadable", id: key, problem: value.problem };
  const record = value.json;
  if (role === "response") {
    if (isObject(record) && typeof record.id === "string" && typeof record.label === "string") {
      return { ...position, kind: "response", id: record.id, record: record as ResponseRecord };
    }
    return { ...position, kind: "unreadable", id: key, problem: "not a response (no id or label)" };
  }
  if (isObject(record) && typeof record.code === "string" && typeof record.message === "string") {
    const id = typeof record.id === "string" ? record.id : key;
    return { ...position, kind: "deadLetter", id, record: record as DeadLetterRecord };
  }
  return { ...position, kind: "unreadable", id: key, problem: "not a dead letter (no code or message)" };
}
