// What scaling costs the worker group, on a real broker with real worker processes: a worker joining while the
// group's member holds a fetched backlog, and a member stopped (SIGTERM, as the kubelet stops a pod) while it
// holds one. One fetch brings thousands of requests a partition; what the member had answered must be committed
// before its partitions change hands, and what it had not started must be left to their next owner.
import type { ChildProcess } from "node:child_process";
import { expect } from "chai";
import { type Admin, type Kafka, Partitioners } from "kafkajs";
import { kafkaClient, recordCount } from "../../hack/harness/kafka-client.ts";
import type { KafkaCluster } from "../../hack/harness/kafka-cluster.ts";
import { defaultWorkerGroupId, localWorkerEnv, startWorkerProcess } from "../../hack/harness/local-worker.ts";
import { stopChild } from "../../hack/harness/processes.ts";
import { waitFor } from "../../hack/harness/wait.ts";
import { startKafkaOnFreePorts } from "../support/kafka.ts";
import { createPipelineTopics, type PipelineTopics, ResultReader } from "../support/pipeline-topics.ts";

/** Small model batches: the worker answers and commits a chunk of this many requests at a time. */
const batchMaxSize = 8;
/** Chunks of one fetched batch being routed at once (request-pipeline.ts's chunksRoutedAtOnce). */
const chunksRoutedAtOnce = 2;
const partitions = 8;
/** 3,000 requests a partition, each a single fetch (under a megabyte): the backlog a member holds at once. */
const backlog = 24_000;

function spawnWorker(
  cluster: KafkaCluster,
  topics: PipelineTopics,
  { batchSize = batchMaxSize, sessionTimeoutMs = 6_000 } = {},
): ChildProcess {
  return startWorkerProcess(
    {
      ...localWorkerEnv(cluster.bootstrapServers, topics),
      KAFKA_SESSION_TIMEOUT_MS: String(sessionTimeoutMs),
      BATCH_MAX_SIZE: String(batchSize),
      LOG_LEVEL: process.env.WORKER_TEST_LOG_LEVEL ?? "error",
    },
    "inherit",
  );
}

async function produceBacklog(kafka: Kafka, topic: string): Promise<void> {
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  for (let start = 0; start < backlog; start += 2_000) {
    await producer.send({
      topic,
      acks: -1,
      messages: Array.from({ length: 2_000 }, (_, i) => {
        const id = `m-${start + i}`;
        return { key: id, value: JSON.stringify({ id, text: i % 2 ? "a gorgeous, witty film" : "dull" }) };
      }),
    });
  }
  await producer.disconnect();
}

async function committed(admin: Admin, topics: PipelineTopics): Promise<number> {
  const [offsets] = await admin.fetchOffsets({
    groupId: defaultWorkerGroupId(topics),
    topics: [topics.requests],
  });
  return (offsets?.partitions ?? []).reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
}

async function groupState(admin: Admin, topics: PipelineTopics): Promise<string | undefined> {
  const { groups } = await admin.describeGroups([defaultWorkerGroupId(topics)]);
  return groups[0]?.state;
}

/** Requests answered more than once, and requests never answered, by id over responses and dead letters. */
function tally(reader: ResultReader, topics: PipelineTopics) {
  const written = [...reader.on(topics.responses), ...reader.on(topics.deadLetter)];
  const ids = new Set([...reader.idsOn(topics.responses), ...reader.idsOn(topics.deadLetter)]);
  const lost = Array.from({ length: backlog }, (_, i) => `m-${i}`).filter((id) => !ids.has(id));
  return { duplicates: written.length - ids.size, lost: lost.length, answered: ids.size };
}

describe("worker group rebalances under a fetched backlog", function () {
  this.timeout(300_000);
  let cluster: KafkaCluster;
  let kafka: Kafka;
  let admin: Admin;
  const workers: ChildProcess[] = [];
  before(async () => {
    cluster = await startKafkaOnFreePorts({ name: "test-worker-rebalance" });
    kafka = kafkaClient(cluster.bootstrapServers);
    admin = kafka.admin();
    await admin.connect();
  });
  afterEach(async () => {
    await Promise.all(
      workers.splice(0).map((worker) => {
        worker.kill("SIGCONT");
        return stopChild(worker);
      }),
    );
  });
  after(async () => {
    await admin?.disconnect();
    await cluster?.stop();
  });

  /**
   * A backlog, its reader, and a member that has answered part of it and is then held (SIGSTOP). The member
   * would answer the whole backlog in a few seconds, about as long as a worker takes to start, so the test orders
   * the events itself: a second worker's join waits until the test lets the member go on. The member's session
   * outlasts a worker's start, so the coordinator waits for it rather than dropping it.
   */
  async function heldMemberOnBacklog() {
    const topics = await createPipelineTopics(cluster.bootstrapServers, { partitions });
    await produceBacklog(kafka, topics.requests);
    const reader = await ResultReader.start(kafka, topics);
    const member = spawnWorker(cluster, topics, { sessionTimeoutMs: 60_000 });
    workers.push(member);
    await reader.waitFor(
      () => reader.on(topics.responses).length > 0,
      () => "the first worker never answered",
      120_000,
    );
    member.kill("SIGSTOP");
    return { topics, reader, member };
  }

  it("a worker joining mid-backlog: nothing is lost, and at most the chunks the member had started are answered twice", async () => {
    // The second worker asks to join while the member is held, and only then does the member go on, to learn of
    // the rebalance holding what it had fetched.
    const { topics, reader, member } = await heldMemberOnBacklog();
    const leftAtJoin = backlog - (await committed(admin, topics));
    expect(
      leftAtJoin,
      "requests left when the second worker asked to join (else the test shows nothing)",
    ).to.be.above(2_000);
    workers.push(spawnWorker(cluster, topics));
    await waitFor(
      "the second worker asking to join",
      async () => (await groupState(admin, topics)) === "PreparingRebalance",
      {
        timeoutMs: 120_000,
      },
    );
    member.kill("SIGCONT");
    await waitFor(
      "the second worker in the group",
      async () => {
        const { groups } = await admin.describeGroups([defaultWorkerGroupId(topics)]);
        return groups[0]?.state === "Stable" && groups[0].members.length === 2;
      },
      { timeoutMs: 120_000 },
    );
    await reader.waitFor(
      () => tally(reader, topics).answered >= backlog,
      () => `${tally(reader, topics).answered} of ${backlog} answered`,
      180_000,
    );
    const { duplicates, lost } = tally(reader, topics);
    console.log(`      ${duplicates} answered twice; ${leftAtJoin} were left when the second worker joined`);
    expect(lost).to.equal(0);
    // At most the chunks started when the member learnt of the rebalance from kafkajs's event rather than a
    // heartbeat: every chunk begun of every partition's fetch.
    expect(duplicates).to.be.at.most(chunksRoutedAtOnce * batchMaxSize * partitions);
    await reader.close();
  });

  it("a worker stopped with SIGTERM while it joins the group leaves it: the group does not wait a session for a member that never syncs", async () => {
    // The second worker is told to stop while its join waits for the held member; only then does the member go
    // on. The second worker's session also outlasts the test's steps, so the coordinator drops no one by itself.
    const { topics, reader, member } = await heldMemberOnBacklog();
    const joining = spawnWorker(cluster, topics, { sessionTimeoutMs: 60_000 });
    workers.push(joining);
    const joiningExit = new Promise<number | null>((resolve) =>
      joining.once("exit", (code) => resolve(code)),
    );
    await waitFor(
      "the second worker asking to join",
      async () => (await groupState(admin, topics)) === "PreparingRebalance",
      { timeoutMs: 120_000 },
    );
    joining.kill("SIGTERM");
    member.kill("SIGCONT");
    expect(await joiningExit, "the stopped worker's exit code").to.equal(0);
    const members = await waitFor(
      "the group stable after the stopped worker exited",
      async () => {
        const { groups } = await admin.describeGroups([defaultWorkerGroupId(topics)]);
        return groups[0]?.state === "Stable" ? groups[0].members.map((m) => m.memberId) : undefined;
      },
      { timeoutMs: 120_000 },
    );
    expect(members, "members of the group once the stopped worker had exited").to.have.length(1);
    await reader.waitFor(
      () => tally(reader, topics).answered >= backlog,
      () => `${tally(reader, topics).answered} of ${backlog} answered`,
      180_000,
    );
    expect(tally(reader, topics).lost).to.equal(0);
    await reader.close();
  });

  it("a member stopped mid-backlog with SIGTERM leaves without answering what it had not started: exit 0, nothing answered twice or lost", async () => {
    const topics = await createPipelineTopics(cluster.bootstrapServers, { partitions });
    await produceBacklog(kafka, topics.requests);
    const reader = await ResultReader.start(kafka, topics);
    const first = spawnWorker(cluster, topics);
    workers.push(first);
    const exit = new Promise<number | null>((resolve) => first.once("exit", (code) => resolve(code)));
    await reader.waitFor(
      () => reader.on(topics.responses).length > 200,
      () => "the worker never answered",
      120_000,
    );
    first.kill("SIGTERM");
    expect(await exit).to.equal(0);
    const answeredByFirst =
      (await recordCount(admin, topics.responses)) + (await recordCount(admin, topics.deadLetter));
    const committedByFirst = await committed(admin, topics);
    expect(committedByFirst, "the first worker's answers are committed").to.be.above(0);
    expect(answeredByFirst, "the first worker left with its fetched backlog unanswered").to.be.below(backlog);
    // The default model batch: the successor only has to answer the rest, which it may do quickly.
    workers.push(spawnWorker(cluster, topics, { batchSize: 64 }));
    await reader.waitFor(
      () => tally(reader, topics).answered >= backlog,
      () => `${tally(reader, topics).answered} of ${backlog} answered`,
      180_000,
    );
    console.log(`      the stopped worker had answered ${answeredByFirst} of ${backlog}`);
    expect(tally(reader, topics)).to.deep.equal({ duplicates: 0, lost: 0, answered: backlog });
    await reader.close();
  });
});
