// How many bytes of fetched records the worker may hold before they are answered, and how much one kafkajs fetch
// may bring, so a backlog of large records cannot exhaust the container's memory or the V8 heap. The limits are
// read once at start (thin I/O below); everything else is a pure function of them.
import { readFileSync } from "node:fs";
import { getHeapStatistics } from "node:v8";

/**
 * The share of the memory limit that fetched, unanswered records may take. Each record's bytes are held several
 * times over while it is answered (its buffer, its decoded text and JSON, its response or dead letter), beside
 * the model and the runtime themselves.
 */
export const inFlightShare = 1 / 8;

/** kafkajs's own defaults: no fetch is allowed more than it would take unbounded. */
const kafkajsMaxBytes = 10 * 1024 * 1024;
const kafkajsMaxBytesPerPartition = 1024 * 1024;

/** cgroup files that name no limit say so with "max" (v2) or a number near 2^63 (v1). */
const unlimited = 2 ** 60;

export interface MemoryLimits {
  /** The container's memory limit, if it has one. */
  container?: number;
  /** V8's heap size limit (what --max-old-space-size sets). */
  heap: number;
}

export interface FetchBudget {
  /** Bytes of fetched records (keys and values) held until they are answered. */
  inFlightBytes: number;
  /** kafkajs consumer maxBytes: what one fetch may bring, across partitions. */
  maxBytes: number;
  /** kafkajs consumer maxBytesPerPartition. */
  maxBytesPerPartition: number;
}

/** A cgroup memory limit file's value in bytes, or undefined when it names no limit or cannot be read. */
export function parseCgroupLimit(text: string | undefined): number | undefined {
  const value = Number(text?.trim());
  return Number.isSafeInteger(value) && value > 0 && value < unlimited ? value : undefined;
}

function readIfPresent(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/** This process's limits: cgroup v2, else cgroup v1, and V8's heap limit. */
export function readMemoryLimits(): MemoryLimits {
  const container =
    parseCgroupLimit(readIfPresent("/sys/fs/cgroup/memory.max")) ??
    parseCgroupLimit(readIfPresent("/sys/fs/cgroup/memory/memory.limit_in_bytes"));
  return { ...(container === undefined ? {} : { container }), heap: getHeapStatistics().heap_size_limit };
}

/**
 * The budget: `configured` bytes when set (MAX_IN_FLIGHT_BYTES), else inFlightShare of the smaller limit. It
 * always holds at least one record of maxMessageBytes, and one fetch takes at most a quarter of it, so the worker
 * waits before fetching once what it holds and a further fetch could exceed the budget.
 */
export function fetchBudget(configured: number, maxMessageBytes: number, limits: MemoryLimits): FetchBudget {
  const limit = Math.min(limits.heap, limits.container ?? Number.POSITIVE_INFINITY);
  const inFlightBytes = Math.max(
    maxMessageBytes,
    configured > 0 ? configured : Math.floor(limit * inFlightShare),
  );
  const maxBytes = Math.min(kafkajsMaxBytes, Math.max(maxMessageBytes, Math.floor(inFlightBytes / 4)));
  return {
    inFlightBytes,
    maxBytes,
    maxBytesPerPartition: Math.min(maxBytes, Math.max(kafkajsMaxBytesPerPartition, maxMessageBytes)),
  };
}

/** Bytes a fetched record holds: its key and value. */
export function recordBytes(message: { key: Buffer | null; value: Buffer | null }): number {
  return (message.key?.byteLength ?? 0) + (message.value?.byteLength ?? 0);
}
