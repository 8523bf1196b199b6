// What a redrive does with each dead letter, as pure functions: send it back (its original key and value, with
// the redrive headers), or skip it and say why; and the progress of each dead-letter partition, which is
// committed with the records sent (as the consumer group's offset metadata) so the counts survive a restart.
import {
  formatRedrivenFrom,
  redriveCountHeader,
  redrivenFromHeader,
} from "../../../common/src/redrive-headers.ts";
import type { ResolvedRedrive } from "./redrive.ts";

/** One record read from the dead-letter topic. */
export interface DeadLetterRecord {
  topic: string;
  partition: number;
  offset: string;
  /** Kafka timestamp of the dead-letter record, epoch ms. */
  timestampMs: number;
  value: Buffer | null;
}

export type SkipReason = "filtered" | "unreadable" | "atBound";

export type Decision =
  | { kind: "send"; key: Buffer | null; value: Buffer | null; headers: Record<string, string> }
  | { kind: "skip"; reason: SkipReason };

interface Transportable {
  encoding: "utf8" | "base64";
  data: string;
}

/** The part of a dead letter (dead-letter.schema.json) a redrive reads. */
interface DeadLetterFields {
  code: string;
  key: Transportable | null;
  value: Transportable | null;
  originalOmitted?: true;
  redrive?: { count: number };
}

function isTransportable(value: unknown): value is Transportable | null {
  if (value === null) return true;
  if (typeof value !== "object") return false;
  const { encoding, data } = value as Record<string, unknown>;
  return (encoding === "utf8" || encoding === "base64") && typeof data === "string";
}

function parseDeadLetter(value: Buffer | null): DeadLetterFields | undefined {
  if (value === null) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.toString("utf8"));
  } catch {
    return undefined;
  }
  if (typeof parsed !== "object" || parsed === null) return undefined;
  const fields = parsed as Record<string, unknown>;
  if (typeof fields.code !== "string" || !isTransportable(fields.key) || !isTransportable(fields.value)) {
    return undefined;
  }
  const redrive = fields.redrive as { count?: unknown } | undefined;
  const count = redrive?.count;
  if (redrive !== undefined && !(Number.isInteger(count) && (count as number) >= 1)) return undefined;
  return fields as unknown as DeadLetterFields;
}

function bytesOf(transported: Transportable | null): Buffer | null {
  if (transported === null) return null;
  return Buffer.from(transported.data, transported.encoding === "utf8" ? "utf8" : "base64");
}

function selected(redrive: ResolvedRedrive, code: string, timestampMs: number): boolean {
  if (redrive.codes !== undefined && !redrive.codes.has(code)) return false;
  if (redrive.sinceMs !== undefined && timestampMs < redrive.sinceMs) return false;
  if (redrive.untilMs !== undefined && timestampMs >= redrive.untilMs) return false;
  return true;
}

/**
 * What to do with one dead letter. Not ours to read (not a dead letter, or a minimal one whose original was
 * left out): skipped as unreadable. Outside the selection: filtered. Its request already redriven maxRedrives
 * times: atBound. Otherwise sent, under its original key, with the redrive count one higher than its own.
 */
export function decide(letter: DeadLetterRecord, redrive: ResolvedRedrive): Decision {
  const fields = parseDeadLetter(letter.value);
  if (fields === undefined || fields.originalOmitted === true) return { kind: "skip", reason: "unreadable" };
  if (!selected(redrive, fields.code, letter.timestampMs)) return { kind: "skip", reason: "filtered" };
  const previous = fields.redrive?.count ?? 0;
  if (previous >= redrive.maxRedrives) return { kind: "skip", reason: "atBound" };
  return {
    kind: "send",
    key: bytesOf(fields.key),
    value: bytesOf(fields.value),
    headers: {
      [redriveCountHeader]: String(previous + 1),
      [redrivenFromHeader]: formatRedrivenFrom(letter),
    },
  };
}

/** What one dead-letter partition has done: committed with its offset, in the same transaction. */
export interface PartitionCounts {
  sent: number;
  skipped: number;
  skippedAtBound: number;
}

export const noCounts: PartitionCounts = { sent: 0, skipped: 0, skippedAtBound: 0 };

/** The counts as the committed offset's metadata (Kafka keeps up to 4 KiB by default; this is tens of bytes). */
export function encodeCounts(counts: PartitionCounts): string {
  return JSON.stringify([counts.sent, counts.skipped, counts.skippedAtBound]);
}

/** The counts a committed offset's metadata holds; none for an offset this redrive never committed. */
export function decodeCounts(metadata: string | null | undefined): PartitionCounts {
  if (metadata === null || metadata === undefined || metadata === "") return noCounts;
  const parsed: unknown = JSON.parse(metadata);
  if (!Array.isArray(parsed) || parsed.length !== 3 || !parsed.every((n) => Number.isInteger(n) && n >= 0)) {
    throw new Error(`the redrive's committed offset metadata ${JSON.stringify(metadata)} is not its counts`);
  }
  const [sent, skipped, skippedAtBound] = parsed as number[];
  return { sent: sent ?? 0, skipped: skipped ?? 0, skippedAtBound: skippedAtBound ?? 0 };
}

export function addDecision(counts: PartitionCounts, decision: Decision): PartitionCounts {
  if (decision.kind === "send") return { ...counts, sent: counts.sent + 1 };
  if (decision.reason === "atBound") return { ...counts, skippedAtBound: counts.skippedAtBound + 1 };
  return { ...counts, skipped: counts.skipped + 1 };
}

export function totalCounts(all: Iterable<PartitionCounts>): PartitionCounts {
  let total = noCounts;
  for (const counts of all) {
    total = {
      sent: total.sent + counts.sent,
      skipped: total.skipped + counts.skipped,
      skippedAtBound: total.skippedAtBound + counts.skippedAtBound,
    };
  }
  return total;
}

/** One transaction's worth of a partition's dead letters: what to send, and the partition's progress after it. */
export interface Chunk {
  sends: Extract<Decision, { kind: "send" }>[];
  counts: PartitionCounts;
  /** The offset to commit: the first dead letter not yet considered. */
  nextOffset: string;
  /** The limit was reached: nothing after this chunk is sent. */
  limitReached: boolean;
}

/**
 * Splits dead letters of one partition (in offset order, from its next offset, all before its end) into chunks
 * of at most `chunkSize` sends each. Skips cost nothing to send, so they ride along. Stops at the redrive's limit,
 * given what every partition has sent before (`sentSoFar`); the chunk that reaches it ends the redrive.
 */
export function planChunks(
  letters: readonly DeadLetterRecord[],
  redrive: ResolvedRedrive,
  counts: PartitionCounts,
  sentSoFar: number,
  chunkSize: number,
): Chunk[] {
  const chunks: Chunk[] = [];
  let current: Chunk | undefined;
  let running = counts;
  let sent = sentSoFar;
  for (const letter of letters) {
    if (redrive.limit !== undefined && sent >= redrive.limit) {
      if (current === undefined) {
        chunks.push({ sends: [], counts: running, nextOffset: letter.offset, limitReached: true });
      } else current.limitReached = true;
      break;
    }
    const decision = decide(letter, redrive);
    if (current === undefined || (decision.kind === "send" && current.sends.length >= chunkSize)) {
      current = { sends: [], counts: running, nextOffset: letter.offset, limitReached: false };
      chunks.push(current);
    }
    if (decision.kind === "send") {
      current.sends.push(decision);
      sent++;
    }
    running = addDecision(running, decision);
    current.counts = running;
    current.nextOffset = String(BigInt(letter.offset) + 1n);
  }
  if (current !== undefined && redrive.limit !== undefined && sent >= redrive.limit)
    current.limitReached = true;
  return chunks;
}
