// Pure pieces of the local Kafka harness: which version, which ports, what each node's configuration says, and
// how the environment variables that shape it are read. No I/O here, so each rule is easy to test and to trust.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { HarnessError } from "./cli.ts";

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

/** Where client listeners are unless told otherwise; controllers are always there. */
export const loopback = "127.0.0.1";

export function bootstrapServers(portBase: number, brokers: number, clientHost = loopback): string[] {
  return nodeIds(brokers).map((id) => `${clientHost}:${nodePorts(portBase, id).client}`);
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
  /** The broker creates a topic a client names (Kafka's own default); the harness's default is false. */
  autoCreateTopics?: boolean;
  /** The address the client listener binds and advertises; default loopback. */
  clientHost?: string;
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
    autoCreateTopics: String(node.autoCreateTopics === true),
    clientHost: node.clientHost ?? loopback,
  };
  return template.replace(/\{\{(\w+)\}\}/g, (placeholder, key: string) => {
    const value = values[key];
    if (value === undefined) throw new HarnessError(`server.properties template has unknown ${placeholder}`);
    return value;
  });
}

/** A SCRAM user created when the storage is formatted; Kafka keeps its salted credentials, never the password. */
export interface ScramUser {
  name: string;
  password: string;
}

/** The PEM files of one node's SASL_SSL listener, as Kafka's PEM key and trust stores read them. */
/** PEM files made by the caller (e.g. with cluster-pki.ts), and the SCRAM-SHA-512 users to create. */
export interface KafkaSecurity {
  /** The CA that signed serverCertFile; the node trusts it for client certificates too. */
  caCertFile: string;
  /** Must name the listener's address (IP SAN, 127.0.0.1 or clientHost): clients check it against what they dialled. */
  serverCertFile: string;
  serverKeyFile: string;
  /** Created at format time; the first one is the node's own login and the harness's, for its probes. */
  users: [ScramUser, ...ScramUser[]];
  /** Mutual TLS: every client must present a certificate signed by caCertFile; the harness presents this one. */
  clientAuth?: { certFile: string; keyFile: string };
  /**
   * ACLs enforced: KRaft's StandardAuthorizer, and a resource without ACLs is refused to all but the super
   * users, the first user (the node's own login and the harness's) and the controller listener's principal.
   */
  authorizer?: boolean;
}

export interface ListenerSecurity {
  /** The node's certificate chain followed by its unencrypted PKCS#8 key, in one file. */
  keystoreFile: string;
  /** CA certificates the node trusts: for client certificates, and for its own connections to brokers. */
  truststoreFile: string;
  /** The user the node logs in as over its own listener (inter-broker traffic). */
  interBrokerUser: ScramUser;
  /** Whether every client must present a certificate signed by a trusted CA (mutual TLS). */
  clientAuth: boolean;
  /** Whether ACLs are enforced (see KafkaSecurity.authorizer). */
  authorizer: boolean;
  /** The address the listener binds and advertises; default loopback. */
  clientHost?: string;
}

export const secureListener = "SASL_SSL";
export const scramMechanism = "SCRAM-SHA-512";

/**
 * The settings that turn the template's PLAINTEXT client listener into SASL_SSL with SCRAM-SHA-512. The
 * controller listener stays PLAINTEXT on loopback: only clients cross the secured one.
 */
export function secureListenerProperties(
  portBase: number,
  nodeId: number,
  security: ListenerSecurity,
): Record<string, string> {
  const { client, controller } = nodePorts(portBase, nodeId);
  const { name, password } = security.interBrokerUser;
  const listener = `listener.name.${secureListener.toLowerCase()}`;
  const host = security.clientHost ?? loopback;
  return {
    listeners: `${secureListener}://${host}:${client},CONTROLLER://127.0.0.1:${controller}`,
    "advertised.listeners": `${secureListener}://${host}:${client}`,
    "listener.security.protocol.map": `${secureListener}:SASL_SSL,CONTROLLER:PLAINTEXT`,
    "inter.broker.listener.name": secureListener,
    "sasl.enabled.mechanisms": scramMechanism,
    "sasl.mechanism.inter.broker.protocol": scramMechanism,
    [`${listener}.${scramMechanism.toLowerCase()}.sasl.jaas.config`]: `org.apache.kafka.common.security.scram.ScramLoginModule required username="${name}" password="${password}";`,
    "ssl.keystore.type": "PEM",
    "ssl.keystore.location": security.keystoreFile,
    "ssl.truststore.type": "PEM",
    "ssl.truststore.location": security.truststoreFile,
    // Listener-prefixed: Kafka ignores the broker-wide ssl.client.auth on SASL_SSL listeners (KIP-684).
    [`${listener}.ssl.client.auth`]: security.clientAuth ? "required" : "none",
    ...(security.authorizer ? authorizerProperties(name) : {}),
  };
}

/**
 * KRaft's own authorizer, refusing what no ACL allows. Super users: `superUser` (inter-broker traffic over the
 * secured listener) and ANONYMOUS, the principal of the PLAINTEXT controller listener, which only the nodes
 * reach (loopback) and through which they register and fetch metadata.
 */
export function authorizerProperties(superUser: string): Record<string, string> {
  return {
    "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
    "allow.everyone.if.no.acl.found": "false",
    "super.users": `User:${superUser};User:ANONYMOUS`,
  };
}

/**
 * Sets keys in rendered server.properties: a key already there has its line replaced, others are appended.
 * Values are written as they are, so a value must not hold a backslash or a line break (properties escapes).
 */
export function withProperties(properties: string, settings: Record<string, string>): string {
  for (const [key, value] of Object.entries(settings)) {
    if (/[\\\n\r]/.test(value)) throw new HarnessError(`server.properties value of ${key} needs escaping`);
  }
  const remaining = new Map(Object.entries(settings));
  const lines = properties.split("\n").map((line) => {
    const key = /^([^#!\s=:][^=:\s]*)\s*[=:]/.exec(line)?.[1];
    const value = key === undefined ? undefined : remaining.get(key);
    if (key === undefined || value === undefined) return line;
    remaining.delete(key);
    return `${key}=${value}`;
  });
  const appended = [...remaining].map(([key, value]) => `${key}=${value}`);
  return [...lines, ...(appended.length > 0 ? [...appended, ""] : [])].join("\n");
}

/**
 * `kafka-storage format` arguments that create the users (KIP-900). Its parser splits on commas and brackets
 * and reads quotes, so a name or password holding one is refused rather than silently cut.
 */
export function addScramArgs(users: readonly ScramUser[]): string[] {
  return users.flatMap(({ name, password }) => {
    if (/[\s,=[\]"'\\]/.test(`${name}${password}`) || name === "" || password === "") {
      throw new HarnessError(
        `SCRAM user '${name}': names and passwords must be non-empty, without spaces, commas, brackets, quotes, '=' or '\\'`,
      );
    }
    return ["--add-scram", `${scramMechanism}=[name=${name},password=${password}]`];
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

/** JVM flags as KAFKA_HEAP_OPTS holds them (separated by white space), or `fallback`'s when it is unset. */
export function heapOptsFrom(value: string | undefined, fallback = defaultHeapOpts): string[] {
  return (value ?? fallback).split(/\s+/).filter(Boolean);
}

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
    heapOpts: heapOptsFrom(env.KAFKA_HEAP_OPTS),
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
