// A real Apache Kafka (KRaft) on 127.0.0.1: one combined broker+controller node, or three with a three-voter
// quorum. Each node is a detached JVM in its own process group, tracked by a pid file under the cluster's state
// directory, so a later process (`kafka.ts down`, the next test run) can find and stop what an earlier one
// started. Readiness means what clients need: every node registered, a topic replicated on all of them, and a
// write acknowledged by all in-sync replicas.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Kafka, Partitioners } from "kafkajs";
import { HarnessError } from "./cli.ts";
import { requireCommand, runCommandAsync } from "./commands.ts";
import { stateDir } from "./dirs.ts";
import { kafkaClient } from "./kafka-client.ts";
import {
  addScramArgs,
  type BrokerCount,
  bootstrapServers,
  clusterPorts,
  defaultPortBase,
  defaultReadyTimeoutMs,
  heapOptsFrom,
  type KafkaSecurity,
  kafkaAssetsDir,
  loopback,
  nodeIds,
  nodePorts,
  renderServerProperties,
  secureListenerProperties,
  withProperties,
} from "./kafka-config.ts";
import { ensureKafkaLibs } from "./kafka-fetch.ts";
import {
  cutPorts,
  cutTableName,
  inCgroup,
  nodeCgroupName,
  removeCut,
  removeNodeCgroups,
} from "./network-cut.ts";
import { assertPortsFree } from "./ports.ts";
import { type Daemon, runningPid, startDaemon, stopDaemon } from "./processes.ts";
import { waitUntilReady } from "./wait.ts";

export interface KafkaOptions {
  /** 1 (default) or 3 nodes. */
  brokers?: BrokerCount;
  /** Node i listens on portBase + 2i (clients) and portBase + 2i + 1 (controllers); default 9092. */
  portBase?: number;
  /** Clusters with different names have separate state; starting a name again replaces its old cluster. */
  name?: string;
  /** How long to wait for the cluster (or a restarted node) to be ready; default 120 s. */
  readyTimeoutMs?: number;
  /** JVM heap and garbage-collector flags per node; default -Xmx512m -Xms256m (and so the JVM's G1). */
  heapOpts?: string[];
  /** The setting a person should change when a port is taken, named in that error. */
  portSetting?: string;
  /** Progress lines for a person; silent by default. */
  log?: (line: string) => void;
  /** A SASL_SSL client listener instead of PLAINTEXT; one node only. */
  security?: KafkaSecurity;
  /** Kafka's default auto.create.topics.enable=true instead of the harness's false. */
  autoCreateTopics?: boolean;
  /**
   * The address client listeners bind and advertise instead of 127.0.0.1: the real node's pod gateway, which
   * pods and this machine both reach. With security, the server certificate must name it.
   */
  clientHost?: string;
}

export interface KafkaCluster {
  readonly name: string;
  readonly brokers: BrokerCount;
  readonly portBase: number;
  /** host:port of every node's client listener, node 0 first. */
  readonly bootstrapServers: string[];
  /** State directory: cluster.json and node-<i>/ (server.properties, data/, logs/, console.log, pid file). */
  readonly dir: string;
  isBrokerRunning(nodeId: number): boolean;
  /** Stops one node: a controlled shutdown by default, or `hard` to kill it as a crash would. */
  stopBroker(nodeId: number, options?: { hard?: boolean }): Promise<void>;
  /** Starts a stopped node again and waits until it is back and, if all nodes run, every replica is in sync. */
  startBroker(nodeId: number): Promise<void>;
  /** Waits until every running node is registered, an acks=all write succeeds and, if all run, all is in sync. */
  waitUntilReady(): Promise<void>;
  /**
   * Cuts one node off the network (nftables, as root), replacing any earlier cut: its client port only (it still
   * reaches the controllers, so it stays a registered broker leading partitions nobody can reach), or all of it
   * (both its ports and everything it sends, so the controllers fence it; needs the nodes of a several-node
   * cluster started in cgroups of their own, which the harness does where cgroup v2 is writable).
   */
  cutNode(nodeId: number, scope: "client port" | "whole node"): Promise<void>;
  /** Removes the cut, if any. */
  healCut(): Promise<void>;
  /** Stops every node and removes the state directory. */
  stop(): Promise<void>;
  /** What the cluster was started with, when its listener is SASL_SSL. */
  readonly security: KafkaSecurity | undefined;
}

/** What a cluster's directory records about it, so another process can attach to or stop it. */
interface ClusterRecord {
  name: string;
  brokers: BrokerCount;
  portBase: number;
  clusterId: string;
  kafkaVersion: string;
  libsDir: string;
  heapOpts: string[];
  readyTimeoutMs: number;
  security?: KafkaSecurity;
  autoCreateTopics?: boolean;
  clientHost?: string;
}

const recordFile = "cluster.json";
const probeTopic = "kubesentiment-harness-probe";
const javaHint = "install a Java 17+ JDK (Kafka 4 needs it), e.g. apt-get install openjdk-17-jdk-headless";

export function clusterDir(name: string): string {
  return join(stateDir("kafka"), name);
}

/** Starts a fresh cluster (stopping and wiping any earlier one of the same name) and waits until it is ready. */
export async function startKafka(options: KafkaOptions = {}): Promise<KafkaCluster> {
  const name = options.name ?? "dev";
  const brokers = options.brokers ?? 1;
  const portBase = options.portBase ?? defaultPortBase;
  const log = options.log ?? (() => {});
  if (options.security !== undefined && brokers !== 1) {
    // Several nodes would also log in to one another over the listener; nothing needs that yet.
    throw new HarnessError("a SASL_SSL Kafka cluster has one node (brokers: 1)");
  }
  requireCommand("java", javaHint); // before any fetch: a missing JDK is the first thing to hear about
  const libs = ensureKafkaLibs(log);

  await stopKafka(name);
  await assertPortsFree(clusterPorts(portBase, brokers, options.portSetting ?? "KAFKA_PORT_BASE"));

  const record: ClusterRecord = {
    name,
    brokers,
    portBase,
    // A KRaft cluster id is 16 random bytes in URL-safe base64, as the storage tool's random-uuid prints.
    clusterId: randomBytes(16).toString("base64url"),
    kafkaVersion: libs.version,
    libsDir: libs.dir,
    heapOpts: options.heapOpts ?? heapOptsFrom(undefined),
    readyTimeoutMs: options.readyTimeoutMs ?? defaultReadyTimeoutMs,
    ...(options.security === undefined ? {} : { security: options.security }),
    ...(options.autoCreateTopics === true ? { autoCreateTopics: true } : {}),
    ...(options.clientHost === undefined ? {} : { clientHost: options.clientHost }),
  };
  const dir = clusterDir(name);
  mkdirSync(dir, { recursive: true });
  // Owner-only: a secured cluster's record holds its SCRAM passwords.
  writeFileSync(join(dir, recordFile), `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
  const cluster = new LocalCluster(record, dir);

  log(`formatting storage of ${brokers} Kafka ${libs.version} node(s) in ${dir}`);
  await Promise.all(nodeIds(brokers).map((id) => cluster.formatNode(id)));
  log(`starting ${brokers} node(s) on ${cluster.bootstrapServers.join(",")}`);
  try {
    for (const id of nodeIds(brokers)) cluster.launchNode(id);
    await cluster.waitUntilReady();
  } catch (error) {
    await cluster.killAll();
    throw error instanceof HarnessError
      ? new HarnessError(`${error.message}\n(logs kept in ${dir}; \`npm run kafka:down\` removes them)`)
      : error;
  }
  log(`Kafka is ready (${brokers} node(s), cluster id ${record.clusterId})`);
  return cluster;
}

/** The cluster recorded under this name, whether or not its nodes still run; undefined if none is recorded. */
export function findKafka(name = "dev"): KafkaCluster | undefined {
  const dir = clusterDir(name);
  const file = join(dir, recordFile);
  if (!existsSync(file)) return undefined;
  return new LocalCluster(JSON.parse(readFileSync(file, "utf8")) as ClusterRecord, dir);
}

/**
 * Stops every node recorded under this name and removes its state and any network cut of it; true if there was
 * anything to remove. Works from pid files alone, so it also cleans up after a start that died before writing
 * its record.
 */
export async function stopKafka(name = "dev"): Promise<boolean> {
  await removeCut(cutTableName(name));
  const dir = clusterDir(name);
  if (!existsSync(dir)) return false;
  // The data is about to go, so a node gets a short grace period only: the last nodes of a quorum can spend
  // many seconds trying to shut down politely with no controller left to answer them.
  await Promise.all(
    nodeDirs(dir).map((nodeDir) => stopDaemon(nodeDaemon(nodeDir, "Kafka node"), { graceMs: 3_000 })),
  );
  removeNodeCgroups(name);
  rmSync(dir, { recursive: true, force: true });
  return true;
}

class LocalCluster implements KafkaCluster {
  readonly name: string;
  readonly brokers: BrokerCount;
  readonly portBase: number;
  readonly bootstrapServers: string[];
  readonly security: KafkaSecurity | undefined;

  constructor(
    private readonly record: ClusterRecord,
    readonly dir: string,
  ) {
    this.name = record.name;
    this.brokers = record.brokers;
    this.portBase = record.portBase;
    this.bootstrapServers = bootstrapServers(record.portBase, record.brokers, record.clientHost);
    this.security = record.security;
  }

  isBrokerRunning(nodeId: number): boolean {
    return runningPid(this.daemon(nodeId)) !== undefined;
  }

  async stopBroker(nodeId: number, options: { hard?: boolean } = {}): Promise<void> {
    await stopDaemon(this.daemon(nodeId), { graceMs: 30_000, hard: options.hard === true });
  }

  async startBroker(nodeId: number): Promise<void> {
    if (!this.isBrokerRunning(nodeId)) this.launchNode(nodeId);
    await this.waitUntilReady(nodeId);
  }

  async waitUntilReady(viaNode?: number): Promise<void> {
    const running = nodeIds(this.brokers).filter((id) => this.isBrokerRunning(id));
    if (running.length === 0) throw new HarnessError(`no node of Kafka cluster '${this.name}' is running`);
    const daemons = running.map((id) => this.daemon(id));
    const servers = viaNode === undefined ? this.bootstrapServers : [this.address(viaNode)];
    const deadline = Date.now() + this.record.readyTimeoutMs;
    const timeoutError = (what: string) => (lastProblem: string) =>
      new HarnessError(
        `Kafka did not become ready (${what}) within ${this.record.readyTimeoutMs / 1000}s (KAFKA_READY_TIMEOUT_MS); last probe: ${lastProblem || "no answer yet"}`,
      );
    const probed = `every node registered and an acks=all write to ${probeTopic} accepted`;
    await waitUntilReady(
      daemons,
      probed,
      () => probeWrite(probeClient(servers, this.security), running, this.brokers),
      { timeoutMs: deadline - Date.now(), intervalMs: 500, timeoutError: timeoutError(probed) },
    );
    // Only with every node up can every replica catch up; then a caller may safely take another node down.
    if (running.length === this.brokers) {
      const caughtUp = "every partition's replicas back in sync";
      await waitUntilReady(
        daemons,
        caughtUp,
        async () => {
          const lagging = await underReplicated(probeClient(servers, this.security));
          if (lagging.length > 0) throw new Error(`still catching up: ${lagging.slice(0, 5).join(", ")}`);
          return true;
        },
        { timeoutMs: deadline - Date.now(), intervalMs: 500, timeoutError: timeoutError(caughtUp) },
      );
    }
  }

  async cutNode(nodeId: number, scope: "client port" | "whole node"): Promise<void> {
    this.nodeDir(nodeId); // names the valid nodes when nodeId is not one
    const { client, controller } = nodePorts(this.portBase, nodeId);
    const table = cutTableName(this.name);
    if (scope === "client port") await cutPorts(table, [client]);
    else await cutPorts(table, [client, controller], nodeCgroupName(this.name, nodeId));
  }

  async healCut(): Promise<void> {
    await removeCut(cutTableName(this.name));
  }

  async stop(): Promise<void> {
    await stopKafka(this.name);
  }

  async formatNode(nodeId: number): Promise<void> {
    const nodeDir = this.nodeDir(nodeId);
    const dataDir = join(nodeDir, "data");
    mkdirSync(join(nodeDir, "logs"), { recursive: true });
    const template = readFileSync(join(kafkaAssetsDir, "server.properties.template"), "utf8");
    const plain = renderServerProperties(template, {
      nodeId,
      brokers: this.brokers,
      portBase: this.portBase,
      dataDir,
      autoCreateTopics: this.record.autoCreateTopics === true,
      ...(this.record.clientHost === undefined ? {} : { clientHost: this.record.clientHost }),
    });
    const security = this.security;
    const properties = security === undefined ? plain : this.secured(plain, nodeId, security);
    writeFileSync(join(nodeDir, "server.properties"), properties, { mode: 0o600 });
    const args = [
      "-Xmx256m",
      ...this.jvmLogging(nodeId),
      "-cp",
      join(this.record.libsDir, "*"),
      "kafka.tools.StorageTool",
      "format",
      // One argument with "=": a base64url id may begin with "-", which the tool would take for an option.
      `--cluster-id=${this.record.clusterId}`,
      "--config",
      join(nodeDir, "server.properties"),
      ...(security === undefined ? [] : addScramArgs(security.users)),
    ];
    const result = await runCommandAsync(requireCommand("java", javaHint), args, { timeoutMs: 120_000 });
    if (result.status !== 0) {
      const output = `${result.stdout}${result.stderr}`.trim().split("\n").slice(-15).join("\n");
      throw new HarnessError(
        `formatting the storage of Kafka node ${nodeId} failed (${result.signal ?? `exit ${result.status}`}):\n${output}`,
      );
    }
  }

  /** `properties` with its client listener made SASL_SSL, and the node's key store written beside it. */
  private secured(properties: string, nodeId: number, security: KafkaSecurity): string {
    // Kafka's PEM key store is one file: the certificate chain, then the key.
    const keystoreFile = join(this.nodeDir(nodeId), "keystore.pem");
    writeFileSync(
      keystoreFile,
      `${readFileSync(security.serverCertFile, "utf8")}\n${readFileSync(security.serverKeyFile, "utf8")}`,
      { mode: 0o600 },
    );
    return withProperties(
      properties,
      secureListenerProperties(this.portBase, nodeId, {
        keystoreFile,
        truststoreFile: security.caCertFile,
        interBrokerUser: security.users[0],
        clientAuth: security.clientAuth !== undefined,
        authorizer: security.authorizer === true,
        ...(this.record.clientHost === undefined ? {} : { clientHost: this.record.clientHost }),
      }),
    );
  }

  launchNode(nodeId: number): void {
    const nodeDir = this.nodeDir(nodeId);
    const java = requireCommand("java", javaHint);
    const args = [
      ...this.record.heapOpts,
      // As Kafka's own start script does: a node out of memory should die visibly, not limp on.
      "-XX:+ExitOnOutOfMemoryError",
      ...this.jvmLogging(nodeId),
      "-cp",
      join(this.record.libsDir, "*"),
      "kafka.Kafka",
      join(nodeDir, "server.properties"),
    ];
    // A node of several may be cut off the network whole (cutNode): its own cgroup tells its traffic apart.
    const launch =
      this.brokers > 1 ? inCgroup(nodeCgroupName(this.name, nodeId), java, args) : { command: java, args };
    startDaemon(this.daemon(nodeId), launch.command, launch.args, { cwd: nodeDir });
  }

  /** Used when a start fails: nothing of it is worth a graceful shutdown, and nothing may be left running. */
  async killAll(): Promise<void> {
    await Promise.all(nodeIds(this.brokers).map((id) => stopDaemon(this.daemon(id), { hard: true })));
  }

  private jvmLogging(nodeId: number): string[] {
    return [
      `-Dkafka.logs.dir=${join(this.nodeDir(nodeId), "logs")}`,
      `-Dlog4j2.configurationFile=${join(kafkaAssetsDir, "log4j2.xml")}`,
    ];
  }

  private address(nodeId: number): string {
    return `${this.record.clientHost ?? loopback}:${nodePorts(this.portBase, nodeId).client}`;
  }

  private nodeDir(nodeId: number): string {
    if (!nodeIds(this.brokers).includes(nodeId)) {
      throw new HarnessError(`Kafka cluster '${this.name}' has nodes 0..${this.brokers - 1}, not ${nodeId}`);
    }
    return join(this.dir, `node-${nodeId}`);
  }

  private daemon(nodeId: number): Daemon {
    return nodeDaemon(this.nodeDir(nodeId), `Kafka node ${nodeId} (${this.address(nodeId)})`);
  }
}

function nodeDirs(dir: string): string[] {
  return readdirSync(dir)
    .filter((entry) => /^node-\d+$/.test(entry))
    .map((entry) => join(dir, entry));
}

function nodeDaemon(nodeDir: string, name: string): Daemon {
  return {
    name,
    pidFile: join(nodeDir, "kafka.pid"),
    logFile: join(nodeDir, "console.log"),
    mark: join(nodeDir, "server.properties"),
  };
}

function probeClient(servers: string[], security: KafkaSecurity | undefined): Kafka {
  return kafkaClient(servers, {
    security,
    tuning: {
      connectionTimeout: 2_000,
      requestTimeout: 10_000,
      retry: { retries: 2, initialRetryTime: 200 },
    },
  });
}

/** True when the expected nodes are registered and a write to a topic replicated on all nodes is acknowledged. */
async function probeWrite(kafka: Kafka, expected: number[], replicationFactor: number): Promise<boolean> {
  const admin = kafka.admin();
  const producer = kafka.producer({
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  try {
    await admin.connect();
    const registered = new Set((await admin.describeCluster()).brokers.map((broker) => broker.nodeId));
    const missing = expected.filter((id) => !registered.has(id));
    if (missing.length > 0) throw new Error(`node(s) ${missing.join(",")} not registered yet`);
    await admin.createTopics({
      topics: [{ topic: probeTopic, numPartitions: 1, replicationFactor }],
      waitForLeaders: true,
    });
    await producer.connect();
    await producer.send({ topic: probeTopic, acks: -1, timeout: 10_000, messages: [{ value: "ready?" }] });
    return true;
  } finally {
    await Promise.allSettled([producer.disconnect(), admin.disconnect()]);
  }
}

/** Partitions (topic/partition) whose in-sync replicas are fewer than their replicas. */
async function underReplicated(kafka: Kafka): Promise<string[]> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    const { topics } = await admin.fetchTopicMetadata();
    return topics.flatMap((topic) =>
      topic.partitions
        .filter((partition) => partition.isr.length < partition.replicas.length)
        .map((partition) => `${topic.name}/${partition.partitionId}`),
    );
  } finally {
    await admin.disconnect().catch(() => {});
  }
}
