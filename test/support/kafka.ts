// Helpers for tests against the real local Kafka: a cluster on test ports, kafkajs and kcat round trips, and the
// harness CLI run as a person would run it.
import { join } from "node:path";
import { Partitioners, type Producer } from "kafkajs";
import { type CommandResult, requireCommand, runCommandAsync } from "../../hack/harness/commands.ts";
import { repoRoot } from "../../hack/harness/dirs.ts";
import { kafkaClient } from "../../hack/harness/kafka-client.ts";
import { type KafkaCluster, type KafkaOptions, startKafka } from "../../hack/harness/kafka-cluster.ts";
import type { BrokerCount } from "../../hack/harness/kafka-config.ts";
import { freePortBase } from "../../hack/harness/ports.ts";

export interface Message {
  key: string;
  value: string;
}

/**
 * Tests use their own ports (KAFKA_TEST_PORT_BASE, or a free block the OS picks) and state name, so `npm test`
 * neither collides with nor disturbs a developer's `npm run kafka:up`, nor another checkout's test run.
 */
export async function startTestKafka(brokers: BrokerCount): Promise<KafkaCluster> {
  const fixed = process.env.KAFKA_TEST_PORT_BASE;
  return startKafka({
    brokers,
    name: `test-${brokers}`,
    portBase: fixed === undefined ? await freePortBase(2 * brokers) : Number(fixed),
    portSetting: "KAFKA_TEST_PORT_BASE",
  });
}

/** A test's own Kafka (named, so its state is its own) on a free block of ports. */
export async function startKafkaOnFreePorts(
  options: Omit<KafkaOptions, "portBase" | "portSetting">,
): Promise<KafkaCluster> {
  const portBase = await freePortBase(2 * (options.brokers ?? 1));
  return startKafka({ ...options, portBase, portSetting: "the test's portBase" });
}

/** A connected producer that writes each record exactly once, with the patience to ride out a failover. */
export async function exactProducer(servers: string[]): Promise<Producer> {
  const producer = kafkaClient(servers).producer({
    allowAutoTopicCreation: false,
    // kafkajs retries a whole per-broker request when one of its partitions fails (a broker that has not yet
    // heard of a new topic, a leader that moved), which duplicates the records that had succeeded; an
    // idempotent producer lets the broker drop those, so a test can demand exactly what it sent.
    idempotent: true,
    maxInFlightRequests: 1,
    // Enough patience to outlast a node's failover (fencing after broker.session.timeout.ms).
    retry: { retries: 10, maxRetryTime: 5_000 },
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  return producer;
}

export async function produce(servers: string[], topic: string, messages: Message[]): Promise<void> {
  const producer = await exactProducer(servers);
  try {
    await producer.send({ topic, acks: -1, messages });
  } finally {
    await producer.disconnect();
  }
}

/** Reads a topic from the beginning with a fresh consumer group until `count` records have arrived. */
export async function consume(servers: string[], topic: string, count: number): Promise<Message[]> {
  const consumer = kafkaClient(servers).consumer({
    groupId: `test-${topic}-${process.hrtime.bigint()}`,
    // An empty partition's fetch would otherwise hold the others' records back for up to 5 s.
    maxWaitTimeInMs: 250,
  });
  const received: Message[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      consumer
        .run({
          eachMessage: async ({ message }) => {
            received.push({ key: message.key?.toString() ?? "", value: message.value?.toString() ?? "" });
            if (received.length >= count) resolve();
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return received;
}

/** Runs kcat with a bounded time; its stdout, or an error carrying its stderr. */
export async function kcat(args: string[], input = ""): Promise<string> {
  const command = requireCommand("kcat", "the cross-check client; install it with apt-get install kcat");
  const { status, stdout, stderr } = await runCommandAsync(command, args, { input, timeoutMs: 60_000 });
  if (status !== 0) throw new Error(`kcat ${args.join(" ")} exited with ${status}: ${stderr}`);
  return stdout;
}

/** Runs `hack/kafka.ts <command>` as a separate process, the way `npm run kafka:*` does. */
export function kafkaCli(command: string, env: NodeJS.ProcessEnv): Promise<CommandResult> {
  return runCommandAsync(process.execPath, ["--import", "tsx", join(repoRoot, "hack", "kafka.ts"), command], {
    cwd: repoRoot,
    env,
    timeoutMs: 180_000,
  });
}
