// The reconcile's Kafka side over kafka/: plan the pipeline's topics from what Kafka reports, carry the plan
// out, wait until new partitions are usable, and describe the outcome as a condition and Events. Each call uses
// the connection the pool keeps for the pipeline's Kafka and credentials (see kafka/admin-pool.ts).

import type { EnsuredTopics, TopicsPort } from "./controller/reconcile.ts";
import type { TopicsOutcome } from "./controller/status.ts";
import type { TopicAdmin } from "./kafka/admin.ts";
import { AdminPool } from "./kafka/admin-pool.ts";
import type { SecretReader } from "./kafka/credentials.ts";
import { KafkaAdminError } from "./kafka/errors.ts";
import { type ConsumerLag, consumerLag } from "./kafka/lag.ts";
import { withPipelineAdmin } from "./kafka/pipeline-admin.ts";
import {
  type KafkaObservation,
  planTopics,
  type TopicPlan,
  topicNames,
  topicsToAwait,
} from "./kafka/topic-plan.ts";
import type { ResolvedPipeline } from "./pipeline.ts";

/** One line per change the plan made, for Events. */
export function describeChanges(plan: TopicPlan): string[] {
  return [
    ...plan.create.map(
      ({ topic, partitions, replicationFactor }) =>
        `created topic ${topic} with ${partitions} partitions and replication factor ${replicationFactor}`,
    ),
    ...plan.raisePartitions.map(
      ({ topic, from, to }) => `raised the partitions of topic ${topic} from ${from} to ${to}`,
    ),
    ...plan.restoreConfigs.map(
      ({ topic, drift }) =>
        `put back the config of topic ${topic}: ${drift
          .map(({ key, current, desired }) => `${key}=${desired} (was ${current ?? "unset"})`)
          .join(", ")}`,
    ),
  ];
}

/** The condition for a plan carried out: refusals make TopicsReady False while the topics keep working. */
export function outcomeOf(
  plan: TopicPlan,
  observed: KafkaObservation,
  names: readonly string[],
): TopicsOutcome {
  const [first] = plan.refusals;
  if (first === undefined) return { state: "ready" };
  return {
    state: "failed",
    reason: first.reason,
    message: plan.refusals.map((refusal) => refusal.message).join("; "),
    exist: names.every((name) => observed.topics[name] !== undefined),
  };
}

/** The pipeline's consumer lag on its requests topic, as status, the metrics API and the plugin report it. */
export async function readLag(admin: TopicAdmin, pipeline: ResolvedPipeline): Promise<ConsumerLag> {
  return consumerLag(await admin.partitionOffsets(pipeline.consumerGroup, pipeline.topics.requests));
}

export class KafkaTopicsPort implements TopicsPort {
  constructor(
    private readonly readSecret: SecretReader,
    private readonly admins: AdminPool = new AdminPool(),
  ) {}

  #withAdmin<T>(pipeline: ResolvedPipeline, use: (admin: TopicAdmin) => Promise<T>): Promise<T> {
    return withPipelineAdmin(this.admins, pipeline, this.readSecret, use);
  }

  async ensure(pipeline: ResolvedPipeline, { wereReady }: { wereReady: boolean }): Promise<EnsuredTopics> {
    const names = topicNames(pipeline.topics);
    const created: string[] = [];
    let observed: KafkaObservation | undefined;
    try {
      return await this.#withAdmin(pipeline, async (admin) => {
        const seen = await admin.describeTopics(names, { likelyPresent: wereReady });
        observed = seen;
        const plan = planTopics(pipeline.topics, seen);
        await admin.applyPlan(plan, (topic) => created.push(topic));
        await admin.waitUntilUsable(topicsToAwait(plan));
        const outcome = outcomeOf(plan, seen, names);
        // On the same connection: a reconcile reads the lag whenever the topics are there to read it from.
        let lagUnknown: string | undefined;
        const lag =
          outcome.state === "ready" || outcome.exist
            ? await readLag(admin, pipeline).catch((error: unknown) => {
                lagUnknown = error instanceof Error ? error.message : String(error);
                return undefined;
              })
            : undefined;
        // A refusal waits for a person (the spec, the topic, the brokers): asking again changes nothing.
        return {
          outcome,
          changes: describeChanges(plan),
          lag,
          ...(lagUnknown === undefined ? {} : { lagUnknown }),
          terminal: outcome.state === "failed",
          created,
        };
      });
    } catch (error) {
      const failure =
        error instanceof KafkaAdminError
          ? error
          : new KafkaAdminError("TopicOperationFailed", String(error), true, { cause: error });
      const exist = observed !== undefined && names.every((name) => observed?.topics[name] !== undefined);
      return {
        outcome: { state: "failed", reason: failure.reason, message: failure.message, exist },
        changes: [],
        lag: undefined,
        terminal: !failure.retriable,
        created,
      };
    }
  }

  async delete(pipeline: ResolvedPipeline, topics: readonly string[]): Promise<void> {
    if (topics.length === 0) return;
    await this.#withAdmin(pipeline, (admin) => admin.deleteTopics(topics));
  }

  async lag(pipeline: ResolvedPipeline): Promise<ConsumerLag> {
    return this.#withAdmin(pipeline, (admin) => readLag(admin, pipeline));
  }
}
