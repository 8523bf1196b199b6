// How routed results reach Kafka: written per destination leader (a broker that is slow or cut off holds only the
// batches with records for it), the results of batches that finish together going out in one write per leader,
// split into produce requests the broker accepts, with acks from every in-sync replica and LZ4. A record Kafka
// refuses for good is replaced by its stand-in (isolate-refused.ts), so it costs its own request alone.
import { CompressionTypes } from "kafkajs";
import type { ResilientProducer } from "../resilient-producer.ts";
import type { Routed } from "../routing/route-message.ts";
import { sendIsolatingRefused } from "./isolate-refused.ts";
import { LaneWriter } from "./lanes.ts";
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
  const isolation = {
    send: async (topicMessages: TopicMessages[]) => {
      await producer.sendBatch({ acks: -1, compression: CompressionTypes.LZ4, topicMessages });
    },
    partitionOf: (record: Routed["record"]) => producer.partitionOf(record),
    replace: (refused: Routed, refusal: string) => {
      const replacement = refused.ifRefused?.(refusal);
      if (replacement !== undefined) onRefused(refused, replacement);
      return replacement;
    },
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
                : { partition: `${placement.partition}@${item.topic}`, leader: placement.leader },
          };
        }),
      ),
  };
}
