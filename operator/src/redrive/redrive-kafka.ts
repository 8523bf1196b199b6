// The redrive's thin Kafka layer: a transactional producer whose transactional id is the redrive's own, and a
// consumer of the dead-letter topic in the redrive's own group, whose offsets are committed only inside the
// producer's transactions (sendOffsets), together with the records they account for. So a dead letter's
// redriven record and the offset past that dead letter become visible together or not at all: a runner that
// dies mid-chunk leaves an open transaction that the next one (here or in a new leader) aborts when it fences
// the old producer (InitProducerId with the same transactional id), and the next runner resumes from the
// committed offsets. A fenced runner's later commits fail (INVALID_PRODUCER_EPOCH), so two operators can never
// both send one dead letter. The consumer reads committed records only (kafkajs's default isolation level), as
// the workers do.
import { type Consumer, type Kafka, Partitioners, type Producer } from "kafkajs";
import { type KafkaClientOptions, kafkaClient } from "../kafka/client.ts";
import type { ResolvedRedrive } from "./redrive.ts";
import type { Chunk, DeadLetterRecord } from "./selection.ts";

/** A dead-letter partition's offsets, as decimal strings. */
export interface PartitionBounds {
  partition: number;
  /** The first offset still in the log. */
  low: string;
  /** The log end: the offset the next dead letter will get. */
  high: string;
}

/** The redrive group's committed offset of a partition, with the counts committed beside it. */
export interface CommittedOffset {
  partition: number;
  /** Undefined: nothing committed yet. */
  offset: string | undefined;
  metadata: string | null;
}

/** A fetched batch of one partition: its dead letters, and the offset after the last record fetched. */
export type BatchHandler = (
  partition: number,
  letters: DeadLetterRecord[],
  fetchedTo: string,
) => Promise<void>;

/**
 * A Kafka transaction may stay open this long before the broker aborts it: far longer than one chunk takes,
 * and the bound on how long an abandoned chunk holds read_committed readers of the requests topic back if its
 * runner vanished without a successor fencing it.
 */
const transactionTimeoutMs = 60_000;

export class RedriveKafka {
  readonly #kafka: Kafka;
  readonly #producer: Producer;
  readonly #consumer: Consumer;

  constructor(
    client: Omit<KafkaClientOptions, "clientId">,
    private readonly redrive: ResolvedRedrive,
    private readonly topics: { deadLetter: string; requests: string },
  ) {
    this.#kafka = kafkaClient({ ...client, clientId: "kubesentiment-operator-redrive" });
    this.#producer = this.#kafka.producer({
      transactionalId: redrive.transactionalId,
      transactionTimeout: transactionTimeoutMs,
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      // Kafka's own key hashing, so a redriven request lands where its key would send it.
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    this.#consumer = this.#kafka.consumer({
      groupId: redrive.consumerGroup,
      allowAutoTopicCreation: false,
      // An idle partition's fetch would otherwise hold the others' records back for up to 5 s.
      maxWaitTimeInMs: 500,
      // A failure ends this consumer (the runner starts a fresh one from the committed offsets) instead of
      // kafkajs retrying a batch whose position it has already moved past.
      retry: { retries: 0, restartOnFailure: async () => false },
    });
  }

  /**
   * Connects, and fences any earlier producer with this redrive's transactional id: its open transaction is
   * aborted and it can commit nothing more. Only after this are the committed offsets final.
   */
  async connect(): Promise<void> {
    await this.#producer.connect();
    await (await this.#producer.transaction()).abort();
  }

  /** The dead-letter topic's bounds and the redrive group's committed offsets, per partition. */
  async offsets(): Promise<{ bounds: PartitionBounds[]; committed: CommittedOffset[] }> {
    const admin = this.#kafka.admin();
    await admin.connect();
    try {
      const [bounds, [committed]] = await Promise.all([
        admin.fetchTopicOffsets(this.topics.deadLetter),
        admin.fetchOffsets({ groupId: this.redrive.consumerGroup, topics: [this.topics.deadLetter] }),
      ]);
      return {
        bounds: bounds.map(({ partition, low, high }) => ({ partition, low, high })),
        committed: (committed?.partitions ?? []).map(({ partition, offset, metadata }) => ({
          partition,
          offset: offset === "-1" ? undefined : offset,
          metadata,
        })),
      };
    } finally {
      await admin.disconnect();
    }
  }

  /**
   * Consumes the dead-letter topic from the committed offsets (the earliest where none is), handing each batch
   * to `onBatch`. Never resolves; rejects when the consumer fails, so the runner starts afresh.
   */
  async consume(onBatch: BatchHandler): Promise<void> {
    const consumer = this.#consumer;
    const failed = new Promise<never>((_, reject) => {
      consumer.on(consumer.events.CRASH, ({ payload }) => reject(payload.error));
    });
    // Awaited below; should connecting fail first, a later crash must not become an unhandled rejection.
    failed.catch(() => {});
    await consumer.connect();
    await consumer.subscribe({ topic: this.topics.deadLetter, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch }) => {
        const letters = batch.messages.map((message) => ({
          topic: batch.topic,
          partition: batch.partition,
          offset: message.offset,
          timestampMs: Number(message.timestamp),
          value: message.value,
        }));
        await onBatch(batch.partition, letters, String(BigInt(batch.lastOffset()) + 1n));
      },
    });
    await failed;
  }

  /** Stops fetching a partition whose dead letters are all done. */
  pause(partition: number): void {
    this.#consumer.pause([{ topic: this.topics.deadLetter, partitions: [partition] }]);
  }

  /** Sends a chunk's records and commits the partition's next offset with its counts, in one transaction. */
  async commit(partition: number, chunk: Chunk, metadata: string): Promise<void> {
    const transaction = await this.#producer.transaction();
    try {
      if (chunk.sends.length > 0) {
        await transaction.send({
          topic: this.topics.requests,
          acks: -1,
          messages: chunk.sends.map(({ key, value, headers }) => ({ key, value, headers })),
        });
      }
      await transaction.sendOffsets({
        consumerGroupId: this.redrive.consumerGroup,
        topics: [
          {
            topic: this.topics.deadLetter,
            // kafkajs passes metadata through to TxnOffsetCommit, though its types leave it out.
            partitions: [
              { partition, offset: chunk.nextOffset, metadata } as { partition: number; offset: string },
            ],
          },
        ],
      });
      await transaction.commit();
    } catch (error) {
      await transaction.abort().catch(() => {});
      throw error;
    }
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.#consumer.disconnect(), this.#producer.disconnect()]);
  }
}
