// Pure pieces of the local Kafka harness: which version, which ports, what each node's configuration says, and
// how the environment variables that shape it are read. No I/O here, so each rule is easy to test and to trust.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { HarnessError } from "./proc.ts";

/** hack/kafka: the pom that resolves the broker, its log4j2 config and the server.properties template. */
export const kafkaAssetsDir = join(dirname(fileURLToPath(import.meta.url)), "..", "kafka");

export type BrokerCount = 1 | 3;

/** The cluster shapes the harness offers: one combined node, or three with a three-voter quorum. */
export const brokerCounts: readonly BrokerCount[] = [1, 3];

/** The pom is the single place the Kafka version is written; the cache directory is keyed by it. */
export function kafkaVersionOf(pomXml: string): string {
  const match = /<kafka\.version>\s*([^<\s]+)\s*<\/kafka\.version>/.exec(pomXml);
  if (!match?.[1]) throw new HarnessError("hack/kafka/pom.xml does not define <kafka.version>");
  return match[1];
}

/** Node i listens for clients on portBase + 2i and for its controller quorum on the port just above. */
export function nodePorts(portBase: number, nodeId: number): { client: number; controller: number } {
  return { client: portBase + 2 * nodeId, controller: portBase + 2 * nodeId + 1 };
}

export function nodeIds(brokers: number): number[] {
  return Array.from({ length: brokers }, (_, i) => i);
}

export function bootstrapServers(portBase: number, brokers: number): string[] {
  return nodeIds(brokers).map((id) => `127.0.0.1:${nodePorts(portBase, id).client}`);
}

/** Every port the cluster needs, described well enough that a clash can be explained to a person. */
export function clusterPorts(
  portBase: number,
  brokers: number,
  setting: string,
): { port: number; purpose: string; setting: string }[] {
  return nodeIds(brokers).flatMap((id) => {
    const { client, controller } = nodePorts(portBase, id);
    return [
      { port: client, purpose: `Kafka node ${id} client listener`, setting },
      { port: controller, purpose: `Kafka node ${id} controller listener`, setting },
    ];
  });
}

export interface NodeSettings {
  nodeId: number;
  brokers: BrokerCount;
  portBase: number;
  dataDir: string;
}

/** Fills the server.properties template for one node; a placeholder left unfilled is a harness bug. */
export function renderServerProperties(template: string, node: NodeSettings): string {
  const { client, controller } = nodePorts(node.portBase, node.nodeId);
  const voters = nodeIds(node.brokers)
    .map((id) => `${id}@127.0.0.1:${nodePorts(node.portBase, id).controller}`)
    .join(",");
  const values: Record<string, string> = {
    nodeId: String(node.nodeId),
    voters,
    clientPort: String(client),
    controllerPort: String(controller),
    dataDir: node.dataDir,
    replicationFactor: String(node.brokers),
    // With three replicas, acks=all survives one node down; a single node can only require itself.
    minInsync: String(Math.min(2, node.brokers)),
  };
  return template.replace(/\{\{(\w+)\}\}/g, (placeholder, key: string) => {
    const value = values[key];
    if (value === undefined) throw new HarnessError(`server.properties template has unknown ${placeholder}`);
    return value;
  });
}

export interface KafkaSettings {
  brokers: BrokerCount;
  portBase: number;
  readyTimeoutMs: number;
  heapOpts: string[];
}

export const defaultPortBase = 9092;
export const defaultReadyTimeoutMs = 120_000;
export const defaultHeapOpts = "-Xmx512m -Xms256m";

/** Reads KAFKA_BROKERS, KAFKA_PORT_BASE, KAFKA_READY_TIMEOUT_MS and KAFKA_HEAP_OPTS, refusing nonsense early. */
export function kafkaSettingsFromEnv(env: NodeJS.ProcessEnv): KafkaSettings {
  return {
    brokers: parseBrokerCount(env.KAFKA_BROKERS),
    portBase: parseInteger("KAFKA_PORT_BASE", env.KAFKA_PORT_BASE, defaultPortBase, 1024, 65_000),
    readyTimeoutMs: parseInteger(
      "KAFKA_READY_TIMEOUT_MS",
      env.KAFKA_READY_TIMEOUT_MS,
      defaultReadyTimeoutMs,
      1,
      3_600_000,
    ),
    heapOpts: (env.KAFKA_HEAP_OPTS ?? defaultHeapOpts).split(/\s+/).filter(Boolean),
  };
}

export function parseBrokerCount(value: string | undefined): BrokerCount {
  if (value === undefined || value === "") return 1;
  const count = brokerCounts.find((n) => String(n) === value.trim());
  if (count === undefined) throw new HarnessError(`KAFKA_BROKERS must be 1 or 3, not '${value}'`);
  return count;
}

function parseInteger(name: string, value: string | undefined, fallback: number, min: number, max: number) {
  if (value === undefined || value === "") return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < min || parsed > max) {
    throw new HarnessError(`${name} must be a whole number from ${min} to ${max}, not '${value}'`);
  }
  return parsed;
}
