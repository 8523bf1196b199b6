// A digest of rendered configuration, the same for equal values whatever order their keys were built in.
import { createHash } from "node:crypto";

/**
 * JSON with every object's keys sorted; arrays keep their order. Members that are undefined are dropped, as
 * JSON.stringify drops them, so `{a: undefined}` and `{}` (the same object once sent) digest alike.
 */
export function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(",")}]`;
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  const record = value as Record<string, unknown>;
  const members = Object.keys(record)
    .sort()
    .filter((key) => record[key] !== undefined)
    .map((key) => `${JSON.stringify(key)}:${stableJson(record[key])}`);
  return `{${members.join(",")}}`;
}

export function sha256Of(value: unknown): string {
  return createHash("sha256").update(stableJson(value)).digest("hex");
}
