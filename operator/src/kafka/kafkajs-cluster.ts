// What kafkajs 2.2.4 (pinned, its last release) keeps private and this workspace needs: its Kafka client builds
// each admin's, producer's and consumer's cluster through one function under a private symbol. lag-tail.ts
// builds a cluster of its own there to fetch without a consumer group; admin-connection.ts keeps hold of its
// admin's cluster, to forget topics it no longer asks about (see there) and to read named topics with the brokers.
import type { Admin, Kafka } from "kafkajs";

/** A Metadata answer as kafkajs's Cluster returns it. */
export interface ClusterMetadata {
  brokers: { nodeId: number }[];
  topicMetadata: { topic: string; partitionMetadata: { replicas: number[] }[] }[];
}

/**
 * The parts of kafkajs's Cluster an admin's long-lived connection uses: the topics it refreshes metadata of (which
 * it prunes), and one Metadata request about named topics, which kafkajs's admin answers without the brokers.
 */
export interface AdminCluster {
  targetTopics: Set<string>;
  /** Throws the first topic's or partition's error: UNKNOWN_TOPIC_OR_PARTITION for a topic that does not exist. */
  metadata(options: { topics: string[] }): Promise<ClusterMetadata>;
}

type CreateCluster = (options: object) => unknown;

function createClusterSymbol(kafka: Kafka): symbol {
  const symbol = Object.getOwnPropertySymbols(kafka).find(
    (candidate) => candidate.description === "private:Kafka:createCluster",
  );
  if (symbol === undefined) throw new Error("kafkajs no longer builds its clusters where this module looks");
  return symbol;
}

/** A new kafkajs cluster of `kafka`'s brokers and settings, as its clients make them. */
export function createCluster<T>(kafka: Kafka, options: object): T {
  const create = (kafka as unknown as Record<symbol, CreateCluster>)[createClusterSymbol(kafka)];
  if (create === undefined) throw new Error("kafkajs no longer builds its clusters where this module looks");
  return create(options) as T;
}

/** `kafka.admin()`, with the cluster it was built on. */
export function adminWithCluster(kafka: Kafka): { admin: Admin; cluster: AdminCluster } {
  const symbol = createClusterSymbol(kafka);
  const holder = kafka as unknown as Record<symbol, CreateCluster>;
  const create = holder[symbol];
  if (create === undefined) throw new Error("kafkajs no longer builds its clusters where this module looks");
  let cluster: AdminCluster | undefined;
  holder[symbol] = (options) => {
    cluster = create(options) as AdminCluster;
    return cluster;
  };
  try {
    const admin = kafka.admin();
    if (cluster === undefined)
      throw new Error("kafkajs no longer builds its admin's cluster where this module looks");
    return { admin, cluster };
  } finally {
    holder[symbol] = create;
  }
}
