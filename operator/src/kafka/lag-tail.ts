// Records at the end of a partition that no consumer is ever given. A transactional producer ends every
// transaction with a marker (a control record) on each partition it wrote, and an aborted transaction also
// leaves its records there; read_committed consumers skip both. kafkajs hands a batch of only those to nobody
// (it resolves the offset without calling eachBatch), so a group that commits the offset after the last record
// it was given, as the worker does, stays short of the log end forever: lag 1 per partition after a commit
// marker, more after an abort. Counted as lag, that keeps a pipeline from ever scaling to zero, or wakes it for
// nothing. So where the committed offset is behind the end, the tail is fetched (read_committed, as the worker
// reads it) and, when it holds no record a consumer is given, the group counts as having read it all.
//
// kafkajs 2.2.4, pinned and its last release, offers no fetch outside a consumer group (a group would have to
// join, seconds per look, and show up among the cluster's groups). Its Kafka client builds the cluster its
// consumers fetch through under a private symbol, and its Batch applies the consumer's own filter; both are
// used here as kafkajs's consumers use them.
import { createRequire } from "node:module";
import type { Kafka } from "kafkajs";
import { createCluster } from "./kafkajs-cluster.ts";
import type { PartitionOffsets } from "./lag.ts";

interface FetchedPartition {
  partition: number;
  highWatermark: string;
}

interface FetchingBroker {
  fetch(request: {
    isolationLevel: number;
    maxWaitTime: number;
    maxBytes: number;
    topics: { topic: string; partitions: { partition: number; fetchOffset: string; maxBytes: number }[] }[];
  }): Promise<{ responses: { topicName: string; partitions: FetchedPartition[] }[] }>;
}

interface FetchingCluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  addTargetTopic(topic: string): Promise<void>;
  findLeaderForPartitions(topic: string, partitions: number[]): Record<string, number[]>;
  findBroker(node: { nodeId: string }): Promise<FetchingBroker>;
}

/** kafkajs's consumer Batch: what a consumer is given of one partition's fetched records. */
interface ConsumerBatch {
  /** No record is given to the consumer. */
  isEmpty(): boolean;
  /** No record at all was fetched at or past the fetch offset. */
  isEmptyIncludingFiltered(): boolean;
  /** The offset of the last record fetched, given or not. */
  lastOffset(): string;
}
type BatchConstructor = new (
  topic: string,
  fetchedOffset: string,
  partition: FetchedPartition,
) => ConsumerBatch;

const require = createRequire(import.meta.url);
const Batch = require("kafkajs/src/consumer/batch.js") as BatchConstructor;
const readCommitted = 1;
/** Enough for a few markers and small aborted records; a longer tail is left counted as lag. */
const tailBytes = 64 * 1024;
/**
 * Only tails this short are looked at: a marker tail is one record per transaction, and a longer lag is nearly
 * always real work, whose first batch the fetch would read for nothing on every look.
 */
const maxTailRecords = 100;

/** Of partitions [from, to), those holding no record a read_committed consumer is given. */
async function unreadTails(
  kafka: Kafka,
  topic: string,
  tails: readonly { partition: number; from: number; to: number }[],
): Promise<Set<number>> {
  const cluster = createCluster<FetchingCluster>(kafka, { allowAutoTopicCreation: false });
  const unread = new Set<number>();
  await cluster.connect();
  try {
    await cluster.addTargetTopic(topic);
    const byLeader = cluster.findLeaderForPartitions(
      topic,
      tails.map(({ partition }) => partition),
    );
    for (const [nodeId, partitions] of Object.entries(byLeader)) {
      const asked = tails.filter(({ partition }) => partitions.includes(partition));
      const broker = await cluster.findBroker({ nodeId });
      const { responses } = await broker.fetch({
        isolationLevel: readCommitted,
        maxWaitTime: 0,
        maxBytes: tailBytes * asked.length,
        topics: [
          {
            topic,
            partitions: asked.map(({ partition, from }) => ({
              partition,
              fetchOffset: String(from),
              maxBytes: tailBytes,
            })),
          },
        ],
      });
      for (const fetched of responses.flatMap(({ partitions: answered }) => answered)) {
        const tail = asked.find(({ partition }) => partition === fetched.partition);
        if (tail === undefined) continue;
        const batch = new Batch(topic, String(tail.from), fetched);
        // Records were fetched, none is given, and they reach the end read: the tail holds nothing to do.
        if (!batch.isEmpty() || batch.isEmptyIncludingFiltered()) continue;
        if (BigInt(batch.lastOffset()) + 1n >= BigInt(tail.to)) unread.add(fetched.partition);
      }
    }
  } finally {
    await cluster.disconnect();
  }
  return unread;
}

/**
 * The partitions worth a look: committed inside the log, behind its end by at most maxTailRecords. Pure, for the
 * rule to be tested alone.
 */
export function tailsToCheck(
  offsets: readonly PartitionOffsets[],
): { partition: number; from: number; to: number }[] {
  return offsets.flatMap(({ partition, logStartOffset, logEndOffset, committedOffset }) =>
    committedOffset !== null &&
    committedOffset >= logStartOffset &&
    committedOffset < logEndOffset &&
    logEndOffset - committedOffset <= maxTailRecords
      ? [{ partition, from: committedOffset, to: logEndOffset }]
      : [],
  );
}

/**
 * The offsets with the committed offset moved to the log end on partitions whose records past it are only
 * transaction markers and aborted records: the next record the group will read is past the end. When the tails
 * cannot be read, the offsets are returned as they are: the tail then counts as lag, as it did without this.
 */
export async function skippingUnreadTails(
  kafka: Kafka,
  topic: string,
  offsets: readonly PartitionOffsets[],
): Promise<PartitionOffsets[]> {
  const tails = tailsToCheck(offsets);
  if (tails.length === 0) return [...offsets];
  const unread = await unreadTails(kafka, topic, tails).catch(() => new Set<number>());
  return offsets.map((offset) =>
    unread.has(offset.partition) ? { ...offset, committedOffset: offset.logEndOffset } : offset,
  );
}
