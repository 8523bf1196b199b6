// How routed results reach Kafka: written per destination leader (a broker that is slow or cut off holds only the
// batches with records for it), the results of batches that finish together going out in one write per leader,
// split into produce requests the broker accepts, with acks from every in-sync replica and LZ4.
import { CompressionTypes } from "kafkajs";
import type { ResilientProducer } from "../resilient-producer.ts";
import type { Routed } from "../routing/route-message.ts";
import { LaneWriter } from "./lanes.ts";
import { produceRequests } from "./produce-requests.ts";

/** Values per produce request: well under the broker's default 1 MiB message.max.bytes, even uncompressed. */
const maxProduceRequestBytes = 512 * 1024;

/** What the writer uses of the producer: it places each record before sending it. */
export type ResultProducer = Pick<ResilientProducer, "sendBatch" | "place">;

export interface ResultWriter {
  /** Resolves once Kafka has acknowledged every record of `routed`. */
  submit(routed: readonly Routed[]): Promise<void>;
}

export function resultWriter(producer: ResultProducer): ResultWriter {
  const lanes = new LaneWriter<Routed>(async (routed) => {
    for (const topicMessages of produceRequests(routed, maxProduceRequestBytes)) {
      await producer.sendBatch({ acks: -1, compression: CompressionTypes.LZ4, topicMessages });
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
