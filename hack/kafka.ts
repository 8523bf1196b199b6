// Local Apache Kafka for development: `fetch` resolves the broker jars, `up` starts a KRaft cluster and prints
// its bootstrap servers on the last line, `down` stops it and removes its data, `status` tells what runs.
//
// Environment: KAFKA_BROKERS (1 or 3, default 1), KAFKA_PORT_BASE (default 9092: node i serves clients on
// base+2i and its controller on base+2i+1), KAFKA_READY_TIMEOUT_MS (default 120000), KAFKA_HEAP_OPTS
// (default "-Xmx512m -Xms256m" per node). While a real node runs (cluster:up --real-node), the client listeners
// are on its pod gateway instead of 127.0.0.1, so pods and this machine reach the same bootstrap servers.

import { HarnessError, runCli } from "./harness/cli.ts";
import { findKafka, type KafkaCluster, startKafka, stopKafka } from "./harness/kafka-cluster.ts";
import { kafkaSettingsFromEnv, loopback, nodeIds } from "./harness/kafka-config.ts";
import { ensureKafkaLibs } from "./harness/kafka-fetch.ts";
import { runningRealNodeGateway } from "./harness/real-node-run.ts";

const name = "dev";
const usage = "usage: node --import tsx hack/kafka.ts fetch|up|down|status";

runCli(async (args) => {
  const [command, ...extra] = args;
  if (extra.length > 0) throw new HarnessError(usage);
  switch (command) {
    case "fetch":
      return fetch();
    case "up":
      return up();
    case "down":
      return down();
    case "status":
      return status();
    default:
      throw new HarnessError(usage);
  }
});

function fetch(): void {
  const libs = ensureKafkaLibs(console.log);
  console.log(`Apache Kafka ${libs.version} jars are in ${libs.dir}`);
}

async function up(): Promise<void> {
  const settings = kafkaSettingsFromEnv(process.env);
  const clientHost = runningRealNodeGateway();
  const existing = findKafka(name);
  if (existing) {
    const running = runningNodes(existing);
    const sameShape =
      existing.brokers === settings.brokers &&
      existing.portBase === settings.portBase &&
      existing.bootstrapServers[0]?.startsWith(`${clientHost ?? loopback}:`) === true;
    if (running.length > 0 && !sameShape) {
      throw new HarnessError(
        `a ${existing.brokers}-node Kafka is already running on ${existing.bootstrapServers.join(",")}: run \`npm run kafka:down\` first to start a different one`,
      );
    }
    if (running.length === existing.brokers) {
      await existing.waitUntilReady();
      console.log(
        `Kafka (${existing.brokers} node(s)) is already running; stop it with \`npm run kafka:down\``,
      );
      console.log(existing.bootstrapServers.join(","));
      return;
    }
    console.log("an earlier Kafka is not fully running any more: starting afresh");
  }

  // The nodes are detached daemons: an interrupted `up` must not leave half a cluster behind.
  const interrupt = () => {
    stopKafka(name).finally(() => process.exit(130));
  };
  process.once("SIGINT", interrupt).once("SIGTERM", interrupt);
  const cluster = await startKafka({
    ...settings,
    name,
    log: console.log,
    ...(clientHost === undefined ? {} : { clientHost }),
  });
  process.off("SIGINT", interrupt).off("SIGTERM", interrupt);
  console.log(`state and logs: ${cluster.dir}; stop with \`npm run kafka:down\``);
  console.log(cluster.bootstrapServers.join(","));
}

async function down(): Promise<void> {
  console.log((await stopKafka(name)) ? "Kafka stopped and its data removed" : "Kafka was not running");
}

function status(): void {
  const cluster = findKafka(name);
  if (!cluster) {
    console.log("Kafka is not running");
    process.exitCode = 3;
    return;
  }
  for (const id of nodeIds(cluster.brokers)) {
    const state = cluster.isBrokerRunning(id) ? "running" : "stopped";
    console.log(`node ${id} ${cluster.bootstrapServers[id]} ${state}`);
  }
  if (runningNodes(cluster).length < cluster.brokers) process.exitCode = 3;
  console.log(cluster.bootstrapServers.join(","));
}

function runningNodes(cluster: KafkaCluster): number[] {
  return nodeIds(cluster.brokers).filter((id) => cluster.isBrokerRunning(id));
}
