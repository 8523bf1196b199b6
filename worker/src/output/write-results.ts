// How routed results reach Kafka: the results of batches that finish together go out in one write, split into
// produce requests the broker accepts, with acks from every in-sync replica and LZ4.
import { CompressionTypes, type Producer } from "kafkajs";
import type { Routed } from "../routing/route-message.ts";
import { CoalescingWriter } from "./coalescing-writer.ts";
import { produceRequests } from "./produce-requests.ts";

/** Values per produce request: well under the broker's default 1 MiB message.max.bytes, even uncompressed. */
const maxProduceRequestBytes = 512 * 1024;

/** A writer whose submit resolves once Kafka has acknowledged every record submitted. */
export function resultWriter(producer: Pick<Producer, "sendBatch">): CoalescingWriter<Routed> {
  return new CoalescingWriter(async (routed) => {
    for (const topicMessages of produceRequests(routed, maxProduceRequestBytes)) {
      await producer.sendBatch({ acks: -1, compression: CompressionTypes.LZ4, topicMessages });
    }
  });
}
