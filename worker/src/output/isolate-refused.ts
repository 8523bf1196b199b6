// A write Kafka refuses for good because of one of its records (larger than the topic's max.message.bytes, a
// record a compacted topic rejects, a policy) must cost that record alone, never the worker: the rest of the
// write goes through, and the refused record is replaced by what it names as its stand-in (a response by a dead
// letter, a dead letter by a minimal one).
import type { OutgoingRecord } from "../contract/records.ts";
import type { TopicMessages } from "./produce-requests.ts";

/** Kafka's answers that refuse a produce for good because of the records in it, not the producer or cluster. */
const refusedRecordErrors = new Set([
  "MESSAGE_TOO_LARGE",
  "RECORD_LIST_TOO_LARGE",
  "INVALID_RECORD",
  "POLICY_VIOLATION",
]);

/** Kafka's reason (`TYPE: message`) when `error` refuses records for good; undefined for any other failure. */
export function refusalOf(error: unknown): string | undefined {
  for (let e = error as { type?: unknown; message?: unknown; cause?: unknown } | undefined; e; ) {
    if (typeof e.type === "string" && refusedRecordErrors.has(e.type))
      return `${e.type}: ${String(e.message)}`;
    e = e.cause as typeof e;
  }
  return undefined;
}

/** A record on its way to a topic. */
export interface Outgoing {
  topic: string;
  record: OutgoingRecord;
}

/** One write's records by topic, as kafkajs's sendBatch takes them, in their order. */
export function byTopic(items: readonly Outgoing[]): TopicMessages[] {
  const topics = new Map<string, OutgoingRecord[]>();
  for (const { topic, record } of items) {
    const messages = topics.get(topic);
    if (messages === undefined) topics.set(topic, [record]);
    else messages.push(record);
  }
  return [...topics].map(([topic, messages]) => ({ topic, messages }));
}

/** `items` grouped by the partition the producer chose for each record, each group in its original order. */
export function byPartition<T extends Outgoing>(
  items: readonly T[],
  partitionOf: (record: OutgoingRecord) => number | undefined,
): T[][] {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const key = `${item.topic}\u0000${partitionOf(item.record) ?? "?"}`;
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [item]);
    else group.push(item);
  }
  return [...groups.values()];
}

export interface IsolationDependencies<T extends Outgoing> {
  /** One produce of `topicMessages`; resolves once Kafka acknowledged every record. */
  send: (topicMessages: TopicMessages[]) => Promise<void>;
  /** The partition the producer chose for `record` when it was first sent. */
  partitionOf: (record: OutgoingRecord) => number | undefined;
  /** What to write instead of a record Kafka refused for good; undefined when there is nothing left to try. */
  replace: (refused: T, reason: string) => T | undefined;
  /**
   * Runs `work` while no other write touches the partitions of `items`: a refused produce leaves the partitions
   * it appended with sequence numbers kafkajs rolled back, and another write to them before they are sent again
   * would take those numbers (the broker refuses it as out of order).
   */
  exclusive: <R>(items: readonly T[], work: () => Promise<R>) => Promise<R>;
}

/** A refused record with no stand-in left: no single request caused this, the topic itself refuses. */
export class RefusedForGoodError extends Error {
  override readonly name = "RefusedForGoodError";
}

/**
 * Writes `items` as one produce; when Kafka refuses it for good because of some records, writes every other
 * record and, for each refused one, its replacement. Rejects on any other failure, and with RefusedForGoodError
 * when a record without a replacement is refused.
 *
 * A refused produce may still have appended the partitions it did not refuse, and kafkajs then rolls back their
 * sequence numbers. So partitions are sent again whole, exactly as before (the broker recognises the same
 * producer's same sequence numbers and does not append them twice), in halves until the refused ones are
 * alone; only a partition refused alone, which appended nothing, is split further, until each refused record is
 * alone. Replacements go out last, once every partition's sequence numbers agree with the broker again.
 * (kafkajs rolls back only the refused broker's request: partitions the same write had sent to other brokers
 * were acknowledged and are appended again, a duplicate at-least-once allows.)
 */
export async function sendIsolatingRefused<T extends Outgoing>(
  items: readonly T[],
  deps: IsolationDependencies<T>,
): Promise<void> {
  const refused = await deps.exclusive(items, () => refusedOf(items, deps));
  if (refused.length === 0) return;
  const replacements = refused.map(({ item, reason }) => {
    const replacement = deps.replace(item, reason);
    if (replacement === undefined) {
      throw new RefusedForGoodError(`Kafka refused a record for topic ${item.topic} for good (${reason})`);
    }
    return replacement;
  });
  await sendIsolatingRefused(replacements, deps);
}

interface Refusal<T> {
  item: T;
  reason: string;
}

/** Sends `items`; the records Kafka refused for good, each with its reason (every other record is written). */
async function refusedOf<T extends Outgoing>(
  items: readonly T[],
  deps: IsolationDependencies<T>,
): Promise<Refusal<T>[]> {
  const reason = await refusalOfSend(items, deps);
  return reason === undefined ? [] : isolate(byPartition(items, deps.partitionOf), reason, deps);
}

/**
 * Finds the refused records among `units`, refused together for `reason`, by sending halves until each refused
 * unit is a lone record. Units are first whole partitions, each sent exactly as before; a partition refused
 * alone appended nothing, and its records become the units.
 */
async function isolate<T extends Outgoing>(
  units: readonly T[][],
  reason: string,
  deps: IsolationDependencies<T>,
): Promise<Refusal<T>[]> {
  const [unit] = units;
  if (units.length === 1 && unit !== undefined) {
    const [only] = unit;
    if (unit.length === 1 && only !== undefined) return [{ item: only, reason }];
    return isolate(
      unit.map((item) => [item]),
      reason,
      deps,
    );
  }
  const middle = Math.ceil(units.length / 2);
  const refused: Refusal<T>[] = [];
  for (const half of [units.slice(0, middle), units.slice(middle)]) {
    const halfReason = await refusalOfSend(half.flat(), deps);
    if (halfReason !== undefined) refused.push(...(await isolate(half, halfReason, deps)));
  }
  return refused;
}

/** Sends `items`: undefined when written, Kafka's reason when refused for good; rejects on anything else. */
async function refusalOfSend(
  items: readonly Outgoing[],
  deps: Pick<IsolationDependencies<Outgoing>, "send">,
): Promise<string | undefined> {
  try {
    await deps.send(byTopic(items));
    return undefined;
  } catch (error) {
    const reason = refusalOf(error);
    if (reason === undefined) throw error;
    return reason;
  }
}
