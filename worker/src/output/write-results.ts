// How routed results reach Kafka: the results of batches that finish together go out in one write, split into
// produce requests the broker accepts, with acks from every in-sync replica and LZ4. A record Kafka refuses for
// good is replaced by its stand-in (isolate-refused.ts), so it costs its own request alone.
import { CompressionTypes } from "kafkajs";
import type { ResilientProducer } from "../resilient-producer.ts";
import type { Routed } from "../routing/route-message.ts";
import { CoalescingWriter } from "./coalescing-writer.ts";
import { sendIsolatingRefused } from "./isolate-refused.ts";
import { produceRequests, type TopicMessages } from "./produce-requests.ts";

/** Values per produce request: well under the broker's default 1 MiB message.max.bytes, even uncompressed. */
const maxProduceRequestBytes = 512 * 1024;

/** Told of each record Kafka refused for good and what was written in its stead. */
export type OnRefused = (refused: Routed, replacement: Routed) => void;

/** A writer whose submit resolves once Kafka has acknowledged every record submitted, or its stand-in. */
export function resultWriter(
  producer: Pick<ResilientProducer, "sendBatch" | "partitionOf">,
  onRefused: OnRefused,
): CoalescingWriter<Routed> {
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
  return new CoalescingWriter(async (routed) => {
    const routedOf = new Map(routed.map((item) => [item.record, item]));
    for (const topicMessages of produceRequests(routed, maxProduceRequestBytes)) {
      const items = topicMessages.flatMap(({ messages }) =>
        messages.map((record) => routedOf.get(record) as Routed),
      );
      await sendIsolatingRefused(items, isolation);
    }
  });
}
