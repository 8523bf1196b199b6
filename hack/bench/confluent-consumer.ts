// The confluent client's consumer in the shape the worker's pipeline uses of a kafkajs consumer, with incremental
// rebalancing: cooperative-sticky assignment on the classic group protocol, or KIP-848's consumer protocol (the
// broker assigns). Both move only the partitions that change owner, where kafkajs's eager protocol stops every
// member. The pipeline learns its assignment from kafkajs's GROUP_JOIN event, which this client does not emit:
// each rebalance callback emits it instead, with the whole assignment after the change.
import type { ConsumerConfig, ConsumerEvents, ConsumerGroupJoinEvent, EachBatchPayload } from "kafkajs";
import type { WorkerConsumer } from "../../worker/src/worker.ts";
import type {
  ConfluentBatchPayload,
  ConfluentConsumer,
  ConfluentKafkaJS,
  ConfluentTopicPartition,
} from "./confluent-client.ts";

export const groupProtocols = ["cooperative", "kip848"] as const;
/** cooperative: the classic protocol with cooperative-sticky assignment; kip848: group.protocol=consumer. */
export type GroupProtocol = (typeof groupProtocols)[number];

/** A member's partitions per topic, as kafkajs's GROUP_JOIN reports them. */
export type Assignment = Record<string, number[]>;

/** The assignment after an incremental rebalance callback added or revoked `partitions`. */
export function assignmentAfter(
  current: Assignment,
  change: "assign" | "revoke",
  partitions: readonly ConfluentTopicPartition[],
): Assignment {
  const next = new Map(Object.entries(current).map(([topic, owned]) => [topic, new Set(owned)]));
  for (const { topic, partition } of partitions) {
    const owned = next.get(topic) ?? new Set<number>();
    if (change === "assign") owned.add(partition);
    else owned.delete(partition);
    next.set(topic, owned);
  }
  return Object.fromEntries(
    [...next]
      .filter(([, owned]) => owned.size > 0)
      .map(([topic, owned]) => [topic, [...owned].sort((a, b) => a - b)]),
  );
}

/** kafkajs's event names, as the pipeline reads them from `consumer.events`. */
const events: ConsumerEvents = {
  HEARTBEAT: "consumer.heartbeat",
  COMMIT_OFFSETS: "consumer.commit_offsets",
  GROUP_JOIN: "consumer.group_join",
  FETCH_START: "consumer.fetch_start",
  FETCH: "consumer.fetch",
  START_BATCH_PROCESS: "consumer.start_batch_process",
  END_BATCH_PROCESS: "consumer.end_batch_process",
  CONNECT: "consumer.connect",
  DISCONNECT: "consumer.disconnect",
  STOP: "consumer.stop",
  CRASH: "consumer.crash",
  REBALANCING: "consumer.rebalancing",
  RECEIVED_UNSUBSCRIBED_TOPICS: "consumer.received_unsubscribed_topics",
  REQUEST: "consumer.network.request",
  REQUEST_TIMEOUT: "consumer.network.request_timeout",
  REQUEST_QUEUE_SIZE: "consumer.network.request_queue_size",
};

/** The client's consumer settings for the worker's kafkajs `options` under `protocol`. */
export function confluentConsumerConfig(
  client: Pick<ConfluentKafkaJS, "PartitionAssignors">,
  options: ConsumerConfig,
  protocol: GroupProtocol,
  maxBatchSize: number,
): Record<string, unknown> {
  const common = {
    groupId: options.groupId,
    ...(options.maxBytes === undefined ? {} : { maxBytes: options.maxBytes }),
    ...(options.maxBytesPerPartition === undefined
      ? {}
      : { maxBytesPerPartition: options.maxBytesPerPartition }),
    ...(options.maxWaitTimeInMs === undefined ? {} : { maxWaitTimeInMs: options.maxWaitTimeInMs }),
    allowAutoTopicCreation: options.allowAutoTopicCreation ?? false,
    // kafkajs takes these per subscribe and per run; this client per consumer.
    fromBeginning: true,
    autoCommit: false,
  };
  // With the consumer protocol the broker owns session, heartbeats and assignment: the client refuses them.
  const classic = {
    ...(options.sessionTimeout === undefined ? {} : { sessionTimeout: options.sessionTimeout }),
    ...(options.heartbeatInterval === undefined ? {} : { heartbeatInterval: options.heartbeatInterval }),
    ...(options.rebalanceTimeout === undefined ? {} : { rebalanceTimeout: options.rebalanceTimeout }),
    partitionAssigners: [client.PartitionAssignors.cooperativeSticky],
  };
  return {
    ...(protocol === "kip848" ? { "group.protocol": "consumer" } : {}),
    kafkaJS: protocol === "kip848" ? common : { ...common, ...classic },
    // kafkajs hands over what one fetch brought per partition; this client at most this many messages.
    "js.consumer.max.batch.size": maxBatchSize,
  };
}

/** kafkajs's eachBatch payload from this client's; what it lacks throws if the pipeline ever asks for it. */
function asKafkajsPayload(payload: ConfluentBatchPayload): EachBatchPayload {
  return {
    ...payload,
    batch: payload.batch as EachBatchPayload["batch"],
    uncommittedOffsets: () => {
      throw new Error("the confluent client's eachBatch has no uncommittedOffsets");
    },
  };
}

/**
 * A consumer of `client` for the worker's kafkajs `options`. Only GROUP_JOIN, REBALANCING and CRASH can be
 * listened to, and only GROUP_JOIN fires: REBALANCING is kafkajs's eager "every partition is given up", which a
 * cooperative or KIP-848 member never does (a revoke arrives as a GROUP_JOIN with the smaller assignment), and
 * this client never crashes the kafkajs way (it restarts by itself).
 */
export function confluentWorkerConsumer(
  client: ConfluentKafkaJS,
  connection: { brokers: string[]; clientId: string },
  options: ConsumerConfig,
  protocol: GroupProtocol,
  maxBatchSize: number,
): WorkerConsumer {
  const joinListeners: ((event: ConsumerGroupJoinEvent) => void)[] = [];
  let assignment: Assignment = {};
  let rebalances = 0;
  const onRebalance = (error: { code: number }, partitions: ConfluentTopicPartition[]) => {
    const change = error.code === client.ErrorCodes.ERR__ASSIGN_PARTITIONS ? "assign" : "revoke";
    assignment = assignmentAfter(assignment, change, partitions);
    rebalances += 1;
    const event: ConsumerGroupJoinEvent = {
      id: String(rebalances),
      type: events.GROUP_JOIN,
      timestamp: Date.now(),
      payload: {
        duration: 0,
        groupId: options.groupId,
        isLeader: false,
        leaderId: "",
        groupProtocol: protocol,
        memberId: connection.clientId,
        memberAssignment: assignment,
      },
    };
    for (const listener of joinListeners) listener(event);
  };
  const kafka = new client.Kafka({ kafkaJS: { ...connection, logLevel: client.logLevel.ERROR } });
  const consumer: ConfluentConsumer = kafka.consumer({
    ...confluentConsumerConfig(client, options, protocol, maxBatchSize),
    rebalance_cb: onRebalance,
  });
  return {
    events,
    on: ((eventName: string, listener: (event: ConsumerGroupJoinEvent) => void) => {
      if (eventName === events.GROUP_JOIN) joinListeners.push(listener);
      else if (eventName !== events.CRASH && eventName !== events.REBALANCING) {
        throw new Error(`the confluent bench consumer cannot report ${eventName}`);
      }
      return () => {};
    }) as WorkerConsumer["on"],
    connect: () => consumer.connect(),
    disconnect: () => consumer.disconnect(),
    subscribe: async (subscription) => {
      if (!("topic" in subscription) || typeof subscription.topic !== "string") {
        throw new Error("the confluent bench consumer subscribes to one named topic");
      }
      await consumer.subscribe({ topics: [subscription.topic] });
    },
    run: async (config) => {
      const eachBatch = config?.eachBatch;
      if (eachBatch === undefined) throw new Error("the confluent bench consumer runs eachBatch only");
      await consumer.run({
        ...(config?.eachBatchAutoResolve === undefined
          ? {}
          : { eachBatchAutoResolve: config.eachBatchAutoResolve }),
        ...(config?.partitionsConsumedConcurrently === undefined
          ? {}
          : { partitionsConsumedConcurrently: config.partitionsConsumedConcurrently }),
        eachBatch: (payload) => eachBatch(asKafkajsPayload(payload)),
      });
    },
    pause: (topics) => consumer.pause(topics),
    resume: (topics) => consumer.resume(topics),
    commitOffsets: (offsets) => consumer.commitOffsets(offsets),
  };
}
