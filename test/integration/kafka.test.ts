// The local Kafka harness against a real three-node Apache Kafka: topics really replicated three ways, messages
// that come back exactly through kafkajs and through kcat (an independent client, librdkafka), a node that can
// crash and return, and harness failures that say what is wrong and leave no process behind.

import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { createTopic, kafkaClient } from "../../hack/harness/kafka-client.ts";
import type { KafkaCluster } from "../../hack/harness/kafka-cluster.ts";
import { freePortBase } from "../../hack/harness/ports.ts";
import { processesMentioning } from "../../hack/harness/processes.ts";
import {
  consume,
  exactProducer,
  kafkaCli,
  kcat,
  type Message,
  produce,
  startTestKafka,
} from "../support/kafka.ts";

/** Keyed JSON values with non-ASCII text, as the worker's requests will be. */
function messages(prefix: string, count: number): Message[] {
  return Array.from({ length: count }, (_, i) => ({
    key: `${prefix}-${i}`,
    value: JSON.stringify({ id: `${prefix}-${i}`, text: `très bien ✓ №${i}` }),
  }));
}

function sorted(list: Message[]): Message[] {
  return [...list].sort((a, b) => a.key.localeCompare(b.key));
}

describe("local Kafka harness: three nodes", function () {
  this.timeout(240_000);
  let cluster: KafkaCluster;
  let servers: string[];

  before(async () => {
    cluster = await startTestKafka(3);
    servers = cluster.bootstrapServers;
  });

  after(async () => {
    await cluster?.stop();
  });

  it("creates a topic of 8 partitions, each with 3 replicas on distinct nodes", async () => {
    await createTopic(servers, "replicated", 8, 3);
    const admin = kafkaClient(servers).admin();
    await admin.connect();
    try {
      const [topic] = (await admin.fetchTopicMetadata({ topics: ["replicated"] })).topics;
      expect(topic?.partitions).to.have.length(8);
      for (const partition of topic?.partitions ?? []) {
        expect(new Set(partition.replicas), `partition ${partition.partitionId}`).to.have.property("size", 3);
        expect(partition.isr).to.have.length(3);
      }
    } finally {
      await admin.disconnect();
    }
  });

  it("returns every message a kafkajs producer wrote to a kafkajs consumer, exactly", async () => {
    await createTopic(servers, "kafkajs-roundtrip", 8, 3);
    const sent = messages("js", 500);
    await produce(servers, "kafkajs-roundtrip", sent);
    expect(sorted(await consume(servers, "kafkajs-roundtrip", sent.length))).to.deep.equal(sorted(sent));
  });

  it("delivers what kcat produces to kafkajs", async () => {
    await createTopic(servers, "kcat-to-kafkajs", 8, 3);
    const sent = messages("kcat", 100);
    const lines = sent.map(({ key, value }) => `${key}\t${value}\n`).join("");
    await kcat(["-P", "-b", servers.join(","), "-t", "kcat-to-kafkajs", "-K", "\t", "-X", "acks=all"], lines);
    expect(sorted(await consume(servers, "kcat-to-kafkajs", sent.length))).to.deep.equal(sorted(sent));
  });

  it("delivers what kafkajs produces to kcat", async () => {
    await createTopic(servers, "kafkajs-to-kcat", 8, 3);
    const sent = messages("js2kcat", 100);
    await produce(servers, "kafkajs-to-kcat", sent);
    const output = await kcat([
      "-C",
      ...["-b", servers.join(","), "-t", "kafkajs-to-kcat"],
      ...["-o", "beginning", "-e", "-q", "-f", "%k\t%s\n"],
    ]);
    const received = output
      .trimEnd()
      .split("\n")
      .map((line) => {
        const [key = "", value = ""] = line.split("\t");
        return { key, value };
      });
    expect(sorted(received)).to.deep.equal(sorted(sent));
  });

  it("keeps accepting acks=all writes while one node is killed, and brings it back in sync", async () => {
    await createTopic(servers, "node-failure", 8, 3);
    // Connected before the crash, as a running service's producer would be.
    const producer = await exactProducer(servers);
    const during = messages("during", 50);
    try {
      await cluster.stopBroker(2, { hard: true });
      expect(cluster.isBrokerRunning(2)).to.equal(false);
      await producer.send({ topic: "node-failure", acks: -1, messages: during });
    } finally {
      await producer.disconnect();
    }
    await cluster.startBroker(2);
    expect(cluster.isBrokerRunning(2)).to.equal(true);
    // Read through the returned node alone: it must know the topic and serve the data again.
    expect(sorted(await consume([servers[2] ?? ""], "node-failure", during.length))).to.deep.equal(
      sorted(during),
    );
  });
});

describe("local Kafka harness: failures", function () {
  this.timeout(120_000);
  let state: string;
  let blocker: Server | undefined;

  beforeEach(() => {
    // A private state directory: the CLI's processes can be recognised by it, and the developer's is untouched.
    state = mkdtempSync(join(tmpdir(), "ks-kafka-test-"));
  });

  afterEach(async () => {
    await new Promise((resolve) => (blocker ? blocker.close(resolve) : resolve(undefined)));
    blocker = undefined;
    await kafkaCli("down", { ...process.env, KUBESENTIMENT_STATE: state });
    rmSync(state, { recursive: true, force: true });
  });

  function env(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
    return { ...process.env, KUBESENTIMENT_STATE: state, KAFKA_BROKERS: "1", ...extra };
  }

  it("refuses a port that is taken, naming it, and starts nothing", async () => {
    const base = await freePortBase(2);
    blocker = createServer();
    await new Promise<void>((resolve) => blocker?.listen(base + 1, "127.0.0.1", resolve));
    const outcome = await kafkaCli("up", env({ KAFKA_PORT_BASE: String(base) }));
    expect(outcome.status, outcome.stderr).to.equal(1);
    expect(outcome.stderr).to.match(new RegExp(`^error: port ${base + 1} \\(Kafka node 0 controller`));
    expect(outcome.stderr).to.include("KAFKA_PORT_BASE");
    expect(processesMentioning(state)).to.deep.equal([]);
  });

  it("says java is missing when it is not on PATH, and starts nothing", async () => {
    const emptyBin = join(state, "bin");
    const outcome = await kafkaCli(
      "up",
      env({ PATH: emptyBin, KAFKA_PORT_BASE: String(await freePortBase(2)) }),
    );
    expect(outcome.status, outcome.stderr).to.equal(1);
    expect(outcome.stderr).to.match(/^error: 'java' was not found on PATH/);
    expect(processesMentioning(state)).to.deep.equal([]);
  });

  it("says mvn is missing when the jars must be fetched without it", async () => {
    const outcome = await kafkaCli("fetch", env({ PATH: join(state, "bin"), KUBESENTIMENT_CACHE: state }));
    expect(outcome.status, outcome.stderr).to.equal(1);
    expect(outcome.stderr).to.match(/^error: 'mvn' was not found on PATH/);
  });

  it("gives up on a node that is not ready in time, and kills it", async () => {
    const outcome = await kafkaCli(
      "up",
      env({ KAFKA_PORT_BASE: String(await freePortBase(2)), KAFKA_READY_TIMEOUT_MS: "1" }),
    );
    expect(outcome.status, outcome.stderr).to.equal(1);
    expect(outcome.stderr).to.match(
      /^error: Kafka did not become ready .* within 0.001s \(KAFKA_READY_TIMEOUT_MS\)/,
    );
    expect(processesMentioning(state)).to.deep.equal([]);
  });

  it("starts once, reports the same cluster when asked again, and stops it completely", async () => {
    const base = await freePortBase(2);
    const first = await kafkaCli("up", env({ KAFKA_PORT_BASE: String(base) }));
    expect(first.status, first.stderr).to.equal(0);
    expect(first.stdout.trimEnd().split("\n").at(-1)).to.equal(`127.0.0.1:${base}`);
    const pids = processesMentioning(state);
    expect(pids).to.have.length(1);

    const second = await kafkaCli("up", env({ KAFKA_PORT_BASE: String(base) }));
    expect(second.status, second.stderr).to.equal(0);
    expect(second.stdout).to.include("already running");
    expect(second.stdout.trimEnd().split("\n").at(-1)).to.equal(`127.0.0.1:${base}`);
    expect(processesMentioning(state)).to.deep.equal(pids);

    const down = await kafkaCli("down", env({}));
    expect(down.status).to.equal(0);
    expect(processesMentioning(state)).to.deep.equal([]);
  });
});
