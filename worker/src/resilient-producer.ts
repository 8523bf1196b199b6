// The worker's producer: kafkajs's idempotent producer, wrapped so a write resolves only once every record is
// acknowledged (kafkajs can report a write done with records unsent), a lost idempotence state replaces the
// producer instead of failing every later write, and a writer can learn where a record goes before sending it.
import { setTimeout as sleep } from "node:timers/promises";
import {
  type Message,
  Partitioners,
  type PartitionMetadata,
  type Producer,
  type ProducerBatch,
  type ProducerConfig,
  type RecordMetadata,
  type TopicMessages,
} from "kafkajs";
import { keyPartition } from "./output/key-partition.ts";
import { type BackoffPolicy, backoffDelayMs } from "./resilience/backoff.ts";

/** Broker answers meaning this producer's idempotence state (id, epoch, sequence numbers) is lost for good. */
const producerStateErrors = new Set([
  "OUT_OF_ORDER_SEQUENCE_NUMBER",
  "UNKNOWN_PRODUCER_ID",
  "INVALID_PRODUCER_EPOCH",
]);

function isProducerStateError(error: unknown): boolean {
  for (let e = error as { type?: unknown; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (typeof e.type === "string" && producerStateErrors.has(e.type)) return true;
  }
  return false;
}

/** The messages of `topicMessages` whose partition is not among those `results` acknowledged. */
function unacknowledged(
  topicMessages: readonly TopicMessages[],
  results: readonly RecordMetadata[],
  partitionOf: (message: Message) => number | undefined,
): TopicMessages[] {
  // Per topic, partition numbers: no key string is built per message of a write.
  const acknowledged = new Map<string, Set<number | undefined>>();
  for (const { topicName, partition, errorCode } of results) {
    if (errorCode !== 0) continue;
    const partitions = acknowledged.get(topicName) ?? new Set();
    acknowledged.set(topicName, partitions.add(partition));
  }
  return topicMessages
    .map(({ topic, messages }) => {
      const partitions = acknowledged.get(topic);
      return {
        topic,
        messages:
          partitions === undefined ? messages : messages.filter((m) => !partitions.has(partitionOf(m))),
      };
    })
    .filter(({ messages }) => messages.length > 0);
}

/** Where a record goes: the partition it keeps for good, and that partition's leader as last known. */
export interface Placement {
  partition: number;
  /** The leader's node id; -1 while the partition has none. */
  leader: number;
}

export interface ResilientProducerOptions {
  /** Connects a new kafkajs producer made with `config`. */
  connect: (config: ProducerConfig) => Promise<Producer>;
  /** Wait before sending again what a send left out. */
  backoff: BackoffPolicy;
  onResend: (messages: number, attempt: number) => void;
  onReplace: (error: Error) => void;
}

/**
 * An idempotent producer whose sendBatch resolves only once every record of the batch is acknowledged, and
 * rejects only on a failure no retry can mend.
 *
 * kafkajs's sendBatch can succeed without sending everything: when a try fails on one broker, its retry skips
 * every broker that answered the earlier try, so the records of a partition whose leader has meanwhile moved to
 * such a broker are never sent (kafkajs issue 1303; seen here as 35 of 3,000 responses missing, their offsets
 * committed, after a broker was killed). So each message keeps the partition first chosen for it, and whatever
 * lies on a partition the results do not acknowledge is sent again: at-least-once allows the duplicates.
 *
 * After a partition leader dies, kafkajs's idempotent producer can also desynchronise from the new leader and
 * fail every send with OUT_OF_ORDER_SEQUENCE_NUMBER for good (kafkajs issue 598); then a new producer (a new
 * producer id) resends the batch.
 */
export class ResilientProducer {
  readonly #options: ResilientProducerOptions;
  readonly #partitions: WeakMap<Message, number>;
  /** Each topic's partitions as kafkajs last saw them when it placed a message. */
  readonly #topics: Map<string, PartitionMetadata[]>;
  readonly #config: ProducerConfig;
  readonly #place: ReturnType<typeof Partitioners.DefaultPartitioner>;
  #current: Producer;
  /** The replacement under way: sends that fail meanwhile wait for it instead of replacing again. */
  #replacing: Promise<Producer> | undefined;

  private constructor(current: Producer, options: ResilientProducerOptions, shared: SharedPlacement) {
    this.#current = current;
    this.#options = options;
    this.#partitions = shared.partitions;
    this.#topics = shared.topics;
    this.#config = producerConfig(shared);
    this.#place = stablePartitioner(shared);
  }

  static async start(options: ResilientProducerOptions): Promise<ResilientProducer> {
    const shared: SharedPlacement = { partitions: new WeakMap(), topics: new Map() };
    return new ResilientProducer(await options.connect(producerConfig(shared)), options, shared);
  }

  /**
   * Gives `message` its partition now, as sendBatch would (it keeps it), and says which broker leads it; undefined
   * until a send to `topic` has shown kafkajs's metadata of it.
   */
  place(topic: string, message: Message): Placement | undefined {
    const partitionMetadata = this.#topics.get(topic);
    if (partitionMetadata === undefined) return undefined;
    const partition = this.#place({ topic, partitionMetadata, message });
    const leader = partitionMetadata.find((p) => p.partitionId === partition)?.leader ?? -1;
    return { partition, leader };
  }

  /** Safe to call concurrently for different partitions: kafkajs serialises each broker's requests. */
  async sendBatch(batch: ProducerBatch): Promise<RecordMetadata[]> {
    const acknowledged: RecordMetadata[] = [];
    let pending = batch.topicMessages ?? [];
    for (let attempt = 1; ; attempt++) {
      const results = await this.#sendOrReplace({ ...batch, topicMessages: pending });
      acknowledged.push(...results);
      pending = unacknowledged(pending, results, (message) => this.#partitions.get(message));
      if (pending.length === 0) return acknowledged;
      this.#options.onResend(
        pending.reduce((sum, { messages }) => sum + messages.length, 0),
        attempt,
      );
      await sleep(backoffDelayMs(attempt, this.#options.backoff));
    }
  }

  /** The partition `message` was placed in or first sent to (undefined before): where a resend of it goes. */
  partitionOf(message: Message): number | undefined {
    return this.#partitions.get(message);
  }

  async disconnect(): Promise<void> {
    await this.#replacing?.catch(() => {});
    await this.#current.disconnect();
  }

  async #sendOrReplace(batch: ProducerBatch): Promise<RecordMetadata[]> {
    const producer = await (this.#replacing ?? this.#current);
    try {
      return await producer.sendBatch(batch);
    } catch (error) {
      // Another send replaced the producer under this one (whose failure may be that disconnect): send again
      // with the new one.
      if (this.#replacing !== undefined || producer !== this.#current) {
        return (await (this.#replacing ?? this.#current)).sendBatch(batch);
      }
      if (!isProducerStateError(error)) throw error;
      // A second state error, from a brand-new producer, is not this failure: it propagates.
      return (await this.#replace(producer, error as Error)).sendBatch(batch);
    }
  }

  #replace(stale: Producer, error: Error): Promise<Producer> {
    this.#options.onReplace(error);
    this.#replacing = (async () => {
      try {
        this.#current = await this.#options.connect(this.#config);
      } finally {
        this.#replacing = undefined;
      }
      await stale.disconnect().catch(() => {});
      return this.#current;
    })();
    return this.#replacing;
  }
}

/** What a ResilientProducer and the partitioners of its kafkajs producers share. */
interface SharedPlacement {
  /** Each message's partition, once chosen. */
  partitions: WeakMap<Message, number>;
  /** Each topic's partitions, as last seen. */
  topics: Map<string, PartitionMetadata[]>;
}

/** The kafkajs producer a ResilientProducer drives; its partitioner records into `shared`. */
function producerConfig(shared: SharedPlacement): ProducerConfig {
  return {
    idempotent: true,
    maxInFlightRequests: 1,
    // A write never creates its topic, whatever the broker's auto.create.topics.enable: a missing topic is the
    // operator's to make, and one made from the broker's defaults would hide that and outlive the pipeline.
    allowAutoTopicCreation: false,
    createPartitioner: () => stablePartitioner(shared),
    // Retries for ever: while Kafka is away the batch waits uncommitted and nothing is lost. At most a second
    // between tries: after a leader dies, the tries that still find it in the metadata fail until the
    // controller fences it, and a longer backoff would idle up to 10 s past the new leader's election.
    retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 300, maxRetryTime: 1_000 },
  };
}

/**
 * kafkajs's default partitioner, except that a message keeps the partition it was first given (an unkeyed one
 * would move round-robin on every try), so an acknowledged partition covers every message sent to it, and that a
 * keyed one is hashed in 32-bit arithmetic (key-partition.ts, the same partition). It also keeps the topic's
 * partitions as kafkajs last saw them, for place().
 */
function stablePartitioner({
  partitions,
  topics,
}: SharedPlacement): ReturnType<typeof Partitioners.DefaultPartitioner> {
  const choose = Partitioners.DefaultPartitioner();
  return (args) => {
    topics.set(args.topic, args.partitionMetadata);
    const kept = partitions.get(args.message);
    if (kept !== undefined && kept < args.partitionMetadata.length) return kept;
    const { key, partition: given } = args.message;
    const partition =
      key === null || key === undefined || (given !== null && given !== undefined)
        ? choose(args)
        : keyPartition(key, args.partitionMetadata.length);
    partitions.set(args.message, partition);
    return partition;
  };
}
