// The replay's Kafka side over kafka/: what the phase machine needs to see of the pipeline's consumer group and
// requests topic, and setting the group's offsets. On the pool's connections, as for topics (topics-port.ts).

import { AdminPool } from "../kafka/admin-pool.ts";
import type { SecretReader } from "../kafka/credentials.ts";
import { withPipelineAdmin } from "../kafka/pipeline-admin.ts";
import type { ResolvedPipeline } from "../pipeline.ts";
import type { KafkaView, kafkaNeeds } from "./phases.ts";
import type { OffsetAt } from "./plan.ts";

export type KafkaNeeds = NonNullable<ReturnType<typeof kafkaNeeds>>;

/** Throws a KafkaAdminError when Kafka cannot be asked. */
export interface ReplayKafka {
  observe(pipeline: ResolvedPipeline, needs: KafkaNeeds): Promise<KafkaView>;
  setOffsets(pipeline: ResolvedPipeline, offsets: readonly OffsetAt[]): Promise<void>;
}

export class KafkaReplayPort implements ReplayKafka {
  constructor(
    private readonly readSecret: SecretReader,
    private readonly admins: AdminPool = new AdminPool(),
  ) {}

  observe(pipeline: ResolvedPipeline, needs: KafkaNeeds): Promise<KafkaView> {
    const { consumerGroup, topics } = pipeline;
    return withPipelineAdmin(this.admins, pipeline, this.readSecret, async (admin) => {
      // One after the other: the admin client connects on its first call.
      const members = await admin.groupMembers(consumerGroup);
      const offsets = await admin.partitionOffsets(consumerGroup, topics.requests, needs.readThroughTails);
      if (needs.timestamp === undefined) return { members, offsets };
      const atTimestamp = await admin.offsetsAtTime(topics.requests, new Date(needs.timestamp));
      return { members, offsets, atTimestamp };
    });
  }

  setOffsets(pipeline: ResolvedPipeline, offsets: readonly OffsetAt[]): Promise<void> {
    return withPipelineAdmin(this.admins, pipeline, this.readSecret, (admin) =>
      admin.setGroupOffsets(pipeline.consumerGroup, pipeline.topics.requests, offsets),
    );
  }
}
