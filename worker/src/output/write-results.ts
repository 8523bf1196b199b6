// How routed results reach Kafka: written per destination leader (a broker that is slow or cut off holds only the
// batches with records for it), the results of batches that finish together going out in one write per leader,
// split into produce requests the broker accepts, with acks from every in-sync replica and LZ4. A record Kafka
// refuses for good is replaced by its stand-in (isolate-refused.ts), so it costs its own request alone.
import { CompressionTypes } from "kafkajs";
import type { ResilientProducer } from "../resilient-producer.ts";
import type { Routed } from "../routing/route-message.ts";
import { type IsolationDependencies, sendIsolatingRefused } from "./isolate-refused.ts";
import { LaneWriter } from "./lanes.ts";
import { PartitionLocks, partitionKey, type SendScope } from "./partition-locks.ts";
import { produceRequests, type TopicMessages } from "./produce-requests.ts";

/** Values per produce request: well under the broker's default 1 MiB message.max.bytes, even uncompressed. */
const maxProduceRequestBytes = 512 * 1024;

/** What the writer uses of the producer: it places each record before sending it, and resends to that place. */
export type ResultProducer = Pick<ResilientProducer, "sendBatch" | "place" | "partitionOf">;

export interface ResultWriter {
  /** Resolves once Kafka has acknowledged every record of `routed`, or its stand-in. */
  submit(routed: readonly Routed[]): Promise<void>;
}

/** Told of each record Kafka refused for good and what was written in its stead. */
export type OnRefused = (refused: Routed, replacement: Routed) => void;

export function resultWriter(producer: ResultProducer, onRefused: OnRefused): ResultWriter {
  const locks = new PartitionLocks();
  /** The partitions `items` go to, each placed now if its topic is known, else its whole topic. */
  const scopeOf = (items: readonly Routed[]): SendScope => {
    const partitions = new Set<string>();
    const topics = new Set<string>();
    for (const { topic, record } of items) {
      const partition = producer.partitionOf(record) ?? producer.place(topic, record)?.partition;
      if (partition === undefined) topics.add(topic);
      else partitions.add(partitionKey(topic, partition));
    }
    return { partitions, topics };
  };
  const isolation: IsolationDependencies<Routed> = {
    send: async (topicMessages: TopicMessages[]) => {
      await producer.sendBatch({ acks: -1, compression: CompressionTypes.LZ4, topicMessages });
    },
    partitionOf: (record: Routed["record"]) => producer.partitionOf(record),
    replace: (refused: Routed, refusal: string) => {
      const replacement = refused.ifRefused?.(refusal);
      if (replacement !== undefined) onRefused(refused, replacement);
      return replacement;
    },
    exclusive: (items, work) => locks.run(scopeOf(items), work),
  };
  const lanes = new LaneWriter<Routed>(async (routed) => {
    const routedOf = new Map(routed.map((item) => [item.record, item]));
    for (const topicMessages of produceRequests(routed, maxProduceRequestBytes)) {
      const items = topicMessages.flatMap(({ messages }) =>
        messages.map((record) => routedOf.get(record) as Routed),
      );
      await sendIsolatingRefused(items, isolation);
    }
  });
  return {
    submit: (routed) =>
      lanes.submit(
        routed.map((item) => {
          const placement = producer.place(item.topic, item.record);
          return {
            item,
            destination:
              placement === undefined
                ? undefined
                : { partition: partitionKey(item.topic, placement.partition), leader: placement.leader },
          };
        }),
      ),
  };
}
