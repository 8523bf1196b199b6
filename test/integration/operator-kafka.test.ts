// The operator's Kafka layer against a real single-node Apache Kafka: topics created, grown and repaired as
// planned (and seen so by kcat, an independent client), refusals that change nothing, lag from real offsets,
// deletion, and an unreachable Kafka reported within a bounded time; all on one connection shared as the
// operator shares it (admin-pool.ts), which must survive topics deleted behind its back and a broker restart.
import { createRequire } from "node:module";
import { createServer, type Server, type Socket } from "node:net";
import { expect } from "chai";
import kafkajs from "kafkajs";
import { kafkaClient } from "../../hack/harness/kafka-client.ts";
import { type KafkaCluster, startKafka } from "../../hack/harness/kafka-cluster.ts";
import { freePortBase } from "../../hack/harness/ports.ts";
import { waitFor } from "../../hack/harness/wait.ts";
import { TopicAdmin } from "../../operator/src/kafka/admin.ts";
import { AdminPool } from "../../operator/src/kafka/admin-pool.ts";
import type { KafkaLogEntry } from "../../operator/src/kafka/client.ts";
import { KafkaAdminError } from "../../operator/src/kafka/errors.ts";
import { consumerLag } from "../../operator/src/kafka/lag.ts";
import {
  type DesiredTopics,
  deadLetterMaxMessageBytes,
  isEmptyPlan,
  planTopics,
  type TopicPlan,
  topicNames,
  topicsToAwait,
} from "../../operator/src/kafka/topic-plan.ts";
import { resolvePipeline } from "../../operator/src/pipeline.ts";
import { startFreezableProxy } from "../support/freezable-proxy.ts";
import { exactProducer, kcat } from "../support/kafka.ts";

const { ConfigResourceTypes, ConfigSource } = kafkajs;
/** The test's block of free ports: the broker's two, then `closedPort` and `silentPort`. */
let portBase = 0;
/** In this test's port block and never listened on: a Kafka that is not there. */
let closedPort = 0;
/** In this test's port block: a server that accepts connections and never answers. */
let silentPort = 0;
/** Generous bound on a call against a Kafka that does not answer; the point is that it ends at all. */
const hangBoundMs = 15_000;

/** The topics of a pipeline named `name`, on one broker, with defaults resolved as the operator resolves them. */
function pipelineTopics(name: string, topics: { partitions?: number; replicationFactor?: number } = {}) {
  return resolvePipeline({
    apiVersion: "kubesentiment.io/v1alpha1",
    kind: "SentimentPipeline",
    metadata: { name, namespace: "test" },
    spec: {
      kafka: { bootstrapServers: [] },
      topics: { replicationFactor: 1, config: { "retention.ms": "86400000" }, ...topics },
    },
  }).topics;
}

interface SentRequest {
  apiName: string;
  encode(): Promise<{ buffer: Buffer }>;
}
/** kafkajs's connection to one broker: every request any of its clients makes passes through its send(). */
const BrokerConnection = createRequire(import.meta.url)("kafkajs/src/network/connection.js") as {
  prototype: { send(this: unknown, args: { request: SentRequest }): Promise<unknown> };
};

/** The topic count of each Metadata request sent while `use` runs; -1 (a null array) asks for every topic. */
async function recordingMetadataRequests(use: () => Promise<void>): Promise<number[]> {
  const counts: Promise<number>[] = [];
  const send = BrokerConnection.prototype.send;
  BrokerConnection.prototype.send = function (args) {
    if (args.request.apiName === "Metadata") {
      counts.push(args.request.encode().then((encoded) => encoded.buffer.readInt32BE(0)));
    }
    return send.call(this, args);
  };
  try {
    await use();
  } finally {
    BrokerConnection.prototype.send = send;
  }
  return Promise.all(counts);
}

/** One reconcile of the topics: read, plan, apply, wait until usable. */
async function converge(admin: TopicAdmin, topics: DesiredTopics): Promise<TopicPlan> {
  const plan = planTopics(topics, await admin.describeTopics(topicNames(topics)));
  await admin.applyPlan(plan);
  await admin.waitUntilUsable(topicsToAwait(plan));
  return plan;
}

describe("operator Kafka layer on a real broker", function () {
  this.timeout(180_000);
  let cluster: KafkaCluster;
  let servers: string[];
  /** One pool for the whole file, as the operator has one: every test's admin shares its connection. */
  const pool = new AdminPool();
  let admin: TopicAdmin;
  /** A second client, not the one under test, to look at and change Kafka directly. */
  let direct: kafkajs.Admin;

  /** The topic's own config overrides, as Kafka reports them to another client. */
  async function overrides(topic: string): Promise<Record<string, string>> {
    const { resources } = await direct.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: topic }],
    });
    return Object.fromEntries(
      (resources[0]?.configEntries ?? [])
        .filter((entry) => entry.configSource === ConfigSource.TOPIC_CONFIG)
        .map((entry) => [entry.configName, entry.configValue]),
    );
  }

  /** Partitions per topic as kcat (librdkafka) sees them. */
  async function kcatPartitions(topic: string): Promise<number> {
    const listing = await kcat(["-L", "-b", servers.join(","), "-t", topic, "-m", "10"]);
    const match = new RegExp(`topic "${topic}" with (\\d+) partitions`).exec(listing);
    if (match === null) throw new Error(`kcat does not list topic ${topic}:\n${listing}`);
    return Number(match[1]);
  }

  before(async () => {
    portBase = await freePortBase(4);
    closedPort = portBase + 2;
    silentPort = portBase + 3;
    cluster = await startKafka({
      name: "test-operator-kafka",
      portBase,
      portSetting: "the test's portBase",
    });
    servers = cluster.bootstrapServers;
    direct = kafkaClient(servers).admin();
    await direct.connect();
  });

  after(async () => {
    await pool.close();
    await direct?.disconnect();
    await cluster?.stop();
  });

  beforeEach(() => {
    admin = pool.lease({ bootstrapServers: servers });
  });

  afterEach(async () => {
    await admin.close();
  });

  it("creates the three topics with 8 partitions and the managed configs, usable at once", async () => {
    const topics = pipelineTopics("create");
    const plan = await converge(admin, topics);
    expect(plan.create.map(({ topic }) => topic)).to.deep.equal([
      "test.create-requests",
      "test.create-responses",
      "test.create-dlq",
    ]);

    for (const topic of ["test.create-requests", "test.create-responses"]) {
      expect(await kcatPartitions(topic), topic).to.equal(8);
      expect(await overrides(topic), topic).to.deep.equal({ "retention.ms": "86400000" });
    }
    expect(await kcatPartitions("test.create-dlq")).to.equal(8);
    expect(await overrides("test.create-dlq")).to.deep.equal({
      "retention.ms": "86400000",
      "max.message.bytes": String(deadLetterMaxMessageBytes({})),
    });
    const described = await admin.describeTopics(topicNames(topics));
    expect(described.brokers).to.equal(1);
    expect(described.topics["test.create-requests"]).to.include({ partitions: 8, replicationFactor: 1 });

    // Usable means an acks=all write succeeds on every partition right away.
    const producer = await exactProducer(servers);
    try {
      await producer.send({
        topic: "test.create-requests",
        acks: -1,
        messages: Array.from({ length: 8 }, (_, partition) => ({ partition, value: "{}" })),
      });
    } finally {
      await producer.disconnect();
    }
  });

  it("plans nothing on topics it has just converged (idempotent)", async () => {
    const topics = pipelineTopics("again");
    expect(isEmptyPlan(await converge(admin, topics))).to.equal(false);
    const second = planTopics(topics, await admin.describeTopics(topicNames(topics)));
    expect(second).to.deep.equal({ create: [], raisePartitions: [], restoreConfigs: [], refusals: [] });
  });

  it("reconciles a pipeline's existing topics without listing every topic of the cluster", async () => {
    const topics = pipelineTopics("own-topics-only");
    await converge(admin, topics);
    const metadataTopicCounts = await recordingMetadataRequests(async () => {
      const observed = await admin.describeTopics(topicNames(topics), { likelyPresent: true });
      expect(observed.brokers).to.equal(1);
      expect(observed.topics[topics.requests]).to.include({ partitions: 8, replicationFactor: 1 });
      expect(Object.keys(observed.topics)).to.have.members(topicNames(topics));
      expect(isEmptyPlan(planTopics(topics, observed))).to.equal(true);
      expect(
        consumerLag(await admin.partitionOffsets("test.own-topics-group", topics.requests)).total,
      ).to.equal(0);
    });
    // A Metadata request's topic array of length -1 (null) asks for every topic: with thousands of pipelines on
    // one Kafka, that answer is megabytes, decoded on every reconcile.
    expect(metadataTopicCounts).to.not.be.empty;
    expect(metadataTopicCounts).to.not.include(-1);
  });

  it("reads topics thought present but deleted behind its back as absent, and a new pipeline's without an error", async () => {
    const logs: KafkaLogEntry[] = [];
    const logging = new AdminPool({ onLog: (entry) => logs.push(entry) });
    try {
      const fresh = pipelineTopics("fresh");
      const observer = logging.lease({ bootstrapServers: servers });
      expect(await observer.describeTopics(topicNames(fresh))).to.deep.equal({ brokers: 1, topics: {} });
      await observer.close();
      expect(logs.filter(({ level }) => level === "error")).to.deep.equal([]);

      const gone = pipelineTopics("partly-gone");
      await converge(admin, gone);
      await direct.deleteTopics({ topics: [gone.responses] });
      await waitFor("the topic deleted", async () =>
        (await direct.listTopics()).includes(gone.responses) ? undefined : true,
      );
      const observed = await admin.describeTopics(topicNames(gone), { likelyPresent: true });
      expect(observed.brokers).to.equal(1);
      expect(Object.keys(observed.topics)).to.have.members([gone.requests, gone.deadLetter]);
      expect(planTopics(gone, observed).create.map(({ topic }) => topic)).to.deep.equal([gone.responses]);
    } finally {
      await logging.close();
    }
  });

  it("raises the partitions of existing topics", async () => {
    await converge(admin, pipelineTopics("grow", { partitions: 2 }));
    const plan = await converge(admin, pipelineTopics("grow", { partitions: 8 }));
    expect(plan.raisePartitions).to.deep.equal([
      { topic: "test.grow-requests", from: 2, to: 8 },
      { topic: "test.grow-responses", from: 2, to: 8 },
      { topic: "test.grow-dlq", from: 2, to: 8 },
    ]);
    for (const topic of topicNames(pipelineTopics("grow")))
      expect(await kcatPartitions(topic), topic).to.equal(8);
  });

  it("puts back a config changed behind its back, and keeps a key it does not manage", async () => {
    const topics = pipelineTopics("drift");
    await converge(admin, topics);
    // AlterConfigs replaces a topic's whole override set: this also drops the dead-letter size, as a careless
    // tool would.
    await direct.alterConfigs({
      validateOnly: false,
      resources: ["test.drift-requests", "test.drift-dlq"].map((name) => ({
        type: ConfigResourceTypes.TOPIC,
        name,
        configEntries: [
          { name: "retention.ms", value: "1000" },
          { name: "segment.ms", value: "600000" },
        ],
      })),
    });

    // Brokers apply a config change a moment after the controller accepts it.
    await waitFor(
      "the direct change to be visible",
      async () => (await overrides("test.drift-dlq"))["retention.ms"] === "1000",
    );

    const plan = await converge(admin, topics);
    expect(plan.restoreConfigs).to.deep.equal([
      {
        topic: "test.drift-requests",
        drift: [{ key: "retention.ms", current: "1000", desired: "86400000" }],
      },
      {
        topic: "test.drift-dlq",
        drift: [
          { key: "retention.ms", current: "1000", desired: "86400000" },
          { key: "max.message.bytes", current: undefined, desired: String(deadLetterMaxMessageBytes({})) },
        ],
      },
    ]);
    expect(await overrides("test.drift-requests")).to.deep.equal({
      "retention.ms": "86400000",
      "segment.ms": "600000",
    });
    expect(await overrides("test.drift-dlq")).to.deep.equal({
      "retention.ms": "86400000",
      "segment.ms": "600000",
      "max.message.bytes": String(deadLetterMaxMessageBytes({})),
    });
    expect(await overrides("test.drift-responses")).to.deep.equal({ "retention.ms": "86400000" });
    expect(isEmptyPlan(planTopics(topics, await admin.describeTopics(topicNames(topics))))).to.equal(true);
  });

  it("refuses a partition decrease and a replication factor change, and changes nothing", async () => {
    await converge(admin, pipelineTopics("fixed", { partitions: 4 }));
    const names = topicNames(pipelineTopics("fixed"));
    const before = await admin.describeTopics(names);

    const fewer = await converge(admin, pipelineTopics("fixed", { partitions: 2 }));
    expect(fewer.refusals.map(({ topic, reason }) => [topic, reason])).to.deep.equal(
      names.map((topic) => [topic, "PartitionDecreaseRefused"]),
    );
    expect(fewer.refusals[0]?.message).to.include("4 partitions").and.include("asks for 2");

    const moreReplicas = await converge(
      admin,
      pipelineTopics("fixed", { partitions: 4, replicationFactor: 3 }),
    );
    expect(moreReplicas.refusals.map(({ reason }) => reason)).to.deep.equal(
      names.map(() => "ReplicationFactorChangeRefused"),
    );
    expect(moreReplicas.create).to.deep.equal([]);

    expect(await admin.describeTopics(names)).to.deep.equal(before);
    for (const topic of names) expect(await kcatPartitions(topic), topic).to.equal(4);
  });

  it("reads lag for a group that committed some offsets and for one that committed none", async () => {
    const topics = pipelineTopics("lag");
    await converge(admin, topics);
    // Partition p holds p + 1 records: 36 in all.
    const producer = await exactProducer(servers);
    try {
      await producer.send({
        topic: topics.requests,
        acks: -1,
        messages: Array.from({ length: 8 }, (_, partition) =>
          Array.from({ length: partition + 1 }, (_, i) => ({ partition, value: `{"i":${i}}` })),
        ).flat(),
      });
    } finally {
      await producer.disconnect();
    }
    await direct.setOffsets({
      groupId: "lag-some",
      topic: topics.requests,
      partitions: [
        { partition: 0, offset: "1" },
        { partition: 1, offset: "1" },
        { partition: 2, offset: "0" },
        { partition: 5, offset: "3" },
      ],
    });

    const some = consumerLag(await admin.partitionOffsets("lag-some", topics.requests));
    expect(some.partitions).to.deep.equal([
      { partition: 0, lag: 0 },
      { partition: 1, lag: 1 },
      { partition: 2, lag: 3 },
      { partition: 3, lag: 4 },
      { partition: 4, lag: 5 },
      { partition: 5, lag: 3 },
      { partition: 6, lag: 7 },
      { partition: 7, lag: 8 },
    ]);
    expect(some.total).to.equal(31);
    expect(some.partitionsWithoutCommit).to.deep.equal([3, 4, 6, 7]);

    const none = consumerLag(await admin.partitionOffsets("lag-none", topics.requests));
    expect(none.total).to.equal(36);
    expect(none.partitionsWithoutCommit).to.deep.equal([0, 1, 2, 3, 4, 5, 6, 7]);

    // Records removed from the front of a partition are no longer lag: partition 7 keeps 3 of its 8.
    await direct.deleteTopicRecords({ topic: topics.requests, partitions: [{ partition: 7, offset: "5" }] });
    const trimmed = consumerLag(await admin.partitionOffsets("lag-none", topics.requests));
    expect(trimmed.partitions.at(7)).to.deep.equal({ partition: 7, lag: 3 });
    expect(trimmed.total).to.equal(31);
  });

  it("counts no lag for transaction markers and aborted records a consumer group is never given", async () => {
    const topics = pipelineTopics("lag-transactions", { partitions: 2 });
    await converge(admin, topics);
    const kafka = kafkaClient(servers);
    const producer = kafka.producer({
      transactionalId: "lag-transactions",
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await producer.connect();
    try {
      // Each transaction ends in a commit marker on both partitions; the last, aborted one leaves its record and
      // an abort marker on partition 0, which read_committed consumers skip as well.
      for (const outcome of ["commit", "commit", "abort"] as const) {
        const transaction = await producer.transaction();
        await transaction.send({
          topic: topics.requests,
          messages:
            outcome === "commit"
              ? [
                  { partition: 0, value: "{}" },
                  { partition: 1, value: "{}" },
                ]
              : [{ partition: 0, value: "{}" }],
        });
        await (outcome === "commit" ? transaction.commit() : transaction.abort());
      }
    } finally {
      await producer.disconnect();
    }
    // A group that commits as the worker does: the offset after the last record of each batch it was given.
    // Fetching one record batch at a time, the markers come alone and kafkajs never hands them over.
    const consumer = kafka.consumer({ groupId: "lag-transactions", maxBytesPerPartition: 1 });
    let answered = 0;
    const allAnswered = new Promise<void>((resolve) => {
      void consumer.connect().then(async () => {
        await consumer.subscribe({ topic: topics.requests, fromBeginning: true });
        await consumer.run({
          autoCommit: false,
          eachBatchAutoResolve: false,
          eachBatch: async ({ batch, resolveOffset }) => {
            if (batch.isEmpty()) return;
            resolveOffset(batch.lastOffset());
            const next = String(BigInt(batch.lastOffset()) + 1n);
            await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: next }]);
            answered += batch.messages.length;
            if (answered === 4) resolve();
          },
        });
      });
    });
    try {
      await allAnswered;
    } finally {
      await consumer.disconnect();
    }

    const lag = consumerLag(await admin.partitionOffsets("lag-transactions", topics.requests));
    expect(lag.partitions).to.deep.equal([
      { partition: 0, lag: 0 },
      { partition: 1, lag: 0 },
    ]);
    expect(lag.total).to.equal(0);
  });

  it("deletes the topics that exist and reports which", async () => {
    const topics = pipelineTopics("gone");
    await converge(admin, topics);
    const names = topicNames(topics);
    expect(await admin.deleteTopics(names)).to.deep.equal(names);
    expect(await admin.describeTopics(names)).to.deep.equal({ brokers: 1, topics: {} });
    expect((await direct.listTopics()).filter((topic) => names.includes(topic))).to.deep.equal([]);
    expect(await admin.deleteTopics(names)).to.deep.equal([]);
  });

  it("opens one connection for every use of the same Kafka and credentials, one after another and at once", async () => {
    const topics = pipelineTopics("shared");
    await converge(admin, topics);
    // kafkajs reaches a broker first at a bootstrap server: each connection of its own comes through the proxy.
    const proxy = await startFreezableProxy({ host: "127.0.0.1", port: Number(servers[0]?.split(":")[1]) });
    const sharing = new AdminPool();
    const use = async (read: (leased: TopicAdmin) => Promise<unknown>) => {
      const leased = sharing.lease({ bootstrapServers: [`127.0.0.1:${proxy.port}`] });
      try {
        await read(leased);
      } finally {
        await leased.close();
      }
    };
    try {
      for (let i = 0; i < 3; i++)
        await use((leased) => leased.partitionOffsets("test.shared-group", topics.requests));
      await Promise.all(
        Array.from({ length: 5 }, () => use((leased) => leased.describeTopics(topicNames(topics)))),
      );
      expect(proxy.accepted()).to.equal(1);
    } finally {
      await sharing.close();
      await proxy.close();
    }
  });

  it("keeps a shared connection working after a topic it asked about is deleted by another client", async () => {
    const gone = pipelineTopics("deleted-elsewhere");
    const kept = pipelineTopics("kept");
    await converge(admin, gone);
    await converge(admin, kept);
    await admin.partitionOffsets("test.gone-group", gone.requests);
    await admin.close();
    await direct.deleteTopics({ topics: topicNames(gone) });
    await waitFor("the topics deleted", async () =>
      (await direct.listTopics()).some((topic) => topicNames(gone).includes(topic)) ? undefined : true,
    );
    admin = pool.lease({ bootstrapServers: servers });
    const lag = consumerLag(await admin.partitionOffsets("test.kept-group", kept.requests));
    expect(lag.total).to.equal(0);
    expect(Object.keys((await admin.describeTopics(topicNames(kept))).topics)).to.have.length(3);
  });

  it("reports KafkaUnreachable, naming the bootstrap servers, when nothing listens there", async () => {
    const logs: KafkaLogEntry[] = [];
    const unreachable = new TopicAdmin({
      bootstrapServers: [`127.0.0.1:${closedPort}`],
      onLog: (e) => logs.push(e),
    });
    const started = Date.now();
    const error = await unreachable.describeTopics(["any"]).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(Date.now() - started).to.be.below(hangBoundMs);
    expect(error).to.be.instanceOf(KafkaAdminError);
    expect(error).to.include({ reason: "KafkaUnreachable", retriable: true });
    expect((error as Error).message)
      .to.include(`127.0.0.1:${closedPort}`)
      .and.include("ECONNREFUSED");
    expect(logs.length, "kafkajs's own errors reach the callback").to.be.above(0);
    await unreachable.close();
  });

  it("reports KafkaUnreachable within a bounded time when a server accepts but never answers", async () => {
    const sockets: Socket[] = [];
    const silent: Server = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(silentPort, "127.0.0.1", resolve));
    try {
      const unanswered = new TopicAdmin({ bootstrapServers: [`127.0.0.1:${silentPort}`] });
      const started = Date.now();
      const error = await unanswered.describeTopics(["any"]).then(
        () => undefined,
        (thrown: unknown) => thrown,
      );
      expect(Date.now() - started).to.be.below(hangBoundMs);
      expect(error).to.include({ reason: "KafkaUnreachable", retriable: true });
      expect((error as Error).message)
        .to.include(`127.0.0.1:${silentPort}`)
        .and.include("timed out");
      await unanswered.close();
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  // Last: it restarts the broker the other tests use.
  it("reports a broker that went away on the shared connection, and connects again once it is back", async function () {
    this.timeout(180_000);
    const topics = pipelineTopics("restart");
    await converge(admin, topics);
    await admin.close();
    await cluster.stopBroker(0, { hard: true });
    admin = pool.lease({ bootstrapServers: servers });
    const error = await admin.describeTopics(topicNames(topics)).catch((thrown: unknown) => thrown);
    expect(error).to.be.instanceOf(KafkaAdminError);
    expect(error).to.include({ retriable: true });
    await admin.close();
    await cluster.startBroker(0);
    admin = pool.lease({ bootstrapServers: servers });
    expect(Object.keys((await admin.describeTopics(topicNames(topics))).topics)).to.have.length(3);
  });
});
