// The reconcile's Kafka side over kafka/: plan the pipeline's topics from what Kafka reports, carry the plan
// out, wait until new partitions are usable, and describe the outcome as a condition and Events. A fresh admin
// client per call (see kafka/admin.ts): reconciles are seconds apart and topics come and go between them.

import type { TopicsPort } from "./controller/reconcile.ts";
import type { TopicsOutcome } from "./controller/status.ts";
import { TopicAdmin } from "./kafka/admin.ts";
import { KafkaAdminError } from "./kafka/errors.ts";
import { type ConsumerLag, consumerLag } from "./kafka/lag.ts";
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

function adminFor(pipeline: ResolvedPipeline): TopicAdmin {
  return new TopicAdmin({ bootstrapServers: pipeline.kafka.bootstrapServers });
}

export class KafkaTopicsPort implements TopicsPort {
  async ensure(pipeline: ResolvedPipeline): Promise<{ outcome: TopicsOutcome; changes: string[] }> {
    const admin = adminFor(pipeline);
    const names = topicNames(pipeline.topics);
    let observed: KafkaObservation | undefined;
    try {
      observed = await admin.describeTopics(names);
      const plan = planTopics(pipeline.topics, observed);
      await admin.applyPlan(plan);
      await admin.waitUntilUsable(topicsToAwait(plan));
      return { outcome: outcomeOf(plan, observed, names), changes: describeChanges(plan) };
    } catch (error) {
      const failure =
        error instanceof KafkaAdminError
          ? error
          : new KafkaAdminError("TopicOperationFailed", String(error), true, { cause: error });
      const exist = observed !== undefined && names.every((name) => observed?.topics[name] !== undefined);
      return {
        outcome: { state: "failed", reason: failure.reason, message: failure.message, exist },
        changes: [],
      };
    } finally {
      await admin.close();
    }
  }

  async delete(pipeline: ResolvedPipeline): Promise<void> {
    const admin = adminFor(pipeline);
    try {
      await admin.deleteTopics(topicNames(pipeline.topics));
    } finally {
      await admin.close();
    }
  }

  async lag(pipeline: ResolvedPipeline): Promise<ConsumerLag> {
    const admin = adminFor(pipeline);
    try {
      return consumerLag(await admin.partitionOffsets(pipeline.consumerGroup, pipeline.topics.requests));
    } finally {
      await admin.close();
    }
  }
}
