// A broker of three cut off from the network while a worker answers: requests whose partitions (the request's and
// its response's) are led by reachable brokers must go on being answered while the cut lasts, and those waiting on
// the cut broker once it heals; nothing is lost. The cut is real: nftables drops the node's loopback traffic.
import type { ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { expect } from "chai";
import {
  type Admin,
  type Consumer,
  type Kafka,
  Partitioners,
  type PartitionMetadata,
  type Producer,
} from "kafkajs";
import { kafkaClient } from "../../hack/harness/kafka-client.ts";
import type { KafkaCluster } from "../../hack/harness/kafka-cluster.ts";
import { defaultWorkerGroupId, localWorkerEnv, startWorkerProcess } from "../../hack/harness/local-worker.ts";
import { stopChild } from "../../hack/harness/processes.ts";
import { waitFor } from "../../hack/harness/wait.ts";
import { startKafkaOnFreePorts } from "../support/kafka.ts";
import { createPipelineTopics, type PipelineTopics } from "../support/pipeline-topics.ts";

/** What the reader saw of one response: whose it is, where it was written, and when it arrived. */
interface Arrival {
  id: string;
  partition: number;
  at: number;
}

/** Java's String.hashCode, which Kafka uses to place a group on a partition of __consumer_offsets. */
function javaStringHash(text: string): number {
  let hash = 0;
  for (let i = 0; i < text.length; i++) hash = (Math.imul(hash, 31) + text.charCodeAt(i)) | 0;
  return hash;
}

/** The broker coordinating `groupId`: the leader of its __consumer_offsets partition. */
async function coordinatorOf(admin: Admin, groupId: string): Promise<number> {
  const [offsets] = (await admin.fetchTopicMetadata({ topics: ["__consumer_offsets"] })).topics;
  const partitions = offsets?.partitions ?? [];
  const hash = javaStringHash(groupId);
  const index = (hash === -2147483648 ? 0 : Math.abs(hash)) % partitions.length;
  const leader = partitions.find((p) => p.partitionId === index)?.leader;
  if (leader === undefined) throw new Error(`no leader for __consumer_offsets/${index}`);
  return leader;
}

async function partitionsOf(admin: Admin, topic: string): Promise<PartitionMetadata[]> {
  const [metadata] = (await admin.fetchTopicMetadata({ topics: [topic] })).topics;
  return metadata?.partitions ?? [];
}

/** Reads every response as it arrives, with its partition and arrival time; its group is `groupId`. */
async function startArrivals(kafka: Kafka, topics: PipelineTopics, groupId: string) {
  const arrivals: Arrival[] = [];
  const deadLetters: string[] = [];
  const consumer: Consumer = kafka.consumer({ groupId });
  await consumer.connect();
  await consumer.subscribe({ topics: [topics.responses, topics.deadLetter], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ topic, partition, message }) => {
      const id = message.key?.toString() ?? "";
      if (topic === topics.deadLetter) deadLetters.push(id);
      else arrivals.push({ id, partition, at: performance.now() });
    },
  });
  return { arrivals, deadLetters, close: () => consumer.disconnect() };
}

/** The longest time without a response among `arrivals`, counted from `from`. */
function longestGapMs(from: number, arrivals: readonly Arrival[]): number {
  let gap = 0;
  let last = from;
  for (const { at } of [...arrivals].sort((a, b) => a.at - b.at)) {
    gap = Math.max(gap, at - last);
    last = at;
  }
  return gap;
}

describe("a broker of three cut off from the network under a worker", function () {
  this.timeout(300_000);
  let cluster: KafkaCluster;
  let worker: ChildProcess | undefined;
  let closeReader: (() => Promise<void>) | undefined;
  before(async () => {
    cluster = await startKafkaOnFreePorts({
      name: "test-worker-partition",
      brokers: 3,
    });
  });
  afterEach(async () => {
    await cluster?.healCut();
    if (worker !== undefined) await stopChild(worker);
    await closeReader?.();
  });
  after(async () => {
    await cluster?.healCut();
    await cluster?.stop();
  });

  for (const cut of ["client port", "whole node"] as const) {
    it(`answers requests on reachable partitions while one node's ${cut} is cut, and the rest once it heals`, async () => {
      const kafka = kafkaClient(cluster.bootstrapServers);
      const admin = kafka.admin();
      await admin.connect();
      const topics = await createPipelineTopics(cluster.bootstrapServers, { replicationFactor: 3 });
      const readerGroup = `reader-${randomUUID()}`;
      const reader = await startArrivals(kafka, topics, readerGroup);
      closeReader = reader.close;
      worker = startWorkerProcess(
        {
          ...localWorkerEnv(cluster.bootstrapServers, topics),
          KAFKA_SESSION_TIMEOUT_MS: "6000",
          LOG_LEVEL: process.env.WORKER_TEST_LOG_LEVEL ?? "error",
        },
        "inherit",
      );
      const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
      await producer.connect();
      const requestPartitions = await partitionsOf(admin, topics.requests);
      const responsePartitions = await partitionsOf(admin, topics.responses);
      const responsePartitionOf = (id: string) =>
        Partitioners.DefaultPartitioner()({
          topic: topics.responses,
          partitionMetadata: responsePartitions,
          message: { key: id, value: "" },
        });
      const send = (through: Producer, requests: { id: string; partition: number }[]) =>
        through.send({
          topic: topics.requests,
          acks: -1,
          messages: requests.map(({ id, partition }) => ({
            key: id,
            partition,
            value: JSON.stringify({ id, text: "a gorgeous, witty film" }),
          })),
        });

      // Before the cut: every partition answers, so both groups are joined and the worker is writing.
      const warmUp = requestPartitions.map(({ partitionId }) => ({
        id: `warm-${partitionId}`,
        partition: partitionId,
      }));
      await send(producer, warmUp);
      await waitFor("the warm-up requests answered", () => reader.arrivals.length >= warmUp.length, {
        timeoutMs: 120_000,
        describe: () => `${reader.arrivals.length} of ${warmUp.length} answered`,
      });

      // The cut node coordinates neither group, so every commit and heartbeat still reaches its coordinator,
      // and (8 partitions, replication factor 3) it leads partitions of every topic.
      const coordinators = new Set([
        await coordinatorOf(admin, defaultWorkerGroupId(topics)),
        await coordinatorOf(admin, readerGroup),
      ]);
      const victim = [0, 1, 2].find((id) => !coordinators.has(id)) as number;
      const ledByVictim = (partitions: PartitionMetadata[]) =>
        new Set(partitions.filter((p) => p.leader === victim).map((p) => p.partitionId));
      const cutRequests = ledByVictim(requestPartitions);
      const cutResponses = ledByVictim(responsePartitions);
      expect(cutRequests.size, "requests partitions the cut node leads").to.be.greaterThan(0);
      expect(cutResponses.size, "response partitions the cut node leads").to.be.greaterThan(0);
      const reachableRequests = requestPartitions
        .map((p) => p.partitionId)
        .filter((partition) => !cutRequests.has(partition));

      // This producer never connects to the cut node, so none of its requests (a metadata refresh) waits on it.
      const cutProducer = kafkaClient(cluster.bootstrapServers.filter((_, node) => node !== victim)).producer(
        { createPartitioner: Partitioners.DefaultPartitioner },
      );
      await cutProducer.connect();

      await cluster.cutNode(victim, cut);
      const cutAt = performance.now();
      // Requests on reachable partitions only (the test's producer could not write the others): most answered
      // on a reachable response partition, the rest on one the cut node leads. Until the controllers fence a node
      // cut whole, acks=all writes wait for it as an in-sync replica: the gap counts from the first request the
      // cut let through.
      const flowing: string[] = [];
      const held: string[] = [];
      let firstSentAt: number | undefined;
      for (let round = 0; round < 20; round++) {
        const requests = Array.from({ length: 10 }, (_, i) => {
          const id = `cut-${round}-${i}`;
          (cutResponses.has(responsePartitionOf(id)) ? held : flowing).push(id);
          return { id, partition: reachableRequests[i % reachableRequests.length] as number };
        });
        await send(cutProducer, requests);
        firstSentAt ??= performance.now();
        await sleep(200);
      }
      const flowingIds = new Set(flowing);
      const answeredDuringCut = () => reader.arrivals.filter((a) => flowingIds.has(a.id));
      await waitFor(
        "every request on reachable partitions answered while the cut is in force",
        () => new Set(answeredDuringCut().map((a) => a.id)).size >= flowing.length,
        {
          timeoutMs: 60_000,
          describe: () =>
            `${new Set(answeredDuringCut().map((a) => a.id)).size} of ${flowing.length} answered during the cut`,
        },
      );
      const heldIds = new Set(held);
      const heldAnswered = () =>
        new Set(reader.arrivals.filter((a) => heldIds.has(a.id)).map((a) => a.id)).size;
      console.log(
        `      longest gap in responses on reachable partitions during the ${cut} cut: ${Math.round(longestGapMs(firstSentAt ?? cutAt, answeredDuringCut()))} ms`,
      );
      if (cut === "client port") {
        expect(heldAnswered(), "responses for the cut node's partitions, which it still leads").to.equal(0);
      }
      // Cut whole, the node is fenced and loses its leaderships within seconds, but kafkajs goes on sending to it
      // until its metadata expires (a request timeout neither closes the connection nor refreshes metadata): what
      // waits on it is asserted written once the cut heals.
      console.log(
        `      ${heldAnswered()} of ${held.length} responses bound for the cut node read during the cut`,
      );

      await cluster.healCut();
      const healedAt = performance.now();
      const all = [...warmUp.map((r) => r.id), ...flowing, ...held];
      await waitFor(
        "every request answered once the cut healed",
        () => {
          const answered = new Set(reader.arrivals.map((a) => a.id));
          return all.every((id) => answered.has(id));
        },
        {
          timeoutMs: 120_000,
          describe: () => `${new Set(reader.arrivals.map((a) => a.id)).size} of ${all.length} answered`,
        },
      );
      console.log(
        `      everything answered ${Math.round(performance.now() - healedAt)} ms after the cut healed`,
      );
      expect(reader.deadLetters).to.deep.equal([]);
      await Promise.all([producer.disconnect(), cutProducer.disconnect()]);
      await admin.disconnect();
    });
  }
});
