// What must happen to a pipeline's topics, decided from what the pipeline asks for and what Kafka reports.
// Pure: admin.ts reads Kafka and carries the plan out. Like Strimzi's KafkaTopic, the operator creates topics,
// grows partitions and puts back configs it manages, and refuses what Kafka cannot do or what would move data
// (fewer partitions, another replication factor), saying why and what a person can do about it.
import type { ResolvedPipeline } from "../pipeline.ts";

export type DesiredTopics = ResolvedPipeline["topics"];

/** What Kafka reports about one existing topic. */
export interface TopicState {
  partitions: number;
  replicationFactor: number;
  /** The topic's own config overrides (dynamic topic configs); broker defaults are not listed. */
  configs: Record<string, string>;
}

export interface KafkaObservation {
  /** Brokers registered in the cluster: a new topic cannot have more replicas than this. */
  brokers: number;
  /** The pipeline's topics that exist, by name; a name missing here has no topic. */
  topics: Record<string, TopicState>;
}

export interface TopicToCreate {
  topic: string;
  partitions: number;
  replicationFactor: number;
  configs: Record<string, string>;
}

export interface PartitionRaise {
  topic: string;
  from: number;
  to: number;
}

export interface ConfigDrift {
  key: string;
  /** The topic's own value; undefined when the topic has no override for the key. */
  current: string | undefined;
  desired: string;
}

export interface ConfigRestore {
  topic: string;
  drift: ConfigDrift[];
}

export type RefusalReason =
  | "PartitionDecreaseRefused"
  | "ReplicationFactorChangeRefused"
  | "NotEnoughBrokers";

export interface TopicRefusal {
  topic: string;
  /** The spec field (under spec.) a person would look at. */
  field: "topics.partitions" | "topics.replicationFactor";
  reason: RefusalReason;
  message: string;
}

export interface TopicPlan {
  create: TopicToCreate[];
  raisePartitions: PartitionRaise[];
  restoreConfigs: ConfigRestore[];
  /** A refused topic gets no other action: it is left exactly as it is until a person resolves the refusal. */
  refusals: TopicRefusal[];
}

/** Kafka's default message.max.bytes (1 MiB plus 12 bytes of batch overhead): what a topic without an override accepts. */
const kafkaDefaultMaxMessageBytes = 1_048_588;
const deadLetterFloorBytes = 4 * 1_048_576;
const deadLetterEnvelopeBytes = 64 * 1024;

/**
 * The dead-letter topic's max.message.bytes. A dead-letter record carries the request's original value (up to
 * what the requests topic accepts) as a JSON string: base64 makes it 4/3 as large when it is not UTF-8, and JSON
 * escaping of quotes and backslashes up to twice as large, plus the key, code, message and source coordinates.
 * So: twice the requests topic's limit plus 64 KiB for the envelope, and never below 4 MiB, which covers the
 * Kafka default with room to spare. (Escaped control characters could in theory grow a value sixfold, but such
 * runs are exactly what the worker's LZ4 batches shrink, and the limit applies to the compressed batch.)
 * The requests limit is read from spec.topics.config; a cluster whose brokers raise message.max.bytes above
 * about 2 MiB should say so in spec.topics.config, so the dead-letter topic follows.
 */
export function deadLetterMaxMessageBytes(config: Record<string, string>): number {
  const set = Number(config["max.message.bytes"]);
  // An invalid value is Kafka's to reject on the requests topic; here it falls back to the default.
  const requests = Number.isSafeInteger(set) && set > 0 ? set : kafkaDefaultMaxMessageBytes;
  return Math.max(deadLetterFloorBytes, 2 * requests + deadLetterEnvelopeBytes);
}

/**
 * The configs the operator manages on each topic, by topic name: spec.topics.config on all three, plus the
 * dead-letter size above (which overrides a max.message.bytes in spec.topics.config for that topic only). Two
 * roles given the same name share one topic, which gets both roles' configs.
 */
export function managedConfigs(desired: DesiredTopics): Map<string, Record<string, string>> {
  const managed = new Map<string, Record<string, string>>();
  const add = (topic: string, configs: Record<string, string>) =>
    managed.set(topic, { ...managed.get(topic), ...configs });
  add(desired.requests, desired.config);
  add(desired.responses, desired.config);
  add(desired.deadLetter, {
    ...desired.config,
    "max.message.bytes": String(deadLetterMaxMessageBytes(desired.config)),
  });
  return managed;
}

/** The distinct topic names a pipeline uses. */
export function topicNames(desired: DesiredTopics): string[] {
  return [...managedConfigs(desired).keys()];
}

export function planTopics(desired: DesiredTopics, observed: KafkaObservation): TopicPlan {
  const plan: TopicPlan = { create: [], raisePartitions: [], restoreConfigs: [], refusals: [] };
  for (const [topic, configs] of managedConfigs(desired)) {
    const state = observed.topics[topic];
    if (state === undefined) {
      planCreate(plan, topic, configs, desired, observed.brokers);
      continue;
    }
    const refusals = refusalsFor(topic, state, desired);
    if (refusals.length > 0) {
      plan.refusals.push(...refusals);
      continue;
    }
    if (state.partitions < desired.partitions) {
      plan.raisePartitions.push({ topic, from: state.partitions, to: desired.partitions });
    }
    // Only keys the operator manages are compared. A key someone else set on the topic is theirs and is left
    // alone; so is a key that left spec.topics.config, since nothing records that the operator once set it.
    const drift = Object.entries(configs)
      .filter(([key, value]) => state.configs[key] !== value)
      .map(([key, value]) => ({ key, current: state.configs[key], desired: value }));
    if (drift.length > 0) plan.restoreConfigs.push({ topic, drift });
  }
  return plan;
}

export function isEmptyPlan(plan: TopicPlan): boolean {
  return (
    plan.create.length === 0 &&
    plan.raisePartitions.length === 0 &&
    plan.restoreConfigs.length === 0 &&
    plan.refusals.length === 0
  );
}

/** Topics the plan creates or grows, with the partitions each must end up with: what to wait for. */
export function topicsToAwait(plan: TopicPlan): { topic: string; partitions: number }[] {
  return [
    ...plan.create.map(({ topic, partitions }) => ({ topic, partitions })),
    ...plan.raisePartitions.map(({ topic, to }) => ({ topic, partitions: to })),
  ];
}

function planCreate(
  plan: TopicPlan,
  topic: string,
  configs: Record<string, string>,
  desired: DesiredTopics,
  brokers: number,
): void {
  if (desired.replicationFactor > brokers) {
    plan.refusals.push({
      topic,
      field: "topics.replicationFactor",
      reason: "NotEnoughBrokers",
      message:
        `cannot create topic "${topic}" with replication factor ${desired.replicationFactor}: the Kafka ` +
        `cluster has ${brokers} broker(s). Add brokers, or recreate the pipeline with ` +
        `spec.topics.replicationFactor at most ${brokers} (the field cannot be changed once set).`,
    });
    return;
  }
  plan.create.push({
    topic,
    partitions: desired.partitions,
    replicationFactor: desired.replicationFactor,
    configs,
  });
}

function refusalsFor(topic: string, state: TopicState, desired: DesiredTopics): TopicRefusal[] {
  const refusals: TopicRefusal[] = [];
  if (state.partitions > desired.partitions) {
    refusals.push({
      topic,
      field: "topics.partitions",
      reason: "PartitionDecreaseRefused",
      message:
        `topic "${topic}" has ${state.partitions} partitions but spec.topics.partitions asks for ` +
        `${desired.partitions}; Kafka cannot remove partitions. Set spec.topics.partitions to ` +
        `${state.partitions} or more, or delete the topic (losing its records) so it is recreated with ` +
        `${desired.partitions}.`,
    });
  }
  if (state.replicationFactor !== desired.replicationFactor) {
    refusals.push({
      topic,
      field: "topics.replicationFactor",
      reason: "ReplicationFactorChangeRefused",
      message:
        `topic "${topic}" has replication factor ${state.replicationFactor} but ` +
        `spec.topics.replicationFactor asks for ${desired.replicationFactor}; the operator does not move ` +
        `replicas. Reassign the topic's partitions to ${desired.replicationFactor} replicas ` +
        `(kafka-reassign-partitions.sh), or delete the topic (losing its records) so it is recreated.`,
    });
  }
  return refusals;
}
