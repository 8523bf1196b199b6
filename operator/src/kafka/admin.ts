// The operator's thin I/O layer over the kafkajs admin client: read the pipeline's topics, carry out a plan from
// topic-plan.ts, wait until changed topics are usable, delete topics, read the offsets lag.ts needs, and what a
// replay needs of the consumer group: its members, offsets by time, setting its offsets.
// Every call is bounded, so a reconcile never hangs on a Kafka that does not answer, and every failure is a
// KafkaAdminError.
//
// One TopicAdmin is meant for one reconcile (or one metrics read), then close(); its connection may outlive it,
// shared (see admin-connection.ts).
import { setTimeout as sleep } from "node:timers/promises";
import kafkajs, { type Admin } from "kafkajs";
import { createAclBindings, deleteAclBindings, describeAclsOf } from "./acl-admin.ts";
import type { AclBinding, DescribedAcl } from "./acl-plan.ts";
import {
  AdminConnection,
  type AdminConnectionOptions,
  bounded,
  defaultTimeoutMs,
} from "./admin-connection.ts";
import { KafkaAdminError, toKafkaAdminError } from "./errors.ts";
import type { AdminCluster, ClusterMetadata } from "./kafkajs-cluster.ts";
import type { PartitionOffsets } from "./lag.ts";
import { skippingUnreadTails } from "./lag-tail.ts";
import { unusableBecause } from "./readiness.ts";
import type { KafkaObservation, TopicPlan, TopicState } from "./topic-plan.ts";

// kafkajs is CommonJS and these are not visible to ESM as named exports.
const { ConfigResourceTypes, ConfigSource } = kafkajs;

export type TopicAdminOptions = AdminConnectionOptions;

const pollIntervalMs = 250;

export class TopicAdmin {
  readonly #connection: AdminConnection;
  readonly #shared: boolean;
  /** Ends this TopicAdmin's use of its connection: disconnects its own, or hands a shared one back. */
  readonly #end: (connection: AdminConnection) => Promise<void>;
  /** The topics this TopicAdmin has asked about, held in the connection until close(). */
  readonly #topics = new Set<string>();

  /**
   * With options, a connection of its own, ended by close(). With a connection, a use of that shared
   * connection (admin-pool.ts), and `end` says what close() does with it.
   */
  constructor(
    source: TopicAdminOptions | AdminConnection,
    end: (connection: AdminConnection) => Promise<void> = (connection) => connection.disconnect(),
  ) {
    this.#connection = source instanceof AdminConnection ? source : new AdminConnection(source);
    this.#shared = source instanceof AdminConnection;
    this.#end = end;
  }

  /**
   * Runs `use` on a TopicAdmin with a connection of its own, when this one's is shared, for calls about topics
   * a broker may not know: kafkajs refreshes the metadata of every topic its users asked about together, and
   * fails all of them while one is unknown (just created, or deleted), which would fail other pipelines' calls.
   */
  async #alone<T>(use: (admin: TopicAdmin) => Promise<T>): Promise<T> {
    const own = new TopicAdmin(this.#connection.settings);
    try {
      return await use(own);
    } finally {
      await own.close();
    }
  }

  /**
   * The named topics that exist (partitions, replication factor, own configs) and the number of brokers.
   * `likelyPresent` (they were there last time): ask about them alone, and list every topic only if one is not.
   * Otherwise list at once: a request about a topic that does not exist fails, and kafkajs logs that as an error.
   */
  async describeTopics(
    names: readonly string[],
    { likelyPresent = false }: { likelyPresent?: boolean } = {},
  ): Promise<KafkaObservation> {
    this.#use(names);
    return this.run(`describing topics ${quoted(names)}`, async (admin, cluster) => {
      const metadata =
        (likelyPresent ? await metadataOfEvery(cluster, names) : undefined) ??
        (await metadataOfThoseListed(admin, names));
      const present = metadata.topicMetadata.map(({ topic }) => topic);
      refreshOnly(cluster, present);
      const configs = await topicConfigs(admin, present);
      const topics: Record<string, TopicState> = {};
      for (const { topic, partitionMetadata } of metadata.topicMetadata) {
        topics[topic] = {
          partitions: partitionMetadata.length,
          // Every partition normally has the same replica count; mid-reassignment the lists grow for a while,
          // and the largest is what the topic is becoming.
          replicationFactor: Math.max(0, ...partitionMetadata.map((partition) => partition.replicas.length)),
          configs: configs.get(topic) ?? {},
        };
      }
      return { brokers: metadata.brokers.length, topics };
    });
  }

  /**
   * Carries out a plan's creations, partition raises and config restores; refusals are the caller's to report.
   * Kafka applies a config change to its brokers a moment after it answers, so a describe right after may still
   * show the old values: the next plan then restores them once more, which changes nothing. `onCreated` is told
   * each topic this call created, as it is created, so a failure later in the plan loses none of them.
   */
  async applyPlan(plan: TopicPlan, onCreated: (topic: string) => void = () => {}): Promise<void> {
    this.#use([
      ...plan.create.map(({ topic }) => topic),
      ...plan.raisePartitions.map(({ topic }) => topic),
      ...plan.restoreConfigs.map(({ topic }) => topic),
    ]);
    // One request per topic: if another client creates one of them meanwhile, kafkajs reports that topic as
    // already existing (false) instead of failing the others, and that topic is not this call's creation.
    for (const { topic, partitions, replicationFactor, configs } of plan.create) {
      const created = await this.run(
        `creating topic "${topic}" (${partitions} partitions, replication factor ${replicationFactor})`,
        (admin) =>
          admin.createTopics({
            // Leaders are waited for by waitUntilUsable, with a bound and a message of its own.
            waitForLeaders: false,
            topics: [
              { topic, numPartitions: partitions, replicationFactor, configEntries: entries(configs) },
            ],
          }),
      );
      if (created) onCreated(topic);
    }
    if (plan.raisePartitions.length > 0) {
      const what = plan.raisePartitions.map(({ topic, from, to }) => `"${topic}" from ${from} to ${to}`);
      await this.run(`raising the partitions of ${what.join(", ")}`, (admin) =>
        admin.createPartitions({
          topicPartitions: plan.raisePartitions.map(({ topic, to }) => ({ topic, count: to })),
        }),
      );
    }
    for (const { topic, drift } of plan.restoreConfigs) {
      const keys = drift.map(({ key, desired }) => `${key}=${desired}`).join(", ");
      await this.run(`putting back ${keys} on topic "${topic}"`, async (admin) => {
        // kafkajs 2.2.4 has only AlterConfigs, which replaces the topic's whole set of overrides (it has no
        // IncrementalAlterConfigs, KIP-339): every override the topic has now is sent along, so keys the
        // operator does not manage survive. They are read right before the write to keep the window in which
        // another client's change could be lost short. (Topics have no sensitive configs, the one kind
        // DescribeConfigs would not return.)
        const current = (await topicConfigs(admin, [topic])).get(topic) ?? {};
        const restored = Object.fromEntries(drift.map(({ key, desired }) => [key, desired]));
        await admin.alterConfigs({
          validateOnly: false,
          resources: [
            {
              type: ConfigResourceTypes.TOPIC,
              name: topic,
              configEntries: entries({ ...current, ...restored }),
            },
          ],
        });
      });
    }
  }

  /**
   * Waits until every partition of the given topics exists, has a leader and enough in-sync replicas (see
   * readiness.ts). Throws TopicNotReady (retriable), naming what is missing, when that takes over `timeoutMs`.
   */
  async waitUntilUsable(
    topics: readonly { topic: string; partitions: number }[],
    timeoutMs = defaultTimeoutMs,
  ): Promise<void> {
    if (topics.length === 0) return;
    if (this.#shared) return this.#alone((own) => own.waitUntilUsable(topics, timeoutMs));
    const names = topics.map(({ topic }) => topic);
    this.#use(names);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const problems = await this.run(`reading the metadata of ${quoted(names)}`, async (admin, cluster) => {
        // One the broker does not know yet fails describeConfigs's refresh as it fails the metadata read.
        refreshOnly(cluster, names);
        const [metadata, minInsync] = await Promise.all([
          admin.fetchTopicMetadata({ topics: names }),
          minInsyncReplicas(admin, names),
        ]);
        return topics.flatMap(({ topic, partitions }) =>
          unusableBecause(
            topic,
            metadata.topics.find(({ name }) => name === topic)?.partitions ?? [],
            partitions,
            minInsync.get(topic) ?? 1,
          ),
        );
      }).catch((error: unknown) => {
        // A broker that has not heard of a new topic yet answers UNKNOWN_TOPIC_OR_PARTITION: not yet, not failed.
        if (error instanceof KafkaAdminError && error.reason === "TopicOperationFailed" && error.retriable) {
          return [error.message];
        }
        throw error;
      });
      if (problems.length === 0) return;
      if (Date.now() >= deadline) {
        throw new KafkaAdminError(
          "TopicNotReady",
          `topics not usable after ${timeoutMs / 1000} s: ${problems.join("; ")}`,
          true,
        );
      }
      await sleep(pollIntervalMs);
    }
  }

  /**
   * Deletes those of the named topics that exist (deletionPolicy Delete) and returns their names once brokers no
   * longer list them: the controller accepts a deletion before brokers forget the topic, and a topic of the same
   * name created in between would fail. Bounded like every call.
   */
  async deleteTopics(names: readonly string[]): Promise<string[]> {
    if (this.#shared) return this.#alone((own) => own.deleteTopics(names));
    this.#use(names);
    return this.run(`deleting topics ${quoted(names)}`, async (admin) => {
      // Deleting a missing topic is an error kafkajs retries until it gives up; a topic already gone is done.
      const present = await listed(admin, names);
      if (present.length === 0) return [];
      await admin.deleteTopics({ topics: present });
      while ((await listed(admin, present)).length > 0) await sleep(pollIntervalMs);
      return present;
    });
  }

  /** Every ACL naming one of `principals` (see acl-admin.ts). */
  async describeAcls(principals: readonly string[]): Promise<DescribedAcl[]> {
    return this.run(`describing the ACLs of ${principals.join(", ")}`, (admin) =>
      describeAclsOf(admin, principals),
    );
  }

  async createAcls(bindings: readonly AclBinding[]): Promise<void> {
    await this.run(`creating ${bindings.length} ACLs`, (admin) => createAclBindings(admin, bindings));
  }

  async deleteAcls(bindings: readonly AclBinding[]): Promise<void> {
    await this.run(`deleting ${bindings.length} ACLs`, (admin) => deleteAclBindings(admin, bindings));
  }

  /**
   * Per partition of `topic`: the log's start and end, and the group's committed offset (null when none), past
   * any tail of transaction markers and aborted records (see lag-tail.ts) unless `readThroughTails` is false:
   * then as Kafka stores it.
   */
  async partitionOffsets(
    groupId: string,
    topic: string,
    readThroughTails = true,
  ): Promise<PartitionOffsets[]> {
    this.#use([topic]);
    return this.run(`reading the offsets of group "${groupId}" on topic "${topic}"`, async (admin) => {
      const [log, committed] = await Promise.all([
        admin.fetchTopicOffsets(topic),
        committedOffsets(admin, groupId, topic),
      ]);
      const offsets = log.map(({ partition, low, high }) => ({
        partition,
        logStartOffset: Number(low),
        logEndOffset: Number(high),
        committedOffset: committed.get(partition) ?? null,
      }));
      return readThroughTails ? skippingUnreadTails(this.#connection.kafka, topic, offsets) : offsets;
    });
  }

  /** The group's members (none while it is empty): who would stop an offset reset. */
  async groupMembers(groupId: string): Promise<{ clientId: string; clientHost: string }[]> {
    return this.run(`describing consumer group "${groupId}"`, async (admin) => {
      const { groups } = await admin.describeGroups([groupId]);
      return (groups[0]?.members ?? []).map(({ clientId, clientHost }) => ({ clientId, clientHost }));
    });
  }

  /** Per partition of `topic`, the first offset written at or after `timestamp`; the log end when there is none. */
  async offsetsAtTime(topic: string, timestamp: Date): Promise<{ partition: number; offset: number }[]> {
    this.#use([topic]);
    return this.run(`reading the offsets of topic "${topic}" at ${timestamp.toISOString()}`, async (admin) =>
      (await admin.fetchTopicOffsetsByTimestamp(topic, timestamp.getTime())).map(({ partition, offset }) => ({
        partition,
        offset: Number(offset),
      })),
    );
  }

  /** Commits `offsets` for the group on `topic`; Kafka refuses while the group has members. */
  async setGroupOffsets(
    groupId: string,
    topic: string,
    offsets: readonly { partition: number; offset: number }[],
  ): Promise<void> {
    this.#use([topic]);
    await this.run(`setting the offsets of consumer group "${groupId}" on topic "${topic}"`, (admin) =>
      admin.setOffsets({
        groupId,
        topic,
        partitions: offsets.map(({ partition, offset }) => ({ partition, offset: String(offset) })),
      }),
    );
  }

  /** Each partition's log end offset (the offset the next record will get), in partition order. */
  async logEndOffsets(topic: string): Promise<{ partition: number; logEndOffset: number }[]> {
    this.#use([topic]);
    return this.run(`reading the end offsets of topic "${topic}"`, async (admin) =>
      (await admin.fetchTopicOffsets(topic))
        .map(({ partition, high }) => ({ partition, logEndOffset: Number(high) }))
        .sort((a, b) => a.partition - b.partition),
    );
  }

  /** Ends this use: the topics it asked about are released, and its own connection ended. */
  async close(): Promise<void> {
    const topics = [...this.#topics];
    this.#topics.clear();
    await this.#connection.release(topics);
    await this.#end(this.#connection);
  }

  /** Marks `topics` as asked about, so a shared connection keeps their metadata until close(). */
  #use(topics: Iterable<string>): void {
    const fresh = [...topics].filter((topic) => !this.#topics.has(topic));
    for (const topic of fresh) this.#topics.add(topic);
    this.#connection.hold(fresh);
  }

  /**
   * Runs one call on a connected client, bounded, with every failure a KafkaAdminError. A failure that is not a
   * broker's answer (no broker, a lost connection, a login refused, no answer in time) ends the connection, so
   * the next call connects afresh and reports what it finds then.
   */
  private async run<T>(
    action: string,
    call: (admin: Admin, cluster: AdminCluster) => Promise<T>,
  ): Promise<T> {
    const connection = this.#connection;
    const { admin, cluster } = await connection.connected(action);
    try {
      return await bounded(call(admin, cluster), connection.timeoutMs, action, () => {
        void connection.disconnect().catch(() => {});
      });
    } catch (error) {
      const failure = toKafkaAdminError(error, {
        servers: connection.servers,
        action,
        connecting: false,
        loginFields: connection.settings.loginFields,
      });
      if (failure.reason !== "TopicOperationFailed") await connection.disconnect().catch(() => {});
      throw failure;
    }
  }
}

function quoted(names: readonly string[]): string {
  return names.map((name) => `"${name}"`).join(", ");
}

/**
 * The metadata of the named topics when every one of them exists, else undefined. One request about those topics
 * alone: listing every topic costs in proportion to the cluster, on each reconcile of each pipeline (3,000
 * topics of 8 partitions took 1.4 s and 97 ms of the operator's CPU to list).
 */
async function metadataOfEvery(
  cluster: AdminCluster,
  names: readonly string[],
): Promise<ClusterMetadata | undefined> {
  // Any error (a topic missing, or one this user may not describe) leaves it to the listing, which says which.
  return cluster.metadata({ topics: [...new Set(names)] }).catch(() => undefined);
}

/** The metadata of those of `names` that brokers list (none when none is there), with the brokers. */
async function metadataOfThoseListed(admin: Admin, names: readonly string[]): Promise<ClusterMetadata> {
  const [present, { brokers }] = await Promise.all([listed(admin, names), admin.describeCluster()]);
  if (present.length === 0) return { brokers, topicMetadata: [] };
  const { topics } = await admin.fetchTopicMetadata({ topics: present });
  return {
    brokers,
    topicMetadata: topics.map(({ name, partitions }) => ({ topic: name, partitionMetadata: partitions })),
  };
}

/**
 * kafkajs's describeConfigs first refreshes the metadata of its cluster's target topics, or of every topic when
 * it has none: these topics, held by the TopicAdmin until close() (see #use), are what it refreshes instead.
 */
function refreshOnly(cluster: AdminCluster, topics: readonly string[]): void {
  for (const topic of topics) cluster.targetTopics.add(topic);
}

/** Those of `names` that brokers list as topics. */
async function listed(admin: Admin, names: readonly string[]): Promise<string[]> {
  const existing = new Set(await admin.listTopics());
  return [...new Set(names)].filter((name) => existing.has(name));
}

function entries(configs: Record<string, string>): { name: string; value: string }[] {
  return Object.entries(configs).map(([name, value]) => ({ name, value }));
}

/** Each topic's own overrides (dynamic topic configs), leaving out broker-level and default values. */
async function topicConfigs(admin: Admin, topics: string[]): Promise<Map<string, Record<string, string>>> {
  if (topics.length === 0) return new Map();
  const { resources } = await admin.describeConfigs({
    includeSynonyms: false,
    resources: topics.map((name) => ({ type: ConfigResourceTypes.TOPIC, name })),
  });
  return new Map(
    resources.map(({ resourceName, configEntries }) => [
      resourceName,
      Object.fromEntries(
        configEntries
          .filter((entry) => entry.configSource === ConfigSource.TOPIC_CONFIG)
          .map((entry) => [entry.configName, entry.configValue]),
      ),
    ]),
  );
}

/** The effective min.insync.replicas of each topic, wherever it is set (topic, broker or default). */
async function minInsyncReplicas(admin: Admin, topics: string[]): Promise<Map<string, number>> {
  const { resources } = await admin.describeConfigs({
    includeSynonyms: false,
    resources: topics.map((name) => ({
      type: ConfigResourceTypes.TOPIC,
      name,
      configNames: ["min.insync.replicas"],
    })),
  });
  return new Map(
    resources.map(({ resourceName, configEntries }) => [
      resourceName,
      Number(configEntries.find((entry) => entry.configName === "min.insync.replicas")?.configValue ?? 1),
    ]),
  );
}

/**
 * The group's committed offsets on `topic` by partition; a partition without one is absent. kafkajs asks the
 * group coordinator once and does not retry; right after a group or the offsets topic appears the coordinator
 * may still be loading (NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS), so a retriable answer is asked again.
 */
async function committedOffsets(admin: Admin, groupId: string, topic: string): Promise<Map<number, number>> {
  for (let attempt = 1; ; attempt++) {
    try {
      const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
      return new Map(
        (offsets?.partitions ?? [])
          .map(({ partition, offset }) => [partition, Number(offset)] as const)
          .filter(([, offset]) => offset >= 0),
      );
    } catch (error) {
      const retriable = (error as { retriable?: unknown }).retriable === true;
      if (!retriable || attempt >= 5) throw error;
      await sleep(pollIntervalMs * attempt);
    }
  }
}
